package mediastream

import "time"

// A press reported twice (Twilio's dtmf frame, and the tone this side
// detects in the same call's audio) counts once. Two clocks meet here, both
// measured from the start of the stream: a tone's time is where it starts
// in the inbound audio (the detector's sample offset, at 8,000 samples a
// second: the audio's own clock, unaffected by network jitter), and a dtmf
// frame's is its arrival since the socket opened (the frame carries no
// timestamp). Twilio sends media in real time from the start, so the two
// stay within a few tens of milliseconds of each other; a frame comes some
// 100 ms after its tone began (once Twilio has recognized the key).

// dedupWindow: one press reported by both within it counts once (DESIGN §11).
const dedupWindow = 200 * time.Millisecond

// report is a key one source reported.
type report struct {
	digit   byte
	tone    bool
	at      time.Duration
	matched bool // the other source's report of the same press was dropped
}

// dedup remembers the recent reports of a stream.
type dedup struct{ recent []report }

// add reports digit from one source (tone: detected in the audio; else a
// dtmf frame) at at, and says whether it is a new press: false when the
// other source reported the same digit within the window and that report
// has not been matched yet.
func (d *dedup) add(digit byte, tone bool, at time.Duration) bool {
	keep := d.recent[:0]
	for _, r := range d.recent {
		if absDur(at-r.at) <= 2*time.Second { // long past either clock's skew
			keep = append(keep, r)
		}
	}
	d.recent = keep
	for i := range d.recent {
		r := &d.recent[i]
		if r.digit == digit && r.tone != tone && !r.matched && absDur(at-r.at) <= dedupWindow {
			r.matched = true
			return false
		}
	}
	d.recent = append(d.recent, report{digit: digit, tone: tone, at: at})
	return true
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}
