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
	svc := f.Service()
	first := f.CapturedSession(t, svc)
	if _, err := svc.UpdateSession(context.Background(), &tonepay.UpdateRequest{AccountSid: f.Acct.Sid, CallSid: f.Call.Sid, Sid: first,
		Status: "cancel", IdempotencyKey: "c"}); err != nil {
		t.Fatal(err)
	}
	f.Clock.Add(1)
	second := f.CapturedSession(t, svc)
	got, err := svc.FindSessions(context.Background(), f.Acct.Sid, tonepay.SessionFilter{CallSid: f.Call.Sid})
	if err != nil || len(got) != 2 || got[0].Sid != second || got[1].Sid != first || got[1].Result != "payment-cancelled" {
		t.Fatalf("FindSessions = %v, %v; want %s then %s (cancelled)", got, err, second, first)
	}
	if got, err := svc.FindSessions(context.Background(), f.Acct.Sid, tonepay.SessionFilter{CallSid: f.Call.Sid, Offset: 1, Limit: 1}); err != nil || len(got) != 1 || got[0].Sid != first {
		t.Errorf("FindSessions, the second page of one = %v, %v; want %s", got, err, first)
	}
	other := storetest.MustAccount(t, f.Store, "", f.Clock.Now())
	for name, call := range map[string]string{"another account's call": f.Call.Sid, "no such call": tonepay.NewSID("CA")} {
		acct := other.Sid
		if name == "no such call" {
			acct = f.Acct.Sid
		}
		if got, err := svc.FindSessions(context.Background(), acct, tonepay.SessionFilter{CallSid: call}); !errors.Is(err, tonepay.ErrNotFound) || got != nil {
			t.Errorf("%s: %v, %v; want ErrNotFound", name, got, err)
		}
	}
}
