package dtmf

import "time"

// A press reported twice counts once: a leg hears a key both out of band
// (a Media Stream's dtmf frame, a SIP RFC 4733 event) and as the tone this
// side detects in the same call's audio. Both reports are placed on one
// clock, the leg's inbound audio: SampleRate samples a second, counted from
// its first sample. A tone is at the sample where it starts (Key.Offset);
// an out-of-band report, which carries no usable time of its own, is at the
// audio received before it arrived, since senders interleave it with the
// audio in real time. Unlike arrival times, this clock cannot be skewed by
// the network or by a reader being late (a busy machine reads a burst of
// queued frames at once), and needs no anchoring between two clocks. The
// out-of-band report of a press comes once its sender has recognised the
// tone, some 40-100 ms after it began.

// DedupWindow: one press reported both ways within it counts once (DESIGN §11).
const DedupWindow = 200 * time.Millisecond

// At is a position on the audio clock: n samples in.
func At(n int64) time.Duration { return time.Duration(n) * time.Second / SampleRate }

// Dedup remembers a leg's recent reports. The zero value is ready; it is
// not safe for concurrent use (one per leg, on its reader).
type Dedup struct{ recent []report }

type report struct {
	digit   byte
	tone    bool
	at      time.Duration
	matched bool // the other source's report of the same press was dropped
}

// Add reports digit from one source (tone: detected in the audio; else out
// of band) at at, and says whether it is a new press: false when the other
// source reported the same digit within DedupWindow and that report has not
// been matched yet.
func (d *Dedup) Add(digit byte, tone bool, at time.Duration) bool {
	keep := d.recent[:0]
	for _, r := range d.recent {
		if absDur(at-r.at) <= 2*time.Second { // long past either clock's skew
			keep = append(keep, r)
		}
	}
	d.recent = keep
	for i := range d.recent {
		r := &d.recent[i]
		if r.digit == digit && r.tone != tone && !r.matched && absDur(at-r.at) <= DedupWindow {
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
