package capture

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tonepay/tonepay"
)

var t0 = time.Date(2026, 11, 23, 1, 2, 3, 456e6, time.UTC)

var engine = Engine{FirstDigit: 30 * time.Second, Lease: time.Minute, GiveUp: 5 * time.Minute}

func newSession(mod func(p *tonepay.Params)) *tonepay.Session {
	p := tonepay.Params{
		PaymentMethod: tonepay.CreditCard, Currency: "USD", PaymentConnector: "Default",
		PostalCode: true, SecurityCode: true, Timeout: 5, TokenType: tonepay.TokenReusable,
		ValidCardTypes: []string{"visa", "mastercard", "amex"}, Input: "dtmf",
	}
	if mod != nil {
		mod(&p)
	}
	return &tonepay.Session{
		Sid: "PK00000000000000000000000000000001", AccountSid: "AC00000000000000000000000000000001",
		CallSid: "CA00000000000000000000000000000001", Status: tonepay.SessionOpen, Params: p,
		State:       tonepay.State{StatusCallback: "https://example.com/cb?x=1"},
		DateCreated: t0, DateUpdated: t0,
	}
}

// step is one or more events at an offset from t0. Keys expands into one
// Digit event per key; the outputs of all of them are checked together.
type step struct {
	at    time.Duration
	ev    Input
	keys  string
	code  int               // the error the (last) event returns
	n     int               // callbacks expected; -1 means don't check
	last  map[string]string // fields of the last callback; "-" means absent
	pay   bool
	check func(t *testing.T, s *tonepay.Session, sec *Secrets)
}

func capture(f tonepay.Field) Input { return Input{Kind: RequestCapture, Field: f} }

var (
	cardNo = capture(tonepay.FieldCardNumber)
	expiry = capture(tonepay.FieldExpiration)
	cvv    = capture(tonepay.FieldSecurityCode)
	postal = capture(tonepay.FieldPostalCode)
)

func run(t *testing.T, s *tonepay.Session, steps []step) {
	t.Helper()
	sec := &Secrets{}
	// The first id drawn is TXdone; a later one differs, so that a retry
	// drawing again would show.
	e, drawn := engine, 0
	e.NewTxID = func() string {
		if drawn++; drawn == 1 {
			return "TXdone"
		}
		return fmt.Sprintf("TXdone%d", drawn)
	}
	for i, st := range steps {
		now := t0.Add(st.at)
		events := []Input{st.ev}
		if st.keys != "" {
			events = nil
			for j := 0; j < len(st.keys); j++ {
				events = append(events, Input{Kind: Digit, Key: st.keys[j]})
			}
		}
		var cbs []*tonepay.Callback
		var pay bool
		var err error
		for _, ev := range events {
			var out Output
			out, err = e.Apply(s, sec, ev, now)
			cbs = append(cbs, out.Callbacks...)
			pay = pay || out.Pay
		}
		if code := tonepay.ErrorCode(err); code != st.code {
			t.Fatalf("step %d: error %v (code %d), want code %d", i, err, code, st.code)
		}
		if st.n >= 0 && len(cbs) != st.n {
			t.Fatalf("step %d: %d callbacks, want %d: %v", i, len(cbs), st.n, forms(cbs))
		}
		if pay != st.pay {
			t.Errorf("step %d: pay = %v, want %v", i, pay, st.pay)
		}
		if st.last != nil {
			if len(cbs) == 0 {
				t.Fatalf("step %d: no callback", i)
			}
			f := cbs[len(cbs)-1].Form
			for k, want := range st.last {
				if want == "-" {
					if f.Has(k) {
						t.Errorf("step %d: %s = %q, want absent", i, k, f.Get(k))
					}
				} else if !f.Has(k) || f.Get(k) != want {
					t.Errorf("step %d: %s = %q, want %q (form %v)", i, k, f.Get(k), want, f)
				}
			}
		}
		if st.check != nil {
			st.check(t, s, sec)
		}
	}
}

func forms(cbs []*tonepay.Callback) []string {
	var out []string
	for _, c := range cbs {
		out = append(out, c.Form.Encode())
	}
	return out
}

func status(want tonepay.SessionStatus) func(*testing.T, *tonepay.Session, *Secrets) {
	return func(t *testing.T, s *tonepay.Session, _ *Secrets) {
		t.Helper()
		if s.Status != want {
			t.Errorf("status = %s, want %s", s.Status, want)
		}
	}
}

// captured runs the steps that capture a whole card.
func capturedCard(number, exp, code, zip string) []step {
	return []step{
		{ev: cardNo, n: 1}, {keys: number + "#", n: -1, last: map[string]string{"PartialResult": "false", "ErrorType": "-"}},
		{ev: expiry, n: 1}, {keys: exp, n: -1, last: map[string]string{"ErrorType": "-"}},
		{ev: cvv, n: 1}, {keys: code, n: -1, last: map[string]string{"ErrorType": "-"}},
		{ev: postal, n: 1}, {keys: zip + "#", n: -1, last: map[string]string{"ErrorType": "-", "Required": ""}},
	}
}

func TestCardFields(t *testing.T) {
	tests := []struct {
		name  string
		mod   func(p *tonepay.Params)
		steps []step
	}{
		{"capture request", nil, []step{{ev: Input{Kind: RequestCapture, Field: tonepay.FieldCardNumber, StatusCallback: "https://example.com/new"}, n: 1,
			last: map[string]string{"Capture": "payment-card-number", "PartialResult": "false", "Required": "payment-card-number,expiration-date,security-code,postal-code",
				"DateUpdated": "2026-11-23T01:02:03.456Z", "AccountSid": "AC00000000000000000000000000000001", "TokenType": "reusable", "ChargeAmount": "-"}}}},
		{"card number typed, masked all along", nil, []step{
			{ev: cardNo, n: 1},
			{keys: "4242", n: 4, last: map[string]string{"PartialResult": "true", "PaymentCardNumber": "xxxx"}},
			{keys: "424242424242#", n: 13, last: map[string]string{"PartialResult": "false", "PaymentCardNumber": "xxxxxxxxxxxx4242", "PaymentCardType": "visa",
				"Required": "expiration-date,security-code,postal-code", "ErrorType": "-"},
				check: func(t *testing.T, s *tonepay.Session, sec *Secrets) {
					if sec.Values[tonepay.FieldCardNumber] != "4242424242424242" || s.State.Capture != "" || !s.Deadline.IsZero() {
						t.Errorf("after the card number: %+v %+v", s.State, sec)
					}
				}},
			{keys: "5", n: 0, check: func(t *testing.T, s *tonepay.Session, _ *Secrets) {
				if s.State.Dropped != 1 {
					t.Errorf("a digit outside a capture was not dropped: %d", s.State.Dropped)
				}
			}},
		}},
		{"invalid card number (Luhn)", nil, []step{{ev: cardNo, n: 1}, {keys: "4242424242424241#", n: -1,
			last: map[string]string{"ErrorType": "invalid-card-number", "PaymentCardNumber": "-", "Required": "payment-card-number,expiration-date,security-code,postal-code"}}}},
		{"entry ends by itself at 19 digits", nil, []step{{ev: cardNo, n: 1}, {keys: "4242424242424242424", n: 19, last: map[string]string{"ErrorType": "invalid-card-number"}}}},
		{"card type not allowed", func(p *tonepay.Params) { p.ValidCardTypes = []string{"visa"} }, []step{{ev: cardNo, n: 1},
			{keys: "378282246310005#", n: -1, last: map[string]string{"ErrorType": "invalid-card-type"}}}},
		{"expiry ends at 4 digits, in clear", nil, []step{{ev: expiry, n: 1},
			{keys: "12", n: 2, last: map[string]string{"PartialResult": "true", "ExpirationDate": "12"}},
			{keys: "30", n: 2, last: map[string]string{"PartialResult": "false", "ExpirationDate": "1230", "Required": "payment-card-number,security-code,postal-code"}}}},
		{"expiry in the past", nil, []step{{ev: expiry, n: 1}, {keys: "1025", n: -1, last: map[string]string{"ErrorType": "invalid-date", "ExpirationDate": "-"}}}},
		{"security code before the card number", nil, []step{{ev: cvv, n: 1,
			last: map[string]string{"Capture": "security-code", "ErrorType": "invalid-card-number-security-code-capture-sequence"}},
			{keys: "123", n: 0}}},
		{"amex security code is 4 digits", nil, []step{{ev: cardNo, n: 1}, {keys: "378282246310005#", n: -1, last: map[string]string{"PaymentCardType": "amex", "PaymentCardNumber": "xxxxxxxxxxx0005"}},
			{ev: cvv, n: 1}, {keys: "1234", n: 4, last: map[string]string{"SecurityCode": "xxxx", "ErrorType": "-"}}}},
		{"security code too short", nil, []step{{ev: cardNo, n: 1}, {keys: "4242424242424242#", n: -1},
			{ev: cvv, n: 1}, {keys: "12#", n: 3, last: map[string]string{"ErrorType": "invalid-security-code", "SecurityCode": "-"}}}},
		{"postal code too short", func(p *tonepay.Params) { p.MinPostalCodeLength = 5 }, []step{{ev: postal, n: 1},
			{keys: "941#", n: -1, last: map[string]string{"ErrorType": "invalid-postal-code"}}}},
		{"postal code in clear", nil, []step{{ev: postal, n: 1}, {keys: "94109#", n: -1, last: map[string]string{"PaymentCardPostalCode": "94109", "ErrorType": "-"}}}},
		{"postal code ends at 10 digits", nil, []step{{ev: postal, n: 1},
			{keys: "1234567890", n: -1, last: map[string]string{"PartialResult": "false", "PaymentCardPostalCode": "1234567890", "ErrorType": "-"}}}},
		// MinPostalCodeLength above 10 (Twilio's spec sets no maximum): the
		// entry ends at that length, not at 10, and is valid.
		{"postal code with a minimum of 12", func(p *tonepay.Params) { p.MinPostalCodeLength = 12 }, []step{{ev: postal, n: 1},
			{keys: "1234567890", n: 10, last: map[string]string{"PartialResult": "true"}},
			{keys: "12", n: -1, last: map[string]string{"PartialResult": "false", "PaymentCardPostalCode": "123456789012", "ErrorType": "-"}}}},
		{"first-digit timeout", nil, []step{{ev: cardNo, n: 1},
			{at: 29 * time.Second, ev: Input{Kind: Timeout}, n: 0},
			{at: 30 * time.Second, ev: Input{Kind: Timeout}, n: 1, last: map[string]string{"ErrorType": "input-timeout", "Capture": "payment-card-number"}},
			{at: 31 * time.Second, keys: "4", n: 0}}},
		{"entry timeout validates what was typed", nil, []step{{ev: cardNo, n: 1}, {at: time.Second, keys: "4242", n: 4},
			{at: 5 * time.Second, ev: Input{Kind: Timeout}, n: 0},
			{at: 6 * time.Second, ev: Input{Kind: Timeout}, n: 1, last: map[string]string{"ErrorType": "invalid-card-number"}}}},
		{"entry timeout with a complete value accepts it", nil, []step{{ev: expiry, n: 1}, {keys: "123", n: 3},
			{at: 5 * time.Second, ev: Input{Kind: Timeout}, n: 1, last: map[string]string{"ErrorType": "invalid-date"}}}},
		{"star ends the session", nil, []step{{ev: cardNo, n: 1}, {keys: "42*", n: 3, last: map[string]string{"Result": "caller-interrupted-with-star", "PaymentToken": "", "ProfileId": ""},
			check: status(tonepay.SessionEnded)}}},
		{"star outside a capture ends it too", nil, []step{{keys: "*", n: 1, last: map[string]string{"Result": "caller-interrupted-with-star"}}}},
		{"re-capture forgets the old value", nil, []step{{ev: postal, n: 1}, {keys: "94109#", n: -1},
			{ev: postal, n: 1, last: map[string]string{"Required": "payment-card-number,expiration-date,security-code,postal-code"},
				check: func(t *testing.T, s *tonepay.Session, sec *Secrets) {
					if _, ok := sec.Values[tonepay.FieldPostalCode]; ok {
						t.Error("old postal code kept")
					}
				}}}},
		{"bank field on a card session", nil, []step{{ev: capture(tonepay.FieldRoutingNumber), code: tonepay.CodeInvalidParameter, n: 0}}},
		{"field not collected", func(p *tonepay.Params) { p.PostalCode = false }, []step{{ev: postal, code: tonepay.CodeInvalidParameter, n: 0}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { run(t, newSession(tt.mod), tt.steps) })
	}
}

func TestBankFields(t *testing.T) {
	ach := func(p *tonepay.Params) {
		p.PaymentMethod, p.BankAccountType = tonepay.ACHDebit, tonepay.ConsumerChecking
	}
	routing, account := capture(tonepay.FieldRoutingNumber), capture(tonepay.FieldAccountNumber)
	tests := []struct {
		name  string
		steps []step
	}{
		{"routing number ends at 9, in clear", []step{{ev: routing, n: 1, last: map[string]string{"BankAccountType": "consumer-checking", "Required": "bank-routing-number,bank-account-number"}},
			{keys: "121000358", n: 9, last: map[string]string{"BankRoutingNumber": "121000358", "Required": "bank-account-number"}}}},
		{"bad routing checksum", []step{{ev: routing, n: 1}, {keys: "121000359", n: 9, last: map[string]string{"ErrorType": "invalid-bank-routing-number"}}}},
		{"account masked but the last 2", []step{{ev: account, n: 1}, {keys: "12", n: 2, last: map[string]string{"BankAccountNumber": "**"}},
			{keys: "3456789#", n: -1, last: map[string]string{"BankAccountNumber": "*******89", "ErrorType": "-"}}}},
		{"account too short", []step{{ev: account, n: 1}, {keys: "123#", n: 4, last: map[string]string{"ErrorType": "invalid-bank-account-number"}}}},
		{"card field on a bank session", []step{{ev: cardNo, code: tonepay.CodeInvalidParameter, n: 0}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { run(t, newSession(ach), tt.steps) })
	}
}

func TestMatchingInputs(t *testing.T) {
	match := func(p *tonepay.Params) {
		p.RequireMatchingInputs = []tonepay.Field{tonepay.FieldCardNumber}
		p.SecurityCode, p.PostalCode = false, false
	}
	matcher := capture(tonepay.FieldCardNumber.Matcher())
	run(t, newSession(match), []step{
		{ev: cardNo, n: 1, last: map[string]string{"Required": "payment-card-number,payment-card-number-matcher,expiration-date"}},
		{keys: "4242424242424242#", n: -1, last: map[string]string{"Required": "payment-card-number-matcher,expiration-date"}},
		{ev: matcher, n: 1},
		{keys: "4111111111111111#", n: -1, last: map[string]string{"ErrorType": "input-matching-failed",
			"Required": "payment-card-number,payment-card-number-matcher,expiration-date"}},
		{ev: cardNo, n: 1}, {keys: "4242424242424242#", n: -1},
		{ev: matcher, n: 1}, {keys: "4242424242424242#", n: -1, last: map[string]string{"ErrorType": "-", "PaymentCardNumber": "xxxxxxxxxxxx4242",
			"Required": "expiration-date"}},
		// Re-capturing the card number makes its matcher required again.
		{ev: cardNo, n: 1, last: map[string]string{"Required": "payment-card-number,payment-card-number-matcher,expiration-date"}},
	})
}

func TestCompleteAndResults(t *testing.T) {
	complete := Input{Kind: Complete}
	charged := func(p *tonepay.Params) { p.ChargeAmount = "10.00" }
	tests := []struct {
		name  string
		mod   func(p *tonepay.Params)
		steps []step
	}{
		{"complete too early", nil, []step{{ev: complete, code: tonepay.CodeIncomplete, n: 0}}},
		{"charge succeeds", charged, append(capturedCard("4242424242424242", "1230", "123", "94109"),
			step{ev: complete, n: 0, pay: true, check: func(t *testing.T, s *tonepay.Session, sec *Secrets) {
				if s.Status != tonepay.SessionProcessing || s.State.TransactionID != "TXdone" || !s.Deadline.Equal(t0.Add(time.Minute)) {
					t.Errorf("after complete: %s %+v %v", s.Status, s.State, s.Deadline)
				}
				if sec.Values[tonepay.FieldCardNumber] == "" {
					t.Error("the values were erased before the connector call")
				}
			}},
			step{ev: Input{Kind: Complete}, code: tonepay.CodeInvalidOperation, n: 0},
			step{ev: Input{Kind: Cancel}, code: tonepay.CodeInvalidOperation, n: 0},
			step{ev: cardNo, code: tonepay.CodeInvalidOperation, n: 0},
			step{ev: Input{Kind: HangUp}, n: 0, check: status(tonepay.SessionProcessing)},
			step{keys: "1", n: 0},
			step{ev: Input{Kind: Paid, Result: &tonepay.PayResult{ConfirmationCode: "ch_123"}}, n: 1,
				last: map[string]string{"Result": "success", "PaymentConfirmationCode": "ch_123", "ChargeAmount": "10.00", "PaymentCardNumber": "xxxxxxxxxxxx4242",
					"PaymentCardType": "visa", "SecurityCode": "xxx", "ExpirationDate": "1230", "PaymentCardPostalCode": "94109", "PaymentError": "-", "PaymentToken": "-"},
				check: func(t *testing.T, s *tonepay.Session, sec *Secrets) {
					if s.Status != tonepay.SessionEnded || len(sec.Values) != 0 || sec.Entry != "" || !s.Deadline.IsZero() {
						t.Errorf("after the result: %s %+v %v", s.Status, sec, s.Deadline)
					}
				}},
			step{ev: Input{Kind: Paid, Result: &tonepay.PayResult{ConfirmationCode: "ch_other"}}, n: 0},
			step{ev: cardNo, code: tonepay.CodeInvalidOperation, n: 0},
			step{ev: Input{Kind: Cancel}, code: tonepay.CodeInvalidOperation, n: 0},
		)},
		{"charge declined", charged, append(capturedCard("4000000000000002", "1230", "123", "94109"),
			step{ev: complete, n: 0, pay: true},
			step{ev: Input{Kind: Paid, Result: &tonepay.PayResult{ErrorCode: 64012, Message: "Your card was declined.", ConnectorError: "card_declined"}}, n: 1,
				last: map[string]string{"Result": "payment-connector-error", "PayErrorCode": "64012", "PaymentError": "Your card was declined.",
					"ConnectorError": "card_declined", "PaymentConfirmationCode": ""}})},
		{"tokenize", nil, append(capturedCard("4242424242424242", "1230", "123", "94109"),
			step{ev: complete, n: 0, pay: true},
			step{ev: Input{Kind: Paid, Result: &tonepay.PayResult{Token: "pm_1", ProfileID: "cus_1"}}, n: 1,
				last: map[string]string{"Result": "success", "PaymentToken": "pm_1", "ProfileId": "cus_1", "TokenType": "reusable", "PaymentConfirmationCode": "-"}})},
		{"processing lease runs out, then gives up", charged, append(capturedCard("4242424242424242", "1230", "123", "94109"),
			step{ev: complete, n: 0, pay: true},
			step{at: 59 * time.Second, ev: Input{Kind: Timeout}, n: 0},
			step{at: time.Minute, ev: Input{Kind: Timeout}, n: 0, pay: true, check: func(t *testing.T, s *tonepay.Session, _ *Secrets) {
				if s.State.TransactionID != "TXdone" {
					t.Errorf("retry changed the transaction id to %s", s.State.TransactionID)
				}
			}},
			step{at: 5 * time.Minute, ev: Input{Kind: Timeout}, n: 1, last: map[string]string{"Result": "internal-error", "PayErrorCode": "64002"},
				check: status(tonepay.SessionEnded)})},
		{"cancel", nil, []step{{ev: cardNo, n: 1}, {keys: "42", n: 2},
			{ev: Input{Kind: Cancel, StatusCallback: "https://example.com/end"}, n: 1, last: map[string]string{"Result": "payment-cancelled", "PaymentToken": "", "ProfileId": ""},
				check: func(t *testing.T, s *tonepay.Session, sec *Secrets) {
					if s.State.StatusCallback != "https://example.com/end" || sec.Entry != "" || s.Status != tonepay.SessionEnded {
						t.Errorf("after cancel: %+v %+v", s.State, sec)
					}
				}},
			{ev: Input{Kind: Cancel}, code: tonepay.CodeInvalidOperation, n: 0},
			{ev: Input{Kind: Timeout}, n: 0}}},
		{"hang-up", charged, []step{{ev: cardNo, n: 1}, {ev: Input{Kind: HangUp}, n: 1, last: map[string]string{"Result": "caller-hung-up", "PaymentConfirmationCode": ""}},
			{ev: Input{Kind: HangUp}, n: 0}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { run(t, newSession(tt.mod), tt.steps) })
	}
}

func TestConfirmation(t *testing.T) {
	confirm := func(p *tonepay.Params) { p.Confirmation, p.SecurityCode, p.PostalCode = true, false, false }
	captured := []step{{ev: cardNo, n: 1}, {keys: "4242424242424242#", n: -1}, {ev: expiry, n: 1}, {keys: "1230", n: -1},
		// No field Twilio does not document (Confirmation=…): Required only.
		{ev: Input{Kind: Complete}, n: 1, last: map[string]string{"Confirmation": "-", "Required": "", "Capture": "-"}, check: status(tonepay.SessionConfirming)}}
	tests := []struct {
		name  string
		steps []step
	}{
		{"1 goes ahead", []step{{keys: "71", n: 0, pay: true, check: func(t *testing.T, s *tonepay.Session, _ *Secrets) {
			if s.Status != tonepay.SessionProcessing || s.State.Dropped != 1 {
				t.Errorf("after 1: %s, dropped %d", s.Status, s.State.Dropped)
			}
		}}}},
		{"2 cancels", []step{{keys: "2", n: 1, last: map[string]string{"Result": "payment-cancelled", "Confirmation": "-",
			"PaymentError": "The caller pressed 2 to cancel the payment at the confirmation"}}}},
		{"star", []step{{keys: "*", n: 1, last: map[string]string{"Result": "caller-interrupted-with-star"}}}},
		{"no answer", []step{{at: 30 * time.Second, ev: Input{Kind: Timeout}, n: 1, last: map[string]string{"Result": "payment-cancelled", "Confirmation": "-",
			"PaymentError": "The caller pressed no key at the confirmation within 30s"}}}},
		{"agent cancels", []step{{ev: Input{Kind: Cancel}, n: 1, last: map[string]string{"Result": "payment-cancelled"}}}},
		{"capture refused", []step{{ev: cardNo, code: tonepay.CodeInvalidOperation, n: 0}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { run(t, newSession(confirm), append(append([]step{}, captured...), tt.steps...)) })
	}
}

func TestErrorLeavesSessionUnchanged(t *testing.T) {
	s := newSession(nil)
	before := *s
	if _, err := engine.Apply(s, &Secrets{}, Input{Kind: 99}, t0); tonepay.ErrorCode(err) != tonepay.CodeInternal {
		t.Fatalf("unknown event: %v", err)
	}
	if _, err := engine.Apply(s, &Secrets{}, Input{Kind: Complete}, t0); err == nil || s.Status != before.Status || s.DateUpdated != before.DateUpdated {
		t.Errorf("session changed on error: %+v", s)
	}
	// Not even an empty map where there was none: the secrets are exactly as given.
	sec := &Secrets{}
	if _, err := engine.Apply(s, sec, Input{Kind: RequestCapture, Field: "bogus"}, t0); err == nil || !reflect.DeepEqual(sec, &Secrets{}) {
		t.Errorf("secrets changed on error (%v): %#v", err, sec)
	}
}

// TestIdle: an open session with nothing being captured ends by itself after
// Engine.Idle, so that its sealed values never wait for a call that never
// ends; only the moment capturing stops starts the clock.
func TestIdle(t *testing.T) {
	e := engine
	e.Idle = 15 * time.Minute
	timeout := Input{Kind: Timeout}
	type ev struct {
		at  time.Duration
		ev  Input
		key byte
	}
	tests := []struct {
		name     string
		events   []ev
		at       time.Duration // the sweep
		ended    bool
		deadline time.Duration // when not ended; -1 means none
	}{
		{"new session expires", nil, 15 * time.Minute, true, 0},
		{"not before Idle", nil, 15*time.Minute - time.Second, false, 15 * time.Minute},
		{"dropped keys keep nothing alive", []ev{{at: time.Minute, key: '5'}, {at: 10 * time.Minute, key: '#'}}, 15 * time.Minute, true, 0},
		{"capturing is not idle", []ev{{at: 10 * time.Minute, ev: cardNo}}, 10*time.Minute + 10*time.Second, false, 10*time.Minute + 30*time.Second},
		{"input timeout, then idle", []ev{{at: 10 * time.Minute, ev: cardNo}}, 15 * time.Minute, false, 30 * time.Minute},
		{"idle again after the field", []ev{{at: time.Minute, ev: cardNo}, {at: 2 * time.Minute, ev: Input{Kind: Digit, Key: '#'}}},
			17 * time.Minute, true, 0},
		{"field ended: clock restarts", []ev{{at: time.Minute, ev: cardNo}, {at: 2 * time.Minute, ev: Input{Kind: Digit, Key: '#'}}},
			16 * time.Minute, false, 17 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, sec := newSession(nil), &Secrets{}
			e.Start(s, t0)
			for _, x := range tt.events {
				in := x.ev
				if x.key != 0 {
					in = Input{Kind: Digit, Key: x.key}
				}
				if _, err := e.Apply(s, sec, in, t0.Add(x.at)); err != nil {
					t.Fatal(err)
				}
			}
			o, err := e.Apply(s, sec, timeout, t0.Add(tt.at))
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Status == tonepay.SessionEnded; got != tt.ended {
				t.Fatalf("ended = %v, want %v (deadline %v)", got, tt.ended, s.Deadline.Sub(t0))
			}
			if tt.ended {
				f := o.Callbacks[len(o.Callbacks)-1].Form
				if f.Get("Result") != tonepay.ResultCancelled || !strings.Contains(f.Get("PaymentError"), "idle") || !s.Deadline.IsZero() {
					t.Errorf("idle end: %v, deadline %v", f, s.Deadline)
				}
				return
			}
			if got := s.Deadline.Sub(t0); got != tt.deadline {
				t.Errorf("deadline = %v, want %v", got, tt.deadline)
			}
		})
	}
	// Without Idle, an idle session stays open.
	s := newSession(nil)
	engine.Start(s, t0)
	if !s.Deadline.IsZero() {
		t.Errorf("Idle=0 set a deadline: %v", s.Deadline)
	}
}
