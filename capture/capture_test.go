package capture

import (
	"net/url"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tonepay/tonepay"
)

var (
	created = time.Date(2026, 11, 23, 1, 2, 3, 456e6, time.UTC)
	now     = created.Add(90 * time.Second)
)

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
		DateCreated: created, DateUpdated: created,
	}
}

func common(extra url.Values) url.Values {
	f := url.Values{
		"AccountSid": {"AC00000000000000000000000000000001"}, "CallSid": {"CA00000000000000000000000000000001"},
		"Sid": {"PK00000000000000000000000000000001"}, "DateCreated": {"2026-11-23T01:02:03.456Z"},
		"PaymentConnector": {"Default"}, "PaymentMethod": {"credit-card"}, "TokenType": {"reusable"},
	}
	for k, v := range extra {
		f[k] = v
	}
	return f
}

func TestStart(t *testing.T) {
	tests := []struct {
		name string
		mod  func(p *tonepay.Params)
		want url.Values
	}{
		{"tokenize card", nil, common(nil)},
		{"charge", func(p *tonepay.Params) { p.ChargeAmount = "10.00" },
			func() url.Values {
				f := common(url.Values{"ChargeAmount": {"10.00"}})
				delete(f, "TokenType")
				return f
			}()},
		{"ach", func(p *tonepay.Params) {
			p.PaymentMethod = tonepay.ACHDebit
			p.BankAccountType = tonepay.ConsumerSavings
		},
			common(url.Values{"PaymentMethod": {"ach-debit"}, "BankAccountType": {"consumer-savings"}})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cbs := Start(newSession(tt.mod))
			if len(cbs) != 1 {
				t.Fatalf("got %d callbacks, want 1", len(cbs))
			}
			if diff := cmp.Diff(tt.want, cbs[0].Form); diff != "" {
				t.Errorf("form (-want +got):\n%s", diff)
			}
			if cbs[0].URL != "https://example.com/cb?x=1" {
				t.Errorf("URL = %q", cbs[0].URL)
			}
		})
	}
}

func TestApply(t *testing.T) {
	tests := []struct {
		name       string
		mod        func(p *tonepay.Params)
		before     func(s *tonepay.Session)
		ev         Event
		wantCode   int
		wantForm   url.Values
		wantStatus tonepay.SessionStatus
		wantURL    string
	}{
		{
			name:     "capture card number",
			ev:       Event{Kind: RequestCapture, Field: tonepay.FieldCardNumber, StatusCallback: "https://example.com/new"},
			wantForm: common(url.Values{"Capture": {"payment-card-number"}, "PartialResult": {"false"}, "Required": {"payment-card-number,expiration-date,security-code,postal-code"}, "DateUpdated": {"2026-11-23T01:03:33.456Z"}}),
			wantURL:  "https://example.com/new", wantStatus: tonepay.SessionOpen,
		},
		{
			name:     "capture without security and postal code",
			mod:      func(p *tonepay.Params) { p.SecurityCode, p.PostalCode = false, false },
			ev:       Event{Kind: RequestCapture, Field: tonepay.FieldExpiration},
			wantForm: common(url.Values{"Capture": {"expiration-date"}, "PartialResult": {"false"}, "Required": {"payment-card-number,expiration-date"}, "DateUpdated": {"2026-11-23T01:03:33.456Z"}}),
			wantURL:  "https://example.com/cb?x=1", wantStatus: tonepay.SessionOpen,
		},
		{
			name:     "matcher listed after its field",
			mod:      func(p *tonepay.Params) { p.RequireMatchingInputs = []tonepay.Field{tonepay.FieldCardNumber} },
			ev:       Event{Kind: RequestCapture, Field: "payment-card-number-matcher"},
			wantForm: common(url.Values{"Capture": {"payment-card-number-matcher"}, "PartialResult": {"false"}, "Required": {"payment-card-number,payment-card-number-matcher,expiration-date,security-code,postal-code"}, "DateUpdated": {"2026-11-23T01:03:33.456Z"}}),
			wantURL:  "https://example.com/cb?x=1", wantStatus: tonepay.SessionOpen,
		},
		{
			name: "re-capture forgets the old value",
			before: func(s *tonepay.Session) {
				s.State.Captured = map[tonepay.Field]string{tonepay.FieldPostalCode: "94109"}
			},
			ev:       Event{Kind: RequestCapture, Field: tonepay.FieldPostalCode},
			wantForm: common(url.Values{"Capture": {"postal-code"}, "PartialResult": {"false"}, "Required": {"payment-card-number,expiration-date,security-code,postal-code"}, "DateUpdated": {"2026-11-23T01:03:33.456Z"}}),
			wantURL:  "https://example.com/cb?x=1", wantStatus: tonepay.SessionOpen,
		},
		{name: "bank field on a card session", ev: Event{Kind: RequestCapture, Field: tonepay.FieldRoutingNumber}, wantCode: tonepay.CodeInvalidParameter},
		{name: "matcher not required", ev: Event{Kind: RequestCapture, Field: "security-code-matcher"}, wantCode: tonepay.CodeInvalidParameter},
		{name: "security code not collected", mod: func(p *tonepay.Params) { p.SecurityCode = false }, ev: Event{Kind: RequestCapture, Field: tonepay.FieldSecurityCode}, wantCode: tonepay.CodeInvalidParameter},
		{name: "complete too early", ev: Event{Kind: Complete}, wantCode: tonepay.CodeIncomplete},
		{
			name:     "cancel",
			before:   func(s *tonepay.Session) { s.State.Capture = tonepay.FieldCardNumber },
			ev:       Event{Kind: Cancel, StatusCallback: "https://example.com/end"},
			wantForm: common(url.Values{"Result": {"payment-cancelled"}, "DateUpdated": {"2026-11-23T01:03:33.456Z"}, "PaymentToken": {""}, "ProfileId": {""}}),
			wantURL:  "https://example.com/end", wantStatus: tonepay.SessionEnded,
		},
		{
			name: "hang-up while charging reports masked fields",
			mod:  func(p *tonepay.Params) { p.ChargeAmount = "5.00" },
			before: func(s *tonepay.Session) {
				s.State.Captured = map[tonepay.Field]string{tonepay.FieldCardNumber: "xxxxxxxxxxxx1111", tonepay.FieldExpiration: "1230"}
				s.State.CardType = "visa"
			},
			ev: Event{Kind: HangUp},
			wantForm: func() url.Values {
				f := common(url.Values{"Result": {"caller-hung-up"}, "DateUpdated": {"2026-11-23T01:03:33.456Z"}, "ChargeAmount": {"5.00"},
					"PaymentConfirmationCode": {""}, "PaymentCardNumber": {"xxxxxxxxxxxx1111"}, "ExpirationDate": {"1230"}, "PaymentCardType": {"visa"}})
				delete(f, "TokenType")
				return f
			}(),
			wantURL: "https://example.com/cb?x=1", wantStatus: tonepay.SessionEnded,
		},
		{name: "capture after end", before: func(s *tonepay.Session) { s.Status = tonepay.SessionEnded }, ev: Event{Kind: RequestCapture, Field: tonepay.FieldCardNumber}, wantCode: tonepay.CodeInvalidOperation},
		{name: "cancel after end", before: func(s *tonepay.Session) { s.Status = tonepay.SessionEnded }, ev: Event{Kind: Cancel}, wantCode: tonepay.CodeInvalidOperation},
		{name: "unknown event", ev: Event{Kind: 99}, wantCode: tonepay.CodeInternal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSession(tt.mod)
			if tt.before != nil {
				tt.before(s)
			}
			orig := *s
			cbs, err := Apply(s, tt.ev, now)
			if code := tonepay.ErrorCode(err); code != tt.wantCode {
				t.Fatalf("error code = %d (%v), want %d", code, err, tt.wantCode)
			}
			if tt.wantCode != 0 {
				if diff := cmp.Diff(orig, *s); diff != "" {
					t.Errorf("session changed on error (-before +after):\n%s", diff)
				}
				return
			}
			if len(cbs) != 1 {
				t.Fatalf("got %d callbacks, want 1", len(cbs))
			}
			if diff := cmp.Diff(tt.wantForm, cbs[0].Form); diff != "" {
				t.Errorf("form (-want +got):\n%s", diff)
			}
			if cbs[0].URL != tt.wantURL {
				t.Errorf("URL = %q, want %q", cbs[0].URL, tt.wantURL)
			}
			if s.Status != tt.wantStatus {
				t.Errorf("status = %q, want %q", s.Status, tt.wantStatus)
			}
			if !s.DateUpdated.Equal(now) {
				t.Errorf("DateUpdated = %v, want %v", s.DateUpdated, now)
			}
		})
	}
}
