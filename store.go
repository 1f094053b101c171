package tonepay

import (
	"context"
	"time"
)

// Reader finds things. Both Store (outside a transaction) and Tx (inside one)
// implement it. Find methods return ErrNotFound for a missing row.
type Reader interface {
	FindAccount(ctx context.Context, sid string) (*Account, error)
	// FindAccounts lists a main account and its subaccounts, oldest first.
	FindAccounts(ctx context.Context, f AccountFilter) ([]*Account, error)
	FindAPIKey(ctx context.Context, sid string) (*APIKey, error)
	// FindAPIKeys lists an account's keys, oldest first.
	FindAPIKeys(ctx context.Context, f APIKeyFilter) ([]*APIKey, error)
	FindCall(ctx context.Context, sid string) (*Call, error)
	// FindCalls lists an account's calls, newest first.
	FindCalls(ctx context.Context, f CallFilter) ([]*Call, error)
	FindSession(ctx context.Context, sid string) (*Session, error)
	// FindOpenSession returns the call's session that has not ended.
	FindOpenSession(ctx context.Context, callSid string) (*Session, error)
	// FindSessions lists a call's sessions, ended ones included, newest
	// first (ties: the larger SID first); none for an unknown call.
	FindSessions(ctx context.Context, f SessionFilter) ([]*Session, error)
	// FindCallbacks lists a session's callbacks in delivery order.
	FindCallbacks(ctx context.Context, sessionSid string) ([]*Callback, error)
	// FindAttempts lists a callback's delivery attempts in order.
	FindAttempts(ctx context.Context, callbackID int64) ([]*Attempt, error)
	// FindAnswer returns the answer stored under key no earlier than since.
	FindAnswer(ctx context.Context, key string, since time.Time) (*Answer, error)
	// FindDueSessions returns the SIDs of sessions whose Deadline is set and
	// not after now, earliest first.
	FindDueSessions(ctx context.Context, now time.Time, limit int) ([]string, error)
	FindNumber(ctx context.Context, sid string) (*PhoneNumber, error)
	// FindNumbers lists an account's IncomingPhoneNumbers, oldest first.
	FindNumbers(ctx context.Context, f NumberFilter) ([]*PhoneNumber, error)
	// FindCallRun returns the call runtime's saved state of a call.
	FindCallRun(ctx context.Context, callSid string) (*CallRun, error)
	// FindDueCallRuns returns the call SIDs of runs whose Deadline is set and
	// not after now, earliest first; limit 0 means no limit.
	FindDueCallRuns(ctx context.Context, now time.Time, limit int) ([]string, error)
	// FindOrphanLegs returns calls in progress whose parent (ParentCallSid)
	// has ended: <Dial> legs that should have ended with it, oldest first
	// (ties by SID); limit 0 means no limit. It costs what is in progress,
	// not every call ever made.
	FindOrphanLegs(ctx context.Context, limit int) ([]*Call, error)
	// FindLapsedLegs returns the calls of real legs (Leg not simulated)
	// that have no parent, have not ended (queued, ringing, in-progress)
	// and whose LegLease is set and before before: calls whose leg's
	// process stopped renewing them. Earliest lease first (ties by SID);
	// limit 0 means no limit. It costs the live real calls, not every call
	// ever made.
	FindLapsedLegs(ctx context.Context, before time.Time, limit int) ([]*Call, error)
	// FindTimeline lists a call's timeline entries with Seq after afterSeq,
	// in order; limit 0 means no limit.
	FindTimeline(ctx context.Context, callSid string, afterSeq int64, limit int) ([]*TimelineEntry, error)
	// CountAccounts counts all accounts (to tell an empty store).
	CountAccounts(ctx context.Context) (int, error)
}

// Tx is a read-write transaction. Everything written through one Tx commits
// together or not at all: a state change and its callbacks are one unit.
type Tx interface {
	Reader
	CreateAccount(ctx context.Context, a *Account) error
	// UpdateAccount saves FriendlyName, Status and AuthToken.
	UpdateAccount(ctx context.Context, a *Account) error
	CreateAPIKey(ctx context.Context, k *APIKey) error
	// UpdateAPIKey saves FriendlyName.
	UpdateAPIKey(ctx context.Context, k *APIKey) error
	DeleteAPIKey(ctx context.Context, sid string) error
	CreateCall(ctx context.Context, c *Call) error
	// UpdateCall saves Status, EndTime, DateUpdated and what an update may
	// change: URL, Method, Twiml, StatusCallback, StatusCallbackMethod. Not
	// LegLease: its process renews it (Store.RenewLeases).
	UpdateCall(ctx context.Context, c *Call) error
	// CreateNumber returns ErrConflict when any account owns the number.
	CreateNumber(ctx context.Context, n *PhoneNumber) error
	// UpdateNumber saves FriendlyName and the voice URLs and methods.
	UpdateNumber(ctx context.Context, n *PhoneNumber) error
	DeleteNumber(ctx context.Context, sid string) error
	// CreateSession returns ErrConflict when the call has an open session.
	CreateSession(ctx context.Context, s *Session) error
	// UpdateSession saves Status, State, Sealed and Deadline.
	UpdateSession(ctx context.Context, s *Session) error
	// AddCallbacks queues callbacks, setting their ID, in the given order.
	// The store decides which of them the committing process may deliver at
	// once: a callback with ClaimedUntil set is queued claimed until then,
	// unless a callback of its session queued before this call is still
	// pending: then ClaimedUntil is cleared, for it and for the rest of its
	// session's. After commit, those still claimed are the Courier's to send.
	AddCallbacks(ctx context.Context, cbs ...*Callback) error
	// AddAnswer stores an idempotent answer; a key stored before is replaced.
	AddAnswer(ctx context.Context, a *Answer) error
	// SaveCallRun saves r (State, Deadline, DateUpdated) if the stored run's
	// Seq is still r.Seq (0: none is stored yet), and sets r.Seq to the
	// next. A stale Seq is ErrConflict and writes nothing; a Seq above 0 for
	// a call with no run is ErrNotFound. AccountSid is kept from the first save.
	SaveCallRun(ctx context.Context, r *CallRun) error
	// AddTimeline appends entries (each a voice.Entry as JSON) to the call's
	// timeline in the given order, numbering them after its last one.
	AddTimeline(ctx context.Context, callSid string, at time.Time, entries ...[]byte) error
}

// Store is where tonepay keeps its state. Every acknowledged write is durable:
// a crash right after Update returns loses nothing.
type Store interface {
	Reader
	// Update runs fn in a transaction and commits it if fn returns nil.
	Update(ctx context.Context, fn func(Tx) error) error

	// ClaimCallbacks returns up to limit pending callbacks due at now, at most
	// one per session (the oldest undelivered, so delivery keeps order), and
	// claims them until now+claim so that no other dispatcher takes them.
	ClaimCallbacks(ctx context.Context, now time.Time, claim time.Duration, limit int) ([]*Callback, error)
	// RecordAttempt saves an attempt and the callback's new Status, Attempts
	// and NextAttemptAt, ending its claim. When cb stays pending (the attempt
	// failed), the later callbacks of its session are released too: a chain
	// handed over together stops at the first failure and the claims take
	// over, in order.
	RecordAttempt(ctx context.Context, cb *Callback, a *Attempt) error
	// DeferCallback ends the claim on a pending callback that was not
	// attempted (its host was busy) and makes it due at until, recording no
	// attempt and keeping Status and Attempts. The later callbacks of its
	// session are released too, as RecordAttempt releases them: a chain
	// handed over together stops there and the claims take over, in order.
	// A callback no longer pending is left as it is, with no error.
	DeferCallback(ctx context.Context, id int64, until time.Time) error
	// NextCallbackAt returns when the earliest claimable callback (the oldest
	// pending one of its session) is due or its claim ends, or the zero time
	// when none is pending.
	NextCallbackAt(ctx context.Context) (time.Time, error)
	// PruneAnswers deletes answers stored before t.
	PruneAnswers(ctx context.Context, before time.Time) error
	// PruneCalls deletes the call runs and timelines of up to limit calls
	// (0: no limit) that ended before endedBefore (EndTime set and earlier,
	// Status no longer queued, ringing or in-progress), oldest end first,
	// and returns how many calls it pruned. An ended call's run is never
	// read again, and its timeline only by people for a while; the call
	// row and its callbacks stay (the Calls API still lists the call; its
	// timeline is then empty), and its sessions are PruneSessions' to delete. A pruned call is not counted again,
	// so a caller repeats until a batch prunes fewer than limit; a batch is
	// one short transaction, so pruning never holds the writer long.
	PruneCalls(ctx context.Context, endedBefore time.Time, limit int) (int, error)
	// PruneSessions deletes up to limit payment sessions (0: no limit) that
	// ended before endedBefore (Status ended, DateUpdated earlier: an ended
	// session changes no more), oldest first, with their callbacks and those
	// callbacks' attempts, and returns how many sessions it deleted. A
	// session with a callback still pending (waiting, or being delivered)
	// is kept until that callback is delivered or given up, so that a retry
	// never finds its session gone. Callbacks chained on a call (CA…) are
	// not a session's and stay. A batch is one short transaction; a caller
	// repeats until a batch deletes fewer than limit.
	PruneSessions(ctx context.Context, endedBefore time.Time, limit int) (int, error)
	// RenewLeases sets the LegLease of each of the calls sids that has not
	// ended (queued, ringing, in-progress) to until, in one statement, and
	// returns the SIDs it renewed, in no particular order: a SID missing
	// from them is an ended or unknown call, which its process may forget.
	// Nothing else of the calls changes.
	RenewLeases(ctx context.Context, sids []string, until time.Time) ([]string, error)

	Close() error
}

// AccountFilter selects accounts: OwnerSid's own and its subaccounts, or,
// with Main, every main account.
type AccountFilter struct {
	OwnerSid     string
	Main         bool   // every main account (OwnerSid is not used)
	FriendlyName string // exact match when set
	Status       string // exact match when set
	Offset       int
	Limit        int // 0 means no limit
}

// SessionFilter selects a call's payment sessions.
type SessionFilter struct {
	CallSid string
	Offset  int
	Limit   int // 0 means no limit
}

// APIKeyFilter selects an account's API keys.
type APIKeyFilter struct {
	AccountSid string
	Offset     int
	Limit      int
}

// CallFilter selects an account's calls.
type CallFilter struct {
	AccountSid string
	To         string // exact match when set
	From       string
	Status     string
	Parent     string // ParentCallSid, exact match when set
	Offset     int
	Limit      int
}

// PruneBatches runs prune (a Store's PruneCalls or PruneSessions) batch by
// batch until one deletes fewer than batch, and returns how many in all: a
// backlog (a server that was down, a first start) goes in one round, while
// rows ending meanwhile (after cut) cannot keep it going.
func PruneBatches(ctx context.Context, prune func(context.Context, time.Time, int) (int, error), cut time.Time, batch int) (int, error) {
	total := 0
	for {
		n, err := prune(ctx, cut, batch)
		total += n
		if err != nil || n < batch {
			return total, err
		}
	}
}
