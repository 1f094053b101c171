package capture

import (
	"net/url"
	"strings"

	"github.com/tonepay/tonepay"
)

// callback builds a callback to the session's current StatusCallback: the
// fields every callback carries, plus added.
func callback(s *tonepay.Session, added url.Values) *tonepay.Callback {
	f := url.Values{
		"AccountSid":       {s.AccountSid},
		"CallSid":          {s.CallSid},
		"Sid":              {s.Sid},
		"DateCreated":      {tonepay.ISODate(s.DateCreated)},
		"PaymentConnector": {s.Params.PaymentConnector},
		"PaymentMethod":    {s.Params.PaymentMethod},
	}
	addTerms(s, f)
	for k, v := range added {
		f[k] = v
	}
	return &tonepay.Callback{AccountSid: s.AccountSid, Chain: s.Sid, URL: s.State.StatusCallback, Form: f}
}

// addTerms adds what the payment is: the amount (or the token type) and,
// for ACH, the account type.
func addTerms(s *tonepay.Session, f url.Values) {
	if s.Params.Charging() {
		f.Set("ChargeAmount", s.Params.ChargeAmount)
	} else {
		f.Set("TokenType", s.Params.TokenType)
	}
	if s.Params.PaymentMethod == tonepay.ACHDebit {
		f.Set("BankAccountType", s.Params.BankAccountType)
	}
}

// fields makes callback parameters from name, value pairs.
func fields(kv ...string) url.Values {
	f := make(url.Values, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		f[kv[i]] = []string{kv[i+1]}
	}
	return f
}

// paramNames maps fields to the callback parameters that carry their masked
// values. A matcher is reported under its field's name.
var paramNames = map[tonepay.Field]string{
	tonepay.FieldCardNumber:    "PaymentCardNumber",
	tonepay.FieldExpiration:    "ExpirationDate",
	tonepay.FieldSecurityCode:  "SecurityCode",
	tonepay.FieldPostalCode:    "PaymentCardPostalCode",
	tonepay.FieldRoutingNumber: "BankRoutingNumber",
	tonepay.FieldAccountNumber: "BankAccountNumber",
}

func paramName(f tonepay.Field) string { return paramNames[f.Base()] }

// addMasked adds the masked value of every captured field (not matchers).
func addMasked(s *tonepay.Session, f url.Values) {
	for field, v := range s.State.Captured {
		if !field.IsMatcher() {
			f.Set(paramNames[field], v)
		}
	}
	if s.State.CardType != "" {
		f.Set("PaymentCardType", s.State.CardType)
	}
}

// maskFinal is how a captured value appears in callbacks and anywhere else
// outside the sealed data: card number all 'x' but the last 4, security code
// all 'x', bank account '*' but the last 2; expiry, postal code and routing
// number are not secret and stay in clear.
func maskFinal(f tonepay.Field, v string) string {
	switch f.Base() {
	case tonepay.FieldCardNumber:
		return keepLast(v, 4, "x")
	case tonepay.FieldSecurityCode:
		return strings.Repeat("x", len(v))
	case tonepay.FieldAccountNumber:
		return keepLast(v, 2, "*")
	}
	return v
}

// maskPartial is a value being typed: secret fields show nothing but their length.
func maskPartial(f tonepay.Field, v string) string {
	switch f.Base() {
	case tonepay.FieldCardNumber, tonepay.FieldSecurityCode:
		return strings.Repeat("x", len(v))
	case tonepay.FieldAccountNumber:
		return strings.Repeat("*", len(v))
	}
	return v
}

func keepLast(v string, n int, mask string) string {
	if len(v) <= n {
		return strings.Repeat(mask, len(v))
	}
	return strings.Repeat(mask, len(v)-n) + v[len(v)-n:]
}
