package sqlite_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/store/sqlite"
	"github.com/tonepay/tonepay/store/storetest"
)

func open(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) tonepay.Store { return open(t, filepath.Join(t.TempDir(), "s.db")) })
}

func TestInMemory(t *testing.T) {
	storetest.Run(t, func(t *testing.T) tonepay.Store { return open(t, ":memory:") })
}

// TestDurableSettings reads back the pragmas that make a commit survive a crash.
func TestDurableSettings(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "p.db"))
	for _, tt := range []struct{ pragma, want string }{
		{"journal_mode", "wal"},
		{"synchronous", "2"}, // FULL: the WAL is fsynced at every commit
		{"foreign_keys", "1"},
	} {
		got, err := s.Pragma(tt.pragma)
		if err != nil || got != tt.want {
			t.Errorf("PRAGMA %s = %q, %v; want %q", tt.pragma, got, err, tt.want)
		}
	}
}

func TestReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.db")
	s, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	a := storetest.MustAccount(t, s, "", time.Now())
	first, err := s.Migrations()
	if err != nil || len(first) == 0 {
		t.Fatalf("migrations recorded: %v %v", first, err)
	}
	s.Close()

	s = open(t, path)
	again, err := s.Migrations()
	if err != nil || len(again) != len(first) {
		t.Errorf("migrations after reopen: %v %v, want %v", again, err, first)
	}
	if _, err := s.FindAccount(context.Background(), a.Sid); err != nil {
		t.Errorf("account after reopen: %v", err)
	}
}

// TestConcurrentWriters: writes queue behind the single writer connection
// instead of failing with SQLITE_BUSY.
func TestConcurrentWriters(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "c.db"))
	a := storetest.MustAccount(t, s, "", time.Now())
	var wg sync.WaitGroup
	errs := make(chan error, 2*8*20)
	for range 8 {
		wg.Go(func() {
			for range 20 {
				now := time.Now().UTC()
				c := &tonepay.Call{Sid: tonepay.NewSID("CA"), AccountSid: a.Sid, Status: tonepay.CallInProgress, StartTime: now, DateCreated: now, DateUpdated: now}
				errs <- s.Update(context.Background(), func(tx tonepay.Tx) error { return tx.CreateCall(context.Background(), c) })
				_, err := s.FindCalls(context.Background(), tonepay.CallFilter{AccountSid: a.Sid, Limit: 5})
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	calls, err := s.FindCalls(context.Background(), tonepay.CallFilter{AccountSid: a.Sid})
	if err != nil || len(calls) != 160 {
		t.Fatalf("got %d calls, %v; want 160", len(calls), err)
	}
}

// TestReleaseLeases: a claim left by a dead process is released at start-up,
// but a retry scheduled for later stays scheduled.
func TestReleaseLeases(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "l.db"))
	now := time.Now().UTC()
	a := storetest.MustAccount(t, s, "", now)

	cb := func(session string, next time.Time) *tonepay.Callback {
		return &tonepay.Callback{Token: tonepay.RandomHex(8), AccountSid: a.Sid, SessionSid: session, URL: "http://x/", Status: tonepay.CallbackPending,
			NextAttemptAt: next, DateCreated: now, DateUpdated: now}
	}
	leased, later := cb("PK1", now), cb("PK2", now.Add(time.Hour))

	if err := s.Update(ctx, func(tx tonepay.Tx) error { return tx.AddCallbacks(ctx, leased, later) }); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.ClaimCallbacks(ctx, now, time.Minute, 10); len(got) != 1 {
		t.Fatalf("claimed %d", len(got))
	}
	if err := s.ReleaseLeases(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := s.ClaimCallbacks(ctx, now, time.Minute, 10)
	if err != nil || len(got) != 1 || got[0].ID != leased.ID {
		t.Fatalf("after release: %v %v", got, err)
	}
}
