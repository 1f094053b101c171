package storetest

import (
	"fmt"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tonepay/tonepay"
)

// Backlog is an outbox as a busy server leaves it when deliveries stalled
// (issue 19): many sessions, each with a chain of due callbacks.
type Backlog struct {
	// At is when every callback of the backlog is due.
	At time.Time
	// Chains holds each session's callback IDs, oldest first: the order in
	// which they must be delivered.
	Chains map[string][]int64
	// N is the number of callbacks.
	N int
}

// FillBacklog queues chains × perChain pending callbacks due at at, through
// s's transactions as a server queues them: round after round, each round
// one callback of every session, so the chains' IDs interleave.
func FillBacklog(t testing.TB, s tonepay.Store, chains, perChain int, at time.Time) *Backlog {
	t.Helper()
	a := MustAccount(t, s, "", at)
	b := &Backlog{At: at, Chains: map[string][]int64{}}
	sids := make([]string, chains)
	for i := range sids {
		sids[i] = sid("PK")
	}
	for range perChain {
		cbs := make([]*tonepay.Callback, chains)
		for i, pk := range sids {
			cbs[i] = &tonepay.Callback{Token: sid("tk"), AccountSid: a.Sid, Chain: pk, URL: "https://example.com/cb",
				Form:   url.Values{"Sid": {pk}, "Capture": {"payment-card-number"}, "PartialResult": {"true"}, "Required": {"payment-card-number,expiration-date"}},
				Status: tonepay.CallbackPending, NextAttemptAt: at, DateCreated: at, DateUpdated: at}
		}
		addCallbacks(t, s, cbs...)
		for _, c := range cbs {
			b.Chains[c.Chain] = append(b.Chains[c.Chain], c.ID)
		}
		b.N += len(cbs)
	}
	return b
}

// Drain is what DrainBacklog saw.
type Drain struct {
	// Claims and Nexts are how long each ClaimCallbacks and NextCallbackAt
	// took, sorted.
	Claims, Nexts []time.Duration
	// First is how many callbacks the first claim returned, and FirstTook
	// how long it took.
	First     int
	FirstTook time.Duration
	// Delivered counts the callbacks claimed and recorded delivered; InOrder
	// those of them claimed after every earlier callback of their session
	// was delivered, and never twice.
	Delivered, InOrder int
}

// Check fails t unless delivery resumed at once over the backlog (the first
// claim a full batch, well within a second: a loose bound, for a loaded
// machine) and every callback of b was delivered.
func (d Drain) Check(t testing.TB, b *Backlog, batch int) {
	t.Helper()
	if d.First != batch || d.FirstTook > time.Second {
		t.Errorf("the first claim over the backlog returned %d callbacks in %v, want %d within a second", d.First, d.FirstTook, batch)
	}
	if d.Delivered != b.N {
		t.Errorf("drained %d of %d callbacks", d.Delivered, b.N)
	}
}

// Figures is the extra text of a backlog test's FIGURES line.
func (d Drain) Figures(chains, delivered, batch int) string {
	return fmt.Sprintf("chains=%d delivered_before=%d batch=%d first_claim=%d/%s claims=%d claim_p50=%s claim_p99=%s next_p50=%s next_p99=%s",
		chains, delivered, batch, d.First, Quantile([]time.Duration{d.FirstTook}, 1), len(d.Claims),
		Quantile(d.Claims, 0.5), Quantile(d.Claims, 0.99), Quantile(d.Nexts, 0.5), Quantile(d.Nexts, 0.99))
}

// DrainBacklog claims b's callbacks batch at a time at b.At, as a dispatcher
// does, and records each delivered (several at once, as a dispatcher's
// workers do) before the next claim. It stops when a claim finds nothing;
// a backlog not drained by then has stalled.
func DrainBacklog(t testing.TB, s tonepay.Store, b *Backlog, batch int) Drain {
	t.Helper()
	var d Drain
	next := map[string]int{}                    // session -> index in its chain of the next callback due
	deadline := time.Now().Add(5 * time.Minute) // a real clock only to end a hung test
	for time.Now().Before(deadline) {
		start := time.Now()
		got, err := s.ClaimCallbacks(ctx, b.At, time.Minute, batch)
		d.Claims = append(d.Claims, time.Since(start))
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Claims) == 1 {
			d.First, d.FirstTook = len(got), d.Claims[0]
		}
		if len(got) == 0 {
			break
		}
		for _, cb := range got {
			chain := b.Chains[cb.Chain]
			if i := next[cb.Chain]; i < len(chain) && chain[i] == cb.ID {
				d.InOrder++
				next[cb.Chain]++
			} else {
				t.Errorf("claimed callback %d of session %s; its next due is #%d of %v", cb.ID, cb.Chain, i, len(chain))
			}
		}
		d.Delivered += len(got)
		record(t, s, got, b.At)
		start = time.Now()
		if _, err := s.NextCallbackAt(ctx); err != nil {
			t.Fatal(err)
		}
		d.Nexts = append(d.Nexts, time.Since(start))
	}
	slices.Sort(d.Claims)
	slices.Sort(d.Nexts)
	return d
}

// record records cbs delivered at at, four at a time.
func record(t testing.TB, s tonepay.Store, cbs []*tonepay.Callback, at time.Time) {
	t.Helper()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	work := make(chan *tonepay.Callback)
	for range 4 {
		wg.Go(func() {
			for cb := range work {
				cb.Status, cb.Attempts, cb.DateUpdated = tonepay.CallbackDelivered, cb.Attempts+1, at
				if err := s.RecordAttempt(ctx, cb, &tonepay.Attempt{CallbackID: cb.ID, N: cb.Attempts, At: at, StatusCode: 204}); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		})
	}
	for _, cb := range cbs {
		work <- cb
	}
	close(work)
	wg.Wait()
	if len(errs) > 0 {
		t.Fatal(errs[0])
	}
}

// Quantile returns the q-quantile (0 < q ≤ 1) of sorted durations in
// milliseconds, for a FIGURES line.
func Quantile(sorted []time.Duration, q float64) string {
	if len(sorted) == 0 {
		return "-"
	}
	i := min(len(sorted)-1, int(q*float64(len(sorted))))
	return fmt.Sprintf("%.1fms", float64(sorted[i])/float64(time.Millisecond))
}

// RunChainHeadsMigration checks the migration that marks each session's
// oldest pending callback as its chain's head (issue 19): callbacks queued
// before it are claimed after it, oldest of each session first. open opens
// the same database each time; undo, given it closed, takes it back to
// before that migration (the column and its index gone, the migration
// unrecorded).
func RunChainHeadsMigration(t *testing.T, open func(t *testing.T) tonepay.Store, undo func(t *testing.T)) {
	s := open(t)
	ss := sessions(t, s, 3)
	a0, a1, a2 := newCallback(ss[0], t0), newCallback(ss[0], t0), newCallback(ss[0], t0)
	b1, b2 := newCallback(ss[1], t0), newCallback(ss[1], t0)
	c1 := newCallback(ss[2], t0.Add(time.Hour))
	addCallbacks(t, s, a0, a1, b1, a2, b2, c1)
	deliver(t, s, a0, t0) // a1 heads its chain only once a0 is delivered
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	undo(t)
	s = open(t)
	defer s.Close()
	if next, err := s.NextCallbackAt(ctx); err != nil || !next.Equal(t0) {
		t.Errorf("NextCallbackAt after the migration = %v, %v; want %v", next, err, t0)
	}
	for _, step := range []struct {
		at   time.Time
		want []*tonepay.Callback
	}{{t0, []*tonepay.Callback{a1, b1}}, {t0, []*tonepay.Callback{a2, b2}}, {t0, nil}, {c1.NextAttemptAt, []*tonepay.Callback{c1}}} {
		at, want := step.at, step.want
		got, err := s.ClaimCallbacks(ctx, at, time.Minute, 10)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(ids(want), ids(got)); d != "" {
			t.Fatalf("claim after the migration (-want +got IDs):\n%s", d)
		}
		for _, cb := range got {
			deliver(t, s, cb, at)
		}
	}
}
