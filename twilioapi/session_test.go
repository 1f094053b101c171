package twilioapi

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/tonepay/tonepay"
)

// TestSessionJSON pins the bytes of a session's view on the wire (the
// extension's fetch and list, the console's stream): the view is the
// domain's, its names and order are this package's, and clients parse them.
func TestSessionJSON(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 678000000, time.UTC)
	tests := []struct {
		name string
		s    *tonepay.Session
		want string
	}{
		{"charging, capturing", &tonepay.Session{Sid: "PK1", AccountSid: "AC1", CallSid: "CA1", Status: tonepay.SessionOpen,
			DateCreated: at, DateUpdated: at.Add(time.Second),
			Params: tonepay.Params{PaymentMethod: "credit-card", PaymentConnector: "Default", ChargeAmount: "10.00", Currency: "USD",
				TokenType: "reusable", PostalCode: true, SecurityCode: true, Confirmation: true},
			State: tonepay.State{Capture: tonepay.FieldCardNumber, Typed: 3, Captured: map[tonepay.Field]string{tonepay.FieldExpiration: "12/29"},
				CardType: "visa", Dropped: 2, TransactionID: "TX", StatusCallback: "https://u:p@example.com/cb"},
			Sealed: []byte("sealed")},
			`{"sid":"PK1","account_sid":"AC1","call_sid":"CA1","status":"open","self_service":false,"payment_method":"credit-card","payment_connector":"Default","charge_amount":"10.00","currency":"USD","capture":"payment-card-number","confirmation":true,"typed":3,"required":["payment-card-number","security-code","postal-code"],"captured":{"expiration-date":"12/29"},"card_type":"visa","dropped_digits":2,"date_created":"2026-01-02T03:04:05.678Z","date_updated":"2026-01-02T03:04:06.678Z"}`},
		{"tokenizing <Pay>, ended", &tonepay.Session{Sid: "PK2", AccountSid: "AC1", CallSid: "CA1", Status: tonepay.SessionEnded,
			Params: tonepay.Params{PaymentMethod: "ach-debit", PaymentConnector: "X", Currency: "EUR", TokenType: "one-time", Verb: true},
			State: tonepay.State{Result: "success", ConfirmationCode: "c", Token: "tok", ProfileID: "p", PaymentError: "e", PayErrorCode: 64008,
				ConnectorError: "ce", ErrorType: "invalid-card-number", ErrorField: tonepay.FieldCardNumber,
				Captured: map[tonepay.Field]string{tonepay.FieldCardNumber: "xxxx1111", tonepay.FieldSecurityCode: "xxx", tonepay.FieldPostalCode: "94111"}}},
			`{"sid":"PK2","account_sid":"AC1","call_sid":"CA1","status":"ended","self_service":true,"payment_method":"ach-debit","payment_connector":"X","currency":"EUR","token_type":"one-time","capture":"","confirmation":false,"typed":0,"required":["bank-routing-number","bank-account-number"],"captured":{"payment-card-number":"xxxx1111","postal-code":"94111","security-code":"xxx"},"error_type":"invalid-card-number","error_field":"payment-card-number","dropped_digits":0,"result":"success","payment_confirmation_code":"c","payment_token":"tok","profile_id":"p","payment_error":"e","pay_error_code":64008,"connector_error":"ce","date_created":"","date_updated":""}`},
		{"nothing", &tonepay.Session{},
			`{"sid":"","account_sid":"","call_sid":"","status":"","self_service":false,"payment_method":"","payment_connector":"","currency":"","capture":"","confirmation":false,"typed":0,"required":["payment-card-number","expiration-date"],"captured":{},"dropped_digits":0,"date_created":"","date_updated":""}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := json.Marshal(encodeSession(tonepay.ViewSession(tt.s)))
			if err != nil || string(got) != tt.want {
				t.Errorf("got  %s (%v)\nwant %s", got, err, tt.want)
			}
		})
	}
	t.Run("a view with nil lists", func(t *testing.T) {
		got, _ := json.Marshal(encodeSession(&tonepay.SessionView{}))
		const want = `{"sid":"","account_sid":"","call_sid":"","status":"","self_service":false,"payment_method":"","payment_connector":"","currency":"","capture":"","confirmation":false,"typed":0,"required":[],"captured":{},"dropped_digits":0,"date_created":"","date_updated":""}`
		if string(got) != want {
			t.Errorf("got  %s\nwant %s", got, want)
		}
	})
}
