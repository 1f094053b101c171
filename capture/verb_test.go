package capture

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/tonepay/tonepay"
)

func newVerb(mod func(p *tonepay.Params)) *tonepay.Session {
	return newSession(func(p *tonepay.Params) {
		p.Verb, p.MaxAttempts = true, 2
		if mod != nil {
			mod(p)
		}
	})
}

// vstep is one or more events of a <Pay> session, as step is for the agent's.
type vstep struct {
	at     time.Duration
	ev     Input
	keys   string
	code   int
	n      int               // callbacks expected; -1 means don't check
	ask    *tonepay.PayAsk   // the (last) ask expected; nil means none
	last   map[string]string // fields of the last callback; "-" means absent
	action map[string]string // the action's fields; nil means no action; "-" means absent
	pay    bool
	check  func(t *testing.T, s *tonepay.Session, sec *Secrets)
}

func ask(f tonepay.Field, attempt int, errType, cardType string) *tonepay.PayAsk {
	return &tonepay.PayAsk{Field: f, Attempt: attempt, ErrorType: errType, CardType: cardType}
}

func wantFields(t *testing.T, what string, got map[string][]string, want map[string]string) {
	t.Helper()
	for k, w := range want {
		v, ok := got[k]
		if w == "-" {
			if ok {
				t.Errorf("%s: %s = %q, want absent", what, k, v)
			}
		} else if !ok || len(v) != 1 || v[0] != w {
			t.Errorf("%s: %s = %q, want %q (all: %v)", what, k, v, w, got)
		}
	}
}

// runVerb starts s with StartVerb (checked as step 0 against start) and runs steps.
func runVerb(t *testing.T, s *tonepay.Session, start vstep, steps []vstep) {
	t.Helper()
	e, drawn := engine, 0
	e.Idle = 15 * time.Minute // must never apply: a <Pay> session is always asking
	e.NewTxID = func() string { drawn++; return fmt.Sprintf("TX%d", drawn) }
	sec := &Secrets{}
	check := func(i int, st vstep, o Output, err error) {
		t.Helper()
		if code := tonepay.ErrorCode(err); code != st.code {
			t.Fatalf("step %d: error %v, want code %d", i, err, st.code)
		}
		if st.n >= 0 && len(o.Callbacks) != st.n {
			t.Fatalf("step %d: %d callbacks, want %d: %v", i, len(o.Callbacks), st.n, forms(o.Callbacks))
		}
		if !reflect.DeepEqual(o.Ask, st.ask) {
			t.Errorf("step %d: ask %+v, want %+v", i, o.Ask, st.ask)
		}
		if o.Pay != st.pay {
			t.Errorf("step %d: pay = %v, want %v", i, o.Pay, st.pay)
		}
		if st.last != nil {
			if len(o.Callbacks) == 0 {
				t.Fatalf("step %d: no callback", i)
			}
			wantFields(t, fmt.Sprintf("step %d callback", i), o.Callbacks[len(o.Callbacks)-1].Form, st.last)
		}
		for _, cb := range o.Callbacks {
			for _, k := range []string{"Result", "PartialResult", "Capture", "Required", "Sid"} {
				if cb.Form.Has(k) {
					t.Errorf("step %d: a <Pay> callback has %s: %v", i, k, cb.Form)
				}
			}
		}
		switch {
		case st.action == nil && o.Action != nil:
			t.Errorf("step %d: unexpected action %v", i, o.Action)
		case st.action != nil && o.Action == nil:
			t.Errorf("step %d: no action", i)
		case st.action != nil:
			wantFields(t, fmt.Sprintf("step %d action", i), o.Action, st.action)
			if s.Status != tonepay.SessionEnded || len(sec.Values) != 0 || !s.Deadline.IsZero() {
				t.Errorf("step %d: action but %s, values %v, deadline %v", i, s.Status, sec.Values, s.Deadline)
			}
		}
		if st.check != nil {
			st.check(t, s, sec)
		}
	}
	o := e.StartVerb(s, t0)
	check(0, start, o, nil)
	for i, st := range steps {
		now := t0.Add(st.at)
		events := []Input{st.ev}
		if st.keys != "" {
			events = nil
			for j := 0; j < len(st.keys); j++ {
				events = append(events, Input{Kind: Digit, Key: st.keys[j]})
			}
		}
		var all Output
		var err error
		for _, ev := range events {
			var o Output
			o, err = e.Apply(s, sec, ev, now)
			all.Callbacks = append(all.Callbacks, o.Callbacks...)
			all.Pay = all.Pay || o.Pay
			if o.Ask != nil {
				all.Ask = o.Ask
			}
			if o.Action != nil {
				all.Action = o.Action
			}
		}
		check(i+1, st, all, err)
	}
}

var (
	askCard   = ask(tonepay.FieldCardNumber, 1, "", "")
	startCard = vstep{n: 1, ask: askCard, last: map[string]string{"For": "payment-card-number", "Attempt": "1", "ErrorType": "-",
		"AccountSid": "AC00000000000000000000000000000001", "CallSid": "CA00000000000000000000000000000001",
		"PaymentConnector": "Default", "PaymentMethod": "credit-card", "TokenType": "reusable", "ChargeAmount": "-", "PaymentCardNumber": "-"}}
	// the card typed in full, then expiry, security code, postal code
	verbCard = []vstep{
		{keys: "4242424242424242#", n: 1, ask: ask(tonepay.FieldExpiration, 1, "", "visa"),
			last: map[string]string{"For": "expiration-date", "Attempt": "1", "PaymentCardNumber": "xxxxxxxxxxxx4242", "PaymentCardType": "visa"}},
		{keys: "1230", n: 1, ask: ask(tonepay.FieldSecurityCode, 1, "", "visa"), last: map[string]string{"For": "security-code", "ExpirationDate": "1230"}},
		{keys: "123", n: 1, ask: ask(tonepay.FieldPostalCode, 1, "", "visa"), last: map[string]string{"For": "postal-code", "SecurityCode": "xxx"}},
	}
	processing = vstep{keys: "94109#", n: 1, pay: true, last: map[string]string{"For": "payment-processing", "Attempt": "1", "ErrorType": "-",
		"PaymentCardPostalCode": "94109", "SecurityCode": "xxx", "PaymentCardNumber": "xxxxxxxxxxxx4242"},
		check: func(t *testing.T, s *tonepay.Session, sec *Secrets) {
			if s.Status != tonepay.SessionProcessing || s.State.TransactionID != "TX1" || sec.Values[tonepay.FieldCardNumber] == "" {
				t.Errorf("not processing: %s %+v", s.Status, s.State)
			}
		}}
)

func steps(parts ...[]vstep) []vstep {
	var out []vstep
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestVerb(t *testing.T) {
	charged := func(p *tonepay.Params) { p.ChargeAmount = "10.00" }
	ach := func(p *tonepay.Params) {
		p.PaymentMethod, p.BankAccountType = tonepay.ACHDebit, tonepay.ConsumerChecking
	}
	badCard := "4242424242424241#"
	ended := func(t *testing.T, s *tonepay.Session, _ *Secrets) {
		if s.Status != tonepay.SessionEnded {
			t.Errorf("status %s", s.Status)
		}
	}
	tests := []struct {
		name  string
		mod   func(p *tonepay.Params)
		start vstep
		steps []vstep
	}{
		{"start asks the card number, waiting Timeout for the first digit", nil, vstep{n: 1, ask: askCard, last: startCard.last,
			check: func(t *testing.T, s *tonepay.Session, _ *Secrets) {
				if s.State.Capture != tonepay.FieldCardNumber || s.State.Attempt != 1 || !s.Deadline.Equal(t0.Add(5*time.Second)) {
					t.Errorf("after start: %+v, deadline %v", s.State, s.Deadline.Sub(t0))
				}
			}}, nil},
		{"a # after a full expiry is dropped, not an empty security code", nil, startCard, []vstep{
			{keys: "4242424242424242#", n: 1, ask: ask(tonepay.FieldExpiration, 1, "", "visa")},
			{keys: "1230", n: 1, ask: ask(tonepay.FieldSecurityCode, 1, "", "visa")},
			{keys: "#", n: 0, check: func(t *testing.T, s *tonepay.Session, _ *Secrets) {
				if s.State.Capture != tonepay.FieldSecurityCode || s.State.Attempt != 1 || s.State.Dropped != 1 {
					t.Errorf("after the #: %+v", s.State)
				}
			}},
			{keys: "123", n: 1, ask: ask(tonepay.FieldPostalCode, 1, "", "visa")},
		}},
		{"ach starts with the routing number", ach, vstep{n: 1, ask: ask(tonepay.FieldRoutingNumber, 1, "", ""),
			last: map[string]string{"For": "bank-routing-number", "BankAccountType": "consumer-checking", "PaymentMethod": "ach-debit"}}, nil},
		{"tokenize: each field in order, no per-digit callbacks, then the action", nil, startCard, steps(verbCard, []vstep{processing,
			{keys: "5", n: 0},
			{ev: Input{Kind: Paid, Result: &tonepay.PayResult{Token: "pm_1", ProfileID: "cus_1", Parameters: map[string]string{"risk": "low"}}}, n: 0,
				action: map[string]string{"Result": "success", "PaymentToken": "pm_1", "ProfileId": "cus_1", "PaymentConfirmationCode": "-",
					"PaymentMethod": "credit-card", "PaymentCardNumber": "xxxxxxxxxxxx4242", "PaymentCardType": "visa", "ExpirationDate": "1230",
					"SecurityCode": "xxx", "PaymentCardPostalCode": "94109", "PayConnector_risk": "low", "PaymentError": "-", "PayErrorCode": "-", "ConnectorError": "-"},
				check: func(t *testing.T, s *tonepay.Session, _ *Secrets) {
					if s.State.Parameters["risk"] != "low" || s.State.Result != tonepay.ResultSuccess {
						t.Errorf("state %+v", s.State)
					}
				}},
			{ev: Input{Kind: Paid, Result: &tonepay.PayResult{Token: "pm_2"}}, n: 0},
		})},
		{"charge declined", charged, vstep{n: 1, ask: askCard, last: map[string]string{"ChargeAmount": "10.00", "TokenType": "-"}},
			steps(verbCard, []vstep{processing,
				{ev: Input{Kind: Paid, Result: &tonepay.PayResult{ErrorCode: 64012, Message: "Your card was declined.", ConnectorError: "card_declined",
					Parameters: map[string]string{"reason": "nsf"}}}, n: 0,
					action: map[string]string{"Result": "payment-connector-error", "PaymentConfirmationCode": "", "PaymentToken": "-",
						"PaymentError": "Your card was declined.", "PayErrorCode": "64012", "ConnectorError": "card_declined", "PayConnector_reason": "nsf"}},
			})},
		{"charged", charged, vstep{n: 1, ask: askCard}, steps(verbCard, []vstep{processing,
			{ev: Input{Kind: Paid, Result: &tonepay.PayResult{ConfirmationCode: "ch_1"}}, n: 0,
				action: map[string]string{"Result": "success", "PaymentConfirmationCode": "ch_1", "ProfileId": "-"}}})},
		{"invalid entry retried, then too many attempts", nil, startCard, []vstep{
			{keys: badCard, n: 1, ask: ask(tonepay.FieldCardNumber, 2, "invalid-card-number", ""),
				last: map[string]string{"For": "payment-card-number", "Attempt": "2", "ErrorType": "invalid-card-number", "PaymentCardNumber": "-"}},
			{keys: badCard, n: 1, last: map[string]string{"For": "payment-card-number", "Attempt": "2", "ErrorType": "invalid-card-number"},
				action: map[string]string{"Result": "too-many-failed-attempts", "PaymentToken": "", "PaymentError": "-"}, check: ended},
			{keys: "4", n: 0},
		}},
		{"a valid entry resets the attempts", func(p *tonepay.Params) { p.MaxAttempts = 3 }, startCard, []vstep{
			{keys: badCard, n: 1, ask: ask(tonepay.FieldCardNumber, 2, "invalid-card-number", "")},
			{keys: "4242424242424242#", n: 1, ask: ask(tonepay.FieldExpiration, 1, "", "visa"), last: map[string]string{"Attempt": "1", "ErrorType": "-"}},
			{keys: "1025", n: 1, ask: ask(tonepay.FieldExpiration, 2, "invalid-date", "visa")},
			{keys: "1125", n: 1, ask: ask(tonepay.FieldExpiration, 3, "invalid-date", "visa")},
			{keys: "1225", n: 1, action: map[string]string{"Result": "too-many-failed-attempts"}},
		}},
		{"MaxAttempts unset is one attempt", func(p *tonepay.Params) { p.MaxAttempts = 0 }, startCard, []vstep{
			{keys: badCard, n: 1, action: map[string]string{"Result": "too-many-failed-attempts"}}}},
		{"nothing typed: input-timeout after Timeout", nil, startCard, []vstep{
			{at: 4 * time.Second, ev: Input{Kind: Timeout}, n: 0},
			{at: 5 * time.Second, ev: Input{Kind: Timeout}, n: 1, ask: ask(tonepay.FieldCardNumber, 2, "input-timeout", ""),
				last: map[string]string{"ErrorType": "input-timeout", "Attempt": "2"},
				check: func(t *testing.T, s *tonepay.Session, _ *Secrets) {
					if !s.Deadline.Equal(t0.Add(10 * time.Second)) {
						t.Errorf("deadline %v", s.Deadline.Sub(t0))
					}
				}},
			{at: 10 * time.Second, ev: Input{Kind: Timeout}, n: 1, action: map[string]string{"Result": "too-many-failed-attempts"}},
		}},
		{"timeout after digits validates them", nil, startCard, []vstep{
			{at: time.Second, keys: "4242", n: 0},
			{at: 6 * time.Second, ev: Input{Kind: Timeout}, n: 1, ask: ask(tonepay.FieldCardNumber, 2, "invalid-card-number", "")},
		}},
		{"star ends", nil, startCard, []vstep{{keys: "42*", n: 0,
			action: map[string]string{"Result": "caller-interrupted-with-star", "PaymentToken": "", "ProfileId": ""}, check: ended}}},
		{"hang-up ends", nil, startCard, steps(verbCard[:1], []vstep{{ev: Input{Kind: HangUp}, n: 0,
			action: map[string]string{"Result": "caller-hung-up", "PaymentCardNumber": "xxxxxxxxxxxx4242"}}})},
		{"cancel ends", nil, startCard, []vstep{{ev: Input{Kind: Cancel}, n: 0, action: map[string]string{"Result": "payment-cancelled"}}}},
		{"no agent requests", nil, startCard, []vstep{
			{ev: cardNo, code: tonepay.CodeInvalidOperation, n: 0},
			{ev: Input{Kind: Complete}, code: tonepay.CodeInvalidOperation, n: 0},
		}},
		{"connector never answers", nil, startCard, steps(verbCard, []vstep{processing,
			{at: time.Minute, ev: Input{Kind: Timeout}, n: 0, pay: true},
			{at: 5 * time.Minute, ev: Input{Kind: Timeout}, n: 0,
				action: map[string]string{"Result": "internal-error", "PayErrorCode": "64002", "ConnectorError": "-"}},
		})},
		{"postal code given by the app is not asked", func(p *tonepay.Params) { p.PostalCode, p.PostalCodeValue = false, "94105" }, startCard,
			steps(verbCard[:2], []vstep{{keys: "123", n: 1, pay: true, last: map[string]string{"For": "payment-processing", "PaymentCardPostalCode": "-"}}})},
		{"ach in full", ach, vstep{n: 1, ask: ask(tonepay.FieldRoutingNumber, 1, "", "")}, []vstep{
			{keys: "121000358", n: 1, ask: ask(tonepay.FieldAccountNumber, 1, "", ""), last: map[string]string{"For": "bank-account-number", "BankRoutingNumber": "121000358"}},
			{keys: "123#", n: 1, ask: ask(tonepay.FieldAccountNumber, 2, "invalid-bank-account-number", "")},
			{keys: "123456789#", n: 1, pay: true, last: map[string]string{"For": "payment-processing", "BankAccountNumber": "*******89"}},
			{ev: Input{Kind: Paid, Result: &tonepay.PayResult{Token: "ba_1"}}, n: 0, action: map[string]string{"Result": "success",
				"BankAccountType": "consumer-checking", "BankAccountNumber": "*******89", "BankRoutingNumber": "121000358", "PaymentMethod": "ach-debit", "PaymentCardType": "-"}},
		}},
		{"no statusCallback, no callbacks", nil, vstep{n: 0, ask: askCard}, []vstep{
			{keys: badCard, n: 0, ask: ask(tonepay.FieldCardNumber, 2, "invalid-card-number", "")},
			{keys: badCard, n: 0, action: map[string]string{"Result": "too-many-failed-attempts"}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newVerb(tt.mod)
			if tt.name == "no statusCallback, no callbacks" {
				s.State.StatusCallback = ""
			}
			runVerb(t, s, tt.start, tt.steps)
		})
	}
}

// TestVerbMatching: a matcher is the second half of its field's step, so a
// mismatch asks the field again and counts against it.
func TestVerbMatching(t *testing.T) {
	match := func(p *tonepay.Params) {
		p.RequireMatchingInputs = []tonepay.Field{tonepay.FieldCardNumber}
		p.SecurityCode, p.PostalCode = false, false
	}
	matcher := tonepay.FieldCardNumber.Matcher()
	run := func(name string, max int, st []vstep) {
		t.Run(name, func(t *testing.T) {
			runVerb(t, newVerb(func(p *tonepay.Params) { match(p); p.MaxAttempts = max }), startCard, st)
		})
	}
	run("mismatch, then match", 2, []vstep{
		{keys: "4242424242424242#", n: 1, ask: ask(matcher, 1, "", "visa"), last: map[string]string{"For": "payment-card-number", "Attempt": "1"}},
		{keys: "4111111111111111#", n: 1, ask: ask(tonepay.FieldCardNumber, 2, "input-matching-failed", ""),
			last: map[string]string{"ErrorType": "input-matching-failed", "PaymentCardNumber": "-"}},
		{keys: "4242424242424242#", n: 1, ask: ask(matcher, 2, "", "visa")},
		{keys: "4242424242424242#", n: 1, ask: ask(tonepay.FieldExpiration, 1, "", "visa")},
		{keys: "1230", n: 1, pay: true},
	})
	run("mismatch on the last attempt", 1, []vstep{
		{keys: "4242424242424242#", n: 1, ask: ask(matcher, 1, "", "visa")},
		{keys: "4111111111111111#", n: 1, action: map[string]string{"Result": "too-many-failed-attempts", "PaymentCardNumber": "-"}},
	})
}

// TestVerbStart: Start on a <Pay> session sends no "session created"
// callback but asks, as StartVerb; StartVerb on an agent's session is Start.
func TestVerbStart(t *testing.T) {
	s := newVerb(nil)
	cbs := engine.Start(s, t0)
	if len(cbs) != 1 || cbs[0].Form.Get("For") != "payment-card-number" || s.State.Capture != tonepay.FieldCardNumber {
		t.Errorf("Start on a <Pay> session: %v, %+v", forms(cbs), s.State)
	}
	a := newSession(nil)
	o := engine.StartVerb(a, t0)
	if len(o.Callbacks) != 1 || o.Ask != nil || o.Callbacks[0].Form.Has("For") || a.State.Capture != "" {
		t.Errorf("StartVerb on an agent's session: %+v", o)
	}
}

// An agent's session keeps no connector parameters (Twilio passes them only to <Pay>).
func TestAgentIgnoresParameters(t *testing.T) {
	run(t, newSession(func(p *tonepay.Params) { p.SecurityCode, p.PostalCode = false, false }), []step{
		{ev: cardNo, n: 1}, {keys: "4242424242424242#", n: -1}, {ev: expiry, n: 1}, {keys: "1230", n: -1},
		{ev: Input{Kind: Complete}, n: 0, pay: true},
		{ev: Input{Kind: Paid, Result: &tonepay.PayResult{Token: "pm_1", Parameters: map[string]string{"k": "v"}}}, n: 1,
			last: map[string]string{"Result": "success", "PayConnector_k": "-"},
			check: func(t *testing.T, s *tonepay.Session, _ *Secrets) {
				if s.State.Parameters != nil {
					t.Errorf("parameters kept: %v", s.State.Parameters)
				}
			}},
	})
}
