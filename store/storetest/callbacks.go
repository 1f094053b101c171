package storetest

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/tonepay/tonepay"
)

func testCallbacks(t *testing.T, s tonepay.Store) {
	ss := sessions(t, s, 2)
	a1, b1, a2 := newCallback(ss[0], t0), newCallback(ss[1], t0), newCallback(ss[0], t0.Add(time.Second))
	a2.Form.Set("Capture", "payment-card-number")
	// The method is kept as written: call-progress callbacks may be GET.
	b1.Method, a2.Method = "GET", "POST"
	addCallbacks(t, s, a1, b1, a2)
	a3 := newCallback(ss[0], t0.Add(2*time.Second))
	addCallbacks(t, s, a3)
	// IDs are set, and grow in the order callbacks were queued, within a
	// transaction and across transactions.
	if !(0 < a1.ID && a1.ID < b1.ID && b1.ID < a2.ID && a2.ID < a3.ID) {
		t.Fatalf("IDs do not grow in queuing order: %d %d %d %d", a1.ID, b1.ID, a2.ID, a3.ID)
	}
	got, err := s.FindCallbacks(ctx, ss[0].Sid)
	if err != nil {
		t.Fatal(err)
	}
	if d := diff([]*tonepay.Callback{a1, a2, a3}, got); d != "" {
		t.Errorf("FindCallbacks (-want +got):\n%s", d)
	}
	// The form keeps repeated and empty values: it is what gets signed.
	if len(got) > 0 && (len(got[0].Form["Multi"]) != 2 || !got[0].Form.Has("Empty")) {
		t.Errorf("Form = %v", got[0].Form)
	}
	got, err = s.FindCallbacks(ctx, ss[1].Sid)
	if err != nil {
		t.Fatal(err)
	}
	if d := diff([]*tonepay.Callback{b1}, got); d != "" {
		t.Errorf("FindCallbacks of the other session (-want +got):\n%s", d)
	}
}

// claimed compares claimed callbacks with the queued ones. The lease is the
// store's business: a store may show it in NextAttemptAt, ClaimedUntil or
// DateUpdated.
func claimed(want, got []*tonepay.Callback) string {
	return diff(want, got, cmpopts.IgnoreFields(tonepay.Callback{}, "NextAttemptAt", "ClaimedUntil", "DateUpdated"))
}

// deliver records a successful first attempt at cb.
func deliver(t testing.TB, s tonepay.Store, cb *tonepay.Callback, at time.Time) {
	t.Helper()
	cb.Status, cb.Attempts, cb.DateUpdated = tonepay.CallbackDelivered, cb.Attempts+1, at
	if err := s.RecordAttempt(ctx, cb, &tonepay.Attempt{CallbackID: cb.ID, N: cb.Attempts, At: at, StatusCode: 204}); err != nil {
		t.Fatal(err)
	}
}

// testClaimOnePerSession: a session's callbacks are handed out one at a
// time, oldest first, so that the receiver sees them in order; a later one
// waits even when it is due and its elder is not.
func testClaimOnePerSession(t *testing.T, s tonepay.Store) {
	ss := sessions(t, s, 3)
	a1, a2, b1 := newCallback(ss[0], t0), newCallback(ss[0], t0), newCallback(ss[1], t0)
	c1, c2 := newCallback(ss[2], t0.Add(time.Hour)), newCallback(ss[2], t0) // c2 is due, c1 is not
	late := newCallback(ss[1], t0.Add(time.Hour))
	b1.Method, c2.Method = "GET", "POST" // claims read the method back
	addCallbacks(t, s, a1, a2, b1, c1, c2)
	addCallbacks(t, s, late)

	if got, err := s.ClaimCallbacks(ctx, t0.Add(-time.Nanosecond), time.Minute, 10); err != nil || len(got) != 0 {
		t.Errorf("claim before anything is due = %v, %v", ids(got), err)
	}
	got, err := s.ClaimCallbacks(ctx, t0, time.Minute, 10)
	if err != nil {
		t.Fatal(err)
	}
	if d := claimed([]*tonepay.Callback{a1, b1}, got); d != "" {
		t.Fatalf("first claim (-want +got):\n%s", d)
	}

	// a1 delivered: a2 is next for its session; b1 is leased; late and c1
	// are not due, and c2 waits behind c1.
	deliver(t, s, a1, t0)
	got, err = s.ClaimCallbacks(ctx, t0.Add(time.Second), time.Minute, 10)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]int64{a2.ID}, ids(got)); d != "" {
		t.Errorf("second claim (-want +got IDs):\n%s", d)
	}

	// A failed callback no longer holds up its session.
	b1.Status, b1.Attempts, b1.DateUpdated = tonepay.CallbackFailed, 1, t0.Add(time.Second)
	if err := s.RecordAttempt(ctx, b1, &tonepay.Attempt{CallbackID: b1.ID, N: 1, At: t0.Add(time.Second), StatusCode: 500, Error: "HTTP 500"}); err != nil {
		t.Fatal(err)
	}
	deliver(t, s, a2, t0.Add(time.Second))
	got, err = s.ClaimCallbacks(ctx, t0.Add(time.Hour), time.Minute, 10)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]int64{c1.ID, late.ID}, ids(got)); d != "" {
		t.Errorf("claim an hour later (-want +got IDs):\n%s", d)
	}
}

// testHandoff: callbacks queued with ClaimedUntil come out claimed, for a
// dispatcher to deliver without a claim, unless an earlier callback of
// their session is pending; a failed attempt releases the rest of its
// session's chain so that the claims take over, in order.
func testHandoff(t *testing.T, s tonepay.Store) {
	ss := sessions(t, s, 3)
	lease := t0.Add(time.Minute)
	leased := func(sess *tonepay.Session) *tonepay.Callback {
		cb := newCallback(sess, t0)
		cb.ClaimedUntil = lease
		return cb
	}
	b1 := newCallback(ss[1], t0)
	addCallbacks(t, s, b1)
	a1, a2, b2 := leased(ss[0]), leased(ss[0]), leased(ss[1])
	addCallbacks(t, s, a1, a2, b2)
	if !a1.ClaimedUntil.Equal(lease) || !a2.ClaimedUntil.Equal(lease) {
		t.Errorf("a session with nothing pending: ClaimedUntil = %v, %v; want both %v", a1.ClaimedUntil, a2.ClaimedUntil, lease)
	}
	if !b2.ClaimedUntil.IsZero() {
		t.Errorf("queued behind a pending callback: ClaimedUntil = %v, want it cleared", b2.ClaimedUntil)
	}
	got, err := s.FindCallbacks(ctx, ss[0].Sid)
	if err != nil {
		t.Fatal(err)
	}
	if d := diff([]*tonepay.Callback{a1, a2}, got); d != "" {
		t.Errorf("FindCallbacks (-want +got):\n%s", d)
	}
	// The handed-over chain is nobody else's to claim; b1 is.
	got, err = s.ClaimCallbacks(ctx, t0, time.Minute, 10)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]int64{b1.ID}, ids(got)); d != "" {
		t.Errorf("claim beside a handed-over chain (-want +got IDs):\n%s", d)
	}

	// a1 fails: a2's lease goes with it, and the claims deliver both in order.
	at := t0.Add(time.Second)
	a1.Attempts, a1.NextAttemptAt, a1.DateUpdated = 1, at.Add(time.Second), at
	if err := s.RecordAttempt(ctx, a1, &tonepay.Attempt{CallbackID: a1.ID, N: 1, At: at, StatusCode: 503, Error: "HTTP 503"}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.ClaimCallbacks(ctx, at, time.Minute, 10); err != nil || len(got) != 0 {
		t.Errorf("claimed before a1's retry: %v, %v", ids(got), err)
	}
	got, err = s.ClaimCallbacks(ctx, a1.NextAttemptAt, time.Minute, 10)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]int64{a1.ID}, ids(got)); d != "" {
		t.Errorf("claim at a1's retry (-want +got IDs):\n%s", d)
	}
	deliver(t, s, a1, a1.NextAttemptAt)
	got, err = s.ClaimCallbacks(ctx, a1.NextAttemptAt, time.Minute, 10)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]int64{a2.ID}, ids(got)); d != "" {
		t.Errorf("claim after a1 (-want +got IDs): a2's lease should have ended with a1's failure\n%s", d)
	}

	// A delivered chain leaves nothing pending: the next callback is leased.
	c1 := leased(ss[2])
	addCallbacks(t, s, c1)
	deliver(t, s, c1, t0)
	c2 := leased(ss[2])
	addCallbacks(t, s, c2)
	if !c2.ClaimedUntil.Equal(lease) {
		t.Errorf("after a delivered callback: ClaimedUntil = %v, want %v", c2.ClaimedUntil, lease)
	}
}

// testDeferCallback: a claimed callback not attempted (its host was busy) is
// put off to a time of its own, its claim and its chain's ending, with no
// attempt recorded; a delivered one is left alone.
func testDeferCallback(t *testing.T, s tonepay.Store) {
	ss := sessions(t, s, 2)
	lease := t0.Add(time.Minute)
	a1, a2, b1 := newCallback(ss[0], t0), newCallback(ss[0], t0), newCallback(ss[1], t0)
	a1.ClaimedUntil, a2.ClaimedUntil = lease, lease // a chain handed over
	addCallbacks(t, s, a1, a2)
	addCallbacks(t, s, b1)
	until := t0.Add(2 * time.Second)
	if err := s.DeferCallback(ctx, a1.ID, until); err != nil {
		t.Fatal(err)
	}
	// Before until only the other session's is claimable; at until a1 is,
	// well before its lease would have ended, and a2 only after a1.
	got, err := s.ClaimCallbacks(ctx, until.Add(-time.Nanosecond), time.Minute, 10)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]int64{b1.ID}, ids(got)); d != "" {
		t.Errorf("claim before until (-want +got IDs):\n%s", d)
	}
	got, err = s.ClaimCallbacks(ctx, until, time.Minute, 10)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]int64{a1.ID}, ids(got)); d != "" {
		t.Fatalf("claim at until (-want +got IDs):\n%s", d)
	}
	if got[0].Attempts != 0 || got[0].Status != tonepay.CallbackPending {
		t.Errorf("deferred: Attempts %d, Status %s; want 0, pending", got[0].Attempts, got[0].Status)
	}
	if n, err := s.NextCallbackAt(ctx); err != nil || n.Before(until) {
		t.Errorf("NextCallbackAt = %v, %v; want not before %v", n, err, until)
	}
	at := until.Add(time.Second)
	deliver(t, s, a1, at)
	got, err = s.ClaimCallbacks(ctx, at, time.Minute, 10)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]int64{a2.ID}, ids(got)); d != "" {
		t.Errorf("claim after a1 (-want +got IDs): a2's lease should have ended with a1's deferral\n%s", d)
	}

	// Deferring a delivered callback changes nothing.
	if err := s.DeferCallback(ctx, a1.ID, at.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	deliver(t, s, a2, at)
	if err := s.DeferCallback(ctx, a2.ID, at.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	all, err := s.FindCallbacks(ctx, ss[0].Sid)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 {
		t.Fatalf("FindCallbacks = %d callbacks, want 2", len(all))
	}
	for _, cb := range all {
		if cb.Status != tonepay.CallbackDelivered || cb.Attempts != 1 || cb.NextAttemptAt.After(at) {
			t.Errorf("deferred after delivery: Status %s, Attempts %d, NextAttemptAt %v", cb.Status, cb.Attempts, cb.NextAttemptAt)
		}
	}
	if err := s.DeferCallback(ctx, 1<<40, at); err != nil {
		t.Errorf("deferring an unknown callback: %v", err)
	}
}

func testClaimLimit(t *testing.T, s tonepay.Store) {
	ss := sessions(t, s, 4)
	var cbs []*tonepay.Callback
	for _, x := range ss {
		cbs = append(cbs, newCallback(x, t0))
	}
	// Queued newest session first, so that ID order is not session order.
	addCallbacks(t, s, cbs[3], cbs[2], cbs[1], cbs[0])
	got, err := s.ClaimCallbacks(ctx, t0, time.Minute, 2)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]int64{cbs[3].ID, cbs[2].ID}, ids(got)); d != "" {
		t.Errorf("claim with limit 2: the oldest IDs (-want +got):\n%s", d)
	}
	got, err = s.ClaimCallbacks(ctx, t0, time.Minute, 10)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]int64{cbs[1].ID, cbs[0].ID}, ids(got)); d != "" {
		t.Errorf("claim of the rest (-want +got):\n%s", d)
	}
}

// testClaimLease: a claim hides a callback from other claims until its lease
// ends (a dispatcher that died holding it is replaced), and recording an
// attempt ends the lease: the callback is due again at its NextAttemptAt.
func testClaimLease(t *testing.T, s tonepay.Store) {
	sess := sessions(t, s, 1)[0]
	cb := newCallback(sess, t0)
	addCallbacks(t, s, cb)
	if got, err := s.ClaimCallbacks(ctx, t0, 30*time.Second, 10); err != nil || len(got) != 1 {
		t.Fatalf("first claim = %v, %v", ids(got), err)
	}
	if got, err := s.ClaimCallbacks(ctx, t0.Add(30*time.Second-1), 30*time.Second, 10); err != nil || len(got) != 0 {
		t.Errorf("claimed again while leased: %v, %v", ids(got), err)
	}
	if next, err := s.NextCallbackAt(ctx); err != nil || !next.Equal(t0.Add(30*time.Second)) {
		t.Errorf("NextCallbackAt while leased = %v, %v; want the lease's end %v", next, err, t0.Add(30*time.Second))
	}
	got, err := s.ClaimCallbacks(ctx, t0.Add(30*time.Second), 30*time.Second, 10)
	if err != nil || len(got) != 1 {
		t.Fatalf("claim when the lease ends = %v, %v", ids(got), err)
	}
	if d := claimed([]*tonepay.Callback{cb}, got); d != "" {
		t.Errorf("reclaimed callback (-want +got):\n%s", d)
	}

	// The second holder fails and schedules a retry sooner than its lease
	// would end: the retry time wins.
	at := t0.Add(31 * time.Second)
	cb.Attempts, cb.NextAttemptAt, cb.DateUpdated = 1, at.Add(5*time.Second), at
	if err := s.RecordAttempt(ctx, cb, &tonepay.Attempt{CallbackID: cb.ID, N: 1, At: at, StatusCode: 503, Error: "HTTP 503"}); err != nil {
		t.Fatal(err)
	}
	if next, err := s.NextCallbackAt(ctx); err != nil || !next.Equal(cb.NextAttemptAt) {
		t.Errorf("NextCallbackAt after a failed attempt = %v, %v; want %v", next, err, cb.NextAttemptAt)
	}
	if got, err := s.ClaimCallbacks(ctx, cb.NextAttemptAt.Add(-1), time.Minute, 10); err != nil || len(got) != 0 {
		t.Errorf("claimed before its retry time: %v, %v", ids(got), err)
	}
	got, err = s.ClaimCallbacks(ctx, cb.NextAttemptAt, time.Minute, 10)
	if err != nil || len(got) != 1 {
		t.Fatalf("claim at the retry time = %v, %v", ids(got), err)
	}
	if got[0].Attempts != 1 {
		t.Errorf("claimed Attempts = %d, want 1", got[0].Attempts)
	}
}

// testClaimConcurrent: dispatchers claiming at once never get the same
// callback, and a session's callbacks are still delivered in order.
func testClaimConcurrent(t *testing.T, s tonepay.Store) {
	const nSessions, perSession, workers = 12, 3, 4
	ss := sessions(t, s, nSessions)
	var all []*tonepay.Callback
	for i := range perSession {
		for _, x := range ss {
			all = append(all, newCallback(x, t0.Add(time.Duration(i)*time.Millisecond)))
		}
	}
	addCallbacks(t, s, all...)
	prev := map[int64]int64{} // callback -> the one of its session before it
	last := map[string]int64{}
	for _, cb := range all {
		prev[cb.ID] = last[cb.Chain]
		last[cb.Chain] = cb.ID
	}

	var (
		mu        sync.Mutex
		delivered = map[int64]bool{}
		errs      []error
		done      atomic.Int64
		wg        sync.WaitGroup
	)
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	deadline := time.Now().Add(30 * time.Second) // a real clock only to end a hung test
	now := t0.Add(time.Second)
	for range workers {
		wg.Go(func() {
			for done.Load() < int64(len(all)) && time.Now().Before(deadline) {
				got, err := s.ClaimCallbacks(ctx, now, time.Hour, 3)
				if err != nil {
					fail(err)
					return
				}
				for _, cb := range got {
					mu.Lock()
					dup, inOrder := delivered[cb.ID], prev[cb.ID] == 0 || delivered[prev[cb.ID]]
					// Marked before the commit, so that another worker
					// cannot claim the next one before it is marked.
					delivered[cb.ID] = true
					mu.Unlock()
					if dup {
						fail(fmt.Errorf("callback %d claimed twice", cb.ID))
					}
					if !inOrder {
						fail(fmt.Errorf("callback %d claimed before %d", cb.ID, prev[cb.ID]))
					}
					cb.Status, cb.Attempts, cb.DateUpdated = tonepay.CallbackDelivered, 1, now
					if err := s.RecordAttempt(ctx, cb, &tonepay.Attempt{CallbackID: cb.ID, N: 1, At: now, StatusCode: 200}); err != nil {
						fail(err)
						return
					}
					done.Add(1)
				}
				if len(got) == 0 {
					time.Sleep(time.Millisecond)
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if n := done.Load(); n != int64(len(all)) {
		t.Fatalf("delivered %d of %d callbacks", n, len(all))
	}
	if next, err := s.NextCallbackAt(ctx); err != nil || !next.IsZero() {
		t.Errorf("NextCallbackAt with everything delivered = %v, %v", next, err)
	}
}

func testAttempts(t *testing.T, s tonepay.Store) {
	ss := sessions(t, s, 2)
	cb, other := newCallback(ss[0], t0), newCallback(ss[1], t0)
	addCallbacks(t, s, cb, other)
	if got, err := s.FindAttempts(ctx, cb.ID); err != nil || len(got) != 0 {
		t.Errorf("FindAttempts before any = %v, %v", got, err)
	}

	a1 := &tonepay.Attempt{CallbackID: cb.ID, N: 1, At: t0, Duration: 1500*time.Microsecond + 7, StatusCode: 503, Error: "HTTP 503"}
	cb.Attempts, cb.NextAttemptAt, cb.DateUpdated = 1, t0.Add(time.Second), t0
	if err := s.RecordAttempt(ctx, cb, a1); err != nil {
		t.Fatal(err)
	}
	a2 := &tonepay.Attempt{CallbackID: cb.ID, N: 2, At: t0.Add(time.Second), Duration: 10 * time.Second, Error: "dial tcp: connection refused"}
	cb.Attempts, cb.Status, cb.DateUpdated = 2, tonepay.CallbackFailed, t0.Add(time.Second)
	if err := s.RecordAttempt(ctx, cb, a2); err != nil {
		t.Fatal(err)
	}
	ok := &tonepay.Attempt{CallbackID: other.ID, N: 1, At: t0, Duration: time.Millisecond, StatusCode: 204}
	other.Status, other.Attempts, other.DateUpdated = tonepay.CallbackDelivered, 1, t0
	if err := s.RecordAttempt(ctx, other, ok); err != nil {
		t.Fatal(err)
	}

	got, err := s.FindAttempts(ctx, cb.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d := diff([]*tonepay.Attempt{a1, a2}, got); d != "" {
		t.Errorf("FindAttempts (-want +got):\n%s", d)
	}
	// RecordAttempt saved the callback's Status, Attempts, NextAttemptAt
	// (and DateUpdated).
	cbs, err := s.FindCallbacks(ctx, ss[0].Sid)
	if err != nil {
		t.Fatal(err)
	}
	if d := diff([]*tonepay.Callback{cb}, cbs); d != "" {
		t.Errorf("callback after RecordAttempt (-want +got):\n%s", d)
	}
	if got, err := s.FindAttempts(ctx, other.ID); err != nil || len(got) != 1 || got[0].StatusCode != 204 || got[0].Error != "" {
		t.Errorf("FindAttempts of the other callback = %v, %v", got, err)
	}
	// Neither a failed nor a delivered callback is pending.
	if next, err := s.NextCallbackAt(ctx); err != nil || !next.IsZero() {
		t.Errorf("NextCallbackAt with nothing pending = %v, %v", next, err)
	}
	if got, err := s.ClaimCallbacks(ctx, t0.Add(time.Hour), time.Minute, 10); err != nil || len(got) != 0 {
		t.Errorf("claimed a callback that is not pending: %v, %v", ids(got), err)
	}
}

func testNextCallbackAt(t *testing.T, s tonepay.Store) {
	if next, err := s.NextCallbackAt(ctx); err != nil || !next.IsZero() {
		t.Fatalf("NextCallbackAt of an empty store = %v, %v", next, err)
	}
	ss := sessions(t, s, 2)
	// Session 0's oldest callback is due at +1h; its younger one, due at
	// once, waits behind it and does not count.
	a1, a2 := newCallback(ss[0], t0.Add(time.Hour)), newCallback(ss[0], t0)
	addCallbacks(t, s, a1, a2)
	if next, err := s.NextCallbackAt(ctx); err != nil || !next.Equal(a1.NextAttemptAt) {
		t.Errorf("NextCallbackAt = %v, %v; want %v (the oldest of the session)", next, err, a1.NextAttemptAt)
	}
	b1 := newCallback(ss[1], t0.Add(time.Minute))
	addCallbacks(t, s, b1)
	if next, err := s.NextCallbackAt(ctx); err != nil || !next.Equal(b1.NextAttemptAt) {
		t.Errorf("NextCallbackAt = %v, %v; want %v (the earliest session)", next, err, b1.NextAttemptAt)
	}
	// Once a1 is delivered, a2 (overdue) is next.
	deliver(t, s, a1, t0)
	if next, err := s.NextCallbackAt(ctx); err != nil || !next.Equal(a2.NextAttemptAt) {
		t.Errorf("NextCallbackAt = %v, %v; want %v", next, err, a2.NextAttemptAt)
	}
	if next, err := s.NextCallbackAt(ctx); err == nil && next.Location() != time.UTC {
		t.Errorf("NextCallbackAt in %v, want UTC", next.Location())
	}
}

func testAnswers(t *testing.T, s tonepay.Store) {
	a := &tonepay.Answer{Key: "k1", Format: 201, Body: []byte("{\"sid\":\"PK1\"}\n\x00\xff"), DateCreated: t0}
	update(t, s, func(tx tonepay.Tx) error { return tx.AddAnswer(ctx, a) })

	// FindAnswer returns answers stored at since or later.
	tests := []struct {
		name  string
		since time.Time
		found bool
	}{
		{"within the TTL", t0.Add(-tonepay.AnswerTTL), true},
		{"stored exactly at since", t0, true},
		{"a nanosecond too old", t0.Add(1), false},
		{"no lower bound", time.Time{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.FindAnswer(ctx, "k1", tt.since)
			switch {
			case !tt.found && err != tonepay.ErrNotFound:
				t.Errorf("got %v, %v; want tonepay.ErrNotFound", got, err)
			case tt.found && err != nil:
				t.Errorf("got %v", err)
			case tt.found:
				if d := diff(a, got); d != "" {
					t.Errorf("(-want +got):\n%s", d)
				}
			}
		})
	}
	// Also inside a transaction.
	update(t, s, func(tx tonepay.Tx) error {
		_, err := tx.FindAnswer(ctx, "k1", t0)
		return err
	})

	// A key stored again is replaced, whole.
	b := &tonepay.Answer{Key: "k1", Format: 202, Body: []byte(`{}`), DateCreated: t0.Add(time.Hour)}
	update(t, s, func(tx tonepay.Tx) error { return tx.AddAnswer(ctx, b) })
	got, err := s.FindAnswer(ctx, "k1", t0)
	if err != nil {
		t.Fatal(err)
	}
	if d := diff(b, got); d != "" {
		t.Errorf("replaced answer (-want +got):\n%s", d)
	}

	// PruneAnswers deletes those stored before its time, not at it.
	old := &tonepay.Answer{Key: "k0", Format: 201, Body: []byte(`{}`), DateCreated: t0}
	edge := &tonepay.Answer{Key: "k2", Format: 201, Body: []byte(`{}`), DateCreated: t0.Add(time.Minute)}
	update(t, s, func(tx tonepay.Tx) error {
		if err := tx.AddAnswer(ctx, old); err != nil {
			return err
		}
		return tx.AddAnswer(ctx, edge)
	})
	if err := s.PruneAnswers(ctx, edge.DateCreated); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]bool{"k0": false, "k1": true, "k2": true} {
		_, err := s.FindAnswer(ctx, key, time.Time{})
		if gotIt := err == nil; gotIt != want || (err != nil && err != tonepay.ErrNotFound) {
			t.Errorf("answer %s after prune: %v, want kept=%v", key, err, want)
		}
	}
}

// testClaimWhileQueuing: callbacks queued while their session's earlier ones
// are being delivered are claimed in their turn, in order, however the
// queuing and the recording of a delivery interleave: the store moves a
// chain's head (the one callback a claim may take) as both happen.
func testClaimWhileQueuing(t *testing.T, s tonepay.Store) {
	const nSessions, perSession, workers = 6, 25, 3
	ss := sessions(t, s, nSessions)
	var (
		mu     sync.Mutex
		queued = map[string][]int64{} // session -> IDs queued, in order
		got    = map[string][]int64{} // session -> IDs claimed, in order
		errs   []error
		done   atomic.Int64
		wg     sync.WaitGroup
	)
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	now := t0.Add(time.Second)
	for _, x := range ss {
		wg.Go(func() { // one writer per session, as the session's row lock makes it
			for range perSession {
				cb := newCallback(x, t0)
				if err := s.Update(ctx, func(tx tonepay.Tx) error { return tx.AddCallbacks(ctx, cb) }); err != nil {
					fail(err)
					return
				}
				mu.Lock()
				queued[x.Sid] = append(queued[x.Sid], cb.ID)
				mu.Unlock()
			}
		})
	}
	deadline := time.Now().Add(30 * time.Second) // a real clock only to end a hung test
	for range workers {
		wg.Go(func() {
			for done.Load() < nSessions*perSession && time.Now().Before(deadline) {
				cbs, err := s.ClaimCallbacks(ctx, now, time.Hour, 2)
				if err != nil {
					fail(err)
					return
				}
				for _, cb := range cbs {
					mu.Lock()
					got[cb.Chain] = append(got[cb.Chain], cb.ID)
					mu.Unlock()
					cb.Status, cb.Attempts, cb.DateUpdated = tonepay.CallbackDelivered, 1, now
					if err := s.RecordAttempt(ctx, cb, &tonepay.Attempt{CallbackID: cb.ID, N: 1, At: now, StatusCode: 200}); err != nil {
						fail(err)
						return
					}
					done.Add(1)
				}
				if len(cbs) == 0 {
					time.Sleep(time.Millisecond)
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if n := done.Load(); n != nSessions*perSession {
		t.Errorf("delivered %d of %d callbacks: a chain stalled", n, nSessions*perSession)
	}
	for _, x := range ss {
		if d := cmp.Diff(queued[x.Sid], got[x.Sid]); d != "" {
			t.Errorf("session %s: claims (+) against queuing order (-):\n%s", x.Sid, d)
		}
	}
}

// testStaleAttempt: an attempt recorded after its callback was delivered (a
// dispatcher whose claim ran out while it was still sending, and another
// delivered it meanwhile) makes the callback pending again; its session's
// later callbacks wait for it again, and the chain does not stall.
func testStaleAttempt(t *testing.T, s tonepay.Store) {
	sess := sessions(t, s, 1)[0]
	a1, a2, a3 := newCallback(sess, t0), newCallback(sess, t0), newCallback(sess, t0)
	addCallbacks(t, s, a1, a2, a3)
	stale := *a1
	deliver(t, s, a1, t0)
	at := t0.Add(time.Second)
	stale.Attempts, stale.NextAttemptAt, stale.DateUpdated = 2, at, at
	if err := s.RecordAttempt(ctx, &stale, &tonepay.Attempt{CallbackID: stale.ID, N: 2, At: at, StatusCode: 503, Error: "HTTP 503"}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []*tonepay.Callback{&stale, a2, a3} {
		got, err := s.ClaimCallbacks(ctx, at, time.Minute, 10)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff([]int64{want.ID}, ids(got)); d != "" {
			t.Fatalf("claim (-want +got IDs):\n%s", d)
		}
		deliver(t, s, got[0], at)
	}
	if next, err := s.NextCallbackAt(ctx); err != nil || !next.IsZero() {
		t.Errorf("NextCallbackAt with everything delivered = %v, %v", next, err)
	}
}
