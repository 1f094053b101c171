package tts

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkResample: one second of 22050 Hz audio to 8 kHz.
func BenchmarkResample(b *testing.B) {
	x := sine(1000, 22050, 1, 10000)
	for b.Loop() {
		resample(x, 22050, 8000)
	}
}

// BenchmarkSpeak: a new prompt each time (espeak-ng, resampling, mu-law);
// the cached case is what every later call with the same prompt costs.
func BenchmarkSpeak(b *testing.B) {
	e := needEspeak(&testing.T{}, Config{})
	if _, ok := e.Available(); !ok {
		b.Skip("no espeak-ng")
	}
	ctx := context.Background()
	const text = "Please enter your card number, followed by the pound key. %d"
	b.Run("render", func(b *testing.B) {
		i, secs := 0, 0.0
		for b.Loop() {
			i++
			a, err := e.Speak(ctx, fmt.Sprintf(text, i), "woman", "en-US")
			if err != nil {
				b.Fatal(err)
			}
			secs += float64(len(a)) / 8000
		}
		b.ReportMetric(secs/float64(b.N), "speech-s/op")
	})
	b.Run("cached", func(b *testing.B) {
		if _, err := e.Speak(ctx, text, "", ""); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			e.Speak(ctx, text, "", "")
		}
	})
}
