package dtmf

import (
	"math"
	"math/rand/v2"
	"testing"
)

// concat joins audio pieces.
func concat(parts ...[]int16) []int16 {
	var out []int16
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// viaMulaw passes audio through G.711 mu-law, as a Twilio media stream does.
func viaMulaw(s []int16) []int16 {
	out := make([]int16, len(s))
	for i, v := range s {
		out[i] = MulawDecode(MulawEncode(v))
	}
	return out
}

// addNoise adds white Gaussian noise of the given RMS.
func addNoise(s []int16, rms float64, rng *rand.Rand) []int16 {
	out := make([]int16, len(s))
	for i, v := range s {
		out[i] = clip16(float64(v) + rms*rng.NormFloat64())
	}
	return out
}

// detect runs audio through a new detector in 20 ms frames and returns the
// digits found.
func detect(s []int16) string {
	keys := detectKeys(s, 160)
	b := make([]byte, len(keys))
	for i, k := range keys {
		b[i] = k.Digit
	}
	return string(b)
}

func detectKeys(s []int16, chunk int) []Key {
	d := NewDetector()
	var keys []Key
	for len(s) > 0 {
		n := min(chunk, len(s))
		keys = append(keys, d.Write(s[:n])...)
		s = s[n:]
	}
	return keys
}

func pad(s []int16) []int16 { return concat(Silence(60), s, Silence(100)) }

func TestEveryKeyThroughMulaw(t *testing.T) {
	for _, level := range []float64{-6, -25} {
		for i := 0; i < len(Keys); i++ {
			k := Keys[i]
			b := MulawEncodeAll(pad(Tone(k, 60, level)))
			d := NewDetector()
			var got []Key
			for len(b) > 0 {
				got = append(got, d.WriteMulaw(b[:160])...)
				b = b[160:]
			}
			if len(got) != 1 || got[0].Digit != k {
				t.Errorf("key %c at %v dBm0: got %v", k, level, got)
				continue
			}
			if off := got[0].Offset - 480; off < -24 || off > 24 {
				t.Errorf("key %c: offset %d, want 480±24", k, got[0].Offset)
			}
		}
	}
}

// TestMinimumLevel: a key is detected down to Q.24's -25 dBm0 per
// component and a little below; under the -30 dBm0 minimum (minLevel, with
// margin for mu-law's rounding of the measured level) it is not.
func TestMinimumLevel(t *testing.T) {
	tests := []struct {
		level float64 // dBm0 per component
		want  bool
	}{
		{-25, true},
		{-28, true},
		{-33, false},
		{-36, false},
		{-45, false},
	}
	for _, tt := range tests {
		for i := 0; i < len(Keys); i++ {
			k := Keys[i]
			want := ""
			if tt.want {
				want = string(k)
			}
			if got := detect(viaMulaw(pad(Tone(k, 60, tt.level)))); got != want {
				t.Errorf("key %c at %v dBm0: got %q, want %q", k, tt.level, got, want)
			}
		}
	}
}

func TestChunkSizesAgree(t *testing.T) {
	s := pad(concat(Tone('5', 80, -10), Silence(60), Tone('#', 80, -10)))
	for _, chunk := range []int{1, 7, 160, 333, len(s)} {
		keys := detectKeys(s, chunk)
		if len(keys) != 2 || keys[0].Digit != '5' || keys[1].Digit != '#' {
			t.Errorf("chunk %d: got %v", chunk, keys)
		}
	}
}

func TestFrequencyDeviation(t *testing.T) {
	tests := []struct {
		devLow, devHigh float64 // fraction of nominal
		want            string
	}{
		{0, 0, "1"},
		{0.015, 0.015, "1"},
		{-0.015, -0.015, "1"},
		{0.015, -0.015, "1"},
		{-0.015, 0.015, "1"},
		{0.035, 0, ""},
		{-0.035, 0, ""},
		{0, 0.035, ""},
		{0, -0.035, ""},
		{0.05, 0.05, ""},
		{-0.06, 0, ""},
		{0, 0.06, ""},
	}
	a := Amplitude(-10)
	for _, key := range []byte{'1', '5', '9', 'D', '*', 'A'} {
		lo, hi, _ := Freqs(key)
		for _, tt := range tests {
			want := ""
			if tt.want != "" {
				want = string(key)
			}
			s := viaMulaw(pad(TwoTone(lo*(1+tt.devLow), hi*(1+tt.devHigh), a, a, 480)))
			if got := detect(s); got != want {
				t.Errorf("key %c dev %+.1f%%/%+.1f%%: got %q, want %q", key, 100*tt.devLow, 100*tt.devHigh, got, want)
			}
		}
	}
}

func TestTwist(t *testing.T) {
	tests := []struct {
		twist float64 // dB, low minus high
		want  bool
	}{
		{0, true}, {8, true}, {-4, true}, {4, true},
		{10.5, false}, {-10.5, false}, {14, false}, {-14, false},
	}
	for _, key := range []byte{'1', '0', 'D', '8'} {
		lo, hi, _ := Freqs(key)
		for _, tt := range tests {
			// Keep the stronger component at -6 dBm0.
			al, ah := Amplitude(-6), Amplitude(-6)
			if tt.twist > 0 {
				ah = Amplitude(-6 - tt.twist)
			} else {
				al = Amplitude(-6 + tt.twist)
			}
			got := detect(viaMulaw(pad(TwoTone(lo, hi, al, ah, 480))))
			if (got == string(key)) != tt.want || (!tt.want && got != "") {
				t.Errorf("key %c twist %+v dB: got %q, want detected=%v", key, tt.twist, got, tt.want)
			}
		}
	}
}

func TestDuration(t *testing.T) {
	tests := []struct {
		ms   int
		want bool
	}{{40, true}, {45, true}, {100, true}, {1000, true}, {23, false}, {20, false}, {10, false}}
	for _, tt := range tests {
		for i := 0; i < len(Keys); i++ {
			// Every alignment of the tone against the 5 ms hop.
			for shift := 0; shift < hop; shift += 7 {
				s := viaMulaw(concat(make([]int16, 400+shift), Tone(Keys[i], tt.ms, -10), Silence(100)))
				got := detect(s)
				want := ""
				if tt.want {
					want = string(Keys[i])
				}
				if got != want {
					t.Errorf("%c %d ms shift %d: got %q, want %q", Keys[i], tt.ms, shift, got, want)
				}
			}
		}
	}
}

func TestDropoutAndPause(t *testing.T) {
	for shift := 0; shift < hop; shift += 5 {
		lead := make([]int16, 400+shift)
		// A 10 ms dropout inside a tone is one key.
		s := viaMulaw(concat(lead, Tone('7', 50, -10), Silence(10), Tone('7', 50, -10), Silence(100)))
		if got := detect(s); got != "7" {
			t.Errorf("shift %d: dropout: got %q, want one key", shift, got)
		}
		// Two presses 40 ms apart are two keys.
		s = viaMulaw(concat(lead, Tone('7', 50, -10), Silence(40), Tone('7', 50, -10), Silence(100)))
		if got := detect(s); got != "77" {
			t.Errorf("shift %d: 40 ms pause: got %q, want two keys", shift, got)
		}
		// Held for two seconds: still one key.
		s = viaMulaw(concat(lead, Tone('#', 2000, -10), Silence(100)))
		if got := detect(s); got != "#" {
			t.Errorf("shift %d: long press: got %q", shift, got)
		}
	}
}

// noiseRMS returns the RMS of white noise snr dB below a key's two
// components at level dBm0 each.
func noiseRMS(level, snr float64) float64 {
	a := Amplitude(level)
	return math.Sqrt(a * a * math.Pow(10, -snr/10)) // 2 components × a²/2
}

func TestNoise(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, snr := range []float64{15, 17, 20} {
		for i := 0; i < len(Keys); i++ {
			for _, level := range []float64{-6, -20} {
				s := viaMulaw(addNoise(pad(Tone(Keys[i], 60, level)), noiseRMS(level, snr), rng))
				if got := detect(s); got != string(Keys[i]) {
					t.Errorf("%c at %v dBm0, SNR %v dB: got %q", Keys[i], level, snr, got)
				}
			}
		}
	}
}

func TestNotKeys(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	n := 10 * SampleRate
	a := Amplitude(-6)
	tests := []struct {
		name string
		s    []int16
	}{
		{"silence", make([]int16, n)},
		{"noise loud", addNoise(make([]int16, n), Amplitude(0), rng)},
		{"noise quiet", addNoise(make([]int16, n), Amplitude(-30), rng)},
		{"single low", TwoTone(697, 697, a, 0, n)},
		{"single high", TwoTone(1336, 1336, a, 0, n)},
		{"two lows", TwoTone(697, 852, a, a, n)},
		{"two highs", TwoTone(1209, 1477, a, a, n)},
		{"dial tone 350+440", TwoTone(350, 440, a, a, n)},
		{"ringback 440+480", TwoTone(440, 480, a, a, n)},
		{"busy 480+620", TwoTone(480, 620, a, a, n)},
		{"1000 Hz test tone", TwoTone(1000, 1000, a, 0, n)},
		{"three tones", addTone(TwoTone(770, 1336, a, a, n), 1209, a)},
		{"three tones weak third", addTone(TwoTone(770, 1336, a, a, n), 941, a/2)},
	}
	for _, tt := range tests {
		if got := detect(viaMulaw(tt.s)); got != "" {
			t.Errorf("%s: got %q, want nothing", tt.name, got)
		}
	}
}

func addTone(s []int16, f, a float64) []int16 {
	out := make([]int16, len(s))
	w := 2 * math.Pi * f / SampleRate
	for i, v := range s {
		out[i] = clip16(float64(v) + a*math.Sin(w*float64(i)))
	}
	return out
}

func TestRandomSequence(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	var s []int16
	var want []byte
	var starts []int
	s = append(s, Silence(100)...)
	for range 200 {
		k := Keys[rng.IntN(len(Keys))]
		level := -4 - 16*rng.Float64()
		starts = append(starts, len(s))
		s = append(s, Tone(k, 40+rng.IntN(161), level)...)
		s = append(s, Silence(40+rng.IntN(161))...)
		want = append(want, k)
	}
	s = viaMulaw(addNoise(s, Amplitude(-40), rng))
	keys := detectKeys(s, 160)
	got := make([]byte, len(keys))
	for i, k := range keys {
		got[i] = k.Digit
	}
	if string(got) != string(want) {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	for i, k := range keys {
		if d := int(k.Offset) - starts[i]; d < -24 || d > 24 {
			t.Errorf("key %d: offset %d, tone at %d", i, k.Offset, starts[i])
		}
	}
}

func TestToneAndFreqs(t *testing.T) {
	if Tone('x', 100, -6) != nil || Tone('1', 0, -6) != nil {
		t.Error("Tone of a non-key or 0 ms: want nil")
	}
	if got := len(Tone('#', 65, -6)); got != 520 {
		t.Errorf("65 ms: %d samples, want 520", got)
	}
	if lo, hi, ok := Freqs('#'); !ok || lo != 941 || hi != 1477 {
		t.Errorf("Freqs('#') = %v, %v, %v", lo, hi, ok)
	}
	// 0 dBm0 per component: peak of the pair is twice the 0 dBm0 sine, within
	// 16-bit range; a -3 dBm0 pair must not clip.
	for _, v := range Tone('D', 100, -3) {
		if v == math.MaxInt16 || v == math.MinInt16 {
			t.Fatal("-3 dBm0 pair clipped")
		}
	}
}
