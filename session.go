package tonepay

import (
	"context"
	"time"
)

// PaymentMethod values. Append only.
const (
	CreditCard = "credit-card"
	ACHDebit   = "ach-debit"
)

// TokenType values. Append only.
const (
	TokenOneTime       = "one-time"
	TokenReusable      = "reusable"
	TokenPaymentMethod = "payment-method"
)

// BankAccountType values. Append only.
const (
	ConsumerChecking   = "consumer-checking"
	ConsumerSavings    = "consumer-savings"
	CommercialChecking = "commercial-checking"
)

// Field is a piece of payment data the caller types in, named as the Capture
// parameter and the Required list name it.
type Field string

// Fields, in the canonical order that Required uses. Append only.
const (
	FieldCardNumber     Field = "payment-card-number"
	FieldExpiration     Field = "expiration-date"
	FieldSecurityCode   Field = "security-code"
	FieldPostalCode     Field = "postal-code"
	FieldRoutingNumber  Field = "bank-routing-number"
	FieldAccountNumber  Field = "bank-account-number"
	matcherSuffix             = "-matcher"
	MatchableCardFields       = "payment-card-number,expiration-date,security-code,postal-code"
)

// Matcher returns the field that asks for f a second time (RequireMatchingInputs).
func (f Field) Matcher() Field { return f + matcherSuffix }

// Base returns the field a matcher repeats, or f itself.
func (f Field) Base() Field {
	if n := len(f) - len(matcherSuffix); n > 0 && f[n:] == matcherSuffix {
		return f[:n]
	}
	return f
}

// IsMatcher reports whether f is a "-matcher" capture.
func (f Field) IsMatcher() bool { return f.Base() != f }

// SessionStatus is where a payment session is in its life.
type SessionStatus string

// Session statuses. Append only.
const (
	SessionOpen       SessionStatus = "open"       // capturing; accepts Capture, complete, cancel
	SessionEnded      SessionStatus = "ended"      // has a Result; accepts nothing more
	SessionConfirming SessionStatus = "confirming" // Confirmation=true: waits for the caller's 1 or 2
	SessionProcessing SessionStatus = "processing" // the connector is charging or tokenizing
)

// Result values of an ended session (Twilio's Result callback field). Append only.
const (
	ResultSuccess         = "success"
	ResultConnectorError  = "payment-connector-error"
	ResultStar            = "caller-interrupted-with-star"
	ResultHungUp          = "caller-hung-up"
	ResultValidationError = "validation-error"
	ResultInternalError   = "internal-error"
	ResultCancelled       = "payment-cancelled" // tonepay's: Twilio documents no Result for a cancel (docs/twilio-compat.md)
	ResultTooManyAttempts = "too-many-failed-attempts"
)

// Params are the parameters of Payments create, parsed and validated. They do
// not change during a session.
type Params struct {
	PaymentMethod         string            `json:"payment_method"`
	BankAccountType       string            `json:"bank_account_type,omitempty"` // ACH only
	ChargeAmount          string            `json:"charge_amount,omitempty"`     // normalized decimal; "" tokenizes
	Currency              string            `json:"currency"`                    // upper-case ISO 4217
	Description           string            `json:"description,omitempty"`
	Input                 string            `json:"input"`
	MinPostalCodeLength   int               `json:"min_postal_code_length,omitempty"`
	Parameter             map[string]string `json:"parameter,omitempty"`
	PaymentConnector      string            `json:"payment_connector"`
	PostalCode            bool              `json:"postal_code"`
	SecurityCode          bool              `json:"security_code"`
	Timeout               int               `json:"timeout"` // seconds between digits
	TokenType             string            `json:"token_type"`
	ValidCardTypes        []string          `json:"valid_card_types"`
	RequireMatchingInputs []Field           `json:"require_matching_inputs,omitempty"`
	Confirmation          bool              `json:"confirmation,omitempty"`

	// Verb: a TwiML <Pay> runs the session (DESIGN §10), not an agent. The
	// engine asks for each field in order (PayAsk), retries a field up to
	// MaxAttempts (1-3), processes by itself after the last one, reports
	// progress in <Pay>'s statusCallback format, and ends with the fields
	// of <Pay>'s action request instead of a last callback.
	Verb        bool `json:"verb,omitempty"`
	MaxAttempts int  `json:"max_attempts,omitempty"`
	// PostalCodeValue is <Pay postalCode="94105">: given by the app, so
	// not collected (PostalCode is false), and sent to the connector.
	PostalCodeValue string `json:"postal_code_value,omitempty"`
	// StatusCallbackMethod is <Pay statusCallbackMethod>: GET or POST.
	StatusCallbackMethod string `json:"status_callback_method,omitempty"`
}

// PayAsk is what a <Pay> session asks the caller for now: the field, which
// attempt at it (1..MaxAttempts), and why the last attempt failed (an
// ErrorType, "" on the first). The call runtime plays the matching prompt.
type PayAsk struct {
	Field     Field
	Attempt   int
	ErrorType string
	CardType  string // the brand of the card number, once known (for <Prompt cardType>)
}

// Charging reports whether completing the session charges (else it tokenizes).
func (p *Params) Charging() bool { return p.ChargeAmount != "" }

// Fields lists the fields the session collects, in canonical order, each
// followed by its matcher when RequireMatchingInputs names it.
func (p *Params) Fields() []Field {
	var base []Field
	if p.PaymentMethod == ACHDebit {
		base = []Field{FieldRoutingNumber, FieldAccountNumber}
	} else {
		base = []Field{FieldCardNumber, FieldExpiration}
		if p.SecurityCode {
			base = append(base, FieldSecurityCode)
		}
		if p.PostalCode {
			base = append(base, FieldPostalCode)
		}
	}
	out := make([]Field, 0, len(base)*2)
	for _, f := range base {
		out = append(out, f)
		for _, m := range p.RequireMatchingInputs {
			if m == f {
				out = append(out, f.Matcher())
			}
		}
	}
	return out
}

// Collects reports whether f is one of the session's fields.
func (p *Params) Collects(f Field) bool {
	for _, g := range p.Fields() {
		if g == f {
			return true
		}
	}
	return false
}

// State is the progress of a session: what is being captured, what has been,
// and how it ended. It holds masked values only; captured digits live
// encrypted elsewhere and never in State.
type State struct {
	Capture        Field            `json:"capture,omitempty"`  // being captured now
	Typed          int              `json:"typed,omitempty"`    // digits typed so far in Capture
	Captured       map[Field]string `json:"captured,omitempty"` // field -> masked value
	CardType       string           `json:"card_type,omitempty"`
	Dropped        int              `json:"dropped,omitempty"` // digits pressed while nothing was being captured
	StatusCallback string           `json:"status_callback"`   // of the latest request; later callbacks go here

	// Processing: one transaction id for every attempt, so that a retry
	// after a crash cannot charge twice.
	TransactionID   string    `json:"transaction_id,omitempty"`
	ProcessingSince time.Time `json:"processing_since,omitzero"`

	// The outcome.
	Result           string `json:"result,omitempty"`
	ConfirmationCode string `json:"confirmation_code,omitempty"`
	Token            string `json:"token,omitempty"`
	ProfileID        string `json:"profile_id,omitempty"`
	PaymentError     string `json:"payment_error,omitempty"`
	PayErrorCode     int    `json:"pay_error_code,omitempty"`
	ConnectorError   string `json:"connector_error,omitempty"`
	ErrorType        string `json:"error_type,omitempty"`  // of the last field entry that failed
	ErrorField       Field  `json:"error_field,omitempty"` // the field it failed on

	// A <Pay> session (Params.Verb): the attempt at the field asked for, and
	// the connector's response parameters (PayConnector_<key> on the action).
	Attempt    int               `json:"attempt,omitempty"`
	Parameters map[string]string `json:"parameters,omitempty"`
}

// Session is a payment session on a call (Twilio's Payments resource, PK sid).
type Session struct {
	Sid        string
	AccountSid string
	CallSid    string
	Status     SessionStatus
	Params     Params
	State      State
	// Sealed holds the captured values (and the entry being typed), encrypted
	// with the data key; nil once the session has ended.
	Sealed []byte
	// Deadline is when the session times out if nothing happens first: the
	// entry's timeout, the confirmation's, or the end of a processing lease.
	// Zero when nothing is waiting.
	Deadline    time.Time
	DateCreated time.Time
	DateUpdated time.Time
}

// Required lists the fields still missing, in canonical order.
func (s *Session) Required() []Field {
	var out []Field
	for _, f := range s.Params.Fields() {
		if _, ok := s.State.Captured[f]; !ok {
			out = append(out, f)
		}
	}
	return out
}

// SessionService runs payment sessions: each request is applied to the stored
// session in one transaction together with the callbacks it causes and, for
// idempotent requests, the answer to replay. It owns the rules of a Payments
// request that need the store or the connectors: the call's liveness, the
// connector's choice, its account limit and capabilities, the charge amount,
// and StatusCallback's resolution against the call's Url. Its reads are an
// account's (Tenant) and show sessions masked (SessionView).
type SessionService interface {
	// CreateSession starts a session on a call. Errors, in this order:
	// ErrNotFound unknown call, 64004 unknown connector, 64003 bad amount,
	// 64005-64013 what the connector cannot do, 64020 bad StatusCallback,
	// 21220 call not in progress, 64021 the call has an open session.
	CreateSession(ctx context.Context, req *CreateRequest) (*Payment, error)
	// UpdateSession asks for a field, or completes or cancels. Errors:
	// ErrNotFound unknown call, 64020 bad StatusCallback, 20404 unknown
	// session, 64021 session ended, 64020 field not collected, 64019
	// complete too early.
	UpdateSession(ctx context.Context, req *UpdateRequest) (*Payment, error)
	// FindSession shows the account's session sid on the call, or with sid
	// CurrentSession the call's open session. Errors: ErrNotFound unknown
	// session, or another call's or account's.
	FindSession(ctx context.Context, accountSid, callSid, sid string) (*SessionView, error)
	// FindSessions shows the call's sessions, ended ones included, newest
	// first: how a call's payments ended once none is open. f.CallSid names
	// the call. Errors: ErrNotFound unknown call, or another account's.
	FindSessions(ctx context.Context, accountSid string, f SessionFilter) ([]*SessionView, error)
	// FindCallbacks lists the callbacks of a session (found as FindSession
	// finds it) in delivery order, each with its attempts. Their forms hold
	// masked values only; their URLs may hold credentials (RedactURL).
	// Errors: as FindSession's.
	FindCallbacks(ctx context.Context, accountSid, callSid, sid string) ([]CallbackHistory, error)
	SessionWatcher
}

// Payment is the answer to a Payments create or update: the session as that
// request left it. It is what an idempotent answer stores, so that a replay
// shows the same resource however the session has moved on since.
type Payment struct {
	Sid         string
	AccountSid  string
	CallSid     string
	DateCreated time.Time
	DateUpdated time.Time
}

// CreateRequest is a well-formed Payments create; the service checks the
// rules that need the store or the connectors.
type CreateRequest struct {
	AccountSid string
	OwnerSid   string // the account's main account, for AccountLimiter
	CallSid    string
	// Params as ParseParams returns them; PaymentConnector "" means
	// DefaultConnector, and ChargeAmount is set from ChargeAmount below.
	Params         Params
	ChargeAmount   string // as given; "" or zero means tokenize
	StatusCallback string // as given: absolute, or relative to the call's Url
	IdempotencyKey string // the request's hash (see Answer.Key); "" when not idempotent
}

// UpdateRequest is a well-formed Payments update: exactly one of Capture and
// Status is set. Only Status updates are idempotent: asking for a field again
// is how an agent retries it, so a Capture always runs.
type UpdateRequest struct {
	AccountSid     string
	CallSid        string
	Sid            string
	Capture        Field
	Status         string // "complete" or "cancel"
	StatusCallback string // as given: absolute, or relative to the call's Url
	IdempotencyKey string
}

// Sealer encrypts captured payment data at rest, bound to a session.
type Sealer interface {
	Seal(sessionSid string, plaintext []byte) []byte
	Open(sessionSid string, sealed []byte) ([]byte, error)
}
