package client

import (
	"context"
	"net/url"
	"strconv"
)

// Payment is the Payments resource as Twilio's create and update answer it:
// the session's identity only; its progress goes to the StatusCallback (and
// shows in PaymentView).
type Payment struct {
	Sid         string `json:"sid"`
	AccountSid  string `json:"account_sid"`
	CallSid     string `json:"call_sid"`
	DateCreated string `json:"date_created"`
	DateUpdated string `json:"date_updated"`
	URI         string `json:"uri"`
}

// PaymentParams are the parameters of Payments create; empty ones are not
// sent, and the server applies Twilio's defaults (credit-card, USD, the
// Default connector, ...).
type PaymentParams struct {
	IdempotencyKey   string // required
	StatusCallback   string // required
	ChargeAmount     string // a decimal string; none (or 0) tokenizes
	Currency         string
	PaymentMethod    string // credit-card, ach-debit
	TokenType        string // one-time, reusable, payment-method
	PaymentConnector string
	Description      string
	// Other holds any other parameter of Twilio's Payments create, by its
	// Twilio name (Timeout, ValidCardTypes, PostalCode, SecurityCode,
	// BankAccountType, Parameter, ...).
	Other url.Values
}

// CreatePayment starts a payment session on a live call (Payments create).
// The same request (account, call, IdempotencyKey, parameters) within 24 h
// gets the same answer. Errors carry Twilio's codes: 20001 (a required
// parameter), 64003 (the amount), 64004 (the connector), 64021 (a session
// is open on the call), 21220 (the call ended), ...
func (c *Client) CreatePayment(ctx context.Context, callSid string, p PaymentParams) (*Payment, error) {
	f := url.Values{}
	set(f, "IdempotencyKey", p.IdempotencyKey)
	set(f, "StatusCallback", p.StatusCallback)
	set(f, "ChargeAmount", p.ChargeAmount)
	set(f, "Currency", p.Currency)
	set(f, "PaymentMethod", p.PaymentMethod)
	set(f, "TokenType", p.TokenType)
	set(f, "PaymentConnector", p.PaymentConnector)
	set(f, "Description", p.Description)
	merge(f, p.Other)
	var out Payment
	return &out, c.do(ctx, c.twilio(calls(callSid)+"/Payments.json"), f, &out)
}

// PaymentUpdate are the parameters of Payments update: one of Capture (ask
// the caller for a field) and Status (complete, cancel).
type PaymentUpdate struct {
	IdempotencyKey string // required
	StatusCallback string // required
	Capture        string // payment-card-number, expiration-date, security-code, postal-code, bank-routing-number, bank-account-number
	Status         string // complete, cancel
}

// UpdatePayment asks for a field or ends the session (Payments update).
// 64018 for neither or both of Capture and Status, 64019 for complete while
// fields are still required, 64021 for a session that has ended.
func (c *Client) UpdatePayment(ctx context.Context, callSid, paymentSid string, u PaymentUpdate) (*Payment, error) {
	f := url.Values{}
	set(f, "IdempotencyKey", u.IdempotencyKey)
	set(f, "StatusCallback", u.StatusCallback)
	set(f, "Capture", u.Capture)
	set(f, "Status", u.Status)
	var out Payment
	return &out, c.do(ctx, c.twilio(calls(callSid)+"/Payments/"+url.PathEscape(paymentSid)+".json"), f, &out)
}

// CurrentPayment, as a payment SID, stands for the call's open session.
const CurrentPayment = "Current"

// PaymentView is tonepay's view of a payment session: where it is, and
// every captured field masked as Twilio masks it in callbacks.
type PaymentView struct {
	Sid              string            `json:"sid"`
	AccountSid       string            `json:"account_sid"`
	CallSid          string            `json:"call_sid"`
	Status           string            `json:"status"`       // open, confirming, processing, ended
	SelfService      bool              `json:"self_service"` // a <Pay>'s session
	PaymentMethod    string            `json:"payment_method"`
	PaymentConnector string            `json:"payment_connector"`
	ChargeAmount     string            `json:"charge_amount"`
	Currency         string            `json:"currency"`
	TokenType        string            `json:"token_type"`
	Capture          string            `json:"capture"` // the field being captured, if any
	Confirmation     bool              `json:"confirmation"`
	Typed            int               `json:"typed"` // keys of the field typed so far
	Required         []string          `json:"required"`
	Captured         map[string]string `json:"captured"` // field -> masked value
	CardType         string            `json:"card_type"`
	ErrorType        string            `json:"error_type"`
	ErrorField       string            `json:"error_field"`
	DroppedDigits    int               `json:"dropped_digits"`
	Result           string            `json:"result"` // success, payment-connector-error, ...
	ConfirmationCode string            `json:"payment_confirmation_code"`
	PaymentToken     string            `json:"payment_token"`
	ProfileID        string            `json:"profile_id"`
	PaymentError     string            `json:"payment_error"`
	PayErrorCode     int               `json:"pay_error_code"`
	ConnectorError   string            `json:"connector_error"`
	DateCreated      string            `json:"date_created"` // ISO 8601, as callbacks write dates
	DateUpdated      string            `json:"date_updated"`
}

// PaymentView reads a payment session of a call (paymentSid may be
// CurrentPayment); 20404 if it is not on that call of the account.
func (c *Client) PaymentView(ctx context.Context, callSid, paymentSid string) (*PaymentView, error) {
	var out PaymentView
	return &out, c.do(ctx, c.ext(calls(callSid)+"/Payments/"+url.PathEscape(paymentSid)), nil, &out)
}

// PaymentViews lists a call's payment sessions, newest first, ended ones
// included (the first 1,000).
func (c *Client) PaymentViews(ctx context.Context, callSid string) ([]PaymentView, error) {
	var out struct {
		Payments []PaymentView `json:"payments"`
	}
	q := url.Values{"PageSize": {strconv.Itoa(MaxTimelinePage)}}
	return out.Payments, c.do(ctx, c.ext(calls(callSid)+"/Payments?"+q.Encode()), nil, &out)
}

// Callback is one status callback of a payment session, with its delivery
// attempts.
type Callback struct {
	ID            int64             `json:"id"`
	Token         string            `json:"idempotency_token"` // I-Twilio-Idempotency-Token
	URL           string            `json:"url"`               // without credentials
	Status        string            `json:"status"`            // pending, delivered, failed
	Params        map[string]string `json:"params"`            // masked values only
	NextAttemptAt string            `json:"next_attempt_at"`
	DateCreated   string            `json:"date_created"`
	Attempts      []Attempt         `json:"attempts"`
}

// Attempt is one delivery attempt of a callback.
type Attempt struct {
	N          int    `json:"n"`
	At         string `json:"at"`
	DurationMS int64  `json:"duration_ms"`
	StatusCode int    `json:"status_code"`
	Error      string `json:"error"`
}

// Callbacks lists a payment session's status callbacks in order.
func (c *Client) Callbacks(ctx context.Context, callSid, paymentSid string) ([]Callback, error) {
	var out struct {
		Callbacks []Callback `json:"callbacks"`
	}
	return out.Callbacks, c.do(ctx, c.ext(calls(callSid)+"/Payments/"+url.PathEscape(paymentSid)+"/Callbacks"), nil, &out)
}
