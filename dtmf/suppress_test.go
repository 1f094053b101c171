package dtmf

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// suppress runs audio through a new suppressor in chunks; masking(at) says
// whether masking is on for the chunk starting at input sample at.
func suppress(in []int16, chunk int, masking func(at int) bool) []int16 {
	s := NewSuppressor()
	out := make([]int16, 0, len(in))
	for at := 0; at < len(in); at += chunk {
		out = append(out, s.Process(in[at:min(at+chunk, len(in))], masking(at))...)
	}
	return out
}

func always(int) bool { return true }
func never(int) bool  { return false }

// span is a stretch of input samples [start, end).
type span struct{ start, end int }

// maskedSpans finds where out (HoldBack late) differs from in: the masked
// stretches, in input samples. Runs less than 5 ms apart are one (the
// masking sine can equal the input at a sample, e.g. its first, 0, over
// silence).
func maskedSpans(in, out []int16) []span {
	var spans []span
	for i := 0; i+holdBack < len(out); i++ {
		if out[i+holdBack] == in[i] {
			continue
		}
		if n := len(spans); n > 0 && i-spans[n-1].end < 40 {
			spans[n-1].end = i + 1
		} else {
			spans = append(spans, span{i, i + 1})
		}
	}
	return spans
}

func rms(s []int16) float64 {
	var e float64
	for _, v := range s {
		e += float64(v) * float64(v)
	}
	return math.Sqrt(e / float64(max(len(s), 1)))
}

// q24Keys is a second detector, independent of Detector: plain rectangular
// Goertzel on 102-sample blocks every 51 samples (the classic design), with
// Q.24-ish limits set to err toward finding keys: each component at or
// above -33 dBm0, 6 dB above the rest of its group, twist within ±10 dB,
// the pair holding 60% of the block's power; a key is three blocks in a row
// (25.5 ms: Q.24 ignores tones under 23 ms), and it is down until two
// blocks in a row are not it (one bad block is a dropout).
func q24Keys(s []int16) string {
	const n, step = 102, 51
	a := Amplitude(-33)
	minP := a * a / 2
	all := [8]float64{}
	copy(all[:4], LowFreqs[:])
	copy(all[4:], HighFreqs[:])
	var keys []byte
	var cur, down byte
	run, miss := 0, 0
	for at := 0; at+n <= len(s); at += step {
		x := s[at : at+n]
		var p [8]float64
		for i, f := range all {
			c := 2 * math.Cos(2*math.Pi*f/SampleRate)
			var s1, s2 float64
			for _, v := range x {
				s1, s2 = float64(v)+c*s1-s2, s1
			}
			p[i] = 2 * (s1*s1 + s2*s2 - c*s1*s2) / (n * n)
		}
		total := rms(x) * rms(x)
		lo, hi := peak(p[:4]), 4+peak(p[4:])
		var k byte
		switch {
		case p[lo] < minP || p[hi] < minP:
		case !dominates(p[:4], lo, 6) || !dominates(p[4:], hi-4, 6):
		case p[lo] > 10*p[hi] || p[hi] > 10*p[lo]:
		case p[lo]+p[hi] < 0.6*total:
		default:
			k = Keys[lo*4+hi-4]
		}
		if k != cur {
			cur, run = k, 0
		}
		run++
		if down != 0 && k != down {
			if miss++; miss == 2 {
				down = 0
			}
		} else {
			miss = 0
		}
		if k != 0 && run >= 3 && down == 0 {
			keys = append(keys, k)
			down = k
		}
	}
	return string(keys)
}

// placed is a tone in a test signal.
type placed struct {
	key        byte
	start, len int     // input samples
	rms        float64 // of the tone alone
}

// keyRun returns viaMulaw audio of keys at the given component levels
// (dBm0), each ms long and gap ms apart (plus 0–5 ms, so that tones fall
// anywhere against the 5 ms hop), after 100 ms and with 200 ms after the
// last, white noise snr dB below the pair added over all of it (none for
// snr 0), and where each tone is.
func keyRun(keys string, low, high float64, ms, gap int, snr float64, rng *rand.Rand) ([]int16, []placed) {
	s := Silence(100)
	var at []placed
	for i := 0; i < len(keys); i++ {
		fl, fh, _ := Freqs(keys[i])
		s = append(s, make([]int16, rng.IntN(hop))...)
		tone := TwoTone(fl, fh, Amplitude(low), Amplitude(high), ms*SampleRate/1000)
		at = append(at, placed{keys[i], len(s), len(tone), rms(tone)})
		s = append(s, tone...)
		s = append(s, Silence(gap)...)
	}
	s = append(s, Silence(200-gap)...)
	if snr != 0 {
		pair := math.Sqrt((Amplitude(low)*Amplitude(low) + Amplitude(high)*Amplitude(high)) / 2)
		s = addNoise(s, pair*math.Pow(10, -snr/20), rng)
	}
	return viaMulaw(s), at
}

// maskStats gathers, over tones, how far masking was from them.
type maskStats struct {
	tones              int
	minExtra, maxExtra float64 // ms, masked span minus tone
	minLevel, maxLevel float64 // dB, masking tone minus tone
}

func (st *maskStats) add(extra, level float64) {
	if st.tones == 0 {
		st.minExtra, st.maxExtra, st.minLevel, st.maxLevel = extra, extra, level, level
	}
	st.tones++
	st.minExtra, st.maxExtra = min(st.minExtra, extra), max(st.maxExtra, extra)
	st.minLevel, st.maxLevel = min(st.minLevel, level), max(st.maxLevel, level)
}

// checkMasked checks masked output: neither detector finds a key, every
// tone lies inside one masked span that is within ±15 ms of its length and
// within 3 dB of its level, and nothing else is masked. st may be nil.
func checkMasked(t *testing.T, in, out []int16, tones []placed, st *maskStats) {
	t.Helper()
	if got := detect(out); got != "" {
		t.Errorf("Detector found %q in the masked output", got)
	}
	if got := q24Keys(out); got != "" {
		t.Errorf("plain Goertzel found %q in the masked output", got)
	}
	spans := maskedSpans(in, out)
	used := make([]bool, len(spans))
	for _, tone := range tones {
		var hits []span
		for j, sp := range spans {
			if sp.start < tone.start+tone.len && sp.end > tone.start {
				hits = append(hits, sp)
				used[j] = true
			}
		}
		if len(hits) != 1 {
			t.Errorf("%c at %d: %d masked spans over it %v, want 1", tone.key, tone.start, len(hits), hits)
			continue
		}
		sp := hits[0]
		// The first masked sample can equal the input (see maskedSpans).
		if sp.start > tone.start+1 || sp.end < tone.start+tone.len {
			t.Errorf("%c: masked %v leaves part of the tone %v out", tone.key, sp, span{tone.start, tone.start + tone.len})
		}
		if d := (sp.end - sp.start) - tone.len; d < -120 || d > 120 {
			t.Errorf("%c: masked %.1f ms for a %.1f ms tone", tone.key, float64(sp.end-sp.start)/8, float64(tone.len)/8)
		}
		got := rms(out[sp.start+holdBack : sp.end+holdBack])
		db := 20 * math.Log10(got/tone.rms)
		if math.Abs(db) > 3 {
			t.Errorf("%c: masking tone %.1f dB from the tone's level", tone.key, db)
		}
		if st != nil {
			st.add(float64(sp.end-sp.start-tone.len)/8, db)
		}
	}
	for j, sp := range spans {
		if !used[j] {
			t.Errorf("masked %v (%.1f ms) where no tone is", sp, float64(sp.end-sp.start)/8)
		}
	}
}

func TestSuppressorKeys(t *testing.T) {
	type tc struct {
		level, twist float64 // twist: dB, low minus high; the weaker component is level-|twist|
		ms, gap      int
		snr          float64
	}
	var cases []tc
	for _, level := range []float64{-3, -10, -20, -25, -30} {
		for _, twist := range []float64{0, 8, -4} {
			if level-math.Abs(twist) < minLevel {
				continue // outside the Detector's range
			}
			for _, ms := range []int{40, 65, 100, 200} {
				for _, gap := range []int{40, 70, 100} {
					for _, snr := range []float64{0, 20} {
						cases = append(cases, tc{level, twist, ms, gap, snr})
					}
				}
			}
		}
	}
	rng := rand.New(rand.NewPCG(11, 12))
	var st maskStats
	for _, c := range cases {
		name := fmt.Sprintf("%vdBm0/twist%+v/%dms/gap%d/snr%v", c.level, c.twist, c.ms, c.gap, c.snr)
		t.Run(name, func(t *testing.T) {
			low, high := c.level, c.level
			if c.twist > 0 {
				high -= c.twist
			} else {
				low += c.twist
			}
			keys := []byte(Keys)
			rng.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
			in, tones := keyRun(string(keys), low, high, c.ms, c.gap, c.snr, rng)

			checkMasked(t, in, suppress(in, 160, always), tones, &st)

			// Masking off: the input HoldBack late, bit for bit, so the
			// detectors find what they find in the input: every key where
			// both components are at Q.24's must-accept -25 dBm0 or above
			// (at -30, through mu-law, the Detector misses some).
			out := suppress(in, 160, never)
			if !slices.Equal(out[:holdBack], make([]int16, holdBack)) || !slices.Equal(out[holdBack:], in[:len(in)-holdBack]) {
				t.Error("masking off: output is not the input delayed by HoldBack")
			}
			for _, d := range []struct {
				name   string
				detect func([]int16) string
			}{{"Detector", detect}, {"plain Goertzel", q24Keys}} {
				got := d.detect(out)
				if want := d.detect(in); got != want {
					t.Errorf("masking off: %s found %q, %q in the input", d.name, got, want)
				}
				if min(low, high) >= -25 && got != string(keys) {
					t.Errorf("masking off: %s found %q, want %q", d.name, got, keys)
				}
			}
		})
	}
	t.Logf("%d tones in %d cases: masked span minus tone %+.1f to %+.1f ms, masking tone minus tone %+.2f to %+.2f dB",
		st.tones, len(cases), st.minExtra, st.maxExtra, st.minLevel, st.maxLevel)
}

func TestSuppressorEdges(t *testing.T) {
	const ms = 65
	tone := ms * SampleRate / 1000
	tests := []struct {
		name    string
		lead    int // ms of silence before the tone
		on, off int // ms from the tone's start: masking is on for chunks starting in [on, off)
		masked  bool
	}{
		{"on 20 ms before", 200, -20, 10000, true},
		{"on 10 ms before", 200, -10, 10000, true},
		{"on 5 ms before", 200, -5, 10000, true},
		{"on as the key starts", 200, 0, 10000, true},
		{"on 20 ms into the key", 200, 20, 10000, true},
		{"on 45 ms into the key (its start still held back)", 200, 45, 10000, true},
		{"key at the stream's first sample", 0, 0, 10000, true},
		{"off in the middle of the key", 200, -200, ms / 2, true},
		{"off 5 ms into the key", 200, -200, 5, true},
		{"off as the key starts", 200, -200, 0, true},
		{"on for one chunk in the key", 200, 30, 35, true},
		{"off 100 ms before", 200, -1000, -100, false},
		{"never on, key at the stream's first sample", 0, 10000, 20000, false},
		{"on after the key", 200, ms + 100, 10000, false},
	}
	for _, tt := range tests {
		for i, key := range []byte{'#', '1', 'D', '0'} {
			shift := 0
			if tt.lead > 0 {
				shift = 13 * i // against the 5 ms hop
			}
			lead := tt.lead*SampleRate/1000 + shift
			in := viaMulaw(concat(make([]int16, lead), Tone(key, ms, -10), Silence(200)))
			masking := func(at int) bool {
				return at >= lead+tt.on*SampleRate/1000 && at < lead+tt.off*SampleRate/1000
			}
			out := suppress(in, 40, masking)
			if tt.masked {
				t.Run(tt.name+"/"+string(key), func(t *testing.T) {
					checkMasked(t, in, out, []placed{{key, lead, tone, rms(Tone(key, ms, -10))}}, nil)
				})
				continue
			}
			if !slices.Equal(out[holdBack:], in[:len(in)-holdBack]) || detect(out) != string(key) {
				t.Errorf("%s %c: the key did not pass through unchanged", tt.name, key)
			}
		}
	}
}

// A sequence of keys comes out the same whatever the chunk size, masked.
func TestSuppressorChunks(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	in, tones := keyRun("5#1D*0", -8, -10, 65, 45, 25, rng)
	want := suppress(in, 160, always)
	checkMasked(t, in, want, tones, nil)
	for _, chunk := range []int{1, 7, 160, 333, 1000, len(in)} {
		if got := suppress(in, chunk, always); !slices.Equal(got, want) {
			t.Errorf("chunk %d: output differs from chunk 160's", chunk)
		}
	}
}

// Tones shorter than Q.24's 40 ms must-detect, which a lax detector may
// still take, are masked too.
func TestSuppressorShortTones(t *testing.T) {
	for _, ms := range []int{25, 30, 35} {
		for _, level := range []float64{-6, -25} {
			t.Run(fmt.Sprintf("%dms/%vdBm0", ms, level), func(t *testing.T) {
				in, tones := keyRun(Keys, level, level, ms, 60, 0, rand.New(rand.NewPCG(uint64(ms), 1)))
				checkMasked(t, in, suppress(in, 160, always), tones, nil)
			})
		}
	}
}

// Masking must reach through the things that keep a tone from being a
// clean key: a dropout, a key held for seconds, a key over speech.
func TestSuppressorHard(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	sp := viaMulaw(voiced(2, 7))
	overSpeech := make([]int16, len(sp))
	k := concat(Silence(500), Tone('3', 100, -6), Silence(1400))
	for i := range overSpeech {
		overSpeech[i] = clip16(float64(k[i]) + 0.05*float64(sp[i]))
	}
	tests := []struct {
		name string
		in   []int16
	}{
		{"10 ms dropout", concat(Silence(100), Tone('7', 50, -10), Silence(10), Tone('7', 50, -10), Silence(200))},
		{"held 2 s", concat(Silence(100), Tone('#', 2000, -10), Silence(200))},
		{"over speech", overSpeech},
		{"in loud noise", addNoise(concat(Silence(100), Tone('9', 60, -20), Silence(200)), noiseRMS(-20, 15), rng)},
		{"off nominal by 2%", concat(Silence(100), TwoTone(697*1.02, 1477*0.98, Amplitude(-10), Amplitude(-10), 600), Silence(200))},
	}
	for _, tt := range tests {
		in := viaMulaw(tt.in)
		if detect(in) == "" && q24Keys(in) == "" {
			t.Errorf("%s: neither detector finds a key in the input; the case tests nothing", tt.name)
		}
		out := suppress(in, 160, always)
		if got, got2 := detect(out), q24Keys(out); got != "" || got2 != "" {
			t.Errorf("%s: keys leaked: Detector %q, plain Goertzel %q", tt.name, got, got2)
		}
	}
}

// TestSuppressorSpeech measures how much synthetic voiced speech (see
// voiced) is masked: every masked sample is speech the agent does not hear.
// The espeak-ng corpus has its own test (suppress_speech_test.go).
func TestSuppressorSpeech(t *testing.T) {
	minutes := 10
	if testing.Short() {
		minutes = 1
	}
	var masked, total int
	for v := range minutes {
		in := viaMulaw(voiced(60, uint64(100+v)))
		for _, sp := range maskedSpans(in, suppress(in, 160, always)) {
			masked += sp.end - sp.start
		}
		total += len(in)
	}
	frac := float64(masked) / float64(total)
	t.Logf("speech masked: %.3f%% of %d min of synthetic voiced speech", 100*frac, minutes)
	if frac > 0.01 {
		t.Errorf("%.2f%% of speech masked, want under 1%%", 100*frac)
	}
}

// relaxed must accept every frame strict does: that is what lets the
// Suppressor promise that no frame a Detector could use leaks.
func TestRelaxedAcceptsStrict(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	var s []int16
	s = append(s, viaMulaw(voiced(20, 9))...)
	s = append(s, addNoise(Silence(2000), Amplitude(-10), rng)...)
	for i := 0; i < len(Keys); i++ {
		lo, hi, _ := Freqs(Keys[i])
		for _, level := range []float64{-4, -15, -26} {
			for _, dev := range []float64{-0.03, -0.02, 0, 0.02, 0.03} {
				for _, tw := range []float64{-7, 0, 4, 10} {
					tone := TwoTone(lo*(1+dev), hi*(1-dev), Amplitude(level+tw/2), Amplitude(level-tw/2), 200+rng.IntN(200))
					s = append(s, addNoise(tone, noiseRMS(level, 18), rng)...)
					s = append(s, addNoise(Silence(30), Amplitude(-40), rng)...)
				}
			}
		}
	}
	var ds, dr Detector
	x := make([]float64, len(s))
	for i, v := range s {
		x[i] = float64(v)
	}
	ns, nr := 0, 0
	for f := 0; f+frameLen <= len(x); f += hop {
		ks, _, _ := ds.analyse(x[f:f+frameLen], &strict)
		kr, _, _ := dr.analyse(x[f:f+frameLen], &relaxed)
		if ks != 0 {
			ns++
		}
		if kr != 0 {
			nr++
		}
		if ks != 0 && kr != ks {
			t.Errorf("frame at %d: strict %q, relaxed %q", f, ks, kr)
		}
	}
	t.Logf("%d frames valid under strict, %d under relaxed", ns, nr)
}

func TestHoldBack(t *testing.T) {
	if HoldBack > 60*time.Millisecond || HoldBack != holdBack*time.Second/SampleRate {
		t.Errorf("HoldBack = %v", HoldBack)
	}
	s := NewSuppressor()
	if got := s.Process(nil, true); len(got) != 0 {
		t.Errorf("Process(nil) = %d samples", len(got))
	}
}

// BenchmarkSuppressor measures one 20 ms RTP packet (160 samples) of loud
// noise with masking on: every frame is analysed.
func BenchmarkSuppressor(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	in := viaMulaw(addNoise(Silence(1000), Amplitude(-15), rng))
	s := NewSuppressor()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		s.Process(in[i:i+160], true)
		i = (i + 160) % len(in)
	}
}
