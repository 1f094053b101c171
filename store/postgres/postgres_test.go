package postgres_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/tonepay/tonepay"
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

func open(t *testing.T) tonepay.Store {
	s, err := postgres.Open(context.Background(), freshDB(t))
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
