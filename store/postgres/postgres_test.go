package postgres_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/internal/pgtest"
	"github.com/tonepay/tonepay/seal"
	"github.com/tonepay/tonepay/store/postgres"
	"github.com/tonepay/tonepay/store/storetest"
)

// open opens a store as tonepay serve does, sealing auth tokens.
func open(t *testing.T) tonepay.Store {
	box, err := seal.New(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	s, err := postgres.OpenWith(context.Background(), pgtest.FreshDB(t), postgres.Options{Tokens: box})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, open)
}

// TestMigrationsOnce: the migrations apply once, on a second open too, and
// leave the schema as they mean to: migration 016 dropped callbacks_due,
// which no query reads since 010 and every retry-time change paid for.
func TestMigrationsOnce(t *testing.T) {
	ctx := context.Background()
	url := pgtest.FreshDB(t)
	for range 2 {
		s, err := postgres.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_indexes WHERE tablename = 'callbacks' AND indexname = 'callbacks_due'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("callbacks_due: %d (%v), want dropped", n, err)
	}
}

// TestListen: an event committed through one process's store reaches a
// listener on another's; a rolled-back one does not.
func TestListen(t *testing.T) {
	url := pgtest.FreshDB(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	events := make(chan tonepay.SessionChanged, 10)
	go b.Listen(ctx, func(e tonepay.SessionChanged) { events <- e })
	time.Sleep(200 * time.Millisecond) // LISTEN is in place

	acct := storetest.MustAccount(t, a, "", time.Now())
	cb := func(pk string) *tonepay.Callback {
		now := time.Now()
		return &tonepay.Callback{Token: tonepay.RandomHex(8), AccountSid: acct.Sid, Chain: pk, URL: "http://x/",
			Status: tonepay.CallbackPending, NextAttemptAt: now, DateCreated: now, DateUpdated: now}
	}
	a.Update(ctx, func(tx tonepay.Tx) error { tx.AddCallbacks(ctx, cb("PKrolledback")); return errors.New("no") })
	if err := a.Update(ctx, func(tx tonepay.Tx) error { return tx.AddCallbacks(ctx, cb("PK1"), cb("PK1")) }); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-events:
		if e.SessionSid != "PK1" || e.AccountSid != acct.Sid {
			t.Errorf("event %+v", e)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no event")
	}
	select {
	case e := <-events:
		t.Errorf("an extra event: %+v", e)
	case <-time.After(300 * time.Millisecond):
	}
}

// TestEraseWithinBounds: the bound is refused outside [1s, 60s], before any
// connection is made.
func TestEraseWithinBounds(t *testing.T) {
	for _, d := range []time.Duration{-time.Second, time.Millisecond, 61 * time.Second} {
		if s, err := postgres.OpenWith(context.Background(), "postgres://127.0.0.1:1/x", postgres.Options{EraseWithin: d}); err == nil {
			s.Close()
			t.Errorf("EraseWithin %v accepted", d)
		}
	}
}

// TestLive: CountLive, and a commit observed for each write.
func TestLive(t *testing.T) {
	s, err := postgres.Open(context.Background(), pgtest.FreshDB(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	var commits atomic.Int64
	s.ObserveCommit = func(time.Duration) { commits.Add(1) }
	storetest.RunLive(t, s)
	if commits.Load() < 5 {
		t.Errorf("%d commits observed", commits.Load())
	}
}
