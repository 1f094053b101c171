package mcp

import (
	"fmt"
	"strings"

	"github.com/tonepay/tonepay"
)

// Status is a payment as a model reads it: tonepay.SessionView's fields
// (already masked by ViewSession) under JSON names, and Next.
type Status struct {
	PaymentSid       string            `json:"payment_sid"`
	CallSid          string            `json:"call_sid"`
	Status           string            `json:"status" jsonschema:"open, confirming, processing or ended"`
	SelfService      bool              `json:"self_service,omitempty" jsonschema:"a <Pay> in the call's TwiML runs this payment itself"`
	PaymentMethod    string            `json:"payment_method"`
	Connector        string            `json:"connector"`
	ChargeAmount     string            `json:"charge_amount,omitempty"`
	Currency         string            `json:"currency"`
	TokenType        string            `json:"token_type,omitempty"`
	Capturing        string            `json:"capturing,omitempty" jsonschema:"the field the caller is typing now"`
	Typed            int               `json:"typed,omitempty" jsonschema:"how many keys of it so far"`
	Required         []string          `json:"required" jsonschema:"fields still missing, in the order to ask for them"`
	Captured         map[string]string `json:"captured" jsonschema:"each captured field, masked"`
	CardType         string            `json:"card_type,omitempty"`
	ErrorType        string            `json:"error_type,omitempty" jsonschema:"why the last entry failed (Twilio's ErrorType)"`
	ErrorField       string            `json:"error_field,omitempty"`
	Result           string            `json:"result,omitempty" jsonschema:"the outcome once ended: success, payment-connector-error, caller-hung-up, ..."`
	ConfirmationCode string            `json:"confirmation_code,omitempty"`
	PaymentToken     string            `json:"payment_token,omitempty"`
	PaymentError     string            `json:"payment_error,omitempty"`
	PayErrorCode     int               `json:"pay_error_code,omitempty"`
	Next             string            `json:"next" jsonschema:"what to do or tell the caller now"`
}

func statusOf(v *tonepay.SessionView) Status {
	st := Status{
		PaymentSid: v.Sid, CallSid: v.CallSid, Status: string(v.Status), SelfService: v.SelfService,
		PaymentMethod: v.PaymentMethod, Connector: v.PaymentConnector, ChargeAmount: v.ChargeAmount, Currency: v.Currency,
		TokenType: v.TokenType, Capturing: string(v.Capture), Typed: v.Typed, Required: []string{}, Captured: map[string]string{},
		CardType: v.CardType, ErrorType: v.ErrorType, ErrorField: string(v.ErrorField), Result: v.Result,
		ConfirmationCode: v.ConfirmationCode, PaymentToken: v.PaymentToken, PaymentError: v.PaymentError, PayErrorCode: v.PayErrorCode,
	}
	for _, f := range v.Required {
		st.Required = append(st.Required, string(f))
	}
	for f, m := range v.Captured {
		st.Captured[string(f)] = m
	}
	st.Next = next(v)
	return st
}

// fieldWords name each field as an agent says it to a caller.
var fieldWords = map[tonepay.Field]string{
	tonepay.FieldCardNumber:    "card number",
	tonepay.FieldExpiration:    "expiry date",
	tonepay.FieldSecurityCode:  "security code",
	tonepay.FieldPostalCode:    "postal code",
	tonepay.FieldRoutingNumber: "bank routing number",
	tonepay.FieldAccountNumber: "bank account number",
}

func words(f tonepay.Field) string {
	if w, ok := fieldWords[f]; ok {
		return w
	}
	return string(f)
}

// failures say why an entry failed, by Twilio's ErrorType.
var failures = map[string]string{
	"invalid-card-number":                                "failed the check",
	"invalid-card-type":                                  "is of a card type this payment does not accept",
	"invalid-date":                                       "is not a valid expiry in the future (MMYY)",
	"invalid-security-code":                              "has the wrong number of digits for this card",
	"invalid-postal-code":                                "is not a valid postal code",
	"invalid-bank-routing-number":                        "failed the routing number check",
	"invalid-bank-account-number":                        "is not a valid account number",
	"invalid-card-number-security-code-capture-sequence": "cannot be taken before the card number",
}

// next is the sentence a model acts on: what the session waits for, what
// failed and what to tell the caller.
func next(v *tonepay.SessionView) string {
	switch {
	case v.Status == tonepay.SessionEnded:
		switch {
		case v.Result == "success" && v.ConfirmationCode != "":
			return fmt.Sprintf("The payment succeeded (confirmation %s); tell the caller.", v.ConfirmationCode)
		case v.Result == "success":
			return "The payment details were saved; tell the caller."
		case v.Result == "payment-connector-error" && v.PaymentError != "":
			return fmt.Sprintf("The payment failed: %s. Tell the caller; start a new payment to try another card.", v.PaymentError)
		}
		return fmt.Sprintf("The payment has ended (%s); start a new payment to try again.", v.Result)
	case v.Status == tonepay.SessionProcessing:
		return "The payment is being processed; wait for the payment's next change (or read payment_status again shortly)."
	case v.SelfService:
		return "The call's own <Pay> is asking the caller for each field; wait for it to end."
	}
	var b strings.Builder
	failed := v.ErrorType != "" && v.ErrorField != "" && (v.Capture == "" || v.Capture == v.ErrorField)
	if failed {
		why := failures[v.ErrorType]
		if why == "" {
			why = "was not accepted (" + v.ErrorType + ")"
		}
		fmt.Fprintf(&b, "The %s %s; ask the caller to enter it again", words(v.ErrorField), why)
		if v.Capture == v.ErrorField {
			b.WriteString(" (tonepay is listening for it).")
		} else {
			fmt.Fprintf(&b, ", and call request_field with field %s.", v.ErrorField)
		}
	}
	switch {
	case failed:
	case v.Capture != "":
		fmt.Fprintf(&b, "The caller is typing the %s (%d keys so far); wait, then read payment_status again.", words(v.Capture), v.Typed)
	case len(v.Required) > 0:
		fmt.Fprintf(&b, "Required next: the %s; ask the caller for it and call request_field with field %s.", words(v.Required[0]), v.Required[0])
	default:
		b.WriteString("Everything is captured; call complete_payment to submit it.")
	}
	return strings.TrimSpace(b.String())
}
