package main

import (
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"testing"

	api "github.com/twilio/twilio-go/rest/api/v2010"
)

// TestPayParamsBothDoors: a payment's parameters have one set of rules
// (tonepay.ParseParams), so the same bad value gets the same code from
// either door: the REST API (the wire as sent, and twilio-go) answers it,
// and <Pay> ends with validation-error and it as PayErrorCode. These are
// the values on which the two doors once disagreed.
func TestPayParamsBothDoors(t *testing.T) {
	fs := newVoiceServer(t)
	tw, _ := newTwilio(t, *fs.url.Load(), fs.sid, fs.token, fs.sid, nil)
	code, body, err := fs.do("POST", fs.api("/Calls.json"), url.Values{"To": {"+15005550006"}, "From": {"+15005550001"}, "Twiml": {"<Response/>"}})
	if err != nil || code != 201 {
		t.Fatalf("call: %d %v %s", code, err, body)
	}
	call := sidOf(body)
	tests := []struct {
		name   string
		rest   url.Values // the REST create's parameters beyond the required ones
		pay    string     // the same as <Pay> attributes
		twilio *api.CreatePaymentsParams
		code   int
		names  string // the parameter both errors name (<Pay> in lower camel case)
	}{
		{"ChargeAmount 1,000,000", url.Values{"ChargeAmount": {"1000000"}}, `chargeAmount="1000000"`,
			(&api.CreatePaymentsParams{}).SetChargeAmount(1_000_000), 64003, "ChargeAmount"},
		{"a bad ChargeAmount before an unknown connector", url.Values{"ChargeAmount": {"-1"}, "PaymentConnector": {"Nope"}},
			`chargeAmount="-1" paymentConnector="Nope"`, (&api.CreatePaymentsParams{}).SetChargeAmount(-1).SetPaymentConnector("Nope"), 64003, "ChargeAmount"},
		{"ChargeAmount 1,000,000 before ACH's AVSName", url.Values{"ChargeAmount": {"1000000"}, "PaymentMethod": {"ach-debit"}},
			`chargeAmount="1000000" paymentMethod="ach-debit"`, (&api.CreatePaymentsParams{}).SetChargeAmount(1_000_000).SetPaymentMethod("ach-debit"),
			64003, "ChargeAmount"},
		{"Currency of two letters", url.Values{"Currency": {"US"}}, `currency="US"`,
			(&api.CreatePaymentsParams{}).SetCurrency("US"), 64020, "Currency"},
		{"BankAccountType with a card", url.Values{"BankAccountType": {"consumer-savings"}}, `bankAccountType="consumer-savings"`,
			(&api.CreatePaymentsParams{}).SetPaymentMethod("credit-card").SetBankAccountType("consumer-savings"), 64017, "BankAccountType"},
		{"an unknown BankAccountType with a card", url.Values{"BankAccountType": {"piggy-bank"}}, `bankAccountType="piggy-bank"`,
			(&api.CreatePaymentsParams{}).SetBankAccountType("piggy-bank"), 64017, "BankAccountType"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := "k" + strconv.Itoa(i)
			form := url.Values{"IdempotencyKey": {key}, "StatusCallback": {"https://example.com/cb"}}
			for k, v := range tt.rest {
				form[k] = v
			}
			code, body, err := fs.do("POST", fs.api("/Calls/"+call+"/Payments.json"), form)
			var e struct {
				Code    int
				Message string
			}
			if err != nil || code != 400 || json.Unmarshal(body, &e) != nil || e.Code != tt.code || !strings.Contains(e.Message, tt.names) {
				t.Errorf("REST: %d %v %s, want 400 code %d", code, err, body, tt.code)
			}
			_, err = tw.CreatePayments(call, tt.twilio.SetIdempotencyKey(key).SetStatusCallback("https://example.com/cb"))
			wantTwilioError(t, "twilio-go", err, tt.code, 400)

			app := payApp(t, fs.token, `<Pay action="/paid" `+tt.pay+`/>`)
			a := actionOf(t, app, ivrCall(t, fs, app))
			if a.Params.Get("Result") != "validation-error" || a.Params.Get("PayErrorCode") != strconv.Itoa(tt.code) || !strings.Contains(a.Params.Get("PaymentError"), strings.ToLower(tt.names[:1])+tt.names[1:]) {
				t.Errorf("<Pay>: %v, want validation-error %d", a.Params, tt.code)
			}
		})
	}
}
