package tonepay

import (
	"context"
	"maps"
	"time"
)

// SessionView is a payment session as it may be shown outside the server:
// the extension API's view of a session, the console's live stream, an AI
// agent's resource (DESIGN §5, §12). It holds only what Twilio's status
// callbacks may carry: the parameters, where the capture is, the masked
// values (the capture engine masks them as it captures: the expiry as
// Twilio shows it, never a card number, security code, routing or account
// number in clear) and the outcome. Nothing sealed, no transaction id, no
// callback URL: a door that shows a session shows a SessionView, never a
// Session.
type SessionView struct {
	Sid        string
	AccountSid string
	CallSid    string
	Status     SessionStatus
	// SelfService marks a <Pay> session (Params.Verb): the IVR asks the
	// caller for each field itself, so an agent's Capture or
	// Status=complete gets 64021.
	SelfService      bool
	PaymentMethod    string
	PaymentConnector string
	ChargeAmount     string // "" when the session tokenizes only
	Currency         string
	TokenType        string // the token asked for; "" when the session charges
	Capture          Field  // being captured now; "" when none is
	Confirmation     bool
	Typed            int              // digits typed so far in Capture
	Required         []Field          // still missing, in canonical order; never nil
	Captured         map[Field]string // field -> masked value; never nil
	CardType         string
	ErrorType        string // of the last field entry that failed
	ErrorField       Field  // the field it failed on
	DroppedDigits    int    // digits pressed while nothing was being captured
	Result           string
	ConfirmationCode string
	PaymentToken     string
	ProfileID        string
	PaymentError     string
	PayErrorCode     int
	ConnectorError   string
	DateCreated      time.Time
	DateUpdated      time.Time
}

// ViewSession returns what may be shown of s.
func ViewSession(s *Session) *SessionView {
	v := &SessionView{
		Sid: s.Sid, AccountSid: s.AccountSid, CallSid: s.CallSid, Status: s.Status, SelfService: s.Params.Verb,
		PaymentMethod: s.Params.PaymentMethod, PaymentConnector: s.Params.PaymentConnector,
		ChargeAmount: s.Params.ChargeAmount, Currency: s.Params.Currency,
		Capture: s.State.Capture, Confirmation: s.Params.Confirmation, Typed: s.State.Typed,
		Required: s.Required(), Captured: maps.Clone(s.State.Captured),
		CardType: s.State.CardType, ErrorType: s.State.ErrorType, ErrorField: s.State.ErrorField,
		DroppedDigits: s.State.Dropped, Result: s.State.Result,
		ConfirmationCode: s.State.ConfirmationCode, PaymentToken: s.State.Token, ProfileID: s.State.ProfileID,
		PaymentError: s.State.PaymentError, PayErrorCode: s.State.PayErrorCode, ConnectorError: s.State.ConnectorError,
		DateCreated: s.DateCreated, DateUpdated: s.DateUpdated,
	}
	if !s.Params.Charging() {
		v.TokenType = s.Params.TokenType
	}
	if v.Required == nil {
		v.Required = []Field{}
	}
	if v.Captured == nil {
		v.Captured = map[Field]string{}
	}
	return v
}

// CurrentSession, in place of a session's SID, names the call's open
// session where a session is shown (SessionService.FindSession): a <Pay>
// with no statusCallback queues no callbacks, so no callback tells a
// console its SID. It names nothing to the Payments API.
const CurrentSession = "Current"

// SessionWatcher streams an account's sessions as they change, masked.
type SessionWatcher interface {
	// WatchSessions returns the view of each of the account's sessions
	// that changes, read after the change, until ctx is done; then the
	// channel is closed. It subscribes before it returns, so that nothing
	// committed after it returns goes unseen while the reader keeps up; a
	// reader that does not keep up misses changes rather than slowing
	// anyone down, and sees the session's state at its next change.
	// Errors: ErrNotFound when this process has no live changes to give.
	WatchSessions(ctx context.Context, accountSid string) (<-chan *SessionView, error)
}
