package calls

import (
	"context"
	"sync"
	"time"

	"github.com/tonepay/tonepay"
)

// A call leg needs the call's capture state for every packet of audio (a
// SIP leg keeps the caller's DTMF from the agent while a payment session is
// open): far too often to ask the store. So it watches the call: told the
// state once, then after each commit that changes it, in this process or
// (PostgreSQL) in another (SessionChanged).

// watcher is one leg's watch of a call's capture state.
type watcher struct {
	call string
	fn   func(tonepay.CaptureState)
	mu   sync.Mutex // serializes reads and fn's calls
	told bool       // fn has been told a state
	last tonepay.CaptureState
	gone bool
}

// refresh reads the call's state and tells fn if it changed. Commits
// report their states after commit, each on its own goroutine, so two
// reports may arrive out of order; a read under the watcher's lock is
// never older than the one before it, so the last state told is the
// store's. hint, from the commit, stands in when the read fails.
func (svc *Service) refresh(w *watcher, hint *tonepay.CaptureState) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.gone {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := svc.Pay.Open(ctx, svc.Tx.Store, w.call)
	st := tonepay.CaptureOf(s)
	if err != nil {
		if hint == nil {
			return err
		}
		svc.Logger.Warn("reading a call's capture state; told the commit's", "call", w.call, "err", err)
		st = *hint
	}
	if w.told && st == w.last {
		return nil
	}
	w.told, w.last = true, st
	w.fn(st)
	return nil
}

// WatchCapture tells fn the capture state of the call (which field, if any,
// is being captured; whether a payment session is open) at once, and then
// after each commit of this process that changes it, until stop is called.
// Calls of fn never overlap, and the last state told is the stored one. fn
// runs on the committing goroutine (a key's worker, a request's, the
// sweeper's) after a read of the state: it must be quick and must not block
// (keep the state in an atomic, say). A session changed by another process
// (with PostgreSQL) is told when that change is heard (SessionChanged).
// Errors: the store's, reading the state.
func (svc *Service) WatchCapture(callSid string, fn func(tonepay.CaptureState)) (stop func(), err error) {
	w := &watcher{call: callSid, fn: fn}
	svc.mu.Lock()
	svc.watchers[callSid] = append(svc.watchers[callSid], w)
	svc.mu.Unlock()
	stop = func() {
		w.mu.Lock()
		w.gone = true
		w.mu.Unlock()
		svc.mu.Lock()
		defer svc.mu.Unlock()
		ws := svc.watchers[callSid]
		for i, x := range ws {
			if x == w {
				ws = append(ws[:i:i], ws[i+1:]...)
				break
			}
		}
		if len(ws) == 0 {
			delete(svc.watchers, callSid)
		} else {
			svc.watchers[callSid] = ws
		}
	}
	// Registered first, read second: a commit in between is told too.
	if err := svc.refresh(w, nil); err != nil {
		stop()
		return nil, err
	}
	return stop, nil
}

// SessionChanged tells the watchers of the call whose session e names that
// it may have changed: another process's commit (PostgreSQL), heard through
// the store's SessionListener. The session's call is read once per session
// and only while this process has watchers (its SIP legs).
func (svc *Service) SessionChanged(e tonepay.SessionChanged) {
	if !tonepay.IsSID(e.SessionSid, tonepay.PrefixPayment) {
		return // a call's progress
	}
	svc.mu.Lock()
	if len(svc.watchers) == 0 {
		svc.mu.Unlock()
		return
	}
	call, known := svc.sessionCalls[e.SessionSid]
	svc.mu.Unlock()
	if !known {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		s, err := tonepay.NewTenant(svc.Tx.Store, e.AccountSid).FindSession(ctx, "", e.SessionSid)
		cancel()
		if err != nil {
			return // pruned, or a failed read: its next change reads again
		}
		call = s.CallSid
		svc.mu.Lock()
		if len(svc.sessionCalls) >= maxSessionCalls {
			clear(svc.sessionCalls) // sessions are short-lived: start again
		}
		svc.sessionCalls[e.SessionSid] = call
		svc.mu.Unlock()
	}
	svc.mu.Lock()
	ws := append([]*watcher(nil), svc.watchers[call]...)
	svc.mu.Unlock()
	for _, w := range ws {
		if err := svc.refresh(w, nil); err != nil {
			svc.Logger.Warn("reading a call's capture state after another process's change", "call", call, "err", err)
		}
	}
}

// maxSessionCalls bounds SessionChanged's memory of sessions' calls.
const maxSessionCalls = 10000

// notifyCapture tells the watchers of each call whose capture state a
// commit may have changed.
func (svc *Service) notifyCapture(states map[string]tonepay.CaptureState) {
	svc.mu.Lock()
	if len(svc.watchers) == 0 {
		svc.mu.Unlock()
		return
	}
	var ws []*watcher
	for call := range states {
		ws = append(ws, svc.watchers[call]...)
	}
	svc.mu.Unlock()
	for _, w := range ws {
		hint := states[w.call]
		svc.refresh(w, &hint) // with the hint, never an error
	}
}
