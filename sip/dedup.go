package sip

import "time"

// Copied from mediastream (adapters do not import each other). A press reported twice (an RFC 4733 event, and the tone this side
// detects in the same call's audio) counts once. Both reports are placed
// on one clock, the stream's audio: 8,000 inbound samples a second, counted
// from the first media frame. A tone is at the sample where it starts (the
// detector's offset); a dtmf frame, which carries no timestamp, is at the
// audio received before it arrived: Twilio interleaves its frames in real
// time, so a frame's place among the media frames is its time. Unlike
// arrival times, this clock cannot be skewed by the network or by this
// reader being late (a busy machine reads a burst of queued frames at
// once), and needs no anchoring between two clocks. The frame for a press
// comes once Twilio has recognised the tone, some 40-100 ms after it began.

// samples is a position on the audio clock.
func samples(n int64) time.Duration { return time.Duration(n) * time.Second / 8000 }

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
