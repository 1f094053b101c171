package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/tonepay/tonepay"
)

// testPruneCalls: PruneCalls deletes the runs and timelines of the calls
// that ended before the cut (strictly), oldest end first, limit at a time,
// and leaves live calls, later ones, and every call row, session and
// callback in place; a pruned call is not counted again.
func testPruneCalls(t *testing.T, s tonepay.Store) {
	a := MustAccount(t, s, "", t0)
	cut := t0.Add(time.Hour)
	// withRun gives c a run and two timeline entries.
	withRun := func(c *tonepay.Call) *tonepay.Call {
		mustRun(t, s, c, time.Time{})
		update(t, s, func(tx tonepay.Tx) error {
			return tx.AddTimeline(ctx, c.Sid, t0, []byte(`{"kind":"fetch"}`), []byte(`{"kind":"say"}`))
		})
		return c
	}
	ended := func(status string, at time.Time) *tonepay.Call {
		c := withRun(MustCall(t, s, a.Sid, t0))
		c.Status, c.EndTime, c.DateUpdated = status, at, at
		update(t, s, func(tx tonepay.Tx) error { return tx.UpdateCall(ctx, c) })
		return c
	}
	// Made newest end first, so that the order pruned is not the order made.
	old3 := ended(tonepay.CallCompleted, t0.Add(3*time.Minute))
	old2 := ended(tonepay.CallFailed, t0.Add(2*time.Minute))
	old1 := ended(tonepay.CallCanceled, t0.Add(time.Minute))
	atCut := ended(tonepay.CallCompleted, cut)
	later := ended(tonepay.CallCompleted, cut.Add(time.Minute))
	live := withRun(MustCall(t, s, a.Sid, t0))
	bare := MustCall(t, s, a.Sid, t0) // ended without ever running TwiML
	bare.Status, bare.EndTime = tonepay.CallNoAnswer, t0.Add(4*time.Minute)
	update(t, s, func(tx tonepay.Tx) error { return tx.UpdateCall(ctx, bare) })
	sess := newSession(old1)
	update(t, s, func(tx tonepay.Tx) error { return tx.CreateSession(ctx, sess) })

	prune := func(before time.Time, limit, want int) {
		t.Helper()
		n, err := s.PruneCalls(ctx, before, limit)
		if err != nil {
			t.Fatal(err)
		}
		if n != want {
			t.Errorf("PruneCalls(%v, %d) = %d, want %d", before.Sub(t0), limit, n, want)
		}
	}
	check := func(step string, prunedCalls, kept []*tonepay.Call) {
		t.Helper()
		for _, c := range prunedCalls {
			if _, err := s.FindCallRun(ctx, c.Sid); !errors.Is(err, tonepay.ErrNotFound) {
				t.Errorf("%s: FindCallRun(pruned %s): %v, want ErrNotFound", step, c.Status, err)
			}
			if tl, err := s.FindTimeline(ctx, c.Sid, 0, 0); err != nil || len(tl) != 0 {
				t.Errorf("%s: FindTimeline(pruned %s) = %d entries, %v; want none", step, c.Status, len(tl), err)
			}
		}
		for _, c := range kept {
			if _, err := s.FindCallRun(ctx, c.Sid); err != nil {
				t.Errorf("%s: FindCallRun(kept %s ended %v): %v", step, c.Status, c.EndTime.Sub(t0), err)
			}
			if tl, err := s.FindTimeline(ctx, c.Sid, 0, 0); err != nil || len(tl) != 2 {
				t.Errorf("%s: FindTimeline(kept %s ended %v) = %d entries, %v; want 2", step, c.Status, c.EndTime.Sub(t0), len(tl), err)
			}
		}
		// Every call row stays as it was.
		for _, c := range []*tonepay.Call{old1, old2, old3, atCut, later, live, bare} {
			got, err := s.FindCall(ctx, c.Sid)
			if err != nil {
				t.Fatalf("%s: FindCall: %v", step, err)
			}
			if d := diff(c, got); d != "" {
				t.Errorf("%s: call changed (-want +got):\n%s", step, d)
			}
		}
	}

	prune(cut, 2, 2)
	check("first batch", []*tonepay.Call{old1, old2}, []*tonepay.Call{old3, atCut, later, live})
	prune(cut, 2, 2) // old3 and bare: the rest
	check("second batch", []*tonepay.Call{old1, old2, old3}, []*tonepay.Call{atCut, later, live})
	prune(cut, 2, 0)
	prune(cut, 0, 0) // pruned twice: nothing to do, nothing recounted
	// A later cut takes the calls that ended at and after the first one, never the live call.
	prune(cut.Add(time.Hour), 0, 2)
	check("later cut", []*tonepay.Call{old1, old2, old3, atCut, later}, []*tonepay.Call{live})

	got, err := s.FindSession(ctx, sess.Sid)
	if err != nil {
		t.Fatalf("the pruned call's session: %v", err)
	}
	if got.CallSid != old1.Sid {
		t.Errorf("session's CallSid = %s, want %s", got.CallSid, old1.Sid)
	}
	if calls, err := s.FindCalls(ctx, tonepay.CallFilter{AccountSid: a.Sid}); err != nil || len(calls) != 7 {
		t.Errorf("FindCalls after pruning = %d calls, %v; want 7", len(calls), err)
	}
}
