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
// at least once, in order per Chain.
type Callback struct {
	ID         int64  // assigned by the store; orders callbacks
	Token      string // I-Twilio-Idempotency-Token: the same on every attempt
	AccountSid string // whose auth token signs it
	// Chain is the SID whose callbacks go out one after another, in order:
	// a payment session's (PK…), or a call's (CA…) for its call-progress and
	// <Pay> callbacks. (The stores' column keeps its old name, session_sid.)
	Chain         string
	URL           string     // the StatusCallback of the request that caused it
	Method        string     // GET or POST ("" is POST): call-progress callbacks may be GET (StatusCallbackMethod)
	Form          url.Values // masked values only
	Status        CallbackStatus
	Attempts      int
	NextAttemptAt time.Time
	DateCreated   time.Time
	DateUpdated   time.Time
	// ClaimedUntil is when a dispatcher's claim on the callback ends; no
	// other dispatcher takes it before. (A claim, not a lease: "lease" is
	// the connector attempt's, capture.Engine.Lease.) Set before
	// Tx.AddCallbacks, it asks the store to queue the callback claimed for
	// the committing process, to hand over to its Courier without a claim
	// transaction. The store decides: it clears it when an earlier callback
	// of the session is still pending (that one goes first; this one waits
	// for the claim that follows it). After commit, a callback with
	// ClaimedUntil set is this process's to deliver at once.
	ClaimedUntil time.Time
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

// Courier delivers the outbox. It is the one party told, after commit, of
// the callbacks a transaction queued: the writer reports what committed and
// decides nothing about delivery.
type Courier interface {
	// HandOver is how long a callback handed over at commit stays claimed:
	// the writer asks for ClaimedUntil = now + HandOver before AddCallbacks.
	// Zero hands nothing over: every callback waits for a claim.
	HandOver() time.Duration
	// Committed takes the callbacks one commit queued, in ID order, as the
	// store left them: those it kept claimed go out at once, the rest at the
	// courier's next claim. It does not block.
	Committed(cbs []*Callback)
}

// Answer is the stored result of an idempotent request (Payments create and
// Status updates): a repeat of the same request within 24 hours gets it again
// and does nothing. It holds the domain result, not a response body: the
// wire layer encodes it on the first answer and on every replay alike.
type Answer struct {
	Key         string // hash of account, method, path, IdempotencyKey and body
	Format      int    // Body's format: AnswerPayment
	Body        []byte
	DateCreated time.Time
}

// AnswerPayment is the Answer format whose Body is a JSON Payment. Answers
// in another format (a response body, stored before) are not replayed.
const AnswerPayment = 1

// AnswerTTL is how long an idempotent answer is replayed.
const AnswerTTL = 24 * time.Hour

// SessionChanged says that a session was written (announced at commit to
// every process sharing the store; see SessionAnnouncer). It carries no
// values: listeners read what they need, with their own authorization. It
// feeds live views (the console's stream and a SessionWatcher's, through
// events.Hub), a fan-out of their own: delivery of callbacks never depends
// on it.
type SessionChanged struct {
	AccountSid string
	SessionSid string
}

// SessionAnnouncer is implemented by the transactions of a store shared by
// several processes: Announce tells every process's SessionListener, once
// the transaction commits (and nothing if it rolls back), that these
// sessions changed. A store announces the sessions whose callbacks it
// queues by itself; the call runtime announces the rest (a session with no
// StatusCallback queues none), so that live views in every process (the
// console, MCP resources, a SIP leg's capture state) hear of every change.
type SessionAnnouncer interface {
	Announce(ctx context.Context, changes []SessionChanged) error
}

// SessionListener is implemented by stores shared by several processes:
// Listen calls fn for every SessionChanged committed by any process, until
// ctx is done.
type SessionListener interface {
	Listen(ctx context.Context, fn func(SessionChanged)) error
}

// ISODate formats t as callbacks and the extension API carry dates: ISO
// 8601, UTC, milliseconds ("2026-11-23T01:02:03.456Z"); "" for the zero time.
func ISODate(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}
