package calls_test

import (
	"bytes"
	"context"
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

// liveStore is a store with the count /metrics shows.
type liveStore interface {
	tonepay.Store
	CountLive(ctx context.Context) (sessions, callbacks, calls int, err error)
}

// TestSweepEndsOrphanLegs: a Dial leg left in progress after its parent
// ended (a crash between transactions, or an older tonepay's bug) is ended
// by the call sweeper, on both stores; a leg whose parent is still up, and
// the parent's own run, are left alone.
func TestSweepEndsOrphanLegs(t *testing.T) {
	stores := []struct {
		name string
		open func(t *testing.T) liveStore
	}{
		{"sqlite", func(t *testing.T) liveStore {
			s, err := sqlite.Open(filepath.Join(t.TempDir(), "s.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}},
		{"postgres", func(t *testing.T) liveStore {
			s, err := postgres.Open(context.Background(), pgtest.FreshDB(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}},
	}
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			ctx := context.Background()
			store := st.open(t)
			clk := servicetest.NewClock()
			box, _ := seal.New(bytes.Repeat([]byte{1}, 32))
			svc := servicetest.New(store, nop{}, box, tonepay.Connectors{"Default": sandbox.New()}, slog.New(slog.NewTextHandler(io.Discard, nil)))
			svc.Tx.Now = clk.Now
			svc.Fetcher = newApp(map[string]string{"start": `<Response>` + dialTo(1) + `</Response>`})
			t.Cleanup(svc.StopCalls)
			acct := storetest.MustAccount(t, store, "", clk.Now())
			live := func() int {
				t.Helper()
				_, _, n, err := store.CountLive(ctx)
				if err != nil {
					t.Fatal(err)
				}
				return n
			}
			level := live()
			place := func() (parent, leg *tonepay.Call) {
				t.Helper()
				p, err := svc.CreateCall(ctx, &tonepay.CreateCallRequest{AccountSid: acct.Sid, To: "+15005550006", From: "+15005550001", URL: ivr + "start"})
				if err != nil {
					t.Fatal(err)
				}
				legs, err := store.FindCalls(ctx, tonepay.CallFilter{AccountSid: acct.Sid, Parent: p.Sid})
				if err != nil || len(legs) != 1 {
					t.Fatalf("legs of %s: %d %v", p.Sid, len(legs), err)
				}
				return p, legs[0]
			}
			orphaned, orphan := place()
			up, upLeg := place()
			// The parent's end committed without its leg's.
			clk.Add(time.Minute)
			orphaned.Status, orphaned.EndTime, orphaned.DateUpdated = tonepay.CallCompleted, clk.Now(), clk.Now()
			if err := store.Update(ctx, func(tx tonepay.Tx) error { return tx.UpdateCall(ctx, orphaned) }); err != nil {
				t.Fatal(err)
			}
			clk.Add(time.Second)
			if _, err := svc.SweepCalls(ctx, false); err != nil {
				t.Fatal(err)
			}
			if l, _ := store.FindCall(ctx, orphan.Sid); l.Status != tonepay.CallCompleted || !l.EndTime.Equal(clk.Now()) {
				t.Errorf("orphan leg after the sweep: %s, end %v; want completed at %v", l.Status, l.EndTime, clk.Now())
			}
			for _, sid := range []string{up.Sid, upLeg.Sid} {
				if c, _ := store.FindCall(ctx, sid); c.Status != tonepay.CallInProgress {
					t.Errorf("call %s of a live Dial after the sweep: %s", c.Direction, c.Status)
				}
			}
			if n := live(); n != level+2 {
				t.Errorf("%d calls in progress after the sweep, want %d (the live Dial's two)", n, level+2)
			}
			// Another sweep soon after changes nothing.
			if _, err := svc.SweepCalls(ctx, false); err != nil {
				t.Fatal(err)
			}
			if _, err := svc.HangUp(ctx, acct.Sid, up.Sid); err != nil {
				t.Fatal(err)
			}
			if n := live(); n != level {
				t.Errorf("%d calls in progress at the end, want %d", n, level)
			}
		})
	}
}
