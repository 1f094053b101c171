package dtmf

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// voiced returns seconds of synthetic voiced "speech": syllables of 80–400 ms,
// each a harmonic series on a 100–250 Hz fundamental that glides and carries
// vibrato, shaped by three moving formants (some of them narrow, which is
// what lets two harmonics stand out as a DTMF pair would) and a syllable
// envelope, with pauses of 0–300 ms. It is deterministic for a seed. It is a
// stand-in for real speech, not a replacement: the espeak-ng corpus of issue
// 22 is a separate test.
func voiced(seconds int, seed uint64) []int16 {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	n := seconds * SampleRate
	out := make([]int16, 0, n)
	const maxH = 40
	var phases [maxH]float64
	for len(out) < n {
		// A speaker's register, then one syllable.
		f0a := 100 + 150*rng.Float64()
		f0b := f0a * (0.8 + 0.4*rng.Float64())
		vibHz, vibDepth := 4+3*rng.Float64(), 0.02*rng.Float64()
		var fa, fb, bw [3]float64
		lo := [3]float64{250, 800, 2000}
		span := [3]float64{700, 1700, 1300}
		for j := range fa {
			fa[j] = lo[j] + span[j]*rng.Float64()
			fb[j] = lo[j] + span[j]*rng.Float64()
			bw[j] = 30 + 120*rng.Float64()
		}
		level := Amplitude(-5 - 20*rng.Float64())
		length := (80 + rng.IntN(321)) * SampleRate / 1000
		var amps [maxH]float64
		vib := 0.0
		for i := 0; i < length && len(out) < n; i++ {
			u := float64(i) / float64(length)
			vib += 2 * math.Pi * vibHz / SampleRate
			f0 := (f0a + (f0b-f0a)*u) * (1 + vibDepth*math.Sin(vib))
			if i%40 == 0 { // formant gains every 5 ms
				for k := range maxH {
					f := f0 * float64(k+1)
					if f > 3800 {
						amps[k] = 0
						continue
					}
					g := 0.0
					for j := range fa {
						fj := fa[j] + (fb[j]-fa[j])*u
						g += 1 / (1 + ((f-fj)/bw[j])*((f-fj)/bw[j]))
					}
					amps[k] = g / math.Sqrt(float64(k+1)) // gentle tilt
				}
			}
			env := math.Sin(math.Pi * u) // syllable envelope
			v := 0.0
			for k := range maxH {
				phases[k] += 2 * math.Pi * f0 * float64(k+1) / SampleRate
				if amps[k] != 0 {
					v += amps[k] * math.Sin(phases[k])
				}
			}
			out = append(out, clip16(level*env*v/2))
		}
		out = append(out, make([]int16, rng.IntN(301)*SampleRate/1000)...)
	}
	return out[:n]
}

func TestTalkOff(t *testing.T) {
	minutes := 10
	if testing.Short() {
		minutes = 1
	}
	var keys []Key
	for v := range minutes { // a different "voice" per minute
		s := viaMulaw(voiced(60, uint64(100+v)))
		keys = append(keys, detectKeys(s, 160)...)
	}
	hours := time.Duration(minutes) * time.Minute
	t.Logf("talk-off: %d false keys in %v of synthetic voiced speech (%.1f per hour)",
		len(keys), hours, float64(len(keys))/hours.Hours())
	if len(keys) != 0 {
		t.Errorf("talk-off: %v", keys)
	}
}

// Speech must not hide a key: a key over quiet speech is still found.
func TestKeyOverSpeech(t *testing.T) {
	sp := voiced(2, 7)
	k := concat(Silence(500), Tone('3', 100, -6), Silence(1400))
	s := make([]int16, len(sp))
	for i := range s {
		s[i] = clip16(float64(k[i]) + 0.05*float64(sp[i]))
	}
	if got := detect(viaMulaw(s)); got != "3" {
		t.Errorf("got %q, want 3", got)
	}
}

// BenchmarkDetector measures one second of 8 kHz audio in 20 ms frames. The
// "noise" case is the worst: every frame is loud enough to be analysed.
func BenchmarkDetector(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	var keys []int16
	for len(keys) < SampleRate {
		keys = append(keys, Tone(Keys[rng.IntN(16)], 60, -10)...)
		keys = append(keys, Silence(60)...)
	}
	cases := []struct {
		name string
		s    []int16
	}{
		{"speech", viaMulaw(voiced(1, 3))},
		{"keys", viaMulaw(addNoise(keys[:SampleRate], Amplitude(-40), rng))},
		{"noise", viaMulaw(addNoise(Silence(1000), Amplitude(-15), rng))},
		{"silence", Silence(1000)},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			d := NewDetector()
			for b.Loop() {
				for i := 0; i < len(c.s); i += 160 {
					d.Write(c.s[i : i+160])
				}
			}
			nsPerSec := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			b.ReportMetric(1e9/nsPerSec, "streams/core")
		})
	}
}
