// Package generic speaks Twilio's Generic Pay Connector protocol, both
// sides of it: Connector sends charges and tokenizations to a processor's
// URL, and Processor is a reference processor that answers them.
//
// The protocol: an HTTP POST with HTTP Basic auth and a JSON body whose
// values are strings or null; the processor answers 200 with charge_id or
// token_id, and error_code and error_message (null on success). A retry
// carries the same transaction_id, and the processor must answer it with
// the first answer, so that nothing is charged twice.
package generic

import (
	"bytes"
	"encoding/json"
	"strings"
)

// request is the body Twilio's connector posts to the processor.
type request struct {
	Method            string            `json:"method"` // "charge" or "tokenize"
	TransactionID     string            `json:"transaction_id"`
	CardNumber        *string           `json:"cardnumber,omitempty"`
	CVV               *string           `json:"cvv,omitempty"`
	ExpiryMonth       *string           `json:"expiry_month,omitempty"`
	ExpiryYear        *string           `json:"expiry_year,omitempty"`
	PostalCode        *string           `json:"postal_code"`
	RoutingNumber     *string           `json:"routingnumber,omitempty"`
	BankAccountNumber *string           `json:"bankaccountnumber,omitempty"`
	Amount            *string           `json:"amount,omitempty"`
	CurrencyCode      *string           `json:"currency_code,omitempty"`
	Description       *string           `json:"description"`
	Parameters        map[string]string `json:"parameters"`
}

// response is the processor's answer. ChargeID and TokenID are raw so that a
// key that is missing (malformed) can be told from one that is null (an error).
type response struct {
	ChargeID     json.RawMessage `json:"charge_id,omitempty"`
	TokenID      json.RawMessage `json:"token_id,omitempty"`
	ErrorCode    json.RawMessage `json:"error_code"`
	ErrorMessage json.RawMessage `json:"error_message"`
	// Parameters are the processor's own extra answers, which <Pay> hands
	// to its action as PayConnector_<key>. Raw, so that a processor sending
	// something other than an object loses them, not its answer.
	Parameters json.RawMessage `json:"parameters,omitempty"`
}

// parameters reads the response's parameters object as text values (a
// number's digits, "" for null); nil when there is none or it is not an object.
func parameters(raw json.RawMessage) map[string]string {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil || len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = text(v)
	}
	return out
}

// text reads a JSON scalar as text: "" for null or absent, a string's
// content, or a number's digits (some processors send numeric error codes).
func text(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return strings.Trim(string(raw), `"`)
}

func str(s string) *string { return &s }

// nullable is a pointer to s, or nil for "": the protocol sends null for
// fields not collected.
func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
