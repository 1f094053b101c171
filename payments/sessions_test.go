package payments_test

import (
	"context"
	"errors"
	"testing"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/store/storetest"
)

// TestFindSessions: a call's sessions, ended ones included, newest first;
// another account's call is ErrNotFound, as a missing one is.
func TestFindSessions(t *testing.T) {
	f := newFixture(t)
	svc := f.service()
	first := f.capturedSession(t, svc)
	if _, err := svc.UpdateSession(context.Background(), &tonepay.UpdateRequest{AccountSid: f.acct.Sid, CallSid: f.call.Sid, Sid: first,
		Status: "cancel", IdempotencyKey: "c"}); err != nil {
		t.Fatal(err)
	}
	f.clock.Add(1)
	second := f.capturedSession(t, svc)
	got, err := svc.FindSessions(context.Background(), f.acct.Sid, tonepay.SessionFilter{CallSid: f.call.Sid})
	if err != nil || len(got) != 2 || got[0].Sid != second || got[1].Sid != first || got[1].Result != "payment-cancelled" {
		t.Fatalf("FindSessions = %v, %v; want %s then %s (cancelled)", got, err, second, first)
	}
	if got, err := svc.FindSessions(context.Background(), f.acct.Sid, tonepay.SessionFilter{CallSid: f.call.Sid, Offset: 1, Limit: 1}); err != nil || len(got) != 1 || got[0].Sid != first {
		t.Errorf("FindSessions, the second page of one = %v, %v; want %s", got, err, first)
	}
	other := storetest.MustAccount(t, f.store, "", f.clock.Now())
	for name, call := range map[string]string{"another account's call": f.call.Sid, "no such call": tonepay.NewSID("CA")} {
		acct := other.Sid
		if name == "no such call" {
			acct = f.acct.Sid
		}
		if got, err := svc.FindSessions(context.Background(), acct, tonepay.SessionFilter{CallSid: call}); !errors.Is(err, tonepay.ErrNotFound) || got != nil {
			t.Errorf("%s: %v, %v; want ErrNotFound", name, got, err)
		}
	}
}
