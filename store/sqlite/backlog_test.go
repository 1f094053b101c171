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
	d.Check(t, b, batch)
	fig.Report(t, "fault-sqlite-backlog", b.N, d.InOrder, d.Figures(chains, delivered, batch))
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
