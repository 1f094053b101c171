package postgres_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/tonepay/tonepay"
	fig "github.com/tonepay/tonepay/internal/figures"
	"github.com/tonepay/tonepay/internal/pgtest"
	"github.com/tonepay/tonepay/store/internal/sqlrow"
	"github.com/tonepay/tonepay/store/postgres"
	"github.com/tonepay/tonepay/store/storetest"
)

// TestBacklogClaims (issue 19): with 10,000 callbacks due over 250 sessions (40 each)
// in a table that also holds 50,000 delivered ones, claiming stays cheap.
// The first claim returns a full batch (delivery resumes at once), the
// claims' plans read about a batch of rows, never the whole table, and the
// backlog drains, each session's callbacks in order. Claim times are
// reported, not asserted: they depend on the machine's load.
func TestBacklogClaims(t *testing.T) {
	const chains, perChain, delivered, batch = 250, 40, 50_000, 100
	ctx := context.Background()
	url := pgtest.FreshDB(t)
	s, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)

	// The delivered history first (older IDs), written directly: through
	// the store it would take a transaction per session.
	at := time.Date(2026, 11, 23, 1, 0, 0, 0, time.UTC)
	if _, err := conn.Exec(ctx, `INSERT INTO callbacks (token, account_sid, session_sid, url, form, status, attempts, next_attempt_at, date_created, date_updated)
		SELECT 'done' || g, 'AC0', 'PKdone' || (g / 36), 'https://example.com/cb', repeat('x', 300), 'delivered', 1, $2, $2, $2
		FROM generate_series(1, $1) g`, delivered, sqlrow.Ts(at.Add(-time.Hour))); err != nil {
		t.Fatal(err)
	}
	b := storetest.FillBacklog(t, s, chains, perChain, at)
	if _, err := conn.Exec(ctx, `ANALYZE callbacks`); err != nil {
		t.Fatal(err)
	}

	// Plans, custom and generic (pgx prepares statements, so after a few
	// runs PostgreSQL may keep a generic one).
	due, lease := sqlrow.Ts(b.At), sqlrow.Ts(b.At.Add(time.Minute))
	var reads []string
	for _, mode := range []string{"force_custom_plan", "force_generic_plan"} {
		n := planReads(t, conn, mode, postgres.ClaimCallbacksQuery, lease, due, batch)
		if n > 3*batch {
			t.Errorf("%s: a claim of %d reads %d rows of callbacks; want at most %d", mode, batch, n, 3*batch)
		}
		m := planReads(t, conn, mode, postgres.NextCallbackAtQuery)
		if m > 10 {
			t.Errorf("%s: NextCallbackAt reads %d rows of callbacks; want at most 10", mode, m)
		}
		reads = append(reads, fmt.Sprintf("%d/%d", n, m))
	}

	d := storetest.DrainBacklog(t, s, b, batch)
	d.Check(t, b, batch)
	fig.Report(t, "fault-pg-backlog", b.N, d.InOrder, d.Figures(chains, delivered, batch)+" plan_rows_claim/next="+strings.Join(reads, ","))
}

// planReads runs query under EXPLAIN ANALYZE with plan_cache_mode mode, in a
// transaction rolled back, and returns how many rows of callbacks its scans
// read (returned or filtered out, over every loop). A sequential scan of
// callbacks fails the test.
func planReads(t *testing.T, conn *pgx.Conn, mode, query string, args ...any) int {
	t.Helper()
	return planReadsOf(t, conn, mode, "callbacks", query, args...)
}

// planReadsOf is planReads for the table relation.
func planReadsOf(t *testing.T, conn *pgx.Conn, mode, relation, query string, args ...any) int {
	t.Helper()
	ctx := context.Background()
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SET LOCAL plan_cache_mode = `+mode); err != nil {
		t.Fatal(err)
	}
	var out []byte
	if err := tx.QueryRow(ctx, `EXPLAIN (ANALYZE, FORMAT JSON) `+query, args...).Scan(&out); err != nil {
		t.Fatal(err)
	}
	var plans []struct{ Plan node }
	if err := json.Unmarshal(out, &plans); err != nil || len(plans) != 1 {
		t.Fatalf("EXPLAIN: %v %s", err, out)
	}
	var walk func(n node) int
	walk = func(n node) int {
		rows := 0
		if n.Relation == relation && strings.HasSuffix(n.Type, "Scan") {
			if n.Type == "Seq Scan" {
				t.Errorf("%s: a sequential scan of %s in\n%s", mode, relation, out)
			}
			rows = int((n.Rows + n.Removed + n.Rechecked) * n.Loops)
		}
		for _, c := range n.Plans {
			rows += walk(c)
		}
		return rows
	}
	return walk(plans[0].Plan)
}

// node is a plan node of EXPLAIN (FORMAT JSON).
type node struct {
	Type      string  `json:"Node Type"`
	Relation  string  `json:"Relation Name"`
	Rows      float64 `json:"Actual Rows"`
	Loops     float64 `json:"Actual Loops"`
	Removed   float64 `json:"Rows Removed by Filter"`
	Rechecked float64 `json:"Rows Removed by Index Recheck"`
	Plans     []node  `json:"Plans"`
}

// TestChainHeadsMigration: migration 010 marks the chain heads of callbacks
// queued before it.
func TestChainHeadsMigration(t *testing.T) {
	url := pgtest.FreshDB(t)
	storetest.RunChainHeadsMigration(t, func(t *testing.T) tonepay.Store {
		s, err := postgres.Open(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}, func(t *testing.T) {
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `DROP TRIGGER callbacks_queued ON callbacks; DROP FUNCTION callbacks_queued;
			DROP TRIGGER callbacks_settled ON callbacks; DROP FUNCTION callbacks_settled;
			ALTER TABLE callbacks DROP COLUMN chain_head;
			DELETE FROM migrations WHERE name = 'migrations/010_callback_heads.sql'`); err != nil {
			t.Fatal(err)
		}
	})
}

// TestOlderWriters: during an upgrade, a process of the version before
// migration 010 queues and records callbacks with its own statements, which
// know nothing of chain heads; this version's claims still find each
// session's oldest pending callback, in order.
func TestOlderWriters(t *testing.T) {
	ctx := context.Background()
	url := pgtest.FreshDB(t)
	s, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	at := time.Date(2026, 11, 23, 1, 0, 0, 0, time.UTC)
	// The older version's statements (store/postgres before 010).
	queue := func(session string) int64 {
		var id int64
		err := conn.QueryRow(ctx, `INSERT INTO callbacks (token, account_sid, session_sid, url, form, status, attempts, next_attempt_at, leased_until, date_created, date_updated, method)
			VALUES ($1, 'AC0', $2, 'https://example.com/cb', '', 'pending', 0, $3, 0, $3, $3, '') RETURNING id`,
			tonepay.RandomHex(8), session, sqlrow.Ts(at)).Scan(&id)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	deliver := func(id int64) {
		if _, err := conn.Exec(ctx, `UPDATE callbacks SET status = 'delivered', attempts = 1, next_attempt_at = $1, leased_until = 0, date_updated = $1 WHERE id = $2`,
			sqlrow.Ts(at), id); err != nil {
			t.Fatal(err)
		}
	}
	claim := func() []int64 {
		t.Helper()
		got, err := s.ClaimCallbacks(ctx, at, time.Minute, 10)
		if err != nil {
			t.Fatal(err)
		}
		var ids []int64
		for _, cb := range got {
			ids = append(ids, cb.ID)
		}
		return ids
	}
	a1, a2, b1 := queue("PKa"), queue("PKa"), queue("PKb")
	if got := claim(); !slices.Equal(got, []int64{a1, b1}) {
		t.Fatalf("first claim = %v, want %v", got, []int64{a1, b1})
	}
	deliver(a1) // by the older process
	a3 := queue("PKa")
	if got := claim(); !slices.Equal(got, []int64{a2}) {
		t.Fatalf("claim after a1 = %v, want %v", got, []int64{a2})
	}
	deliver(a2)
	if got := claim(); !slices.Equal(got, []int64{a3}) {
		t.Fatalf("claim after a2 = %v, want %v", got, []int64{a3})
	}
}

// TestLapsedLegsPlan: among 20,000 ended calls and 200 live simulated ones,
// the sweeper's look for lapsed leases (every few seconds, in every
// process) reads the partial index of live real calls, with a custom plan
// and with the generic one pgx's prepared statement may settle on.
func TestLapsedLegsPlan(t *testing.T) {
	ctx := context.Background()
	url := pgtest.FreshDB(t)
	s, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	at := time.Date(2026, 11, 23, 1, 0, 0, 0, time.UTC)
	a := storetest.MustAccount(t, s, "", at)
	if _, err := conn.Exec(ctx, `INSERT INTO calls (`+sqlrow.CallCols+`)
		SELECT 'CA' || lpad(g::text, 32, '0'), $1, '+1', '+2', '', CASE WHEN g <= 200 THEN 'in-progress' ELSE 'completed' END, 'inbound',
			$2::bigint, CASE WHEN g <= 200 THEN 0 ELSE $2::bigint END, $2::bigint, $2::bigint, 'POST', '', '', 'POST', '', 'POST', '', 60, '', '', '', '',
			CASE WHEN g <= 200 THEN 'simulated' ELSE 'sip' END, $2::bigint
		FROM generate_series(1, 20200) g`, a.Sid, sqlrow.Ts(at)); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `ANALYZE calls`); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"force_custom_plan", "force_generic_plan"} {
		tx, err := conn.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, `SET LOCAL plan_cache_mode = `+mode); err != nil {
			t.Fatal(err)
		}
		rows, err := tx.Query(ctx, `EXPLAIN `+postgres.LapsedQuery, sqlrow.Ts(at.Add(time.Hour)), 100)
		if err != nil {
			t.Fatal(err)
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		tx.Rollback(ctx)
		if err != nil {
			t.Fatal(err)
		}
		plan := strings.Join(lines, "\n")
		if !strings.Contains(plan, "calls_leg_leases") || strings.Contains(plan, "Seq Scan") {
			t.Errorf("%s: want calls_leg_leases, no sequential scan:\n%s", mode, plan)
		}
	}
}
