package payments_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/events"
	"github.com/tonepay/tonepay/store/storetest"
)

// openSession starts a session on the account's call and returns its SID.
func openSession(t *testing.T, svc interface {
	CreateSession(context.Context, *tonepay.CreateRequest) (*tonepay.Payment, error)
}, account, call string) string {
	t.Helper()
	p := tonepay.Params{PaymentMethod: tonepay.CreditCard, Currency: "USD", PaymentConnector: "Default",
		SecurityCode: true, Timeout: 5, ValidCardTypes: []string{"visa"}, Input: "dtmf", TokenType: tonepay.TokenReusable}
	ans, err := svc.CreateSession(context.Background(), &tonepay.CreateRequest{AccountSid: account, CallSid: call, Params: p,
		StatusCallback: "https://example.com/cb"})
	if err != nil {
		t.Fatal(err)
	}
	return ans.Sid
}

// TestFindSessionViews: a session shows masked, on its own call and
// account only; Current is the call's open session where sessions are
// shown, and nothing to the Payments API.
func TestFindSessionViews(t *testing.T) {
	f := newFixture(t)
	svc := f.Service()
	ctx := context.Background()
	sid := f.CapturedSession(t, svc)
	other := storetest.MustAccount(t, f.Store, "", f.Clock.Now())
	otherCall := storetest.MustCall(t, f.Store, f.Acct.Sid, f.Clock.Now())

	for _, name := range []string{sid, tonepay.CurrentSession} {
		v, err := svc.Payments.FindSession(ctx, f.Acct.Sid, f.Call.Sid, name)
		if err != nil || v.Sid != sid {
			t.Fatalf("FindSession(%s) = %+v, %v; want %s", name, v, err, sid)
		}
		if shown := fmt.Sprintf("%+v", *v); strings.Contains(shown, "4242424242424242") {
			t.Errorf("the view shows the card: %s", shown)
		}
		if v.Captured[tonepay.FieldCardNumber] == "" || len(v.Required) != 0 {
			t.Errorf("view %+v: want the card captured, masked, nothing required", v)
		}
		h, err := svc.Payments.FindCallbacks(ctx, f.Acct.Sid, f.Call.Sid, name)
		if err != nil || len(h) == 0 || h[0].Callback.URL != "https://example.com/cb" {
			t.Errorf("FindCallbacks(%s) = %v, %v", name, h, err)
		}
	}
	notFound := []struct {
		name                string
		account, call, sess string
	}{
		{"another account", other.Sid, f.Call.Sid, sid},
		{"another account, Current", other.Sid, f.Call.Sid, tonepay.CurrentSession},
		{"another call", f.Acct.Sid, otherCall.Sid, sid},
		{"another call, Current", f.Acct.Sid, otherCall.Sid, tonepay.CurrentSession},
		{"no such session", f.Acct.Sid, f.Call.Sid, tonepay.NewSID(tonepay.PrefixPayment)},
	}
	for _, tt := range notFound {
		if v, err := svc.Payments.FindSession(ctx, tt.account, tt.call, tt.sess); !errors.Is(err, tonepay.ErrNotFound) {
			t.Errorf("FindSession, %s: %+v, %v; want ErrNotFound", tt.name, v, err)
		}
		if h, err := svc.Payments.FindCallbacks(ctx, tt.account, tt.call, tt.sess); !errors.Is(err, tonepay.ErrNotFound) {
			t.Errorf("FindCallbacks, %s: %v, %v; want ErrNotFound", tt.name, h, err)
		}
	}
	// The Payments API names sessions by SID only.
	_, err := svc.UpdateSession(ctx, &tonepay.UpdateRequest{AccountSid: f.Acct.Sid, CallSid: f.Call.Sid, Sid: tonepay.CurrentSession, Status: "cancel", IdempotencyKey: "x"})
	if tonepay.ErrorCode(err) != tonepay.CodeNotFound {
		t.Errorf("update of Current: %v, want 20404", err)
	}
	if err := f.Complete(svc, sid, "done"); err != nil {
		t.Fatal(err)
	}
	svc.Wait()
	if v, err := svc.Payments.FindSession(ctx, f.Acct.Sid, f.Call.Sid, tonepay.CurrentSession); !errors.Is(err, tonepay.ErrNotFound) {
		t.Errorf("Current once ended: %+v, %v; want ErrNotFound", v, err)
	}
}

// TestWatchSessions: an account's watcher sees its sessions' changes as
// views, read after the change, and nothing of another account's; it ends
// with its context.
func TestWatchSessions(t *testing.T) {
	f := newFixture(t)
	svc := f.Service()
	if _, err := svc.Payments.WatchSessions(context.Background(), f.Acct.Sid); !errors.Is(err, tonepay.ErrNotFound) {
		t.Fatalf("without Subscribe: %v, want ErrNotFound", err)
	}
	hub := events.New()
	svc.Payments.Publish, svc.Payments.Subscribe = hub.Publish, hub.Subscribe
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	views, err := svc.Payments.WatchSessions(ctx, f.Acct.Sid)
	if err != nil {
		t.Fatal(err)
	}
	next := func() *tonepay.SessionView {
		t.Helper()
		select {
		case v := <-views:
			return v
		case <-time.After(5 * time.Second):
			t.Fatal("no view")
			return nil
		}
	}

	sid := openSession(t, svc, f.Acct.Sid, f.Call.Sid)
	if v := next(); v.Sid != sid || v.Status != tonepay.SessionOpen || v.TokenType != tonepay.TokenReusable {
		t.Errorf("first view %+v, want %s open", v, sid)
	}
	// Another account's session, even if its change reached this account's
	// subscribers, shows nothing; the next change of the account's does.
	other := storetest.MustAccount(t, f.Store, "", f.Clock.Now())
	otherSid := openSession(t, svc, other.Sid, storetest.MustCall(t, f.Store, other.Sid, f.Clock.Now()).Sid)
	hub.Publish(tonepay.SessionChanged{AccountSid: f.Acct.Sid, SessionSid: otherSid})
	hub.Publish(tonepay.SessionChanged{AccountSid: f.Acct.Sid, SessionSid: tonepay.NewSID(tonepay.PrefixPayment)})
	if _, err := svc.UpdateSession(context.Background(), &tonepay.UpdateRequest{AccountSid: f.Acct.Sid, CallSid: f.Call.Sid, Sid: sid,
		Capture: tonepay.FieldCardNumber}); err != nil {
		t.Fatal(err)
	}
	if v := next(); v.Sid != sid || v.Capture != tonepay.FieldCardNumber {
		t.Errorf("view %+v, want %s capturing the card number", v, sid)
	}

	cancel()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case _, ok := <-views:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("the views did not end with the context")
		}
	}
}
