package calls_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/calls"
	"github.com/tonepay/tonepay/internal/servicetest"
	"github.com/tonepay/tonepay/store/sqlite"
	"github.com/tonepay/tonepay/store/storetest"
)

// pruneFixture is a real SQLite store with calls that ended long ago (old),
// one that ended a moment ago (recent) and a live one, each with a run and
// a timeline entry, as the call runtime leaves them.
type pruneFixture struct {
	store        *sqlite.Store
	now          time.Time
	old          []*tonepay.Call
	recent, live *tonepay.Call
}

func newPruneFixture(t *testing.T, nOld int) *pruneFixture {
	t.Helper()
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "prune.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	f := &pruneFixture{store: s, now: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	a := storetest.MustAccount(t, s, "", f.now.Add(-48*time.Hour))
	call := func(endedAgo time.Duration) *tonepay.Call {
		c := storetest.MustCall(t, s, a.Sid, f.now.Add(-48*time.Hour))
		err := s.Update(context.Background(), func(tx tonepay.Tx) error {
			r := &tonepay.CallRun{CallSid: c.Sid, AccountSid: a.Sid, State: []byte(`{"status":"completed"}`), DateUpdated: c.StartTime}
			if err := tx.SaveCallRun(context.Background(), r); err != nil {
				return err
			}
			if err := tx.AddTimeline(context.Background(), c.Sid, c.StartTime, []byte(`{"kind":"say"}`)); err != nil {
				return err
			}
			if endedAgo == 0 {
				return nil
			}
			c.Status, c.EndTime, c.DateUpdated = tonepay.CallCompleted, f.now.Add(-endedAgo), f.now.Add(-endedAgo)
			return tx.UpdateCall(context.Background(), c)
		})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	for i := range nOld {
		f.old = append(f.old, call(2*time.Hour+time.Duration(i)*time.Minute))
	}
	f.recent, f.live = call(time.Minute), call(0)
	return f
}

// pruned reports whether c's run and timeline are gone; the call row must
// stay either way.
func (f *pruneFixture) pruned(t *testing.T, c *tonepay.Call) bool {
	t.Helper()
	ctx := context.Background()
	if _, err := f.store.FindCall(ctx, c.Sid); err != nil {
		t.Fatalf("FindCall after pruning: %v", err)
	}
	_, err := f.store.FindCallRun(ctx, c.Sid)
	if err != nil && !errors.Is(err, tonepay.ErrNotFound) {
		t.Fatal(err)
	}
	tl, terr := f.store.FindTimeline(ctx, c.Sid, 0, 0)
	if terr != nil {
		t.Fatal(terr)
	}
	if (err != nil) != (len(tl) == 0) {
		t.Fatalf("run gone %v but %d timeline entries", err != nil, len(tl))
	}
	return err != nil
}

// TestPruneEndedBatches: one round clears a backlog bigger than a batch,
// batch after batch, and stops at the first short batch.
func TestPruneEndedBatches(t *testing.T) {
	f := newPruneFixture(t, 5)
	n, err := calls.PruneEnded(context.Background(), f.store, f.now.Add(-time.Hour), 2)
	if err != nil || n != 5 {
		t.Fatalf("PruneEnded = %d, %v; want 5 (batches of 2, 2, 1)", n, err)
	}
	for _, c := range f.old {
		if !f.pruned(t, c) {
			t.Errorf("call ended %v ago kept", f.now.Sub(c.EndTime))
		}
	}
	if f.pruned(t, f.recent) || f.pruned(t, f.live) {
		t.Error("a call ended within the retention, or a live call, was pruned")
	}
	if n, err := calls.PruneEnded(context.Background(), f.store, f.now.Add(-time.Hour), 2); err != nil || n != 0 {
		t.Errorf("a second round = %d, %v; want 0", n, err)
	}
}

// TestPrunerLoop: the loop prunes on its own, keeps what is within the
// retention and the live call, and stops with its context.
func TestPrunerLoop(t *testing.T) {
	f := newPruneFixture(t, 3)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		svc := servicetest.New(f.store, nop{}, nil, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
		svc.Tx.Now = func() time.Time { return f.now }
		svc.PruneEvery(ctx, 5*time.Millisecond, time.Hour, 2)
	}()
	// Wait for the loop, bounded: how soon it prunes is not what is tested.
	// A round is several batches, one transaction each: wait for all.
	// While the loop runs, only the runs are looked at: a prune can commit
	// between two reads, so the run-and-timeline check waits for the stop.
	allPruned := func() bool {
		for _, c := range f.old {
			if _, err := f.store.FindCallRun(context.Background(), c.Sid); !errors.Is(err, tonepay.ErrNotFound) {
				return false
			}
		}
		return true
	}
	for deadline := time.Now().Add(5 * time.Second); !allPruned(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the loop pruned nothing within 5s")
		}
	}
	cancel()
	<-done
	for _, c := range f.old {
		if !f.pruned(t, c) {
			t.Errorf("call ended %v ago kept", f.now.Sub(c.EndTime))
		}
	}
	if f.pruned(t, f.recent) || f.pruned(t, f.live) {
		t.Error("a call ended within the retention, or a live call, was pruned")
	}
}
