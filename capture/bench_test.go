package capture

import (
	"testing"
	"time"

	"github.com/tonepay/tonepay"
)

// BenchmarkDigit is one engine step: a digit typed into the card number,
// with its partial-result callback.
func BenchmarkDigit(b *testing.B) {
	s := newSession(nil)
	sec := &Secrets{}
	if _, err := engine.Apply(s, sec, Input{Kind: RequestCapture, Field: tonepay.FieldCardNumber}, t0); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if len(sec.Entry) >= 15 {
			sec.Entry, s.State.Typed = "", 0
		}
		if _, err := engine.Apply(s, sec, Input{Kind: Digit, Key: '4'}, t0.Add(time.Duration(i))); err != nil {
			b.Fatal(err)
		}
	}
}
