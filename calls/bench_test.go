package calls_test

import (
	"context"
	"testing"

	"github.com/tonepay/tonepay"
)

// BenchmarkKeyRun is one 17-key run (a card number and #) pressed into a
// session capturing the card number, against a real SQLite store: what a
// caller's keypad burst costs end to end, fsync included.
func BenchmarkKeyRun(b *testing.B) {
	f := newFixture(b)
	svc := f.Service()
	ctx := context.Background()
	p := tonepay.Params{PaymentMethod: tonepay.CreditCard, ChargeAmount: "10.00", Currency: "USD", PaymentConnector: "Default",
		SecurityCode: true, Timeout: 5, ValidCardTypes: []string{"visa"}, Input: "dtmf"}
	ans, err := svc.CreateSession(ctx, &tonepay.CreateRequest{AccountSid: f.Acct.Sid, CallSid: f.Call.Sid, Params: p,
		ChargeAmount: "10.00", StatusCallback: "https://example.com/cb"})
	if err != nil {
		b.Fatal(err)
	}
	capture := &tonepay.UpdateRequest{AccountSid: f.Acct.Sid, CallSid: f.Call.Sid, Sid: ans.Sid, Capture: tonepay.FieldCardNumber}
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		if _, err := svc.UpdateSession(ctx, capture); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if pr, err := svc.Keypad(ctx, f.Acct.Sid, f.Call.Sid, "4242424242424242#"); err != nil || pr.Applied != 17 {
			b.Fatal(pr, err)
		}
	}
}
