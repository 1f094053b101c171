package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/store/internal/sqlrow"
)

// FindCallRun locks the run inside a transaction (FOR UPDATE): two processes
// stepping one call take turns, and the second sees the first's Seq.
func (r reader) FindCallRun(ctx context.Context, callSid string) (*tonepay.CallRun, error) {
	return one(ctx, r.q, "FindCallRun", sqlrow.ScanCallRun, `SELECT `+sqlrow.CallRunCols+` FROM call_runs WHERE call_sid = $1`+r.forUpdate(), callSid)
}

func (r reader) FindDueCallRuns(ctx context.Context, now time.Time, n int) ([]string, error) {
	const op = "FindDueCallRuns"
	rows, err := r.q.Query(ctx, `SELECT call_sid FROM call_runs WHERE deadline <> 0 AND deadline <= $1 ORDER BY deadline, call_sid LIMIT $2`,
		sqlrow.Ts(now), limit(n))
	if err != nil {
		return nil, wrap(op, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var sid string
		if err := rows.Scan(&sid); err != nil {
			return nil, wrap(op, err)
		}
		out = append(out, sid)
	}
	return out, wrap(op, rows.Err())
}

// FindOrphanLegs walks the calls_live index (calls in progress only) and
// looks each leg's parent up by its key. It locks nothing: the caller
// checks again, under lock, in the transaction that ends a leg.
func (r reader) FindOrphanLegs(ctx context.Context, n int) ([]*tonepay.Call, error) {
	return many(ctx, r.q, "FindOrphanLegs", sqlrow.ScanCall, `SELECT `+sqlrow.CallCols+` FROM calls l
		WHERE l.status = 'in-progress' AND l.parent_call_sid <> ''
		AND EXISTS (SELECT 1 FROM calls p WHERE p.sid = l.parent_call_sid AND p.status NOT IN ($1, $2, $3))
		ORDER BY l.date_created, l.sid LIMIT $4`, tonepay.CallQueued, tonepay.CallRinging, tonepay.CallInProgress, limit(n))
}

// lapsedQuery finds calls whose lease lapsed. Its first three terms are
// calls_leg_leases's WHERE (migration 014), as literals: a generic plan
// can use a partial index only if the query states its predicate itself.
const lapsedQuery = `SELECT ` + sqlrow.CallCols + ` FROM calls
	WHERE status IN ('queued', 'ringing', 'in-progress') AND parent_call_sid = '' AND leg <> 'simulated'
	AND leg_lease > 0 AND leg_lease < $1
	ORDER BY leg_lease, sid LIMIT $2`

// FindLapsedLegs reads calls_leg_leases: the live real calls only. It
// locks nothing: the caller checks again, under lock, in the transaction
// that ends a call.
func (r reader) FindLapsedLegs(ctx context.Context, before time.Time, n int) ([]*tonepay.Call, error) {
	return many(ctx, r.q, "FindLapsedLegs", sqlrow.ScanCall, lapsedQuery, sqlrow.Ts(before), limit(n))
}

func (r reader) FindTimeline(ctx context.Context, callSid string, afterSeq int64, n int) ([]*tonepay.TimelineEntry, error) {
	return many(ctx, r.q, "FindTimeline", sqlrow.ScanTimeline, `SELECT `+sqlrow.TimelineCols+` FROM call_timeline
		WHERE call_sid = $1 AND seq > $2 ORDER BY seq LIMIT $3`, callSid, afterSeq, limit(n))
}

// SaveCallRun: the Seq check is in the statement's WHERE. A concurrent save
// of the same run waits for the row lock and then finds seq moved on (READ
// COMMITTED re-checks the WHERE on the new row version): ErrConflict. A
// concurrent first save waits on the key and then does nothing: ErrConflict.
func (t *txn) SaveCallRun(ctx context.Context, r *tonepay.CallRun) error {
	const op = "SaveCallRun"
	var query string
	var args []any
	if r.Seq == 0 {
		query = `INSERT INTO call_runs (` + sqlrow.CallRunCols + `) VALUES ($1, $2, $3, 1, $4, $5) ON CONFLICT (call_sid) DO NOTHING`
		args = []any{r.CallSid, r.AccountSid, string(r.State), sqlrow.Ts(r.Deadline), sqlrow.Ts(r.DateUpdated)}
	} else {
		query = `UPDATE call_runs SET state = $1, seq = seq + 1, deadline = $2, date_updated = $3 WHERE call_sid = $4 AND seq = $5`
		args = []any{string(r.State), sqlrow.Ts(r.Deadline), sqlrow.Ts(r.DateUpdated), r.CallSid, r.Seq}
	}
	tag, err := t.tx.Exec(ctx, query, args...)
	if err != nil {
		return wrap(op, err)
	}
	if tag.RowsAffected() == 0 {
		return wrap(op, sqlrow.MissedSave(r.Seq, func() (exists bool, err error) {
			err = t.tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM call_runs WHERE call_sid = $1)`, r.CallSid).Scan(&exists)
			return
		}))
	}
	r.Seq++
	return nil
}

// AddTimeline numbers after the call's last entry. The call's run row is
// locked first (when it has one, as a runner's call does), so that two
// transactions appending to one call take turns instead of both taking the
// same numbers; two that still collide fail on the key, as ErrConflict.
func (t *txn) AddTimeline(ctx context.Context, callSid string, at time.Time, entries ...[]byte) error {
	const op = "AddTimeline"
	if len(entries) == 0 {
		return nil
	}
	if _, err := t.tx.Exec(ctx, `SELECT 1 FROM call_runs WHERE call_sid = $1 FOR UPDATE`, callSid); err != nil {
		return wrap(op, err)
	}
	var last int64
	if err := t.tx.QueryRow(ctx, `SELECT COALESCE(MAX(seq), 0) FROM call_timeline WHERE call_sid = $1`, callSid).Scan(&last); err != nil {
		return wrap(op, err)
	}
	for i, e := range entries {
		_, err := t.tx.Exec(ctx, `INSERT INTO call_timeline (`+sqlrow.TimelineCols+`) VALUES ($1, $2, $3, $4)`,
			callSid, last+int64(i)+1, sqlrow.Ts(at), string(e))
		if isUniqueViolation(err) {
			return tonepay.ErrConflict
		}
		if err != nil {
			return wrap(op, err)
		}
	}
	return nil
}

// PruneCalls implements tonepay.Store. SKIP LOCKED: two processes pruning at
// once take different calls rather than wait for each other. The
// calls_prunable index holds only the ended calls not yet pruned.
func (s *Store) PruneCalls(ctx context.Context, endedBefore time.Time, n int) (int, error) {
	return s.pruneBatch(ctx, "PruneCalls", `SELECT sid FROM calls
			WHERE end_time <> 0 AND NOT pruned AND end_time < $1 AND status NOT IN ($2, $3, $4)
			ORDER BY end_time, sid LIMIT $5 FOR UPDATE SKIP LOCKED`,
		[]any{sqlrow.Ts(endedBefore), tonepay.CallQueued, tonepay.CallRinging, tonepay.CallInProgress, limit(n)},
		`DELETE FROM call_runs WHERE call_sid = ANY($1)`,
		`DELETE FROM call_timeline WHERE call_sid = ANY($1)`,
		`UPDATE calls SET pruned = true WHERE sid = ANY($1)`)
}

// pruneSessionsQuery finds a batch of ended sessions with no callback
// pending, through sessions_ended (the pending check reads
// callbacks_session). SKIP LOCKED: two processes pruning at once take
// different sessions rather than wait for each other.
const pruneSessionsQuery = `SELECT sid FROM sessions
	WHERE status = 'ended' AND date_updated < $1
	AND NOT EXISTS (SELECT 1 FROM callbacks WHERE session_sid = sessions.sid AND status = 'pending')
	ORDER BY date_updated, sid LIMIT $2 FOR UPDATE SKIP LOCKED`

// PruneSessions implements tonepay.Store. The session rows stay locked
// until the deletes commit; an ended session gets no new callbacks, so the
// pending check holds until then.
func (s *Store) PruneSessions(ctx context.Context, endedBefore time.Time, n int) (int, error) {
	return s.pruneBatch(ctx, "PruneSessions", pruneSessionsQuery, []any{sqlrow.Ts(endedBefore), limit(n)},
		`DELETE FROM callback_attempts WHERE callback_id IN (SELECT id FROM callbacks WHERE session_sid = ANY($1))`,
		`DELETE FROM callbacks WHERE session_sid = ANY($1)`,
		// Deleted when the session ended; a leftover must not outlive it.
		`DELETE FROM session_secrets WHERE sid = ANY($1)`,
		`DELETE FROM sessions WHERE sid = ANY($1)`)
}

// pruneBatch runs, in one transaction, find (which selects and locks a
// batch of SIDs) and then each of deletes with the SIDs as $1; it returns
// how many.
func (s *Store) pruneBatch(ctx context.Context, op, find string, args []any, deletes ...string) (int, error) {
	var pruned int
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		pruned = 0
		rows, err := tx.Query(ctx, find, args...)
		if err != nil {
			return err
		}
		sids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil || len(sids) == 0 {
			return err
		}
		for _, q := range deletes {
			if _, err := tx.Exec(ctx, q, sids); err != nil {
				return err
			}
		}
		pruned = len(sids)
		return nil
	})
	if err != nil {
		return 0, wrap(op, err)
	}
	return pruned, nil
}

// renewBatch bounds the SIDs of one renewing statement.
const renewBatch = 500

// RenewLeases implements tonepay.Store: one UPDATE per batch, each call
// found by its key. Processes renew only their own calls, so renewers do
// not wait for each other; the lock one waits for is a step of one of its
// calls, a few milliseconds.
func (s *Store) RenewLeases(ctx context.Context, sids []string, until time.Time) ([]string, error) {
	var renewed []string
	for len(sids) > 0 {
		batch := sids[:min(len(sids), renewBatch)]
		sids = sids[len(batch):]
		rows, err := s.pool.Query(ctx, `UPDATE calls SET leg_lease = $1
			WHERE sid = ANY($2) AND status IN ('queued', 'ringing', 'in-progress')
			RETURNING sid`, sqlrow.Ts(until), batch)
		if err != nil {
			return renewed, wrap("RenewLeases", err)
		}
		got, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return renewed, wrap("RenewLeases", err)
		}
		renewed = append(renewed, got...)
	}
	return renewed, nil
}
