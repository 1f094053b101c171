package dtmf

import "math"

// Design.
//
// Frames: a Hann window of frameLen = 160 samples (20 ms) every hop = 40
// samples (5 ms). Q.24 asks the receiver to reject a component 3.5% off
// nominal, i.e. 24 Hz at 697 Hz. The classic 102–106-sample rectangular block
// has 78 Hz bins and cannot tell 24 Hz apart by magnitude, so the detector
// measures each component's frequency instead: the phase advance of the
// complex Goertzel output between two frames one hop apart is 2π·f·hop/fs,
// which pins f to a Hz or two and is unambiguous within ±fs/(2·hop) = ±100 Hz
// of nominal (more than 3.5% of 1633 Hz). The Hann window's 100 Hz main lobe
// keeps the other group's tone (≥268 Hz away) out of each bin; its known
// response then corrects each component's power for the measured offset, so
// twist and level are judged on true levels.
//
// A frame is valid for a key when all hold:
//   - level: each component at or above minLevel dBm0;
//   - frequency: each component within ±maxDeviation of nominal (between
//     Q.24's must-accept 1.5% and must-reject 3.5%);
//   - dominance: each group's peak is ≥ groupDominance above the other three
//     of its group;
//   - twist: low minus high between -maxReverseTwist and maxNormalTwist dB;
//   - signal to noise: the two components hold ≥ minInBand (93%) of the
//     frame's power. White noise 15 dB below the tone leaves ~97%, so keys
//     are still found at 14 dB; synthetic voiced speech that otherwise
//     passes every check sits at 90–95%, so this is the main talk-off guard;
//   - not an octave: the high component is not 2× the low one within
//     minOctave (a voice's fundamental and 2nd harmonic);
//   - talk-off: each component's second harmonic ≤ maxHarmonic below it
//     (skipped for a low component whose harmonic falls in the other
//     component's main lobe, e.g. 2×697 = 1394 Hz next to 1336 Hz);
//   - steadiness: each quarter of the frame holds ≥ minQuarter of the
//     strongest quarter's energy, so a frame that only partly covers a tone
//     (at its edges, or across a dropout) is not valid. This is what makes
//     durations measurable with 20 ms frames.
//
// Debounce: a key is reported once minFrames valid frames for it have been
// seen with no run of endFrames invalid frames between them. A 40 ms tone
// gives 5–6 valid frames (window starts over ~200 samples), a 23 ms tone at
// most 2, so minFrames = 4 sits between Q.24's must-detect and must-reject
// durations. A 10 ms dropout invalidates at most 6 frames, a 40 ms pause at
// least 10, so endFrames = 8 bridges dropouts and ends a key at a pause; a key
// is reported once however long it is held. While a key is debounced, each
// component's measured frequency must stay within maxDrift: a key's tones
// are steady, a voice's harmonics glide.
const (
	frameLen        = 160
	hop             = 40
	minLevel        = -30.0 // dBm0 per component; Q.24 must accept -25
	maxDeviation    = 0.025
	groupDominance  = 6.0 // dB
	maxNormalTwist  = 9.0 // dB; Q.24 accepts 8, rejects beyond 10
	maxReverseTwist = 6.0 // dB; Q.24 accepts 4, rejects beyond 10
	minInBand       = 0.93
	maxHarmonic     = 10.0 // dB
	minQuarter      = 0.5
	minFrames       = 4
	endFrames       = 8
	maxDrift        = 6.0  // Hz, spread of a component's frequency over a key
	minOctave       = 10.0 // Hz, how far the high component must be from 2× the low
)

// Key is one detected key press.
type Key struct {
	// Digit is '0'–'9', '*', '#' or 'A'–'D'.
	Digit byte
	// Offset is where the tone started, in samples from the first sample
	// written to the detector (accurate to about 20 samples).
	Offset int64
}

// Detector finds DTMF keys in a stream of 8 kHz audio. It keeps state between
// writes, so audio may come in chunks of any size. A Detector is not safe for
// concurrent use; use one per call leg.
type Detector struct {
	buf []float64 // samples not yet consumed by a frame
	pos int64     // stream offset of buf[0]

	an   analysis
	prev [8]complex128 // previous frame's Goertzel outputs under strict, for phase
	deb  debouncer
}

// debouncer turns frame verdicts into key presses (see Debounce above).
type debouncer struct {
	cand       byte // key being debounced (0: none)
	candStart  int64
	count      int        // valid frames for cand
	miss       int        // consecutive invalid frames
	reported   bool       // cand already reported
	dmin, dmax [2]float64 // range of cand's measured offsets (Hz), low and high
}

// analysis measures frames, one hop apart, for any number of criteria sets
// to judge: the Suppressor judges each frame twice (relaxed for masking,
// strict for keys) on one set of Goertzel outputs.
type analysis struct {
	quarters [4]float64 // energy of each hop-sized quarter of the frame
	frames   int64      // frames measured

	// This frame's measurements. Only total is valid when measure gated
	// the frame.
	y                 [frameLen]float64 // the windowed frame
	total, qmin, qmax float64           // quarter energies
	ptot              float64           // mean-square power of y
	z                 [8]complex128     // Goertzel outputs
	p                 [8]float64        // their mean-square powers
	harm              [8]float64        // power at 2×freqs[i], once harmDone has bit i
	harmDone          uint8
}

var (
	window     [frameLen]float64
	windowSum  float64 // Σw
	windowSum2 float64 // Σw²
	freqs      [8]float64
	coef       [8]float64 // 2cos(ω)
	cosw, sinw [8]float64
	minPower   float64 // mean-square power of a sine at minLevel

	// strict is the Detector's frame test, from the constants above.
	strict criteria
)

// criteria are the thresholds of analyse's frame test, in the units of the
// constants above. Detector uses strict; Suppressor a looser set (see
// suppress.go) that accepts every frame strict does.
type criteria struct {
	minPower                        float64 // mean-square, per component
	maxDeviation                    float64
	dominance                       float64 // dB
	maxNormalTwist, maxReverseTwist float64 // dB
	minInBand                       float64
	maxHarmonic                     float64 // dB
	minQuarter                      float64
	minOctave                       float64 // Hz

	// Power ratios of dominance and -maxHarmonic, set by withRatios so
	// that judge computes no powers of ten.
	dominanceRatio, harmonicRatio float64
}

// withRatios returns c with its ratios set from its dB fields.
func withRatios(c criteria) criteria {
	c.dominanceRatio = math.Pow(10, c.dominance/10)
	c.harmonicRatio = math.Pow(10, -c.maxHarmonic/10)
	return c
}

func init() {
	for n := range window {
		window[n] = 0.5 - 0.5*math.Cos(2*math.Pi*float64(n)/frameLen)
		windowSum += window[n]
		windowSum2 += window[n] * window[n]
	}
	copy(freqs[:4], LowFreqs[:])
	copy(freqs[4:], HighFreqs[:])
	for i, f := range freqs {
		w := 2 * math.Pi * f / SampleRate
		coef[i], cosw[i], sinw[i] = 2*math.Cos(w), math.Cos(w), math.Sin(w)
	}
	a := Amplitude(minLevel)
	minPower = a * a / 2
	strict = withRatios(criteria{
		minPower:        minPower,
		maxDeviation:    maxDeviation,
		dominance:       groupDominance,
		maxNormalTwist:  maxNormalTwist,
		maxReverseTwist: maxReverseTwist,
		minInBand:       minInBand,
		maxHarmonic:     maxHarmonic,
		minQuarter:      minQuarter,
		minOctave:       minOctave,
	})
}

// NewDetector returns a detector at stream offset 0.
func NewDetector() *Detector {
	return &Detector{buf: make([]float64, 0, 2*frameLen)}
}

// WriteMulaw decodes G.711 mu-law bytes (a Twilio media payload) and writes
// them.
func (d *Detector) WriteMulaw(b []byte) []Key {
	s := make([]int16, len(b))
	for i, c := range b {
		s[i] = MulawDecode(c)
	}
	return d.Write(s)
}

// Write feeds samples and returns the keys whose detection completed in them,
// in order. A key is returned once, about 35 ms after its tone starts.
func (d *Detector) Write(samples []int16) []Key {
	var keys []Key
	for len(samples) > 0 {
		n := min(cap(d.buf)-len(d.buf), len(samples))
		for _, s := range samples[:n] {
			d.buf = append(d.buf, float64(s))
		}
		samples = samples[n:]
		start := 0
		for len(d.buf)-start >= frameLen {
			if k, ok := d.step(d.buf[start:start+frameLen], d.pos); ok {
				keys = append(keys, k)
			}
			start += hop
			d.pos += hop
		}
		d.buf = d.buf[:copy(d.buf, d.buf[start:])]
	}
	return keys
}

// step analyses one frame at stream offset off and runs the debouncer. It
// is analyse with strict, written out so that a quiet frame (most of a
// call) costs one call.
func (d *Detector) step(x []float64, off int64) (Key, bool) {
	if !d.an.measure(x, strict.minPower) {
		d.prev = [8]complex128{}
		d.deb.missed()
		return Key{}, false
	}
	key, df, _ := d.an.judge(&strict, &d.prev)
	return d.deb.next(key, df, off)
}

// next takes the verdict on the frame at stream offset off: the key it is
// valid for (0: none) and its components' measured offsets.
func (d *debouncer) next(key byte, df [2]float64, off int64) (Key, bool) {
	if key == 0 {
		d.missed()
		return Key{}, false
	}
	return d.hit(key, df, off)
}

// missed is next for an invalid frame.
func (d *debouncer) missed() {
	d.miss++
	if d.miss >= endFrames {
		d.cand, d.reported = 0, false
	}
}

// hit is next for a valid frame.
func (d *debouncer) hit(key byte, df [2]float64, off int64) (Key, bool) {
	if key == d.cand && !d.reported {
		for i := range df {
			d.dmin[i], d.dmax[i] = min(d.dmin[i], df[i]), max(d.dmax[i], df[i])
			if d.dmax[i]-d.dmin[i] > maxDrift {
				d.cand = 0 // a gliding harmonic, not a key: start over here
			}
		}
	}
	if key != d.cand {
		d.cand, d.candStart, d.count, d.reported = key, off, 0, false
		d.dmin, d.dmax = df, df
	}
	d.miss = 0
	d.count++
	if !d.reported && d.count >= minFrames {
		d.reported = true
		return Key{Digit: key, Offset: d.candStart}, true
	}
	return Key{}, false
}

// analyse returns the key a frame is valid for under c, or 0, the measured
// offsets from nominal (Hz) of its low and high components, and the sum of
// their corrected mean-square powers (the pair's level, for a valid frame).
func (d *Detector) analyse(x []float64, c *criteria) (byte, [2]float64, float64) {
	if !d.an.measure(x, c.minPower) {
		d.prev = [8]complex128{} // as judge would
		return 0, none, 0
	}
	return d.an.judge(c, &d.prev)
}

// measure takes the next frame, one hop after the last. A frame too quiet
// for two components of gate (mean-square) each skips the Goertzel work
// (measure returns false): judge must then be given criteria whose
// minPower is at least gate.
func (a *analysis) measure(x []float64, gate float64) bool {
	// Steadiness and total power, on the raw samples. The quarters are the
	// hop-sized blocks, so three of them are the previous frame's.
	q := &a.quarters
	if a.frames == 0 {
		for i := range q {
			q[i] = energy(x[i*hop : (i+1)*hop])
		}
	} else {
		q[0], q[1], q[2], q[3] = q[1], q[2], q[3], energy(x[3*hop:])
	}
	a.frames++
	a.total = q[0] + q[1] + q[2] + q[3]
	if a.total/frameLen < 2*gate {
		return false
	}
	a.qmin, a.qmax = q[0], q[0]
	for _, e := range q[1:] {
		a.qmin, a.qmax = min(a.qmin, e), max(a.qmax, e)
	}
	a.harmDone = 0

	y := &a.y
	var wtotal float64
	for n, v := range x {
		y[n] = v * window[n]
		wtotal += y[n] * y[n]
	}
	// Mean-square power of the windowed frame, on the same scale as p below.
	a.ptot = wtotal / windowSum2

	// Four Goertzel recurrences at a time: each is a serial chain, so
	// running them side by side lets the CPU overlap them (about 3× faster
	// than one after another).
	for g := 0; g < 8; g += 4 {
		c0, c1, c2, c3 := coef[g], coef[g+1], coef[g+2], coef[g+3]
		var a1, a2, b1, b2, e1, e2, f1, f2 float64
		for _, v := range y {
			a1, a2 = v+c0*a1-a2, a1
			b1, b2 = v+c1*b1-b2, b1
			e1, e2 = v+c2*e1-e2, e1
			f1, f2 = v+c3*f1-f2, f1
		}
		s := [4][2]float64{{a1, a2}, {b1, b2}, {e1, e2}, {f1, f2}}
		for j, st := range s {
			i, s1, s2 := g+j, st[0], st[1]
			a.z[i] = complex(s1-cosw[i]*s2, sinw[i]*s2)
			a.p[i] = 2 * (s1*s1 + s2*s2 - coef[i]*s1*s2) / (windowSum * windowSum)
		}
	}
	return true
}

// judge returns analyse's verdict on the measured frame under c. prev holds
// the Goertzel outputs of c's previous frame (zero after a frame c found
// too quiet); judge moves it on to this frame's.
func (a *analysis) judge(c *criteria, prev *[8]complex128) (byte, [2]float64, float64) {
	if a.total/frameLen < 2*c.minPower { // too quiet for two components
		*prev = [8]complex128{}
		return 0, none, 0
	}
	last := *prev
	*prev = a.z
	if a.qmin < c.minQuarter*a.qmax {
		return 0, none, 0
	}

	p := &a.p
	lo, hi := peak(p[:4]), 4+peak(p[4:])
	if !dominatesBy(p[:4], lo, c.dominanceRatio) || !dominatesBy(p[4:], hi-4, c.dominanceRatio) {
		return 0, none, 0
	}
	pl, dfl, okl := corrected(lo, a.z[lo], last[lo], p[lo], c.maxDeviation)
	ph, dfh, okh := corrected(hi, a.z[hi], last[hi], p[hi], c.maxDeviation)
	if !okl || !okh || pl < c.minPower || ph < c.minPower {
		return 0, none, 0
	}
	// A voice's 2nd harmonic can sit on a high column when its fundamental
	// is on a row (683 and 1366 Hz read as 697 and 1336); real keys within
	// ±1.5% stay ≥17 Hz off an exact octave.
	if math.Abs(freqs[hi]+dfh-2*(freqs[lo]+dfl)) < c.minOctave {
		return 0, none, 0
	}
	twist := 10 * math.Log10(pl/ph)
	if twist > c.maxNormalTwist || twist < -c.maxReverseTwist {
		return 0, none, 0
	}
	if pl+ph < c.minInBand*a.ptot {
		return 0, none, 0
	}
	h := c.harmonicRatio
	if fl, fh := freqs[lo], freqs[hi]; math.Abs(2*fl-fh) > 2*SampleRate/frameLen {
		if a.harmonic(lo) > h*p[lo] {
			return 0, none, 0
		}
	}
	if a.harmonic(hi) > h*p[hi] {
		return 0, none, 0
	}
	return Keys[lo*4+hi-4], [2]float64{dfl, dfh}, pl + ph
}

// harmonic returns the frame's power at component i's second harmonic,
// computed once however many criteria sets ask.
func (a *analysis) harmonic(i int) float64 {
	if a.harmDone&(1<<i) == 0 {
		a.harm[i] = goertzelPower(a.y[:], 2*freqs[i])
		a.harmDone |= 1 << i
	}
	return a.harm[i]
}

var none [2]float64

// corrected measures component i's frequency from the phase advance between
// the previous frame's Goertzel output and this one's, rejects it beyond
// maxDev (a fraction of nominal), and returns its power corrected for the
// Hann window's loss at that offset.
func corrected(i int, cur, prev complex128, p, maxDev float64) (float64, float64, bool) {
	if prev == 0 {
		return 0, 0, false
	}
	w := 2 * math.Pi * freqs[i] / SampleRate
	dphi := phase(cur*complex(real(prev), -imag(prev))) - w*hop
	dphi = math.Remainder(dphi, 2*math.Pi)
	df := dphi * SampleRate / (2 * math.Pi * hop)
	if math.Abs(df) > maxDev*freqs[i] {
		return 0, 0, false
	}
	g := hannGain(df * frameLen / SampleRate)
	return p / (g * g), df, true
}

func phase(c complex128) float64 { return math.Atan2(imag(c), real(c)) }

// hannGain is the Hann window's amplitude response, relative to its peak,
// delta bins off centre.
func hannGain(delta float64) float64 {
	if math.Abs(delta) < 1e-9 {
		return 1
	}
	x := math.Pi * delta
	return math.Sin(x) / x / (1 - delta*delta)
}

func energy(x []float64) float64 {
	var e float64
	for _, v := range x {
		e += v * v
	}
	return e
}

func peak(p []float64) int {
	best := 0
	for i, v := range p {
		if v > p[best] {
			best = i
		}
	}
	return best
}

// dominates reports whether p[k] is at least db above every other p[i].
func dominates(p []float64, k int, db float64) bool {
	return dominatesBy(p, k, math.Pow(10, db/10))
}

// dominatesBy reports whether p[k] is at least r times every other p[i].
func dominatesBy(p []float64, k int, r float64) bool {
	for i, v := range p {
		if i != k && v*r > p[k] {
			return false
		}
	}
	return true
}

// goertzelPower returns the mean-square power of the windowed frame y at f.
func goertzelPower(y []float64, f float64) float64 {
	c := 2 * math.Cos(2*math.Pi*f/SampleRate)
	var s1, s2 float64
	for _, v := range y {
		s1, s2 = v+c*s1-s2, s1
	}
	return 2 * (s1*s1 + s2*s2 - c*s1*s2) / (windowSum * windowSum)
}
