// Package pgtest gives tests a fresh PostgreSQL database on the server named
// by TONEPAY_TEST_POSTGRES_URL (.ci/run starts one). Without the variable a
// test skips, except under CI, where it fails: CI must run every suite.
// For tests only.
package pgtest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/tonepay/tonepay/internal/suites"
)

// ServerURL returns TONEPAY_TEST_POSTGRES_URL, or skips (fails under CI).
func ServerURL(t testing.TB) string {
	t.Helper()
	u, how := suites.PostgresURL()
	if u == "" {
		suites.Need(t, suites.PostgresSuite, how)
	}
	return u
}

var seq atomic.Int64

// FreshDB creates an empty database for one test, dropped when it ends, and
// returns its URL.
func FreshDB(t testing.TB) string {
	t.Helper()
	base := ServerURL(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	name := fmt.Sprintf("tonepay_test_%d_%d", os.Getpid(), seq.Add(1))
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if c, err := pgx.Connect(context.Background(), base); err == nil {
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
