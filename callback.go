package tonepay

import (
	"context"
	"net/url"
	"time"
)

// CallbackStatus is where a status callback is in its delivery.
type CallbackStatus string

// Callback statuses. Append only.
const (
	CallbackPending   CallbackStatus = "pending"   // waiting for its first or next attempt
	CallbackDelivered CallbackStatus = "delivered" // the receiver answered 2xx
	CallbackFailed    CallbackStatus = "failed"    // gave up after the retry window
)

// Callback is a status callback in the outbox. It is written in the same
// transaction as the state change that caused it, and delivered after commit:
// at least once, in order per session.
type Callback struct {
	ID            int64  // assigned by the store; orders callbacks
	Token         string // I-Twilio-Idempotency-Token: the same on every attempt
	AccountSid    string // whose auth token signs it
	SessionSid    string
	URL           string     // the StatusCallback of the request that caused it
	Form          url.Values // masked values only
	Status        CallbackStatus
	Attempts      int
	NextAttemptAt time.Time
	DateCreated   time.Time
	DateUpdated   time.Time
	// LeasedUntil, set before Tx.AddCallbacks, asks the store to queue the
	// callback already claimed until then, so that it can go to a Courier
	// straight after commit without a claim. The store clears it when an
	// earlier callback of the session is still pending: that one goes first,
	// and this one waits for the claim that follows it.
	LeasedUntil time.Time
}

// Attempt is one try at delivering a callback.
type Attempt struct {
	CallbackID int64
	N          int // 1 for the first attempt
	At         time.Time
	Duration   time.Duration
	StatusCode int    // 0 when no HTTP answer came
	Error      string // why the attempt failed; empty on success
}

// Notifier is told when callbacks have been committed, so delivery starts at
// once rather than at the next poll.
type Notifier interface {
	Notify()
}

// Courier is a Notifier that also takes callbacks straight from the commit
// that queued them, sparing each one a claim: the hot path of a key press.
type Courier interface {
	Notifier
	// HandoffLease is how long a callback handed over stays claimed: the
	// writer sets LeasedUntil to now plus HandoffLease before AddCallbacks.
	HandoffLease() time.Duration
	// Deliver takes the committed callbacks whose LeasedUntil the store kept,
	// in ID order. It does not block.
	Deliver(cbs []*Callback)
}

// Answer is the stored result of an idempotent request (Payments create and
// Status updates): a repeat of the same request within 24 hours gets it again
// and does nothing. It holds the domain result, not a response body: the
// wire layer encodes it on the first answer and on every replay alike.
type Answer struct {
	Key         string // hash of account, method, path, IdempotencyKey and body
	Status      int    // Body's format: AnswerPayment
	Body        []byte
	DateCreated time.Time
}

// AnswerPayment is the Answer format whose Body is a JSON Payment. Answers
// in another format (a response body, stored before) are not replayed.
const AnswerPayment = 1

// AnswerTTL is how long an idempotent answer is replayed.
const AnswerTTL = 24 * time.Hour

// Event says that a session changed and queued callbacks. It carries no
// values: listeners read what they need, with their own authorization.
type Event struct {
	AccountSid string
	SessionSid string
}

// Listener is implemented by stores shared by several processes: Listen
// calls fn for every event committed by any process, until ctx is done.
type Listener interface {
	Listen(ctx context.Context, fn func(Event)) error
}
