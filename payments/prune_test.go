package payments_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/connector/sandbox"
	"github.com/tonepay/tonepay/internal/pgtest"
	"github.com/tonepay/tonepay/internal/servicetest"
	"github.com/tonepay/tonepay/seal"
	"github.com/tonepay/tonepay/store/postgres"
	"github.com/tonepay/tonepay/store/sqlite"
	"github.com/tonepay/tonepay/store/storetest"
)

// TestPrunerRetention: on both stores, the pruner deletes the sessions that
// ended more than the retention ago (with their callbacks and attempts),
// batch after batch; keeps a recent one, an open one however old, and an
// old one whose callback is still being retried until it is delivered; and
// takes the recent one once the clock passes its retention.
func TestPrunerRetention(t *testing.T) {
	stores := []struct {
		name string
		open func(t *testing.T) tonepay.Store
	}{
		{"sqlite", func(t *testing.T) tonepay.Store {
			s, err := sqlite.Open(filepath.Join(t.TempDir(), "s.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}},
		{"postgres", func(t *testing.T) tonepay.Store {
			s, err := postgres.Open(context.Background(), pgtest.FreshDB(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}},
	}
	const retention = 24 * time.Hour
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			ctx := context.Background()
			store := st.open(t)
			clk := servicetest.NewClock()
			box, _ := seal.New(bytes.Repeat([]byte{1}, 32))
			svc := servicetest.New(store, servicetest.Nop{}, box, tonepay.Connectors{"Default": sandbox.New()}, slog.New(slog.NewTextHandler(io.Discard, nil)))
			svc.Tx.Now = clk.Now
			svc.Payments.PruneEvery = 5 * time.Millisecond
			acct := storetest.MustAccount(t, store, "", clk.Now())
			// start opens a session on a call of its own (with a status
			// callback when cb) and, with end, cancels it.
			start := func(cb, end bool) string {
				t.Helper()
				call := storetest.MustCall(t, store, acct.Sid, clk.Now())
				req := &tonepay.CreateRequest{AccountSid: acct.Sid, CallSid: call.Sid, ChargeAmount: "10.00",
					Params: tonepay.Params{PaymentMethod: tonepay.CreditCard, Currency: "USD", PaymentConnector: "Default", Timeout: 5, Input: "dtmf"}}
				if cb {
					req.StatusCallback = "https://example.com/cb"
				}
				p, err := svc.CreateSession(ctx, req)
				if err != nil {
					t.Fatal(err)
				}
				if end {
					if _, err := svc.UpdateSession(ctx, &tonepay.UpdateRequest{AccountSid: acct.Sid, CallSid: call.Sid, Sid: p.Sid, Status: "cancel"}); err != nil {
						t.Fatal(err)
					}
				}
				return p.Sid
			}
			// deliverAll delivers every pending callback, as the dispatcher would.
			deliverAll := func() {
				t.Helper()
				for {
					cbs, err := store.ClaimCallbacks(ctx, clk.Now(), time.Minute, 100)
					if err != nil {
						t.Fatal(err)
					}
					if len(cbs) == 0 {
						return
					}
					for _, cb := range cbs {
						cb.Status, cb.Attempts, cb.DateUpdated = tonepay.CallbackDelivered, cb.Attempts+1, clk.Now()
						if err := store.RecordAttempt(ctx, cb, &tonepay.Attempt{CallbackID: cb.ID, N: cb.Attempts, At: clk.Now(), StatusCode: 204}); err != nil {
							t.Fatal(err)
						}
					}
				}
			}
			gone := func(sid string) bool {
				t.Helper()
				_, err := store.FindSession(ctx, sid)
				if err != nil && !errors.Is(err, tonepay.ErrNotFound) {
					t.Fatal(err)
				}
				return err != nil
			}
			callbacks := func(sid string) []*tonepay.Callback {
				t.Helper()
				cbs, err := store.FindCallbacks(ctx, sid)
				if err != nil {
					t.Fatal(err)
				}
				return cbs
			}

			var old []string
			for range 5 {
				old = append(old, start(true, true))
			}
			deliverAll()
			oldCallbacks := callbacks(old[0])
			if len(oldCallbacks) == 0 {
				t.Fatal("an ended session with a StatusCallback has no callbacks")
			}
			retrying := start(true, true) // its callbacks stay pending
			if len(callbacks(retrying)) == 0 {
				t.Fatal("the retrying session has no callbacks")
			}
			open := start(false, false)
			clk.Add(retention + time.Hour)
			recent := start(false, true)

			pctx, cancel := context.WithCancel(ctx)
			done := make(chan struct{})
			go func() { defer close(done); svc.Payments.PruneWith(pctx, retention, 2) }()
			defer func() { cancel(); <-done }()

			waitFor(t, 10*time.Second, "the old sessions pruned", func() bool {
				for _, sid := range old {
					if !gone(sid) {
						return false
					}
				}
				return true
			})
			if cbs := callbacks(old[0]); len(cbs) != 0 {
				t.Errorf("a pruned session's callbacks: %d left", len(cbs))
			}
			for _, cb := range oldCallbacks {
				if as, err := store.FindAttempts(ctx, cb.ID); err != nil || len(as) != 0 {
					t.Errorf("a pruned callback's attempts: %d left, %v", len(as), err)
				}
			}
			for name, sid := range map[string]string{"retrying": retrying, "open": open, "recent": recent} {
				if gone(sid) {
					t.Errorf("the %s session was pruned", name)
				}
			}

			// Its callbacks delivered, the retrying session goes.
			deliverAll()
			waitFor(t, 10*time.Second, "the retried session pruned", func() bool { return gone(retrying) })
			// A day and a minute later the recent one is past its retention;
			// the open one (idle sessions end by the sweeper, not the
			// pruner) stays.
			clk.Add(retention + time.Minute)
			waitFor(t, 10*time.Second, "the recent session pruned", func() bool { return gone(recent) })
			if gone(open) {
				t.Error("an open session was pruned")
			}
			cancel()
			<-done
		})
	}
}

// waitFor polls ok every 5 ms and fails the test after d.
func waitFor(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
