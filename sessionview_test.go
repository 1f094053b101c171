package tonepay

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestViewSession: what a session shows, field by field; a charge shows no
// token type, a token type shows when tokenizing; none captured or missing
// is empty, never nil.
func TestViewSession(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	charging := &Session{Sid: "PK1", AccountSid: "AC1", CallSid: "CA1", Status: SessionOpen,
		Params: defaultParams(func(p *Params) { p.ChargeAmount, p.Confirmation = "10.00", true }),
		State: State{Capture: FieldSecurityCode, Typed: 2, Captured: map[Field]string{FieldCardNumber: "xxxxxxxxxxxx1111", FieldExpiration: "12/29"},
			CardType: "visa", Dropped: 3, ErrorType: "invalid-card-number", ErrorField: FieldCardNumber},
		DateCreated: at, DateUpdated: at.Add(time.Second)}
	tokenizing := &Session{Sid: "PK2", AccountSid: "AC1", CallSid: "CA1", Status: SessionEnded,
		Params: defaultParams(func(p *Params) { p.Verb = true; p.PostalCode, p.SecurityCode = false, false }),
		State: State{Captured: map[Field]string{FieldCardNumber: "xxxxxxxxxxxx4242", FieldExpiration: "01/30"},
			Result: "success", ConfirmationCode: "c1", Token: "tok_1", ProfileID: "prof", PaymentError: "pe", PayErrorCode: 64008, ConnectorError: "ce"}}
	tests := []struct {
		name string
		s    *Session
		want *SessionView
	}{
		{"charging, capturing", charging, &SessionView{Sid: "PK1", AccountSid: "AC1", CallSid: "CA1", Status: SessionOpen,
			PaymentMethod: CreditCard, PaymentConnector: "Default", ChargeAmount: "10.00", Currency: "USD", Capture: FieldSecurityCode,
			Confirmation: true, Typed: 2, Required: []Field{FieldSecurityCode, FieldPostalCode},
			Captured: map[Field]string{FieldCardNumber: "xxxxxxxxxxxx1111", FieldExpiration: "12/29"}, CardType: "visa",
			ErrorType: "invalid-card-number", ErrorField: FieldCardNumber, DroppedDigits: 3, DateCreated: at, DateUpdated: at.Add(time.Second)}},
		{"tokenizing <Pay>, ended", tokenizing, &SessionView{Sid: "PK2", AccountSid: "AC1", CallSid: "CA1", Status: SessionEnded, SelfService: true,
			PaymentMethod: CreditCard, PaymentConnector: "Default", Currency: "USD", TokenType: TokenReusable, Required: []Field{},
			Captured: map[Field]string{FieldCardNumber: "xxxxxxxxxxxx4242", FieldExpiration: "01/30"}, Result: "success",
			ConfirmationCode: "c1", PaymentToken: "tok_1", ProfileID: "prof", PaymentError: "pe", PayErrorCode: 64008, ConnectorError: "ce"}},
		{"nothing yet", &Session{Params: defaultParams(nil)}, &SessionView{PaymentMethod: CreditCard, PaymentConnector: "Default",
			Currency: "USD", TokenType: TokenReusable, Required: []Field{FieldCardNumber, FieldExpiration, FieldSecurityCode, FieldPostalCode},
			Captured: map[Field]string{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ViewSession(tt.s)
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
			if got.Required == nil || got.Captured == nil {
				t.Errorf("Required %v, Captured %v: want empty, not nil", got.Required, got.Captured)
			}
		})
	}
	t.Run("a copy", func(t *testing.T) {
		v := ViewSession(charging)
		v.Captured[FieldPostalCode] = "changed"
		if _, ok := charging.State.Captured[FieldPostalCode]; ok {
			t.Error("changing the view's Captured changed the session")
		}
	})
}

// TestSessionViewHoldsNothingSealed: a view has no field that could carry
// a session's sealed values, its transaction id or its StatusCallback (which
// may hold credentials), whatever the session holds.
func TestSessionViewHoldsNothingSealed(t *testing.T) {
	typ := reflect.TypeFor[SessionView]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		if f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Uint8 {
			t.Errorf("field %s is bytes", f.Name)
		}
		for _, banned := range []string{"Sealed", "Transaction", "StatusCallback", "Deadline", "Parameter"} {
			if strings.Contains(f.Name, banned) {
				t.Errorf("field %s", f.Name)
			}
		}
	}
	s := &Session{Sid: "PK1", Params: defaultParams(func(p *Params) { p.Parameter = map[string]string{"k": "PARAMVALUE"} }),
		Sealed: []byte("SEALEDBYTES"), Deadline: time.Now(),
		State: State{TransactionID: "TXSECRET", StatusCallback: "https://user:CBPASS@example.com/cb", Parameters: map[string]string{"r": "RESPONSEPARAM"}}}
	shown := fmt.Sprintf("%+v", *ViewSession(s))
	for _, secret := range []string{"SEALEDBYTES", "TXSECRET", "CBPASS", "PARAMVALUE", "RESPONSEPARAM"} {
		if strings.Contains(shown, secret) {
			t.Errorf("the view shows %q: %s", secret, shown)
		}
	}
}
