package dtmf

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// sameKeys feeds in, in chunks, to a Detector and to a Suppressor's
// ProcessKeys (masking(at) for the chunk at input sample at), and reports
// the first call where their keys differ. It returns the keys found.
func sameKeys(t *testing.T, in []int16, chunk int, masking func(at int) bool) []Key {
	t.Helper()
	d, s := NewDetector(), NewSuppressor()
	var all []Key
	for at := 0; at < len(in); at += chunk {
		c := in[at:min(at+chunk, len(in))]
		want := d.Write(c)
		_, got := s.ProcessKeys(c, masking(at))
		if !slices.Equal(got, want) {
			t.Errorf("chunk %d, call at sample %d: ProcessKeys %v, Detector %v", chunk, at, got, want)
			return all
		}
		all = append(all, got...)
	}
	return all
}

// maskings are the masking patterns ProcessKeys' keys must not depend on.
var maskings = []struct {
	name string
	on   func(at int) bool
}{
	{"on", always},
	{"off", never},
	{"toggling", func(at int) bool { return at/1200%2 == 0 }}, // every 150 ms
}

// checkSameKeys runs sameKeys for every chunk size and masking pattern and
// returns how many keys the Detector found (chunk 160, masking on).
func checkSameKeys(t *testing.T, in []int16) int {
	t.Helper()
	n := 0
	for _, chunk := range []int{1, 7, 160, 333} {
		for _, m := range maskings {
			keys := sameKeys(t, in, chunk, m.on)
			if chunk == 160 && m.name == "on" {
				n = len(keys)
			}
		}
	}
	return n
}

// ProcessKeys finds what a Detector finds, at the same calls, over the key
// grids of the Detector's and the Suppressor's tests.
func TestProcessKeysKeyGrids(t *testing.T) {
	rng := rand.New(rand.NewPCG(51, 52))
	type stream struct {
		name string
		s    []int16
	}
	var streams []stream
	// TestSuppressorKeys' grid, one stream per level and twist.
	for _, level := range []float64{-3, -10, -20, -25, -30} {
		for _, twist := range []float64{0, 8, -4} {
			low, high := level, level
			if twist > 0 {
				high -= twist
			} else {
				low += twist
			}
			var s []int16
			for _, ms := range []int{40, 65, 100, 200} {
				for _, gap := range []int{40, 70, 100} {
					for _, snr := range []float64{0, 20} {
						in, _ := keyRun(Keys, low, high, ms, gap, snr, rng)
						s = append(s, in...)
					}
				}
			}
			streams = append(streams, stream{fmt.Sprintf("keys %v dBm0 twist %+v", level, twist), s})
		}
	}
	// Around the two level gates (strict at -30 dBm0 per component, relaxed
	// 6 dB lower), where one set measures a frame and the other does not.
	for _, level := range []float64{-28, -30, -31, -33, -35, -36, -37} {
		in, _ := keyRun(Keys, level, level, 60, 50, 0, rng)
		streams = append(streams, stream{fmt.Sprintf("keys at %v dBm0", level), in})
		in, _ = keyRun(Keys, level, level-1, 80, 50, 20, rng)
		streams = append(streams, stream{fmt.Sprintf("keys at %v dBm0 in noise", level), in})
	}
	// Keys fading in from -40 dBm0 and out again, crossing both gates.
	var ramps []int16
	for i := 0; i < len(Keys); i++ {
		tone := Tone(Keys[i], 400, -20)
		for j := range tone {
			db := -20 * math.Abs(float64(j-200*8)/(200*8)) // 0 dB at the middle, -20 at the ends
			tone[j] = clip16(float64(tone[j]) * math.Pow(10, db/20))
		}
		ramps = concat(ramps, Silence(50+rng.IntN(20)), tone)
	}
	streams = append(streams, stream{"ramps", viaMulaw(addNoise(ramps, Amplitude(-45), rng))})
	// TestDuration's: tones around Q.24's must-detect and must-reject.
	var dur []int16
	for _, ms := range []int{10, 20, 23, 30, 40, 45} {
		for i := 0; i < len(Keys); i++ {
			dur = concat(dur, make([]int16, 400+rng.IntN(hop)), Tone(Keys[i], ms, -10))
		}
	}
	streams = append(streams, stream{"durations", viaMulaw(concat(dur, Silence(100)))})
	// TestFrequencyDeviation's and TestTwist's.
	var dev []int16
	for _, d := range []float64{0, 0.015, -0.015, 0.025, -0.03, 0.035, -0.04} {
		for i := 0; i < len(Keys); i += 3 {
			lo, hi, _ := Freqs(Keys[i])
			a := Amplitude(-10)
			dev = concat(dev, Silence(60), TwoTone(lo*(1+d), hi*(1-d), a, a, 480))
		}
	}
	streams = append(streams, stream{"frequency deviation", viaMulaw(dev)})
	var tw []int16
	for _, db := range []float64{-14, -10.5, -6, -4, 0, 4, 8, 10.5, 14} {
		for i := 0; i < len(Keys); i += 5 {
			lo, hi, _ := Freqs(Keys[i])
			al, ah := Amplitude(-6), Amplitude(-6)
			if db > 0 {
				ah = Amplitude(-6 - db)
			} else {
				al = Amplitude(-6 + db)
			}
			tw = concat(tw, Silence(60), TwoTone(lo, hi, al, ah, 480))
		}
	}
	streams = append(streams, stream{"twist", viaMulaw(tw)})
	// Dropouts, pauses and a long press; TestRandomSequence's 200 keys.
	streams = append(streams, stream{"dropout and pause", viaMulaw(concat(Silence(50),
		Tone('7', 50, -10), Silence(10), Tone('7', 50, -10), Silence(40), Tone('7', 50, -10),
		Silence(100), Tone('#', 2000, -10), Silence(100)))})
	var seq []int16
	for range 200 {
		seq = concat(seq, Tone(Keys[rng.IntN(len(Keys))], 40+rng.IntN(161), -4-16*rng.Float64()), Silence(40+rng.IntN(161)))
	}
	streams = append(streams, stream{"random sequence", viaMulaw(addNoise(seq, Amplitude(-40), rng))})

	total := 0
	for _, st := range streams {
		t.Run(st.name, func(t *testing.T) {
			n := checkSameKeys(t, st.s)
			t.Logf("%d keys", n)
			total += n
		})
	}
	if total < 1000 {
		t.Errorf("%d keys found in all; the grids test too little", total)
	}
}

// Over what is not keys (noise at every level, either side of both gates,
// tones that are not keys, synthetic speech), ProcessKeys finds what a
// Detector finds: nothing, or the same talk-off.
func TestProcessKeysNotKeys(t *testing.T) {
	rng := rand.New(rand.NewPCG(53, 54))
	a := Amplitude(-6)
	var noise []int16
	for _, level := range []float64{0, -15, -25, -30, -33, -36, -39, -50} {
		noise = append(noise, addNoise(Silence(1000), Amplitude(level), rng)...)
	}
	tests := []struct {
		name string
		s    []int16
	}{
		{"noise", noise},
		{"near keys", concat(TwoTone(683, 1366, a, a, 4000), addTone(TwoTone(770, 1336, a, a, 4000), 941, a/2),
			TwoTone(697*1.03, 1209, a, a, 4000), TwoTone(941, 1633, a, Amplitude(-17), 4000))},
		{"voiced speech", voiced(60, 55)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkSameKeys(t, viaMulaw(tt.s))
		})
	}
}

// ProcessKeys allocates nothing once its buffers have grown, keys or not.
func TestProcessKeysAllocs(t *testing.T) {
	rng := rand.New(rand.NewPCG(55, 56))
	in, _ := keyRun(Keys, -10, -10, 60, 60, 20, rng)
	s := NewSuppressor()
	at, found := 0, 0
	allocs := testing.AllocsPerRun(len(in)/160, func() {
		if at+160 > len(in) {
			at = 0
		}
		_, keys := s.ProcessKeys(in[at:at+160], at%3200 < 1600)
		found += len(keys)
		at += 160
	})
	if allocs != 0 || found == 0 {
		t.Errorf("%v allocs per call, %d keys found", allocs, found)
	}
}

// legInputs are a SIP leg's caller audio for the benchmarks: a second of
// loud noise (every frame analysed) and of a speech pause (noise at
// -50 dBm0), through mu-law.
func legInputs() []struct {
	name string
	s    []int16
} {
	rng := rand.New(rand.NewPCG(1, 1))
	return []struct {
		name string
		s    []int16
	}{
		{"noise", viaMulaw(addNoise(Silence(1000), Amplitude(-15), rng))},
		{"pause", viaMulaw(addNoise(Silence(1000), Amplitude(-50), rng))},
	}
}

// BenchmarkDetectorAndSuppressor is what a bridged SIP leg did before
// ProcessKeys, per 20 ms packet: a Detector and a Suppressor each analysing
// the same audio.
func BenchmarkDetectorAndSuppressor(b *testing.B) {
	for _, c := range legInputs() {
		b.Run(c.name, func(b *testing.B) {
			d, s := NewDetector(), NewSuppressor()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				d.Write(c.s[i : i+160])
				s.Process(c.s[i:i+160], true)
				i = (i + 160) % len(c.s)
			}
		})
	}
}

// BenchmarkSuppressorKeys is ProcessKeys on the same audio, per 20 ms
// packet: the keys and the masking from one analysis.
func BenchmarkSuppressorKeys(b *testing.B) {
	for _, c := range legInputs() {
		b.Run(c.name, func(b *testing.B) {
			s := NewSuppressor()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				s.ProcessKeys(c.s[i:i+160], true)
				i = (i + 160) % len(c.s)
			}
		})
	}
}
