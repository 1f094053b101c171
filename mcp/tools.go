package mcp

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/tonepay/tonepay"
)

// Tool names. Append only: agents' prompts name them.
const (
	ToolListCalls    = "list_calls"
	ToolStartPayment = "start_payment"
	ToolRequestField = "request_field"
	ToolStatus       = "payment_status"
	ToolComplete     = "complete_payment"
	ToolCancel       = "cancel_payment"
	ToolPressKeys    = "press_keys"
	ToolSayWords     = "say_words"
)

func (s *server) addTools(srv *sdk.Server) {
	sdk.AddTool(srv, &sdk.Tool{Name: ToolListCalls, Description: "List the calls in progress on this account, newest first: " +
		"each call's SID (call_sid for the other tools), its parties, what carries it (simulated, stream, sip) and its open payment, if any."},
		s.listCalls)
	sdk.AddTool(srv, &sdk.Tool{Name: ToolStartPayment, Description: "Start a payment session on a call in progress. " +
		"Give charge_amount to charge the caller, or leave it out (or 0) to tokenize the card or bank account for later. " +
		"Nothing is asked of the caller yet: follow with request_field for each field payment_status lists as required. " +
		"Calling again with the same arguments returns the same payment; at most one payment is open on a call (error 64021)."},
		s.startPayment)
	sdk.AddTool(srv, &sdk.Tool{Name: ToolRequestField, Description: "Ask the caller to type one field of the payment on their keypad " +
		"(first tell them what to type and to end with #). The digits go to tonepay, never to you; read payment_status to see it masked once typed, or what failed. " +
		"Call again to retry a field that failed."},
		s.requestField)
	sdk.AddTool(srv, &sdk.Tool{Name: ToolStatus, Description: "Read a payment's status, masked: which field is being typed, which are still required, " +
		"each captured field masked, what failed and why, the outcome; and 'next', a sentence saying what to do or tell the caller now."},
		s.status)
	sdk.AddTool(srv, &sdk.Tool{Name: ToolComplete, Description: "Submit the payment once payment_status shows nothing required: tonepay charges or tokenizes " +
		"through the connector. Read payment_status afterwards for the result (success, or why it failed)."},
		s.complete)
	sdk.AddTool(srv, &sdk.Tool{Name: ToolCancel, Description: "Cancel the payment (the caller changed their mind, or asked for something else). Nothing is charged."},
		s.cancel)
	sdk.AddTool(srv, &sdk.Tool{Name: ToolPressKeys, Description: "TESTING ONLY, simulated calls only: press keys on the caller's keypad, as the caller would " +
		"(0-9, *, #, w for a half-second wait). On a real call (a media stream or SIP) this is refused: the real caller types."},
		s.pressKeys)
	sdk.AddTool(srv, &sdk.Tool{Name: ToolSayWords, Description: "TESTING ONLY, simulated calls only: the caller says words, as a speech recogniser would report them to the call's app."},
		s.sayWords)
}

// CallInfo is a call as list_calls shows it.
type CallInfo struct {
	CallSid    string `json:"call_sid"`
	From       string `json:"from"`
	To         string `json:"to"`
	Direction  string `json:"direction"`
	Leg        string `json:"leg" jsonschema:"what carries the call: simulated (press_keys works), stream or sip (a real caller)"`
	PaymentSid string `json:"payment_sid,omitempty" jsonschema:"the call's open payment, if any"`
}

// ListCallsIn has no arguments.
type ListCallsIn struct{}

// ListCallsOut is list_calls' result.
type ListCallsOut struct {
	Calls []CallInfo `json:"calls"`
}

// maxListed bounds list_calls: a model's context is no place for more.
const maxListed = 100

func (s *server) listCalls(ctx context.Context, _ *sdk.CallToolRequest, _ ListCallsIn) (*sdk.CallToolResult, ListCallsOut, error) {
	calls, err := s.svc.FindCalls(ctx, s.account.Sid, tonepay.CallFilter{Status: tonepay.CallInProgress, Limit: maxListed})
	if err != nil {
		return nil, ListCallsOut{}, fail(err)
	}
	out := ListCallsOut{Calls: []CallInfo{}}
	for _, c := range calls {
		leg := c.Leg
		if leg == "" {
			leg = tonepay.LegSimulated
		}
		ci := CallInfo{CallSid: c.Sid, From: c.From, To: c.To, Direction: string(c.Direction), Leg: string(leg)}
		if v, err := s.svc.FindSession(ctx, s.account.Sid, c.Sid, tonepay.CurrentSession); err == nil {
			ci.PaymentSid = v.Sid
		}
		out.Calls = append(out.Calls, ci)
	}
	return text("%d call(s) in progress", len(out.Calls)), out, nil
}

// StartIn are start_payment's arguments.
type StartIn struct {
	CallSid string `json:"call_sid" jsonschema:"the call (CA...), from list_calls"`
	// ChargeAmount is a string or a number: models write both.
	ChargeAmount   any    `json:"charge_amount,omitempty" jsonschema:"the amount to charge, as a decimal string or number (\"12.50\"); leave out or 0 to tokenize only"`
	Currency       string `json:"currency,omitempty" jsonschema:"ISO 4217 code, lower or upper case; default USD"`
	PaymentMethod  string `json:"payment_method,omitempty" jsonschema:"credit-card (default) or ach-debit"`
	TokenType      string `json:"token_type,omitempty" jsonschema:"when tokenizing: one-time, reusable or payment-method"`
	Connector      string `json:"connector,omitempty" jsonschema:"the pay connector's name; default Default"`
	Description    string `json:"description,omitempty" jsonschema:"what the payment is for"`
	IdempotencyKey string `json:"idempotency_key,omitempty" jsonschema:"your own key for this payment; the same key and arguments return the same payment. Derived from the arguments when absent"`
	StatusCallback string `json:"status_callback,omitempty" jsonschema:"an http(s) URL to receive Twilio's status callbacks; none are sent without one"`
}

// PaymentRef names a payment.
type PaymentRef struct {
	CallSid    string `json:"call_sid"`
	PaymentSid string `json:"payment_sid"`
}

func (s *server) startPayment(ctx context.Context, _ *sdk.CallToolRequest, in StartIn) (*sdk.CallToolResult, PaymentRef, error) {
	if in.CallSid == "" {
		return nil, PaymentRef{}, badArg("call_sid", "call_sid is required: the call to take the payment on (list_calls)")
	}
	amount, err := amountArg(in.ChargeAmount)
	if err != nil {
		return nil, PaymentRef{}, err
	}
	given := map[string]string{}
	for name, v := range map[string]string{"ChargeAmount": amount, "Currency": in.Currency, "PaymentMethod": in.PaymentMethod,
		"TokenType": in.TokenType, "PaymentConnector": in.Connector, "Description": in.Description} {
		if v = strings.TrimSpace(v); v != "" {
			given[name] = v
		}
	}
	prm, errs := tonepay.ParseParams(given)
	if len(errs) > 0 {
		// The REST API's rules, with the argument named as the model wrote it.
		return nil, PaymentRef{}, fail(errs[0])
	}
	pay, err := s.svc.CreateSession(ctx, &tonepay.CreateRequest{
		AccountSid:     s.account.Sid,
		OwnerSid:       s.account.OwnerSid,
		CallSid:        in.CallSid,
		Params:         prm,
		ChargeAmount:   prm.ChargeAmount,
		StatusCallback: in.StatusCallback,
		IdempotencyKey: s.key(ToolStartPayment, in.CallSid, in),
	})
	if err != nil {
		return nil, PaymentRef{}, fail(err)
	}
	return text("payment %s started on call %s; next: request_field for each required field (payment_status lists them)", pay.Sid, pay.CallSid),
		PaymentRef{CallSid: pay.CallSid, PaymentSid: pay.Sid}, nil
}

// amountArg reads charge_amount, a JSON string or number, as the decimal
// text ParseParams checks (64003).
func amountArg(v any) (string, error) {
	switch v := v.(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), nil
	case json.Number:
		return v.String(), nil
	}
	return "", &toolError{Code: tonepay.CodeChargeAmount, Arg: "charge_amount", Msg: "charge_amount must be a decimal string or number, such as \"12.50\""}
}

// FieldIn are request_field's arguments.
type FieldIn struct {
	CallSid    string `json:"call_sid"`
	PaymentSid string `json:"payment_sid,omitempty" jsonschema:"the payment (PK...); default the call's open payment"`
	Field      string `json:"field" jsonschema:"the field to ask for: payment-card-number, expiration-date, security-code, postal-code, bank-routing-number or bank-account-number"`
}

func (s *server) requestField(ctx context.Context, _ *sdk.CallToolRequest, in FieldIn) (*sdk.CallToolResult, PaymentRef, error) {
	if in.Field == "" {
		return nil, PaymentRef{}, badArg("field", "field is required: one of the fields payment_status lists as required")
	}
	v, err := s.session(ctx, in.CallSid, in.PaymentSid)
	if err != nil {
		return nil, PaymentRef{}, err
	}
	if _, err := s.svc.UpdateSession(ctx, &tonepay.UpdateRequest{AccountSid: s.account.Sid, CallSid: in.CallSid, Sid: v.Sid,
		Capture: tonepay.Field(in.Field)}); err != nil {
		return nil, PaymentRef{}, fail(err)
	}
	return text("tonepay is listening for the %s; ask the caller to type it on their keypad and press #", words(tonepay.Field(in.Field))),
		PaymentRef{CallSid: in.CallSid, PaymentSid: v.Sid}, nil
}

// PaymentIn names a payment for payment_status.
type PaymentIn struct {
	CallSid    string `json:"call_sid"`
	PaymentSid string `json:"payment_sid,omitempty" jsonschema:"the payment (PK...); default the call's open payment"`
}

func (s *server) status(ctx context.Context, _ *sdk.CallToolRequest, in PaymentIn) (*sdk.CallToolResult, Status, error) {
	v, err := s.session(ctx, in.CallSid, in.PaymentSid)
	if err != nil {
		return nil, Status{}, err
	}
	return reply(in.CallSid, v)
}

// reply is a tool's answer about payment v of call: its masked status, and
// in words what to do next.
func reply(call string, v *tonepay.SessionView) (*sdk.CallToolResult, Status, error) {
	st := statusOf(v)
	st.CallSid = call
	return text("%s", st.Next), st, nil
}

// EndIn names a payment to complete or cancel.
type EndIn struct {
	CallSid        string `json:"call_sid"`
	PaymentSid     string `json:"payment_sid,omitempty" jsonschema:"the payment (PK...); default the call's open payment"`
	IdempotencyKey string `json:"idempotency_key,omitempty" jsonschema:"your own key; derived from the arguments when absent"`
}

func (s *server) complete(ctx context.Context, req *sdk.CallToolRequest, in EndIn) (*sdk.CallToolResult, Status, error) {
	return s.end(ctx, ToolComplete, "complete", in)
}

func (s *server) cancel(ctx context.Context, req *sdk.CallToolRequest, in EndIn) (*sdk.CallToolResult, Status, error) {
	return s.end(ctx, ToolCancel, "cancel", in)
}

func (s *server) end(ctx context.Context, tool, status string, in EndIn) (*sdk.CallToolResult, Status, error) {
	v, err := s.session(ctx, in.CallSid, in.PaymentSid)
	if err != nil {
		return nil, Status{}, err
	}
	in.PaymentSid = v.Sid // "Current" and the SID are one payment
	if _, err := s.svc.UpdateSession(ctx, &tonepay.UpdateRequest{AccountSid: s.account.Sid, CallSid: in.CallSid, Sid: v.Sid,
		Status: status, IdempotencyKey: s.key(tool, in.CallSid, in)}); err != nil {
		return nil, Status{}, fail(err)
	}
	if v, err = s.session(ctx, in.CallSid, v.Sid); err != nil {
		return nil, Status{}, err
	}
	return reply(in.CallSid, v)
}

// KeysIn are press_keys' arguments.
type KeysIn struct {
	CallSid string `json:"call_sid"`
	Keys    string `json:"keys" jsonschema:"the keys: 0-9, *, #, and w for a half-second wait"`
}

// KeysOut is press_keys' result.
type KeysOut struct {
	Applied int `json:"applied" jsonschema:"keys someone took (the payment's field, a menu)"`
	Dropped int `json:"dropped" jsonschema:"keys nobody was listening for"`
}

func (s *server) pressKeys(ctx context.Context, _ *sdk.CallToolRequest, in KeysIn) (*sdk.CallToolResult, KeysOut, error) {
	if in.Keys == "" {
		return nil, KeysOut{}, badArg("keys", "keys is required: the keys to press, such as 4242#")
	}
	// The keypad source: the call runtime refuses it on a real leg (64020).
	p, err := s.svc.Press(ctx, tonepay.Keys{AccountSid: s.account.Sid, CallSid: in.CallSid, Source: tonepay.KeySourceKeypad, Digits: in.Keys})
	if err != nil {
		return nil, KeysOut{}, fail(err)
	}
	// The count only: a key pressed into a payment is the caller's secret.
	return text("%d key(s) pressed: %d taken, %d dropped", p.Applied+p.Dropped, p.Applied, p.Dropped), KeysOut{Applied: p.Applied, Dropped: p.Dropped}, nil
}

// WordsIn are say_words' arguments.
type WordsIn struct {
	CallSid string `json:"call_sid"`
	Text    string `json:"text" jsonschema:"what the caller says"`
}

// WordsOut is say_words' result.
type WordsOut struct {
	Heard bool `json:"heard" jsonschema:"whether the call's app was listening for speech"`
}

func (s *server) sayWords(ctx context.Context, _ *sdk.CallToolRequest, in WordsIn) (*sdk.CallToolResult, WordsOut, error) {
	heard, err := s.svc.Speak(ctx, tonepay.Speech{AccountSid: s.account.Sid, CallSid: in.CallSid, Text: in.Text})
	if err != nil {
		return nil, WordsOut{}, fail(err)
	}
	if heard {
		return text("the call's app heard the words"), WordsOut{Heard: true}, nil
	}
	return text("nobody was listening for speech; the words were dropped"), WordsOut{}, nil
}
