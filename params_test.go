package tonepay

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func defaultParams(mod func(p *Params)) Params {
	p := Params{PaymentMethod: CreditCard, Currency: "USD", Input: "dtmf", PaymentConnector: "Default", PostalCode: true,
		SecurityCode: true, Timeout: 5, TokenType: TokenReusable, ValidCardTypes: []string{"visa", "mastercard", "amex"}}
	if mod != nil {
		mod(&p)
	}
	return p
}

// TestParseParams: the values every door gives, and the Params they make.
func TestParseParams(t *testing.T) {
	tests := []struct {
		name  string
		given map[string]string
		want  Params
	}{
		{"nothing given: Twilio's defaults", nil, defaultParams(nil)},
		{"every value", map[string]string{"PaymentMethod": "ach-debit", "BankAccountType": "commercial-checking",
			"ChargeAmount": "10", "Currency": "eur", "Description": "pizza", "Input": "dtmf", "MinPostalCodeLength": "5",
			"PaymentConnector": "Stripe", "PostalCode": "FALSE", "SecurityCode": "false", "Timeout": "600",
			"TokenType": "one-time", "ValidCardTypes": "visa DISCOVER", "Confirmation": "true"},
			Params{PaymentMethod: ACHDebit, BankAccountType: CommercialChecking, ChargeAmount: "10.00", Currency: "EUR",
				Description: "pizza", Input: "dtmf", MinPostalCodeLength: 5, PaymentConnector: "Stripe", Timeout: 600,
				TokenType: TokenOneTime, ValidCardTypes: []string{"visa", "discover"}, Confirmation: true}},
		{"ACH: consumer-checking", map[string]string{"PaymentMethod": "ach-debit"},
			defaultParams(func(p *Params) { p.PaymentMethod, p.BankAccountType = ACHDebit, ConsumerChecking })},
		{"empty enums and texts are their defaults", map[string]string{"PaymentMethod": "", "TokenType": "", "Input": "",
			"Currency": "", "ChargeAmount": "", "PaymentConnector": "", "RequireMatchingInputs": ""}, defaultParams(nil)},
		{"amount in the currency's decimals", map[string]string{"ChargeAmount": "5", "Currency": "KWD"},
			defaultParams(func(p *Params) { p.ChargeAmount, p.Currency = "5.000", "KWD" })},
		{"amount .5 and 5. are numbers", map[string]string{"ChargeAmount": ".5"}, defaultParams(func(p *Params) { p.ChargeAmount = "0.50" })},
		{"zero tokenizes", map[string]string{"ChargeAmount": "0.00"}, defaultParams(nil)},
		{"a code that is no currency: the service's 64011", map[string]string{"ChargeAmount": "10.001", "Currency": "xyz"},
			defaultParams(func(p *Params) { p.ChargeAmount, p.Currency = "10.001", "XYZ" })},
		{"matching inputs", map[string]string{"RequireMatchingInputs": "payment-card-number, security-code"},
			defaultParams(func(p *Params) { p.RequireMatchingInputs = []Field{FieldCardNumber, FieldSecurityCode} })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, errs := ParseParams(tt.given)
			if len(errs) != 0 {
				t.Fatalf("errors %v", errs)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("(-want +got)\n%s", d)
			}
		})
	}
}

// TestParseParamsErrors: each rule's code, and whether <Pay> may run the
// default instead (Tolerable) or must fail (what is charged or returned).
func TestParseParamsErrors(t *testing.T) {
	tests := []struct {
		name      string
		given     map[string]string
		param     string
		value     string
		code      int
		tolerable bool
	}{
		{"PaymentMethod", map[string]string{"PaymentMethod": "cash"}, "PaymentMethod", "cash", CodeInvalidParameter, false},
		{"PaymentMethod's case", map[string]string{"PaymentMethod": "Credit-Card"}, "PaymentMethod", "Credit-Card", CodeInvalidParameter, false},
		{"BankAccountType with a card", map[string]string{"BankAccountType": "consumer-savings"}, "BankAccountType", "consumer-savings", CodeBankAccountType, false},
		{"an unknown BankAccountType with a card is still 64017", map[string]string{"BankAccountType": "piggy-bank"}, "BankAccountType", "piggy-bank", CodeBankAccountType, false},
		{"an empty BankAccountType with a card (<Pay bankAccountType=\"\">)", map[string]string{"BankAccountType": ""}, "BankAccountType", "", CodeBankAccountType, false},
		{"BankAccountType with ACH", map[string]string{"PaymentMethod": "ach-debit", "BankAccountType": "personal"}, "BankAccountType", "personal", CodeInvalidParameter, false},
		{"TokenType", map[string]string{"TokenType": "forever"}, "TokenType", "forever", CodeInvalidParameter, false},
		{"ChargeAmount 1,000,000", map[string]string{"ChargeAmount": "1000000"}, "ChargeAmount", "1000000", CodeChargeAmount, false},
		{"ChargeAmount 1,000,000.00", map[string]string{"ChargeAmount": "1000000.00"}, "ChargeAmount", "1000000.00", CodeChargeAmount, false},
		{"ChargeAmount negative", map[string]string{"ChargeAmount": "-0.5"}, "ChargeAmount", "-0.5", CodeChargeAmount, false},
		{"ChargeAmount as twilio-go writes 1,000,000", map[string]string{"ChargeAmount": "1e+06"}, "ChargeAmount", "1e+06", CodeChargeAmount, false},
		{"ChargeAmount decimals", map[string]string{"ChargeAmount": "10.5", "Currency": "JPY"}, "ChargeAmount", "10.5", CodeChargeAmount, false},
		{"ChargeAmount range in a code that is no currency", map[string]string{"ChargeAmount": "1000000", "Currency": "XYZ"}, "ChargeAmount", "1000000", CodeChargeAmount, false},
		{"ChargeAmount with spaces (a door trims what its wire does not keep)", map[string]string{"ChargeAmount": " 5"}, "ChargeAmount", " 5", CodeChargeAmount, false},
		{"Currency of two letters", map[string]string{"Currency": "US"}, "Currency", "US", CodeInvalidParameter, false},
		{"Currency a word", map[string]string{"Currency": "dollars"}, "Currency", "dollars", CodeInvalidParameter, false},
		{"Currency not letters", map[string]string{"Currency": "U$D"}, "Currency", "U$D", CodeInvalidParameter, false},
		{"Currency in letters that upper-case to ASCII", map[string]string{"Currency": "ſd"}, "Currency", "ſd", CodeInvalidParameter, false},
		{"Input", map[string]string{"Input": "speech"}, "Input", "speech", CodeInvalidParameter, true},
		{"Timeout 0", map[string]string{"Timeout": "0"}, "Timeout", "0", CodeInvalidParameter, true},
		{"Timeout 601", map[string]string{"Timeout": "601"}, "Timeout", "601", CodeInvalidParameter, true},
		{"Timeout empty", map[string]string{"Timeout": ""}, "Timeout", "", CodeInvalidParameter, true},
		{"MinPostalCodeLength", map[string]string{"MinPostalCodeLength": "20"}, "MinPostalCodeLength", "20", CodeInvalidParameter, true},
		{"PostalCode", map[string]string{"PostalCode": "maybe"}, "PostalCode", "maybe", CodeInvalidParameter, true},
		{"SecurityCode", map[string]string{"SecurityCode": "1"}, "SecurityCode", "1", CodeInvalidParameter, true},
		{"Confirmation", map[string]string{"Confirmation": "yes"}, "Confirmation", "yes", CodeInvalidParameter, true},
		{"ValidCardTypes: an unknown one", map[string]string{"ValidCardTypes": "visa monopoly"}, "ValidCardTypes", "monopoly", CodeInvalidParameter, true},
		{"ValidCardTypes: none", map[string]string{"ValidCardTypes": "  "}, "ValidCardTypes", "  ", CodeInvalidParameter, true},
		{"RequireMatchingInputs: a bank field", map[string]string{"RequireMatchingInputs": "bank-routing-number"}, "RequireMatchingInputs", "bank-routing-number", CodeInvalidParameter, true},
		{"RequireMatchingInputs: a field not collected", map[string]string{"SecurityCode": "false", "RequireMatchingInputs": "security-code"}, "RequireMatchingInputs", "security-code", CodeInvalidParameter, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errs := ParseParams(tt.given)
			if len(errs) != 1 {
				t.Fatalf("errors %v, want one", errs)
			}
			e := errs[0]
			if e.Param != tt.param || e.Value != tt.value || e.Code != tt.code || e.Tolerable != tt.tolerable || e.Why == "" {
				t.Errorf("got %+v, want %s %q %d tolerable %t", e, tt.param, tt.value, tt.code, tt.tolerable)
			}
			if err := errs.Err(); ErrorCode(err) != tt.code || ErrorMessage(err) != e.Error() {
				t.Errorf("Err() %v", err)
			}
			if f := errs.Fatal(); (f == nil) != tt.tolerable {
				t.Errorf("Fatal() %v", f)
			}
		})
	}
}

// TestParseParamsTolerated: a tolerable problem leaves its default in
// Params, which is what <Pay> runs.
func TestParseParamsTolerated(t *testing.T) {
	got, errs := ParseParams(map[string]string{"Timeout": "soon", "SecurityCode": "yes", "ValidCardTypes": "visa diners",
		"MinPostalCodeLength": "many", "Input": "speech", "PostalCode": ""})
	want := defaultParams(func(p *Params) { p.ValidCardTypes = []string{"visa"} })
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got)\n%s", d)
	}
	var params, defaults []string
	for _, e := range errs {
		params, defaults = append(params, e.Param), append(defaults, e.Default)
	}
	if d := cmp.Diff([]string{"Input", "MinPostalCodeLength", "PostalCode", "SecurityCode", "Timeout", "ValidCardTypes"}, params); d != "" {
		t.Errorf("order (-want +got)\n%s", d)
	}
	if d := cmp.Diff([]string{"dtmf", "0", "true", "true", "5", "visa"}, defaults); d != "" {
		t.Errorf("defaults (-want +got)\n%s", d)
	}
	if errs.Fatal() != nil {
		t.Errorf("fatal %v", errs.Fatal())
	}
	if _, errs := ParseParams(map[string]string{"ValidCardTypes": "diners"}); len(errs) != 1 || errs[0].Default != "visa mastercard amex" {
		t.Errorf("none known: %v", errs)
	}
}

// TestParseParamsOrder: every problem is reported, in one order; the first
// is the REST API's answer, the first fatal one <Pay>'s validation-error.
func TestParseParamsOrder(t *testing.T) {
	_, errs := ParseParams(map[string]string{"Timeout": "0", "TokenType": "x", "ChargeAmount": "-1", "Currency": "US"})
	var got []string
	for _, e := range errs {
		got = append(got, e.Param)
	}
	if d := cmp.Diff([]string{"Timeout", "TokenType", "ChargeAmount", "Currency"}, got); d != "" {
		t.Errorf("(-want +got)\n%s", d)
	}
	if ErrorCode(errs.Err()) != CodeInvalidParameter || errs.Fatal().Param != "TokenType" {
		t.Errorf("Err %v Fatal %v", errs.Err(), errs.Fatal())
	}
	// An unknown PaymentMethod says nothing of BankAccountType.
	if _, errs := ParseParams(map[string]string{"PaymentMethod": "cash", "BankAccountType": "x"}); len(errs) != 1 {
		t.Errorf("%v", errs)
	}
}
