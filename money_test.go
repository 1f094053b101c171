package tonepay

import "testing"

func TestParseChargeAmount(t *testing.T) {
	tests := []struct {
		in, currency, want string
		code               int
	}{
		{"", "USD", "", 0},
		{"0", "USD", "", 0},
		{"0.00", "USD", "", 0},
		{"10", "USD", "10.00", 0},
		{"10.0", "USD", "10.00", 0},
		{"10.00", "USD", "10.00", 0},
		{"19.99", "USD", "19.99", 0},
		{".5", "USD", "0.50", 0},
		{"007.10", "EUR", "7.10", 0},
		{"999999.99", "USD", "999999.99", 0},
		{"1000000", "USD", "", CodeChargeAmount},
		{"10.001", "USD", "", CodeChargeAmount},
		{"10.000", "USD", "10.00", 0}, // trailing zeros are not extra precision
		{"-1", "USD", "", CodeChargeAmount},
		{"1e3", "USD", "", CodeChargeAmount},
		{".", "USD", "", CodeChargeAmount},
		{"10.", "USD", "10.00", 0},
		{"1 0", "USD", "", CodeChargeAmount},
		{"500", "JPY", "500", 0},
		{"500.5", "JPY", "", CodeChargeAmount},
		{"1.125", "KWD", "1.125", 0},
		{"1.1255", "KWD", "", CodeChargeAmount},
		{"1", "XYZ", "", CodeNoCurrency},
	}
	for _, tt := range tests {
		t.Run(tt.in+" "+tt.currency, func(t *testing.T) {
			got, err := ParseChargeAmount(tt.in, tt.currency)
			if code := ErrorCode(err); code != tt.code || got != tt.want {
				t.Errorf("ParseChargeAmount(%q, %s) = %q, %d; want %q, %d", tt.in, tt.currency, got, code, tt.want, tt.code)
			}
		})
	}
}

func TestFields(t *testing.T) {
	tests := []struct {
		name string
		p    Params
		want string
	}{
		{"card", Params{PaymentMethod: CreditCard, SecurityCode: true, PostalCode: true},
			"payment-card-number expiration-date security-code postal-code"},
		{"card, no extras", Params{PaymentMethod: CreditCard}, "payment-card-number expiration-date"},
		{"ach", Params{PaymentMethod: ACHDebit}, "bank-routing-number bank-account-number"},
		{"matchers follow their field", Params{PaymentMethod: CreditCard, PostalCode: true,
			RequireMatchingInputs: []Field{FieldPostalCode, FieldCardNumber}},
			"payment-card-number payment-card-number-matcher expiration-date postal-code postal-code-matcher"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got string
			for i, f := range tt.p.Fields() {
				if i > 0 {
					got += " "
				}
				got += string(f)
			}
			if got != tt.want {
				t.Errorf("Fields() = %q, want %q", got, tt.want)
			}
		})
	}
	if m := FieldCardNumber.Matcher(); !m.IsMatcher() || m.Base() != FieldCardNumber || FieldCardNumber.IsMatcher() {
		t.Errorf("matcher helpers wrong for %s", m)
	}
}

func TestMinorAmount(t *testing.T) {
	tests := []struct {
		amount, currency string
		want             int64
		code             int
	}{
		{"10.00", "USD", 1000, 0}, {"19.99", "USD", 1999, 0}, {"0.50", "EUR", 50, 0}, {"500", "JPY", 500, 0},
		{"1.125", "KWD", 1125, 0}, {"10.5", "USD", 1050, 0}, {"10.001", "USD", 0, CodeChargeAmount}, {"1", "XYZ", 0, CodeNoCurrency},
	}
	for _, tt := range tests {
		got, err := MinorAmount(tt.amount, tt.currency)
		if got != tt.want || ErrorCode(err) != tt.code {
			t.Errorf("MinorAmount(%q, %s) = %d, %v; want %d, code %d", tt.amount, tt.currency, got, err, tt.want, tt.code)
		}
	}
}
