package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/tonepay/tonepay"
)

// state is a run's State as the runtime would write it; the key order and
// spacing are deliberate: the store keeps the bytes as they are.
func state(n int) []byte {
	return fmt.Appendf(nil, `{"status":"in-progress", "seq":%d,"callSid":"x"}`, n)
}

func mustRun(t testing.TB, s tonepay.Store, c *tonepay.Call, deadline time.Time) *tonepay.CallRun {
	t.Helper()
	r := &tonepay.CallRun{CallSid: c.Sid, AccountSid: c.AccountSid, State: state(0), Deadline: deadline, DateUpdated: t0}
	update(t, s, func(tx tonepay.Tx) error { return tx.SaveCallRun(ctx, r) })
	return r
}

// testCallRuns: a run round-trips; every save bumps Seq; a save over a stale
// Seq (or a second first save) is refused and writes nothing, not even the
// rest of its transaction; another call's run is not seen.
func testCallRuns(t *testing.T, s tonepay.Store) {
	a := MustAccount(t, s, "", t0)
	c := MustCall(t, s, a.Sid, t0)
	other := MustCall(t, s, a.Sid, t0)
	if _, err := s.FindCallRun(ctx, c.Sid); !errors.Is(err, tonepay.ErrNotFound) {
		t.Fatalf("before the first save: %v, want ErrNotFound", err)
	}

	r := mustRun(t, s, c, t0.Add(5*time.Second))
	if r.Seq != 1 {
		t.Errorf("Seq after the first save = %d, want 1", r.Seq)
	}
	got, err := s.FindCallRun(ctx, c.Sid)
	if err != nil {
		t.Fatal(err)
	}
	if d := diff(r, got); d != "" {
		t.Errorf("saved (-want +got):\n%s", d)
	}

	r.State, r.Deadline, r.DateUpdated = state(1), time.Time{}, t0.Add(time.Minute)
	update(t, s, func(tx tonepay.Tx) error {
		if err := tx.SaveCallRun(ctx, r); err != nil {
			return err
		}
		// The transaction reads its own save.
		if got, err := tx.FindCallRun(ctx, c.Sid); err != nil || got.Seq != 2 {
			return fmt.Errorf("FindCallRun in the transaction: %v, %v", got, err)
		}
		return nil
	})
	if r.Seq != 2 {
		t.Errorf("Seq after the second save = %d, want 2", r.Seq)
	}
	if got, err = s.FindCallRun(ctx, c.Sid); err != nil {
		t.Fatal(err)
	}
	if d := diff(r, got); d != "" {
		t.Errorf("updated (-want +got):\n%s", d)
	}

	stale := []struct {
		name string
		seq  int64
	}{{"a stale Seq", 1}, {"a Seq from the future", 3}, {"a second first save", 0}}
	for _, tt := range stale {
		t.Run(tt.name, func(t *testing.T) {
			x := &tonepay.CallRun{CallSid: c.Sid, AccountSid: a.Sid, State: state(99), Seq: tt.seq, Deadline: t0, DateUpdated: t0.Add(time.Hour)}
			var sideRun *tonepay.CallRun
			err := s.Update(ctx, func(tx tonepay.Tx) error {
				sideRun = &tonepay.CallRun{CallSid: other.Sid, AccountSid: a.Sid, State: state(7), DateUpdated: t0}
				if err := tx.SaveCallRun(ctx, sideRun); err != nil {
					return err
				}
				return tx.SaveCallRun(ctx, x)
			})
			if !errors.Is(err, tonepay.ErrConflict) {
				t.Fatalf("save with Seq %d: %v, want ErrConflict", tt.seq, err)
			}
			if x.Seq != tt.seq {
				t.Errorf("a refused save changed Seq to %d", x.Seq)
			}
			got, err := s.FindCallRun(ctx, c.Sid)
			if err != nil {
				t.Fatal(err)
			}
			if d := diff(r, got); d != "" {
				t.Errorf("after the refused save (-want +got):\n%s", d)
			}
			if _, err := s.FindCallRun(ctx, other.Sid); !errors.Is(err, tonepay.ErrNotFound) {
				t.Errorf("a write in the refused transaction: %v, want ErrNotFound", err)
			}
		})
	}

	missing := MustCall(t, s, a.Sid, t0)
	err = s.Update(ctx, func(tx tonepay.Tx) error {
		return tx.SaveCallRun(ctx, &tonepay.CallRun{CallSid: missing.Sid, AccountSid: a.Sid, State: state(1), Seq: 4, DateUpdated: t0})
	})
	if !errors.Is(err, tonepay.ErrNotFound) {
		t.Errorf("a Seq for a call with no run: %v, want ErrNotFound", err)
	}
	if _, err := s.FindCallRun(ctx, other.Sid); !errors.Is(err, tonepay.ErrNotFound) {
		t.Errorf("another call's run: %v, want ErrNotFound", err)
	}
}

// testDueCallRuns: runs whose deadline has come, earliest first (ties by
// call SID), at most limit; a zero deadline is never due, and a cleared one
// is no longer due.
func testDueCallRuns(t *testing.T, s tonepay.Store) {
	a := MustAccount(t, s, "", t0)
	deadlines := []time.Time{t0.Add(3 * time.Second), t0.Add(time.Second), {}, t0.Add(2 * time.Second), t0.Add(time.Hour), t0.Add(2 * time.Second)}
	var cs []string
	var runs []*tonepay.CallRun
	for _, d := range deadlines {
		c := MustCall(t, s, a.Sid, t0)
		cs = append(cs, c.Sid)
		runs = append(runs, mustRun(t, s, c, d))
	}
	tests := []struct {
		name  string
		now   time.Time
		limit int
		want  []string
	}{
		{"earliest first, the deadline itself is due", t0.Add(3 * time.Second), 10, []string{cs[1], cs[3], cs[5], cs[0]}},
		{"limit", t0.Add(3 * time.Second), 2, []string{cs[1], cs[3]}},
		{"no limit", t0.Add(3 * time.Second), 0, []string{cs[1], cs[3], cs[5], cs[0]}},
		{"a nanosecond early", t0.Add(time.Second - 1), 10, []string{}},
		{"zero deadline never due", t0.Add(48 * time.Hour), 10, []string{cs[1], cs[3], cs[5], cs[0], cs[4]}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.FindDueCallRuns(ctx, tt.now, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			if d := diff(tt.want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}

	runs[1].Deadline = time.Time{}
	update(t, s, func(tx tonepay.Tx) error { return tx.SaveCallRun(ctx, runs[1]) })
	got, err := s.FindDueCallRuns(ctx, t0.Add(3*time.Second), 10)
	if err != nil {
		t.Fatal(err)
	}
	if d := diff([]string{cs[3], cs[5], cs[0]}, got); d != "" {
		t.Errorf("after clearing a deadline (-want +got):\n%s", d)
	}
}

// testTimeline: entries are numbered 1..n per call in the order added,
// across transactions; pages continue after a Seq; a rolled-back append
// writes nothing and takes no numbers; another call's entries are not seen.
func testTimeline(t *testing.T, s tonepay.Store) {
	a := MustAccount(t, s, "", t0)
	c := MustCall(t, s, a.Sid, t0)
	other := MustCall(t, s, a.Sid, t0)
	entry := func(i int) []byte { return fmt.Appendf(nil, `{"kind":"say", "text":"line %d"}`, i) }

	update(t, s, func(tx tonepay.Tx) error {
		if err := tx.AddTimeline(ctx, c.Sid, t0, entry(1), entry(2), entry(3)); err != nil {
			return err
		}
		if err := tx.AddTimeline(ctx, other.Sid, t0, entry(100)); err != nil {
			return err
		}
		return tx.AddTimeline(ctx, c.Sid, t0.Add(time.Second)) // nothing to add
	})
	boom := errors.New("boom")
	err := s.Update(ctx, func(tx tonepay.Tx) error {
		if err := tx.AddTimeline(ctx, c.Sid, t0.Add(time.Second), entry(-1), entry(-2)); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("rolled-back append: %v", err)
	}
	update(t, s, func(tx tonepay.Tx) error {
		return tx.AddTimeline(ctx, c.Sid, t0.Add(2*time.Second), entry(4), entry(5))
	})

	var want []*tonepay.TimelineEntry
	for i := 1; i <= 5; i++ {
		at := t0
		if i > 3 {
			at = t0.Add(2 * time.Second)
		}
		want = append(want, &tonepay.TimelineEntry{CallSid: c.Sid, Seq: int64(i), At: at, Entry: entry(i)})
	}
	tests := []struct {
		name  string
		call  string
		after int64
		limit int
		want  []*tonepay.TimelineEntry
	}{
		{"all", c.Sid, 0, 0, want},
		{"first page", c.Sid, 0, 2, want[:2]},
		{"next page", c.Sid, 2, 2, want[2:4]},
		{"last page", c.Sid, 4, 2, want[4:]},
		{"past the end", c.Sid, 5, 2, nil},
		{"another call", other.Sid, 0, 0, []*tonepay.TimelineEntry{{CallSid: other.Sid, Seq: 1, At: t0, Entry: entry(100)}}},
		{"a call with none", sid("CA"), 0, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.FindTimeline(ctx, tt.call, tt.after, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			if d := diff(tt.want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

// testCallRunRace: runners that read a run and save it in one transaction
// take turns (none is refused, every save counts); runners that all save
// over the same Seq have exactly one winner.
func testCallRunRace(t *testing.T, s tonepay.Store) {
	a := MustAccount(t, s, "", t0)
	c := MustCall(t, s, a.Sid, t0)
	mustRun(t, s, c, time.Time{})
	const n = 8
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		go func() {
			errs <- s.Update(ctx, func(tx tonepay.Tx) error {
				r, err := tx.FindCallRun(ctx, c.Sid)
				if err != nil {
					return err
				}
				r.State = state(int(r.Seq))
				if err := tx.SaveCallRun(ctx, r); err != nil {
					return err
				}
				return tx.AddTimeline(ctx, c.Sid, t0, state(int(r.Seq)))
			})
		}()
	}
	for i := 0; i < n; i++ {
		if err := <-errs; err != nil {
			t.Errorf("read and save in one transaction: %v", err)
		}
	}
	got, err := s.FindCallRun(ctx, c.Sid)
	if err != nil {
		t.Fatal(err)
	}
	if got.Seq != 1+n {
		t.Errorf("Seq after %d turns = %d, want %d", n, got.Seq, 1+n)
	}
	if tl, err := s.FindTimeline(ctx, c.Sid, 0, 0); err != nil || len(tl) != n || tl[n-1].Seq != n {
		t.Errorf("timeline of %d turns: %d entries, %v", n, len(tl), err)
	}

	seq := got.Seq
	for i := 0; i < n; i++ {
		go func() {
			errs <- s.Update(ctx, func(tx tonepay.Tx) error {
				return tx.SaveCallRun(ctx, &tonepay.CallRun{CallSid: c.Sid, AccountSid: a.Sid, State: state(0), Seq: seq, DateUpdated: t0})
			})
		}()
	}
	won := 0
	for i := 0; i < n; i++ {
		switch err := <-errs; {
		case err == nil:
			won++
		case !errors.Is(err, tonepay.ErrConflict):
			t.Errorf("a racing save over one Seq: %v, want nil or ErrConflict", err)
		}
	}
	if won != 1 {
		t.Errorf("%d racing saves over one Seq won, want 1", won)
	}
}

// testOrphanLegs: calls in progress whose parent has ended (any end:
// completed, busy, failed...), oldest first (ties by SID), at most limit; a
// leg whose parent is up (or ringing) is not one, nor an ended leg, nor a
// call with no parent; a leg is no longer one once it ends.
func testOrphanLegs(t *testing.T, s tonepay.Store) {
	a := MustAccount(t, s, "", t0)
	call := func(parent, status string, at time.Time) *tonepay.Call {
		t.Helper()
		c := newCall(a.Sid, at)
		c.ParentCallSid, c.Status = parent, status
		if parent != "" {
			c.Direction = tonepay.DirectionOutboundDial
		}
		if status != tonepay.CallInProgress && status != tonepay.CallRinging {
			c.EndTime = at.Add(time.Minute)
		}
		update(t, s, func(tx tonepay.Tx) error { return tx.CreateCall(ctx, c) })
		return c
	}
	up := call("", tonepay.CallInProgress, t0)
	ringing := call("", tonepay.CallRinging, t0)
	done := call("", tonepay.CallCompleted, t0)
	busy := call("", tonepay.CallBusy, t0)
	call(up.Sid, tonepay.CallInProgress, t0)      // its parent is up
	call(ringing.Sid, tonepay.CallInProgress, t0) // its parent is not answered yet, not ended
	call(done.Sid, tonepay.CallCompleted, t0)     // ended with its parent
	late := call(done.Sid, tonepay.CallInProgress, t0.Add(time.Second))
	early := call(busy.Sid, tonepay.CallInProgress, t0)
	tie := call(done.Sid, tonepay.CallInProgress, t0) // made after early: a larger SID
	ids := func(cs []*tonepay.Call) []string {
		out := []string{}
		for _, c := range cs {
			out = append(out, c.Sid)
		}
		return out
	}
	tests := []struct {
		name  string
		limit int
		want  []string
	}{
		{"oldest first, ties by SID", 10, []string{early.Sid, tie.Sid, late.Sid}},
		{"no limit", 0, []string{early.Sid, tie.Sid, late.Sid}},
		{"limit", 2, []string{early.Sid, tie.Sid}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.FindOrphanLegs(ctx, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			if d := diff(tt.want, ids(got)); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
	got, err := s.FindOrphanLegs(ctx, 1)
	if err != nil || len(got) != 1 {
		t.Fatalf("one orphan: %v %v", got, err)
	}
	if d := diff(early, got[0]); d != "" {
		t.Errorf("the orphan leg as stored (-want +got):\n%s", d)
	}

	early.Status, early.EndTime = tonepay.CallCompleted, t0.Add(time.Hour)
	update(t, s, func(tx tonepay.Tx) error { return tx.UpdateCall(ctx, early) })
	got, err = s.FindOrphanLegs(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if d := diff([]string{tie.Sid, late.Sid}, ids(got)); d != "" {
		t.Errorf("after one ended (-want +got):\n%s", d)
	}
}

// testLapsedLegs: the calls of real legs with no parent, not ended (queued,
// ringing, in-progress), whose lease is set and before the time asked,
// earliest lease first (ties by SID), at most limit. A simulated call, a
// Dial's leg, an ended call, a call with no lease (an older tonepay's) and
// one whose lease is not yet over are not; a renewed call no longer is.
func testLapsedLegs(t *testing.T, s tonepay.Store) {
	a := MustAccount(t, s, "", t0)
	call := func(leg tonepay.Leg, status, parent string, lease time.Time) *tonepay.Call {
		t.Helper()
		c := newCall(a.Sid, t0)
		c.Leg, c.Status, c.ParentCallSid, c.LegLease = leg, status, parent, lease
		if !live(status) {
			c.EndTime = t0.Add(time.Minute)
		}
		update(t, s, func(tx tonepay.Tx) error { return tx.CreateCall(ctx, c) })
		return c
	}
	stream := call(tonepay.LegStream, tonepay.CallInProgress, "", t0)
	tie := call(tonepay.LegSIP, tonepay.CallQueued, "", t0) // the same lease, a larger SID
	later := call(tonepay.LegSIP, tonepay.CallRinging, "", t0.Add(2*time.Second))
	call(tonepay.LegSimulated, tonepay.CallInProgress, "", t0)             // no real leg
	call(tonepay.LegSIP, tonepay.CallInProgress, stream.Sid, t0)           // a Dial's leg: it ends with its parent
	call(tonepay.LegStream, tonepay.CallCompleted, "", t0)                 // ended
	call(tonepay.LegStream, tonepay.CallInProgress, "", time.Time{})       // no lease: an older tonepay's
	call(tonepay.LegStream, tonepay.CallInProgress, "", t0.Add(time.Hour)) // renewed, not over
	tests := []struct {
		name   string
		before time.Time
		limit  int
		want   []string
	}{
		{"earliest lease first, ties by SID", t0.Add(3 * time.Second), 10, []string{stream.Sid, tie.Sid, later.Sid}},
		{"no limit", t0.Add(3 * time.Second), 0, []string{stream.Sid, tie.Sid, later.Sid}},
		{"limit", t0.Add(3 * time.Second), 2, []string{stream.Sid, tie.Sid}},
		{"before, not at", t0.Add(2 * time.Second), 0, []string{stream.Sid, tie.Sid}},
		{"none lapsed yet", t0, 0, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.FindLapsedLegs(ctx, tt.before, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			if d := diff(tt.want, callSids(got)); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
	got, err := s.FindLapsedLegs(ctx, t0.Add(time.Second), 1)
	if err != nil || len(got) != 1 {
		t.Fatalf("one lapsed call: %v %v", got, err)
	}
	if d := diff(stream, got[0]); d != "" {
		t.Errorf("the lapsed call as stored (-want +got):\n%s", d)
	}
	// Inside a transaction too (the Reader's).
	update(t, s, func(tx tonepay.Tx) error {
		got, err := tx.FindLapsedLegs(ctx, t0.Add(time.Second), 0)
		if d := diff([]string{stream.Sid, tie.Sid}, callSids(got)); err == nil && d != "" {
			t.Errorf("in a transaction (-want +got):\n%s", d)
		}
		return err
	})

	if _, err := s.RenewLeases(ctx, []string{stream.Sid}, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	tie.Status, tie.EndTime = tonepay.CallCanceled, t0.Add(time.Second)
	update(t, s, func(tx tonepay.Tx) error { return tx.UpdateCall(ctx, tie) })
	got, err = s.FindLapsedLegs(ctx, t0.Add(3*time.Second), 0)
	if err != nil {
		t.Fatal(err)
	}
	if d := diff([]string{later.Sid}, callSids(got)); d != "" {
		t.Errorf("after one was renewed and one ended (-want +got):\n%s", d)
	}
}

// testRenewLeases: RenewLeases sets the lease of the calls given that have
// not ended, any leg, and returns those; an ended or unknown call is left
// out, and nothing else of a call changes. Reads after it see the new
// lease (a store's cache included). Many SIDs at once are all renewed.
func testRenewLeases(t *testing.T, s tonepay.Store) {
	a := MustAccount(t, s, "", t0)
	call := func(leg tonepay.Leg, status string) *tonepay.Call {
		t.Helper()
		c := newCall(a.Sid, t0)
		c.Leg, c.Status, c.LegLease = leg, status, t0.Add(30*time.Second)
		update(t, s, func(tx tonepay.Tx) error { return tx.CreateCall(ctx, c) })
		return c
	}
	up := call(tonepay.LegStream, tonepay.CallInProgress)
	ringing := call(tonepay.LegSIP, tonepay.CallRinging)
	queued := call(tonepay.LegSIP, tonepay.CallQueued)
	ended := call(tonepay.LegStream, tonepay.CallCompleted)
	sim := call(tonepay.LegSimulated, tonepay.CallInProgress)
	if _, err := s.FindCall(ctx, up.Sid); err != nil { // read once: a store may cache it
		t.Fatal(err)
	}
	until := t0.Add(40 * time.Second)
	got, err := s.RenewLeases(ctx, []string{up.Sid, ringing.Sid, queued.Sid, ended.Sid, sid("CA"), sim.Sid}, until)
	if err != nil {
		t.Fatal(err)
	}
	if d := diff([]string{up.Sid, ringing.Sid, queued.Sid, sim.Sid}, got, cmpopts.SortSlices(func(a, b string) bool { return a < b })); d != "" {
		t.Errorf("renewed (-want +got):\n%s", d)
	}
	for _, c := range []*tonepay.Call{up, ringing, queued, sim} {
		want := *c
		want.LegLease = until
		got, err := s.FindCall(ctx, c.Sid)
		if err != nil {
			t.Fatal(err)
		}
		if d := diff(&want, got); d != "" {
			t.Errorf("%s call after RenewLeases (-want +got):\n%s", c.Status, d)
		}
	}
	if got, err := s.FindCall(ctx, ended.Sid); err != nil || !got.LegLease.Equal(ended.LegLease) {
		t.Errorf("the ended call's lease: %v %v, want %v", got, err, ended.LegLease)
	}
	if got, err := s.RenewLeases(ctx, nil, until); err != nil || len(got) != 0 {
		t.Errorf("RenewLeases of none = %v, %v", got, err)
	}

	// More SIDs than a statement may take at once.
	var many []string
	update(t, s, func(tx tonepay.Tx) error {
		for range 1200 {
			c := newCall(a.Sid, t0)
			c.Leg = tonepay.LegSIP
			if err := tx.CreateCall(ctx, c); err != nil {
				return err
			}
			many = append(many, c.Sid)
		}
		return nil
	})
	if got, err := s.RenewLeases(ctx, many, until); err != nil || len(got) != len(many) {
		t.Fatalf("RenewLeases of %d calls renewed %d, %v", len(many), len(got), err)
	}
	lapsed, err := s.FindLapsedLegs(ctx, until.Add(time.Nanosecond), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(lapsed) != len(many)+3 { // and up, ringing, queued (sim is simulated)
		t.Errorf("%d calls with the new lease, want %d", len(lapsed), len(many)+3)
	}
}

func live(status string) bool {
	return status == tonepay.CallQueued || status == tonepay.CallRinging || status == tonepay.CallInProgress
}

func callSids(cs []*tonepay.Call) []string {
	out := []string{}
	for _, c := range cs {
		out = append(out, c.Sid)
	}
	return out
}
