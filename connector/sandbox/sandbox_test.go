package sandbox

import (
	"context"
	"strings"
	"testing"

	"github.com/tonepay/tonepay"
)

func TestPay(t *testing.T) {
	card := func(number string) *tonepay.PayRequest {
		return &tonepay.PayRequest{TransactionID: "TX1", CardNumber: tonepay.NewSecret(number),
			Params: tonepay.Params{PaymentMethod: tonepay.CreditCard, ChargeAmount: "10.00", Currency: "USD"}}
	}
	tokenize := func(tokenType string) *tonepay.PayRequest {
		r := card("4242424242424242")
		r.Params.ChargeAmount, r.Params.TokenType = "", tokenType
		return r
	}
	ach := func(account string) *tonepay.PayRequest {
		return &tonepay.PayRequest{TransactionID: "TX1", RoutingNumber: "121000358", AccountNumber: tonepay.NewSecret(account),
			Params: tonepay.Params{PaymentMethod: tonepay.ACHDebit, TokenType: tonepay.TokenReusable}}
	}
	tests := []struct {
		name                      string
		req                       *tonepay.PayRequest
		code                      int
		connectorError            string
		confirmation, token, prof string // prefixes
	}{
		{"visa charge", card("4111111111111111"), 0, "", "ch_", "", ""},
		{"4242 charge", card("4242424242424242"), 0, "", "ch_", "", ""},
		{"amex charge", card("378282246310005"), 0, "", "ch_", "", ""},
		{"maestro charge", card("6771798021000008"), 0, "", "ch_", "", ""},
		{"declined", card("4000000000000002"), tonepay.CodeCardRejected, "card_declined", "", "", ""},
		{"insufficient funds", card("4000000000009995"), tonepay.CodeCardRejected, "insufficient_funds", "", "", ""},
		{"processing error", card("4000000000000119"), tonepay.CodePayUnavailable, "processing_error", "", "", ""},
		{"not a test card", card("4012888888881881"), tonepay.CodeInvalidTestCard, "", "", "", ""},
		{"reusable token", tokenize(tonepay.TokenReusable), 0, "", "", "pm_", "cus_"},
		{"one-time token", tokenize(tonepay.TokenOneTime), 0, "", "", "tok_", ""},
		{"payment-method token", tokenize(tonepay.TokenPaymentMethod), 0, "", "", "pm_", ""},
		{"ach 8 digits", ach("12345678"), 0, "", "", "pm_", "cus_"},
		{"ach 9 digits", ach("123456789"), 0, "", "", "pm_", "cus_"},
		{"ach not a test account", ach("987654321"), tonepay.CodeInvalidTestAccount, "", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := New().Pay(context.Background(), tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if r.ErrorCode != tt.code || r.ConnectorError != tt.connectorError || (tt.code != 0) != (r.Message != "") {
				t.Errorf("got %+v", r)
			}
			for got, prefix := range map[string]string{r.ConfirmationCode: tt.confirmation, r.Token: tt.token, r.ProfileID: tt.prof} {
				if (prefix == "") != (got == "") || !strings.HasPrefix(got, prefix) {
					t.Errorf("%q, want prefix %q (%+v)", got, prefix, r)
				}
			}
		})
	}
}

// TestSameTransactionSameAnswer: a retry after a crash gets the first answer.
func TestSameTransactionSameAnswer(t *testing.T) {
	c := New()
	req := &tonepay.PayRequest{TransactionID: "TXa", CardNumber: tonepay.NewSecret("4242424242424242"),
		Params: tonepay.Params{PaymentMethod: tonepay.CreditCard, ChargeAmount: "1.00"}}
	a, _ := c.Pay(context.Background(), req)
	b, _ := c.Pay(context.Background(), req)
	req.TransactionID = "TXb"
	other, _ := c.Pay(context.Background(), req)
	if a.ConfirmationCode != b.ConfirmationCode || a.ConfirmationCode == other.ConfirmationCode {
		t.Errorf("codes %s %s %s", a.ConfirmationCode, b.ConfirmationCode, other.ConfirmationCode)
	}
	if c.Calls("TXa") != 2 || c.Calls("TXb") != 1 {
		t.Errorf("calls %d %d", c.Calls("TXa"), c.Calls("TXb"))
	}
}
