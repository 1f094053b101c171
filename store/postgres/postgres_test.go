package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/seal"
	"github.com/tonepay/tonepay/store/postgres"
	"github.com/tonepay/tonepay/store/storetest"
)

// serverURL is a PostgreSQL server to make test databases on, from
// TONEPAY_TEST_POSTGRES_URL (.ci/run starts one). Without it the tests skip,
// except under CI, where they fail: CI must run them.
func serverURL(t *testing.T) string {
	u := os.Getenv("TONEPAY_TEST_POSTGRES_URL")
	if u == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("TONEPAY_TEST_POSTGRES_URL is not set under CI")
		}
		t.Skip("TONEPAY_TEST_POSTGRES_URL is not set")
	}
	return u
}

var dbSeq atomic.Int64

// freshDB creates an empty database for one test and returns its URL.
func freshDB(t *testing.T) string {
	base := serverURL(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	name := fmt.Sprintf("tonepay_test_%d_%d", os.Getpid(), dbSeq.Add(1))
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), base)
		if err == nil {
			c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			c.Close(context.Background())
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// open opens a store as tonepay serve does, sealing auth tokens.
func open(t *testing.T) tonepay.Store {
	box, err := seal.New(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	s, err := postgres.OpenWith(context.Background(), freshDB(t), postgres.Options{Tokens: box})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, open)
}

func TestMigrationsOnce(t *testing.T) {
	url := freshDB(t)
	for range 2 {
		s, err := postgres.Open(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
	}
}

// TestListen: an event committed through one process's store reaches a
// listener on another's; a rolled-back one does not.
func TestListen(t *testing.T) {
	url := freshDB(t)
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
	events := make(chan tonepay.Event, 10)
	go b.Listen(ctx, func(e tonepay.Event) { events <- e })
	time.Sleep(200 * time.Millisecond) // LISTEN is in place

	acct := storetest.MustAccount(t, a, "", time.Now())
	cb := func(pk string) *tonepay.Callback {
		now := time.Now()
		return &tonepay.Callback{Token: tonepay.RandomHex(8), AccountSid: acct.Sid, SessionSid: pk, URL: "http://x/",
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
