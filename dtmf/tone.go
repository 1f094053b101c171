package dtmf

import "math"

// SampleRate is the rate of all audio in this package: G.711's 8,000 samples a
// second.
const SampleRate = 8000

// Keys lists the sixteen DTMF keys in keypad order (ITU-T Q.23).
const Keys = "123A456B789C*0#D"

// LowFreqs and HighFreqs are the row and column frequencies of Q.23, in Hz.
var (
	LowFreqs  = [4]float64{697, 770, 852, 941}
	HighFreqs = [4]float64{1209, 1336, 1477, 1633}
)

// zeroDBm0 is the peak amplitude, on the 16-bit scale MulawDecode returns, of
// a 0 dBm0 sine: G.711's full-scale sine (±32124) is +3.17 dBm0.
var zeroDBm0 = 32124 * math.Pow(10, -3.17/20)

// Freqs returns the low and high frequencies of a key, and false for a byte
// that is not a DTMF key.
func Freqs(key byte) (low, high float64, ok bool) {
	for i := 0; i < len(Keys); i++ {
		if Keys[i] == key {
			return LowFreqs[i/4], HighFreqs[i%4], true
		}
	}
	return 0, 0, false
}

// Tone returns ms milliseconds of key's two tones at 8 kHz, each component at
// level dBm0 (Q.23 senders use about -6 to -10 dBm0 per component; Q.24
// receivers must accept down to -25). It returns nil for a byte that is not a
// key. The media-stream sender plays these while a simulated caller presses a
// key.
func Tone(key byte, ms int, level float64) []int16 {
	low, high, ok := Freqs(key)
	if !ok || ms <= 0 {
		return nil
	}
	a := zeroDBm0 * math.Pow(10, level/20)
	return TwoTone(low, high, a, a, ms*SampleRate/1000)
}

// TwoTone returns n samples of two sines of the given frequencies (Hz) and
// peak amplitudes, clipped to int16. It builds off-nominal and twisted test
// signals, and Tone.
func TwoTone(f1, f2, a1, a2 float64, n int) []int16 {
	out := make([]int16, n)
	w1, w2 := 2*math.Pi*f1/SampleRate, 2*math.Pi*f2/SampleRate
	for i := range out {
		v := a1*math.Sin(w1*float64(i)) + a2*math.Sin(w2*float64(i))
		out[i] = clip16(v)
	}
	return out
}

// Silence returns ms milliseconds of zero samples.
func Silence(ms int) []int16 { return make([]int16, ms*SampleRate/1000) }

// Amplitude returns the peak amplitude of a sine at level dBm0.
func Amplitude(level float64) float64 { return zeroDBm0 * math.Pow(10, level/20) }

func clip16(v float64) int16 {
	switch {
	case v > math.MaxInt16:
		return math.MaxInt16
	case v < math.MinInt16:
		return math.MinInt16
	}
	return int16(math.Round(v))
}
