package dtmf

import (
	"math"
	"time"
)

// Suppression (DESIGN §11): while a payment session is open, the audio a SIP
// bridge relays from the caller to the agent must carry no DTMF. A Suppressor
// delays that audio by HoldBack, long enough to see a tone start, and
// replaces each tone, whole, by a steady 500 Hz sine of the tone's level: the
// agent hears that a key was pressed, and for how long, but not which.
//
// Regions. Every 5 ms hop, the Detector's analysis runs on the last 20 ms
// frame with relaxed criteria: every threshold looser than the Detector's
// (6 dB lower level, wider frequency tolerance, weaker dominance, more
// twist, less in-band share and harmonic rejection) and no steadiness test,
// so any frame a detector could call a key is caught, frames only partly on
// a tone included. A valid frame says a tone is somewhere in it; its edges
// come from the energy of 2.5 ms blocks: the blocks of the frame within
// edgeRatio of its loudest belong to the tone, and so do adjacent blocks
// that loud up to 20 ms before the frame or after the last valid frame
// (which catches a tone's quiet edges the relaxed test still misses). One
// block of margin either side covers a block that held a little tone, so
// no fragment is left; a region is then 2.5–4 ms longer than its tone at
// each edge. Regions less than bridge apart (17.5 ms: a 10 ms dropout
// inside a key is bridged, Q.24's 40 ms pause between two keys is not) are
// one.
//
// Keys. The same Goertzel outputs are judged a second time with the
// Detector's own criteria and debouncer, so ProcessKeys returns exactly
// the keys a Detector fed the same audio would: a SIP leg needs both, and
// the analysis is most of the cost of either. Frames too quiet for the
// looser (relaxed) level skip the Goertzel work for both, as a Detector
// skips frames too quiet for its own.
//
// Timing: a frame is analysed when its last sample arrives, and a region
// can start 20 ms before the frame (extend) plus a margin; bridge is what is
// left of the hold-back, so every decision about a sample is final before
// it leaves.
//
// Masking rule: a region is masked if masking was true at any call to
// Process while any of its samples were inside the suppressor (received and
// not yet returned), and once its masking has begun it continues to the
// region's end even if masking turns off: a session that ends mid-key leaks
// nothing. A region whose first samples had already left unmasked when
// masking turned on (a key held down as the session opened) is masked from
// the first sample still inside.

// HoldBack is how long a Suppressor delays audio (≤ 60 ms).
const HoldBack = holdBack * time.Second / SampleRate

const (
	holdBack  = 480 // samples
	block     = 20  // samples; the resolution of a region's edges
	margin    = block
	extend    = 160 // samples a region grows over tone-loud blocks beyond its valid frames
	bridge    = holdBack - frameLen - extend - margin
	edgeRatio = 0.2 // a block this fraction of the frame's loudest belongs to the tone

	// maskFreq is the masking tone: one sine is never a key, and 500 Hz is
	// 28% below the lowest row (697 Hz), outside every detector's bins.
	maskFreq = 500.0

	ringLen  = 1024 // samples kept, ≥ holdBack + piece; a power of two
	piece    = 512  // samples taken before the ready ones are returned
	blockLen = 64   // block energies kept (1280 samples), a power of two
	maxRegs  = 8    // regions alive at once; the 124 ms ring holds at most 6
)

// relaxed is the Suppressor's frame test. Each threshold is looser than
// strict's, so a frame strict accepts, relaxed accepts.
var relaxed = func() criteria {
	a := Amplitude(minLevel - 6)
	return withRatios(criteria{
		minPower:        a * a / 2,
		maxDeviation:    0.04, // Q.24 must reject beyond 3.5%
		dominance:       3,
		maxNormalTwist:  12,
		maxReverseTwist: 12,
		minInBand:       0.8,
		maxHarmonic:     6,
		minQuarter:      0,
		minOctave:       5,
	})
}()

// region is a stretch of audio holding a tone; it is masked over
// [start, toneEnd+margin).
type region struct {
	start, toneEnd int64
	lastFrameEnd   int64   // end of its last valid frame; limits growth over loud blocks
	thr            float64 // block energy that counts as tone, from its last valid frame
	power          float64 // the pair's mean-square power, the masking tone's level
	masked         bool    // masking has begun
}

func (r *region) end() int64 { return r.toneEnd + margin }

// Suppressor masks DTMF tones in a stream of 8 kHz audio on its way to an
// agent. It keeps state between calls, so audio may come in chunks of any
// size. A Suppressor is not safe for concurrent use; use one per call leg.
type Suppressor struct {
	// One analysis judged twice per frame: relaxed for regions, strict
	// (with a Detector's debouncer) for keys, so a leg that needs both
	// pays for the Goertzel work once.
	an                    analysis
	prevLoose, prevStrict [8]complex128 // each criteria set's previous Goertzel outputs
	deb                   debouncer
	keys                  []Key // found in the current call

	x      [frameLen]float64 // the last frame's samples, its last hop filling
	ring   [ringLen]int16
	energy [blockLen]float64 // per block, indexed by block number
	e      float64           // energy of the block being filled

	n         int64 // samples taken
	outPos    int64 // next sample to return (n - holdBack once primed)
	maskUntil int64 // n at the end of the last call with masking on

	regs       [maxRegs]region // a ring, oldest first
	head, nreg int

	out           []int16
	amp, cos, sin float64 // the masking oscillator
}

var maskCos, maskSin = math.Cos(2 * math.Pi * maskFreq / SampleRate), math.Sin(2 * math.Pi * maskFreq / SampleRate)

// NewSuppressor returns a suppressor at stream offset 0.
func NewSuppressor() *Suppressor {
	return &Suppressor{outPos: -holdBack, maskUntil: math.MinInt64, out: make([]int16, 0, 160), keys: make([]Key, 0, 4)}
}

// Process takes the next 8 kHz samples and returns as many, HoldBack late:
// tones masked if masking was on (see the masking rule above). The first
// HoldBack of the stream is silence. The returned slice is the suppressor's
// own, valid until the next call.
func (s *Suppressor) Process(in []int16, masking bool) []int16 {
	out, _ := s.ProcessKeys(in, masking)
	return out
}

// ProcessKeys is Process that also returns the keys whose detection
// completed in in: exactly what a Detector fed the same stream in the same
// chunks returns from each Write (same digits, Offsets counted from the
// suppressor's first sample), whatever masking is. keys is nil if there
// are none, else the suppressor's own, valid until the next call.
func (s *Suppressor) ProcessKeys(in []int16, masking bool) (out []int16, keys []Key) {
	s.keys = s.keys[:0]
	if cap(s.out) < len(in) {
		s.out = make([]int16, len(in))
	}
	out = s.out[:len(in)]
	if masking {
		s.maskUntil = s.n + int64(len(in))
	}
	for done := 0; done < len(in); {
		m := min(len(in)-done, piece)
		s.take(in[done : done+m])
		s.emit(out[done : done+m])
		done += m
	}
	if len(s.keys) > 0 {
		keys = s.keys
	}
	return out, keys
}

// take stores samples and analyses every block and frame they complete.
func (s *Suppressor) take(in []int16) {
	for len(in) > 0 {
		// Up to the end of the block being filled (hops end on blocks).
		m := min(len(in), block-int(s.n%block))
		x := s.x[frameLen-hop+int(s.n%hop):]
		e := s.e
		for i, v := range in[:m] {
			s.ring[(s.n+int64(i))&(ringLen-1)] = v
			f := float64(v)
			x[i] = f
			e += f * f
		}
		s.n += int64(m)
		s.e = e
		in = in[m:]
		if s.n%block != 0 {
			continue // in is used up
		}
		s.blockDone(s.n/block-1, s.e)
		s.e = 0
		if s.n%hop == 0 {
			if s.n >= frameLen {
				s.frameDone(s.n - frameLen)
			}
			copy(s.x[:], s.x[hop:])
		}
	}
}

// blockDone records block b's energy and grows the newest region over it
// if the tone goes on there though no frame is valid (a quiet tone's tail).
func (s *Suppressor) blockDone(b int64, e float64) {
	s.energy[b&(blockLen-1)] = e
	if s.nreg == 0 {
		return
	}
	r := s.last()
	if r.toneEnd == b*block && r.toneEnd < r.lastFrameEnd+extend && e >= r.thr {
		r.toneEnd += block
	}
}

// frameDone analyses the frame starting at sample f: a key a Detector
// would report there is kept for ProcessKeys, and if the frame holds a
// tone, it opens a region or extends the newest.
func (s *Suppressor) frameDone(f int64) {
	// The Goertzel work is skipped only below both sets' level gates; such
	// a frame is what judge calls too quiet under either.
	if !s.an.measure(s.x[:], min(relaxed.minPower, strict.minPower)) {
		s.prevStrict, s.prevLoose = [8]complex128{}, [8]complex128{}
		s.deb.missed()
		return
	}
	sk, df, _ := s.an.judge(&strict, &s.prevStrict)
	if k, ok := s.deb.next(sk, df, f); ok {
		s.keys = append(s.keys, k)
	}
	key, _, power := s.an.judge(&relaxed, &s.prevLoose)
	if key == 0 {
		return
	}
	b0, b1 := f/block, (f+frameLen)/block // the frame's blocks
	ref := 0.0
	for b := b0; b < b1; b++ {
		ref = max(ref, s.energy[b&(blockLen-1)])
	}
	thr := edgeRatio * ref
	first, last := b1, b0
	for b := b0; b < b1; b++ {
		if s.energy[b&(blockLen-1)] >= thr {
			first, last = min(first, b), b
		}
	}
	// Back over loud blocks the relaxed test missed, never past what has
	// already been returned.
	for first > b0-extend/block && (first-1)*block >= s.outPos && s.energy[(first-1)&(blockLen-1)] >= thr {
		first--
	}
	start := max(first*block-margin, s.outPos)
	toneEnd := (last + 1) * block

	if s.nreg > 0 {
		if r := s.last(); start < r.end()+bridge {
			r.toneEnd = max(r.toneEnd, toneEnd)
			r.lastFrameEnd, r.thr = f+frameLen, thr
			// The level is what the frames seen before the region's first
			// sample leaves say, however the audio is chunked.
			if f+frameLen <= r.start+holdBack {
				r.power = max(r.power, power)
			}
			return
		}
	}
	if s.nreg == maxRegs { // cannot happen with these constants; stay safe
		r := s.last()
		r.toneEnd, r.lastFrameEnd, r.thr = max(r.toneEnd, toneEnd), f+frameLen, thr
		return
	}
	s.regs[(s.head+s.nreg)%maxRegs] = region{
		start: start, toneEnd: toneEnd, lastFrameEnd: f + frameLen, thr: thr, power: power,
	}
	s.nreg++
}

func (s *Suppressor) last() *region { return &s.regs[(s.head+s.nreg-1)%maxRegs] }

// emit writes the next len(out) delayed samples, masking tone regions.
func (s *Suppressor) emit(out []int16) {
	for len(out) > 0 {
		if s.nreg == 0 && s.outPos >= 0 {
			// No region (nearly always): a copy, up to the ring's wrap.
			n := copy(out, s.ring[s.outPos&(ringLen-1):])
			s.outPos += int64(n)
			out = out[n:]
			continue
		}
		out[0] = s.next()
		out = out[1:]
	}
}

// next returns the next delayed sample, masked if in a masked region.
func (s *Suppressor) next() int16 {
	o := s.outPos
	s.outPos++
	if o < 0 {
		return 0
	}
	for s.nreg > 0 && s.regs[s.head].end() <= o {
		s.head = (s.head + 1) % maxRegs
		s.nreg--
	}
	if s.nreg > 0 {
		r := &s.regs[s.head]
		if o >= r.start && (r.masked || r.start < s.maskUntil) {
			if !r.masked { // masking begins: the region's level, the sine from 0
				r.masked = true
				s.amp, s.cos, s.sin = math.Sqrt(2*r.power), 1, 0
			}
			v := clip16(s.amp * s.sin)
			s.cos, s.sin = s.cos*maskCos-s.sin*maskSin, s.sin*maskCos+s.cos*maskSin
			return v
		}
	}
	return s.ring[o&(ringLen-1)]
}
