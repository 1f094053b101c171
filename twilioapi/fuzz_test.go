package twilioapi

import (
	"encoding/json"
	"errors"
	"net/url"
	"reflect"
	"testing"

	"github.com/tonepay/tonepay"
)

// FuzzForm feeds arbitrary request bodies through the wire checks and the
// Payments create and paging decoders, and checks what every request must
// get: no panic; a refusal is a client error with a Twilio code, never an
// internal one; what is accepted can be stored by either store (valid UTF-8
// text without NUL, JSON that reads back the same), and a page is within
// the bounds the stores are asked for.
func FuzzForm(f *testing.F) {
	f.Add("IdempotencyKey=k&StatusCallback=https%3A%2F%2Fexample.com%2Fcb&ChargeAmount=19.99&Parameter=%7B%22a%22%3A1%7D")
	f.Add("PaymentMethod=ach-debit&BankAccountType=consumer-savings&RequireMatchingInputs=bank-account-number")
	f.Add("ValidCardTypes=visa+amex&RequireMatchingInputs=payment-card-number%2Csecurity-code&Currency=jpy&ChargeAmount=100")
	f.Add("Parameter=%22%7B%5C%22x%5C%22%3A%5C%22%5Cu0000%5C%22%7D%22&Description=%ff%fe")
	f.Add("Page=9223372036854775807&PageSize=1000&Timeout=600&MinPostalCodeLength=10")
	f.Add("Parameter=" + url.QueryEscape(`{'name': 'O\'Brien', 'k': "\u0000", 'n': None}`) + "&MinPostalCodeLength=19")
	f.Fuzz(func(t *testing.T, body string) {
		v, err := url.ParseQuery(body)
		if err != nil {
			return // the server answers 400 before any of this
		}
		clientError := func(what string, err error) {
			t.Helper()
			var te *tonepay.Error
			if !errors.As(err, &te) || te.Code == tonepay.CodeInternal {
				t.Fatalf("%s: %v is not a client error", what, err)
			}
		}
		if err := storable(v, tonepay.CodeInvalidParameter); err != nil {
			clientError("storable", err)
			return
		}
		if p, err := parsePage(v); err != nil {
			clientError("parsePage", err)
		} else if p.offset() < 0 || p.offset() > maxOffset || p.limit() < 2 || p.limit() > maxPageSize+1 {
			t.Fatalf("page %+v: offset %d limit %d out of bounds", p, p.offset(), p.limit())
		}
		p := &params{v: v, bad: tonepay.CodeInvalidParameter}
		prm := parseCreate(p)
		if p.err != nil {
			clientError("parseCreate", p.err)
			return
		}
		// The amount is the session service's to read, as it does here.
		amount, err := tonepay.ParseChargeAmount(v.Get("ChargeAmount"), prm.Currency)
		if err != nil {
			clientError("ParseChargeAmount", err)
			return
		}
		prm.ChargeAmount = amount
		b, err := json.Marshal(prm)
		if err != nil {
			t.Fatal(err)
		}
		var back tonepay.Params
		if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(normal(&back), normal(prm)) {
			t.Fatalf("params do not survive the store's JSON: %+v -> %s -> %+v (%v)", prm, b, back, err)
		}
		for _, str := range []string{prm.Currency, prm.Description, prm.PaymentConnector, prm.ChargeAmount} {
			if !isText(str) {
				t.Fatalf("accepted a value no store can hold: %q", str)
			}
		}
		for k, x := range prm.Parameter {
			if !isText(k) || !isText(x) {
				t.Fatalf("accepted a Parameter no store can hold: %q=%q", k, x)
			}
		}
	})
}

// normal makes empty and nil maps and slices compare equal.
func normal(p *tonepay.Params) tonepay.Params {
	c := *p
	if len(c.Parameter) == 0 {
		c.Parameter = nil
	}
	if len(c.RequireMatchingInputs) == 0 {
		c.RequireMatchingInputs = nil
	}
	return c
}
