package payments_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/store/storetest"
)

// onlyFor is a connector that only one main account may use.
type onlyFor struct {
	tonepay.Connector
	owner string
}

func (o onlyFor) Allows(_, ownerSid string) bool { return ownerSid == o.owner }

// TestCreateRules: the service decides every rule of a create that needs the
// store or the connectors, in Twilio's order: the call, the connector, the
// amount, the capabilities, the StatusCallback, then the call's liveness.
func TestCreateRules(t *testing.T) {
	f := newFixture(t)
	svc := f.Service()
	svc.Payments.Connectors["Mine"] = onlyFor{f.Conn, f.Acct.Sid}
	svc.Payments.Connectors["Theirs"] = onlyFor{f.Conn, "ACsomeoneelse"}
	ended := storetest.MustCall(t, f.Store, f.Acct.Sid, f.Clock.Now())
	if _, err := svc.UpdateCall(context.Background(), &tonepay.UpdateCallRequest{AccountSid: f.Acct.Sid, Sid: ended.Sid, Status: tonepay.CallCompleted}); err != nil {
		t.Fatal(err)
	}
	other := storetest.MustAccount(t, f.Store, "", f.Clock.Now())
	tests := []struct {
		name      string
		call      string
		connector string
		amount    string
		callback  string
		code      int  // 0: accepted
		notFound  bool // ErrNotFound: the wire names the path
	}{
		{"accepted, relative callback", f.Call.Sid, "", "10", "cb", 0, false},
		{"unknown call", tonepay.NewSID("CA"), "", "", "https://x.example/", 0, true},
		{"call of another account", storetest.MustCall(t, f.Store, other.Sid, f.Clock.Now()).Sid, "Nope", "x", "", 0, true},
		{"unknown connector", ended.Sid, "Nope", "x", "", tonepay.CodeUnknownConnector, false},
		{"connector limited to another account", ended.Sid, "Theirs", "", "", tonepay.CodeUnknownConnector, false},
		{"bad amount", ended.Sid, "Mine", "-1", "", tonepay.CodeChargeAmount, false},
		{"bad callback", ended.Sid, "Mine", "", "ftp://x.example/", tonepay.CodeInvalidParameter, false},
		{"ended call", ended.Sid, "Mine", "", "https://x.example/", tonepay.CodeCallNotInProgress, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := svc.CreateSession(context.Background(), &tonepay.CreateRequest{AccountSid: f.Acct.Sid, OwnerSid: f.Acct.OwnerSid,
				CallSid: tt.call, ChargeAmount: tt.amount, StatusCallback: tt.callback,
				Params: tonepay.Params{PaymentMethod: tonepay.CreditCard, Currency: "USD", PaymentConnector: tt.connector, TokenType: tonepay.TokenReusable, Timeout: 5, Input: "dtmf"}})
			switch {
			case tt.notFound:
				if !errors.Is(err, tonepay.ErrNotFound) {
					t.Fatalf("got %v, want ErrNotFound", err)
				}
			case tt.code != 0:
				if tonepay.ErrorCode(err) != tt.code {
					t.Fatalf("got %v, want %d", err, tt.code)
				}
			case err != nil:
				t.Fatal(err)
			default:
				s := f.Session(t, p.Sid)
				if s.Params.PaymentConnector != tonepay.DefaultConnector || s.Params.ChargeAmount != "10.00" || s.State.StatusCallback != "https://example.com/cb" {
					t.Fatalf("stored %+v %q", s.Params, s.State.StatusCallback)
				}
			}
		})
	}
}

// TestIdempotentAnswer: a replay answers the Payment of the first request,
// whatever the session did since; an answer in another format is not
// replayed.
func TestIdempotentAnswer(t *testing.T) {
	f := newFixture(t)
	svc := f.Service()
	ctx := context.Background()
	create := func(call, key string) (*tonepay.Payment, error) {
		return svc.CreateSession(ctx, &tonepay.CreateRequest{AccountSid: f.Acct.Sid, OwnerSid: f.Acct.OwnerSid, CallSid: call,
			StatusCallback: "https://example.com/cb", IdempotencyKey: key,
			Params: tonepay.Params{PaymentMethod: tonepay.CreditCard, Currency: "USD", TokenType: tonepay.TokenReusable, Timeout: 5, Input: "dtmf"}})
	}
	first, err := create(f.Call.Sid, "k1")
	if err != nil {
		t.Fatal(err)
	}
	f.Clock.Add(time.Minute)
	if _, err := svc.UpdateSession(ctx, &tonepay.UpdateRequest{AccountSid: f.Acct.Sid, CallSid: f.Call.Sid, Sid: first.Sid,
		Capture: tonepay.FieldCardNumber, StatusCallback: "https://example.com/cb"}); err != nil {
		t.Fatal(err)
	}
	again, err := create(f.Call.Sid, "k1")
	if err != nil || *again != *first {
		t.Fatalf("replay: %+v %v, want %+v", again, err, first)
	}
	if s := f.Session(t, first.Sid); !s.DateUpdated.After(first.DateUpdated) {
		t.Fatalf("the session did not move on: %v", s.DateUpdated)
	}

	call := storetest.MustCall(t, f.Store, f.Acct.Sid, f.Clock.Now())
	legacy := &tonepay.Answer{Key: "k2", Format: 201, Body: []byte(`{"sid":"PK0123456789abcdef0123456789abcdef"}`), DateCreated: f.Clock.Now()}
	if err := f.Store.Update(ctx, func(tx tonepay.Tx) error { return tx.AddAnswer(ctx, legacy) }); err != nil {
		t.Fatal(err)
	}
	p, err := create(call.Sid, "k2")
	if err != nil || p.Sid == "PK0123456789abcdef0123456789abcdef" || p.CallSid != call.Sid {
		t.Fatalf("legacy answer: %+v %v", p, err)
	}
}
