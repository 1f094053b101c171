package sqlite_test

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tonepay/tonepay"
	fig "github.com/tonepay/tonepay/internal/figures"
	"github.com/tonepay/tonepay/store/sqlite"
	"github.com/tonepay/tonepay/store/storetest"
)

// TestBacklogClaims (issue 19): PostgreSQL's backlog on SQLite, 10,000
// callbacks due over 250 sessions (40 each) in a table that also holds
// 50,000 delivered ones. The claims' plans read the chains' heads by index,
// never a scan of callbacks; the first claim returns a full batch, and the
// backlog drains, each session's callbacks in order. Claim times are
// reported, not asserted: they depend on the machine's load.
func TestBacklogClaims(t *testing.T) {
	const chains, perChain, delivered, batch = 250, 40, 50_000, 100
	s := open(t, filepath.Join(t.TempDir(), "b.db"))
	at := time.Date(2026, 11, 23, 1, 0, 0, 0, time.UTC)
	old := at.Add(-time.Hour)
	var done []*tonepay.Callback
	for i := range delivered {
		done = append(done, &tonepay.Callback{Token: fmt.Sprintf("done%d", i), AccountSid: "AC0", Chain: fmt.Sprintf("PKdone%d", i/36),
			URL: "https://example.com/cb", Status: tonepay.CallbackDelivered, Attempts: 1, NextAttemptAt: old, DateCreated: old, DateUpdated: old})
	}
	if err := s.Update(ctx, func(tx tonepay.Tx) error { return tx.AddCallbacks(ctx, done...) }); err != nil {
		t.Fatal(err)
	}
	b := storetest.FillBacklog(t, s, chains, perChain, at)

	for name, q := range map[string]string{"ClaimCallbacks": sqlite.ClaimCallbacksQuery, "NextCallbackAt": sqlite.NextCallbackAtQuery} {
		plan, err := s.QueryPlan(q, int64(1), int64(2), batch)
		if err != nil {
			t.Fatal(err)
		}
		// A SCAN of callbacks reads the whole table, or every pending
		// callback; "SCAN c USING INDEX callbacks_heads" reads the heads in
		// order and stops at the limit.
		for _, line := range strings.Split(plan, "\n") {
			if strings.HasPrefix(line, "SCAN") && !strings.Contains(line, "USING INDEX callbacks_heads") {
				t.Errorf("%s plan scans: %q in\n%s", name, line, plan)
			}
		}
		if !strings.Contains(plan, "callbacks_heads") {
			t.Errorf("%s plan does not read callbacks_heads:\n%s", name, plan)
		}
	}

	d := storetest.DrainBacklog(t, s, b, batch)
	// Delivery resumes at once: the first claim is a full batch, well
	// within a second (a loose bound, for a loaded machine).
	if d.First != batch || d.FirstTook > time.Second {
		t.Errorf("the first claim over the backlog returned %d callbacks in %v, want %d within a second", d.First, d.FirstTook, batch)
	}
	if d.Delivered != b.N {
		t.Errorf("drained %d of %d callbacks", d.Delivered, b.N)
	}
	fig.Report(t, "fault-sqlite-backlog", b.N, d.InOrder, fmt.Sprintf("chains=%d delivered_before=%d batch=%d first_claim=%d/%s claims=%d claim_p50=%s claim_p99=%s next_p50=%s next_p99=%s",
		chains, delivered, batch, d.First, storetest.Quantile([]time.Duration{d.FirstTook}, 1), len(d.Claims),
		storetest.Quantile(d.Claims, 0.5), storetest.Quantile(d.Claims, 0.99),
		storetest.Quantile(d.Nexts, 0.5), storetest.Quantile(d.Nexts, 0.99)))
}

// TestChainHeadsMigration: migration 012 marks the chain heads of callbacks
// queued before it.
func TestChainHeadsMigration(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.db")
	storetest.RunChainHeadsMigration(t, func(t *testing.T) tonepay.Store {
		s, err := sqlite.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}, func(t *testing.T) {
		db, err := sql.Open("sqlite", path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		for _, q := range []string{
			`DROP INDEX callbacks_heads`,
			`ALTER TABLE callbacks DROP COLUMN chain_head`,
			`CREATE INDEX callbacks_due ON callbacks (next_attempt_at) WHERE status = 'pending'`,
			`DELETE FROM migrations WHERE name = 'migrations/012_callback_heads.sql'`,
		} {
			if _, err := db.Exec(q); err != nil {
				t.Fatal(q, err)
			}
		}
	})
}
