package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/tonepay/tonepay"
)

// testPruneSessions: PruneSessions deletes the sessions that ended before
// the cut (strictly), oldest end first, limit at a time, with their
// callbacks and attempts; it keeps open sessions, later ones, and a session
// whose callback is still pending until that callback settles, and touches
// no other session's callbacks, nor the calls' own.
func testPruneSessions(t *testing.T, s tonepay.Store) {
	a, b := MustAccount(t, s, "", t0), MustAccount(t, s, "", t0)
	cut := t0.Add(time.Hour)
	// A session's callbacks: one delivered at once, one given up after two
	// attempts. Each kept session must keep them all.
	type made struct {
		sess *tonepay.Session
		cbs  []*tonepay.Callback
	}
	mk := func(acct string, status tonepay.SessionStatus, at time.Time, pending bool) made {
		t.Helper()
		c := MustCall(t, s, acct, t0)
		sess := newSession(c)
		update(t, s, func(tx tonepay.Tx) error { return tx.CreateSession(ctx, sess) })
		delivered, failed := newCallback(sess, t0), newCallback(sess, t0)
		addCallbacks(t, s, delivered, failed)
		deliver(t, s, delivered, t0)
		for n := 1; n <= 2; n++ {
			failed.Attempts, failed.DateUpdated = n, t0
			if n == 2 {
				failed.Status = tonepay.CallbackFailed
			}
			if err := s.RecordAttempt(ctx, failed, &tonepay.Attempt{CallbackID: failed.ID, N: n, At: t0, StatusCode: 503, Error: "HTTP 503"}); err != nil {
				t.Fatal(err)
			}
		}
		m := made{sess, []*tonepay.Callback{delivered, failed}}
		if pending {
			// Still retrying (or in flight): it keeps its session.
			p := newCallback(sess, t0)
			addCallbacks(t, s, p)
			p.Attempts, p.NextAttemptAt, p.DateUpdated = 1, cut.Add(time.Minute), t0
			if err := s.RecordAttempt(ctx, p, &tonepay.Attempt{CallbackID: p.ID, N: 1, At: t0, Error: "connection refused"}); err != nil {
				t.Fatal(err)
			}
			m.cbs = append(m.cbs, p)
		}
		sess.Status, sess.DateUpdated = status, at
		update(t, s, func(tx tonepay.Tx) error { return tx.UpdateSession(ctx, sess) })
		return m
	}
	// Made newest end first, so that the order pruned is not the order made.
	e3 := mk(a.Sid, tonepay.SessionEnded, cut.Add(-time.Minute), false)
	otherAcct := mk(b.Sid, tonepay.SessionEnded, cut.Add(-90*time.Second), false)
	e2 := mk(a.Sid, tonepay.SessionEnded, cut.Add(-2*time.Minute), false)
	e1 := mk(a.Sid, tonepay.SessionEnded, cut.Add(-3*time.Minute), false)
	retrying := mk(a.Sid, tonepay.SessionEnded, cut.Add(-4*time.Minute), true)
	atCut := mk(a.Sid, tonepay.SessionEnded, cut, false)
	later := mk(b.Sid, tonepay.SessionEnded, cut.Add(time.Minute), false)
	open := mk(a.Sid, tonepay.SessionOpen, t0, false)
	processing := mk(a.Sid, tonepay.SessionProcessing, t0, false)
	// A callback of e1's call (call progress), not of its session.
	progress := newCallback(e1.sess, t0)
	progress.Chain = e1.sess.CallSid
	addCallbacks(t, s, progress)
	deliver(t, s, progress, t0)

	prune := func(before time.Time, limit, want int) {
		t.Helper()
		n, err := s.PruneSessions(ctx, before, limit)
		if err != nil {
			t.Fatal(err)
		}
		if n != want {
			t.Errorf("PruneSessions(%v, %d) = %d, want %d", before.Sub(t0), limit, n, want)
		}
	}
	check := func(step string, gone, kept []made) {
		t.Helper()
		for _, m := range gone {
			if _, err := s.FindSession(ctx, m.sess.Sid); !errors.Is(err, tonepay.ErrNotFound) {
				t.Errorf("%s: FindSession(pruned, ended %v): %v, want ErrNotFound", step, m.sess.DateUpdated.Sub(t0), err)
			}
			if cbs, err := s.FindCallbacks(ctx, m.sess.Sid); err != nil || len(cbs) != 0 {
				t.Errorf("%s: FindCallbacks(pruned) = %d, %v; want none", step, len(cbs), err)
			}
			for _, cb := range m.cbs {
				if as, err := s.FindAttempts(ctx, cb.ID); err != nil || len(as) != 0 {
					t.Errorf("%s: FindAttempts(pruned callback) = %d, %v; want none", step, len(as), err)
				}
			}
		}
		for _, m := range kept {
			got, err := s.FindSession(ctx, m.sess.Sid)
			if err != nil {
				t.Errorf("%s: FindSession(kept %s, %v): %v", step, m.sess.Status, m.sess.DateUpdated.Sub(t0), err)
				continue
			}
			if got.Status != m.sess.Status || !got.DateUpdated.Equal(m.sess.DateUpdated) {
				t.Errorf("%s: kept session changed: %s %v, want %s %v", step, got.Status, got.DateUpdated, m.sess.Status, m.sess.DateUpdated)
			}
			cbs, err := s.FindCallbacks(ctx, m.sess.Sid)
			if err != nil || len(cbs) != len(m.cbs) {
				t.Errorf("%s: FindCallbacks(kept %s, %v) = %d, %v; want %d", step, m.sess.Status, m.sess.DateUpdated.Sub(t0), len(cbs), err, len(m.cbs))
			}
			for _, cb := range m.cbs {
				if as, err := s.FindAttempts(ctx, cb.ID); err != nil || len(as) != cb.Attempts {
					t.Errorf("%s: FindAttempts(kept callback) = %d, %v; want %d", step, len(as), err, cb.Attempts)
				}
			}
		}
		if cbs, err := s.FindCallbacks(ctx, e1.sess.CallSid); err != nil || len(cbs) != 1 {
			t.Errorf("%s: the call's own callbacks = %d, %v; want 1", step, len(cbs), err)
		}
		if as, err := s.FindAttempts(ctx, progress.ID); err != nil || len(as) != 1 {
			t.Errorf("%s: the call's callback's attempts = %d, %v; want 1", step, len(as), err)
		}
	}

	all := []made{e1, e2, otherAcct, e3, retrying, atCut, later, open, processing}
	check("before", nil, all)
	prune(cut, 2, 2) // e1, e2: retrying, older, is skipped
	check("first batch", []made{e1, e2}, []made{otherAcct, e3, retrying, atCut, later, open, processing})
	prune(cut, 2, 2) // both accounts' sessions go
	check("second batch", []made{e1, e2, otherAcct, e3}, []made{retrying, atCut, later, open, processing})
	prune(cut, 2, 0)
	prune(cut, 0, 0) // nothing recounted

	// Its last callback delivered, the retrying session goes at the next prune.
	p := retrying.cbs[2]
	p.Status, p.Attempts, p.DateUpdated = tonepay.CallbackDelivered, 2, t0
	if err := s.RecordAttempt(ctx, p, &tonepay.Attempt{CallbackID: p.ID, N: 2, At: t0, StatusCode: 200}); err != nil {
		t.Fatal(err)
	}
	prune(cut, 0, 1)
	check("settled", []made{e1, e2, otherAcct, e3, retrying}, []made{atCut, later, open, processing})

	// A later cut takes those that ended at and after the first cut, never
	// a session that has not ended, however old.
	prune(cut.Add(time.Hour), 0, 2)
	check("later cut", []made{e1, e2, otherAcct, e3, retrying, atCut, later}, []made{open, processing})

	// The calls stay, as PruneCalls leaves them.
	if calls, err := s.FindCalls(ctx, tonepay.CallFilter{AccountSid: a.Sid}); err != nil || len(calls) != 7 {
		t.Errorf("FindCalls after pruning = %d calls, %v; want 7", len(calls), err)
	}
}
