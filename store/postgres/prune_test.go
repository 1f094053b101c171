package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/tonepay/tonepay/internal/pgtest"
	"github.com/tonepay/tonepay/store/internal/sqlrow"
	"github.com/tonepay/tonepay/store/postgres"
	"github.com/tonepay/tonepay/store/storetest"
)

// TestPruneSessionsPlan: among 20,000 sessions (19,600 ended within the
// retention, 200 open, 200 ended before the cut of which 100 still have a
// callback pending) and a delivered callback each, finding a batch to prune
// reads the index of ended sessions up to the cut and the pending
// callbacks' index, never a whole table, with a custom plan and with the
// generic one pgx's prepared statement may settle on.
func TestPruneSessionsPlan(t *testing.T) {
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
	cut, recent := at.Add(time.Hour), at.Add(2*time.Hour)
	a := storetest.MustAccount(t, s, "", at)
	calls := `INSERT INTO calls (` + sqlrow.CallCols + `)
		SELECT 'CA' || lpad(g::text, 32, '0'), $1, '+1', '+2', '', 'completed', 'inbound',
			$2::bigint, $2::bigint, $2::bigint, $2::bigint, 'POST', '', '', 'POST', '', 'POST', '', 60, '', '', '', '', 'simulated', 0
		FROM generate_series(1, 20000) g`
	sessions := `INSERT INTO sessions (sid, account_sid, call_sid, status, params, state, deadline, date_created, date_updated)
		SELECT 'PK' || lpad(g::text, 32, '0'), $1, 'CA' || lpad(g::text, 32, '0'),
			CASE WHEN g BETWEEN 201 AND 400 THEN 'open' ELSE 'ended' END, '{}', '{}', 0, $2::bigint,
			CASE WHEN g <= 400 THEN $2::bigint ELSE $3::bigint END
		FROM generate_series(1, 20000) g`
	// $4: the callback's status; $5: how many sessions (the first) get one.
	callbacks := `INSERT INTO callbacks (token, account_sid, session_sid, url, form, status, attempts, next_attempt_at, date_created, date_updated)
		SELECT $4 || g, $1, 'PK' || lpad(g::text, 32, '0'), 'https://example.com/cb', '', $4, 1, $3::bigint, $2::bigint, $2::bigint
		FROM generate_series(1, $5::int) g`
	for _, st := range []struct {
		q    string
		args []any
	}{
		{calls, []any{a.Sid, sqlrow.Ts(at)}},
		{sessions, []any{a.Sid, sqlrow.Ts(at), sqlrow.Ts(recent)}},
		{callbacks, []any{a.Sid, sqlrow.Ts(at), sqlrow.Ts(at), "delivered", 20000}},
		{callbacks, []any{a.Sid, sqlrow.Ts(at), sqlrow.Ts(recent), "pending", 100}},
		{`ANALYZE calls, sessions, callbacks`, nil},
	} {
		if _, err := conn.Exec(ctx, st.q, st.args...); err != nil {
			t.Fatalf("%v\n%s", err, st.q)
		}
	}
	for _, mode := range []string{"force_custom_plan", "force_generic_plan"} {
		n := planReadsOf(t, conn, mode, "sessions", postgres.PruneSessionsQuery, sqlrow.Ts(cut), 500)
		if n > 400 {
			t.Errorf("%s: a batch reads %d rows of sessions; want at most 400 (the 200 ended before the cut, and their neighbours)", mode, n)
		}
		m := planReadsOf(t, conn, mode, "callbacks", postgres.PruneSessionsQuery, sqlrow.Ts(cut), 500)
		if m > 400 {
			t.Errorf("%s: a batch reads %d rows of callbacks; want at most 400", mode, m)
		}
		t.Logf("%s: sessions rows read %d, callbacks rows read %d", mode, n, m)
	}
}
