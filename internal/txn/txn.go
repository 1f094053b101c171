// Package txn is the transaction the domain services share: one store
// transaction, and what the services did in it for after commit (a Work).
//
// The call runtime (calls) and payment sessions (payments) often act in one
// transaction: a key the caller presses reaches a <Pay>'s session, whose
// next question goes back to the call's TwiML; a call that ends hangs up its
// session. Neither service calls the other from inside its own step.
// payments records what a session tells its call (News) in the Work and
// returns; before commit, the Runner hands the news to the call runtime's
// Drain, which applies them to the TwiML and may ask payments for more
// (through calls.Payments, the one bridge) — a loop over the news, never a
// recursion between the services. After commit, the Runner reports the
// callbacks to the Courier, then each service acts on its part (connector
// calls, live views, timers, the TwiML's requests).
package txn

import (
	"context"
	"net/url"
	"sync"
	"time"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/voice"
)

// Work is what one transaction did, to act on after commit. Services append
// to it; nothing in it is acted on before the commit succeeded.
type Work struct {
	// Callbacks go to the outbox with the transaction: sessions' and calls'
	// progress alike.
	Callbacks []*tonepay.Callback
	// Touched are the sessions written, for live views (a <Pay> may queue
	// no callback).
	Touched []tonepay.SessionChanged
	// Ended are the Results of the sessions that ended (metrics).
	Ended []string
	// Charge are the sessions to send to their connector.
	Charge []string
	// Capture is the capture state each call's session left, by call SID:
	// what legs watching the call are told.
	Capture map[string]tonepay.CaptureState
	// News are what sessions told their calls, in order; the call runtime
	// applies them before commit (Runner.Drain).
	News []News
	// Steps are what the call runtime's committed steps left to do: the
	// requests to the calls' apps, the waits to time.
	Steps []Step
	// Dials are the real far ends to call after commit (a SIP call's
	// <Dial><Sip>), Drops those to hang up: the call runtime's Dialer.
	Dials, Drops []tonepay.LegDial
	// Settled: the transaction's opener makes the Steps' requests itself;
	// otherwise the call runtime makes them after commit.
	Settled bool
}

// SetCapture records the capture state s leaves on its call.
func (w *Work) SetCapture(s *tonepay.Session) {
	if w.Capture == nil {
		w.Capture = map[string]tonepay.CaptureState{}
	}
	w.Capture[s.CallSid] = tonepay.CaptureOf(s)
}

// News is what a payment session tells its call's runtime in a transaction:
// that it ended (its outcome goes on the call's timeline) and, for a
// <Pay>'s session, what the verb must say next.
type News struct {
	Session *tonepay.Session // as written
	At      time.Time        // when (the transaction's time)
	Ended   bool             // it ended in this transaction
	// Verb: Asks and Action go back to the call's <Pay> (not when the call's
	// own end ended the session: the TwiML has handled that already).
	Verb bool
	// Asks are the fields asked for, in order (each a prompt to play); a
	// PayAsk for voice.ForProcessing is the wait while the connector works.
	Asks []*tonepay.PayAsk
	// Action, when set, is the end of the <Pay>: its action's fields.
	Action url.Values
}

// Step is what a committed step of a call left for the runtime to do.
type Step struct {
	CallSid    string
	AccountSid string
	Out        voice.Output
	Wait       *voice.Wait   // the run's wait after the step, if any
	Errs       []voice.Entry // the app's errors the step recorded
}

// Runner runs the services' transactions. One Runner is shared by the
// services of a process: payments.New and calls.New register their parts.
type Runner struct {
	Store   tonepay.Store
	Courier tonepay.Courier // told after each commit the callbacks it queued
	Now     func() time.Time

	mu    sync.Mutex
	drain func(ctx context.Context, tx tonepay.Tx, w *Work) error
	after []func(*Work)
}

// NewRunner returns a Runner with the real clock.
func NewRunner(store tonepay.Store, courier tonepay.Courier) *Runner {
	return &Runner{Store: store, Courier: courier, Now: time.Now}
}

// SetDrain sets the function that applies a transaction's News before it
// commits: the call runtime's. With none, News are dropped (there is no
// TwiML to tell).
func (r *Runner) SetDrain(fn func(ctx context.Context, tx tonepay.Tx, w *Work) error) {
	r.mu.Lock()
	r.drain = fn
	r.mu.Unlock()
}

// OnCommit adds fn to what is told each committed Work, after the Courier,
// in the order added. fn runs on the committing goroutine.
func (r *Runner) OnCommit(fn func(*Work)) {
	r.mu.Lock()
	r.after = append(r.after, fn)
	r.mu.Unlock()
}

// Update runs fn in a transaction, drains its News, queues its callbacks
// and commits; then it reports the Work. fn may run more than once (a
// store retries a transaction that conflicted): each run starts from an
// empty Work.
func (r *Runner) Update(ctx context.Context, fn func(tonepay.Tx, *Work) error) (*Work, error) {
	r.mu.Lock()
	drain, after := r.drain, r.after
	r.mu.Unlock()
	var w *Work
	now := r.Now().UTC()
	err := r.Store.Update(ctx, func(tx tonepay.Tx) error {
		w = &Work{}
		if err := fn(tx, w); err != nil {
			return err
		}
		if drain != nil && len(w.News) > 0 {
			if err := drain(ctx, tx, w); err != nil {
				return err
			}
		}
		if err := r.queue(ctx, tx, now, w.Callbacks); err != nil {
			return err
		}
		// Several processes: tell them of the sessions written (those that
		// queued callbacks the store announces itself).
		if a, ok := tx.(tonepay.SessionAnnouncer); ok && len(w.Touched) > 0 {
			return a.Announce(ctx, w.Touched)
		}
		return nil
	})
	if err != nil {
		return &Work{}, err
	}
	if len(w.Callbacks) > 0 {
		r.Courier.Committed(w.Callbacks)
	}
	for _, fn := range after {
		fn(w)
	}
	return w, nil
}

// queue fills in what the engines leave to I/O (tokens, times) and adds the
// callbacks to the outbox.
func (r *Runner) queue(ctx context.Context, tx tonepay.Tx, now time.Time, cbs []*tonepay.Callback) error {
	if len(cbs) == 0 {
		return nil
	}
	// Asked claimed for this process's courier; the store decides which
	// stay so (see tonepay.Tx.AddCallbacks).
	var claimedUntil time.Time
	if d := r.Courier.HandOver(); d > 0 {
		claimedUntil = now.Add(d)
	}
	for _, cb := range cbs {
		// The token is the receiver's dedupe key: unique per callback, the same
		// on every retry of it.
		cb.Token = tonepay.RandomHex(16)
		cb.Status = tonepay.CallbackPending
		cb.NextAttemptAt, cb.DateCreated, cb.DateUpdated = now, now, now
		cb.ClaimedUntil = claimedUntil
	}
	return tx.AddCallbacks(ctx, cbs...)
}
