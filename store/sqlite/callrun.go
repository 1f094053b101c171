package sqlite

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/store/internal/sqlrow"
)

// The call runtime's rows are read by the runner of the call alone, once per
// step, so they are not cached.

func (r reader) FindCallRun(ctx context.Context, callSid string) (*tonepay.CallRun, error) {
	return one(ctx, r.q, "FindCallRun", sqlrow.ScanCallRun, `SELECT `+sqlrow.CallRunCols+` FROM call_runs WHERE call_sid = ?`, callSid)
}

func (r reader) FindDueCallRuns(ctx context.Context, now time.Time, n int) ([]string, error) {
	const op = "FindDueCallRuns"
	rows, err := r.q.QueryContext(ctx, `SELECT call_sid FROM call_runs WHERE deadline != 0 AND deadline <= ? ORDER BY deadline, call_sid LIMIT ?`,
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
// looks each leg's parent up by its key.
func (r reader) FindOrphanLegs(ctx context.Context, n int) ([]*tonepay.Call, error) {
	return many(ctx, r.q, "FindOrphanLegs", sqlrow.ScanCall, `SELECT `+sqlrow.CallCols+` FROM calls l
		WHERE l.status = 'in-progress' AND l.parent_call_sid != ''
		AND EXISTS (SELECT 1 FROM calls p WHERE p.sid = l.parent_call_sid AND p.status NOT IN (?, ?, ?))
		ORDER BY l.date_created, l.sid LIMIT ?`, tonepay.CallQueued, tonepay.CallRinging, tonepay.CallInProgress, limit(n))
}

// lapsedQuery finds calls whose lease lapsed; its first three terms are
// calls_leg_leases's WHERE, word for word, which is what lets SQLite use
// that partial index (migration 016).
const lapsedQuery = `SELECT ` + sqlrow.CallCols + ` FROM calls
	WHERE status IN ('queued', 'ringing', 'in-progress') AND parent_call_sid = '' AND leg != 'simulated'
	AND leg_lease > 0 AND leg_lease < ?
	ORDER BY leg_lease, sid LIMIT ?`

// FindLapsedLegs reads calls_leg_leases: the live real calls only.
func (r reader) FindLapsedLegs(ctx context.Context, before time.Time, n int) ([]*tonepay.Call, error) {
	return many(ctx, r.q, "FindLapsedLegs", sqlrow.ScanCall, lapsedQuery, sqlrow.Ts(before), limit(n))
}

func (r reader) FindTimeline(ctx context.Context, callSid string, afterSeq int64, n int) ([]*tonepay.TimelineEntry, error) {
	return many(ctx, r.q, "FindTimeline", sqlrow.ScanTimeline, `SELECT `+sqlrow.TimelineCols+` FROM call_timeline
		WHERE call_sid = ? AND seq > ? ORDER BY seq LIMIT ?`, callSid, afterSeq, limit(n))
}

// SaveCallRun: the Seq check is in the statement's WHERE, so a stale save
// changes no row. The JSON is stored as TEXT, readable with sqlite3.
func (t *txn) SaveCallRun(ctx context.Context, r *tonepay.CallRun) error {
	const op = "SaveCallRun"
	var query string
	var args []any
	if r.Seq == 0 {
		query = `INSERT INTO call_runs (` + sqlrow.CallRunCols + `) VALUES (?, ?, ?, 1, ?, ?) ON CONFLICT (call_sid) DO NOTHING`
		args = []any{r.CallSid, r.AccountSid, string(r.State), sqlrow.Ts(r.Deadline), sqlrow.Ts(r.DateUpdated)}
	} else {
		query = `UPDATE call_runs SET state = ?, seq = seq + 1, deadline = ?, date_updated = ? WHERE call_sid = ? AND seq = ?`
		args = []any{string(r.State), sqlrow.Ts(r.Deadline), sqlrow.Ts(r.DateUpdated), r.CallSid, r.Seq}
	}
	res, err := t.tx.ExecContext(ctx, query, args...)
	if err != nil {
		return wrap(op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return wrap(op, err)
	}
	if n == 0 {
		return wrap(op, sqlrow.MissedSave(r.Seq, func() (exists bool, err error) {
			err = t.tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM call_runs WHERE call_sid = ?)`, r.CallSid).Scan(&exists)
			return
		}))
	}
	r.Seq++
	return nil
}

// AddTimeline numbers after the call's last entry: the one writer
// connection serializes every transaction, so no other can interleave.
func (t *txn) AddTimeline(ctx context.Context, callSid string, at time.Time, entries ...[]byte) error {
	const op = "AddTimeline"
	if len(entries) == 0 {
		return nil
	}
	var last int64
	if err := t.tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM call_timeline WHERE call_sid = ?`, callSid).Scan(&last); err != nil {
		return wrap(op, err)
	}
	for i, e := range entries {
		if err := t.exec(ctx, op, `INSERT INTO call_timeline (`+sqlrow.TimelineCols+`) VALUES (?, ?, ?, ?)`,
			callSid, last+int64(i)+1, sqlrow.Ts(at), string(e)); err != nil {
			return err
		}
	}
	return nil
}

// pruneQuery finds a batch; its first two terms are calls_prunable's WHERE,
// word for word, which is what lets SQLite use that partial index.
const pruneQuery = `SELECT sid FROM calls
	WHERE end_time != 0 AND pruned = 0 AND end_time < ? AND status NOT IN (?, ?, ?)
	ORDER BY end_time, sid LIMIT ?`

// PruneCalls implements tonepay.Store. The calls_prunable index holds only
// the ended calls not yet pruned, so finding a batch reads no other call.
func (s *Store) PruneCalls(ctx context.Context, endedBefore time.Time, n int) (int, error) {
	return s.pruneBatch(ctx, "PruneCalls", pruneQuery, []any{sqlrow.Ts(endedBefore), tonepay.CallQueued, tonepay.CallRinging, tonepay.CallInProgress, limit(n)},
		`DELETE FROM call_runs WHERE call_sid = ?`,
		`DELETE FROM call_timeline WHERE call_sid = ?`,
		`UPDATE calls SET pruned = 1 WHERE sid = ?`)
}

// pruneSessionsQuery finds a batch of ended sessions with no callback
// pending. 'ended' is written out, as in sessions_ended's WHERE, which is
// what lets SQLite use that partial index; the pending check reads
// callbacks_pending.
const pruneSessionsQuery = `SELECT sid FROM sessions
	WHERE status = 'ended' AND date_updated < ?
	AND NOT EXISTS (SELECT 1 FROM callbacks WHERE session_sid = sessions.sid AND status = 'pending')
	ORDER BY date_updated, sid LIMIT ?`

// PruneSessions implements tonepay.Store. One transaction per batch: the
// check for pending callbacks and the deletes see the same rows.
func (s *Store) PruneSessions(ctx context.Context, endedBefore time.Time, n int) (int, error) {
	return s.pruneBatch(ctx, "PruneSessions", pruneSessionsQuery, []any{sqlrow.Ts(endedBefore), limit(n)},
		`DELETE FROM callback_attempts WHERE callback_id IN (SELECT id FROM callbacks WHERE session_sid = ?)`,
		`DELETE FROM callbacks WHERE session_sid = ?`,
		`DELETE FROM sessions WHERE sid = ?`)
}

// pruneBatch runs, in one transaction, find (which selects a batch of
// SIDs) and then each of deletes for every SID found; it returns how many.
func (s *Store) pruneBatch(ctx context.Context, op, find string, args []any, deletes ...string) (int, error) {
	var pruned int
	err := s.inTx(ctx, op, func(tx *sql.Tx) error {
		pruned = 0 // the committer may run fn again
		rows, err := tx.QueryContext(ctx, find, args...)
		if err != nil {
			return wrap(op, err)
		}
		var sids []string
		for rows.Next() {
			var sid string
			if err := rows.Scan(&sid); err != nil {
				rows.Close()
				return wrap(op, err)
			}
			sids = append(sids, sid)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return wrap(op, err)
		}
		for _, sid := range sids {
			for _, q := range deletes {
				if _, err := tx.ExecContext(ctx, q, sid); err != nil {
					return wrap(op, err)
				}
			}
		}
		pruned = len(sids)
		return nil
	})
	if err != nil {
		return 0, err
	}
	return pruned, nil
}

// renewBatch bounds the SIDs of one renewing statement (SQLite's limit on
// a statement's parameters is far above it).
const renewBatch = 500

// RenewLeases implements tonepay.Store: one UPDATE per batch of SIDs, each
// found by its key. The renewed calls leave the cache, so that FindCall
// reads their new lease.
func (s *Store) RenewLeases(ctx context.Context, sids []string, until time.Time) ([]string, error) {
	const op = "RenewLeases"
	var renewed []string
	for len(sids) > 0 {
		batch := sids[:min(len(sids), renewBatch)]
		sids = sids[len(batch):]
		args := make([]any, 0, len(batch)+1)
		args = append(args, sqlrow.Ts(until))
		for _, sid := range batch {
			args = append(args, sid)
		}
		var got []string
		err := s.inTx(ctx, op, func(tx *sql.Tx) error {
			got = got[:0] // the committer may run fn again
			rows, err := tx.QueryContext(ctx, `UPDATE calls SET leg_lease = ?
				WHERE sid IN (?`+strings.Repeat(", ?", len(batch)-1)+`) AND status IN ('queued', 'ringing', 'in-progress')
				RETURNING sid`, args...)
			if err != nil {
				return wrap(op, err)
			}
			defer rows.Close()
			for rows.Next() {
				var sid string
				if err := rows.Scan(&sid); err != nil {
					return wrap(op, err)
				}
				got = append(got, sid)
			}
			return wrap(op, rows.Err())
		})
		s.cache.calls.drop(batch) // even after an error: the commit may have happened
		if err != nil {
			return renewed, err
		}
		renewed = append(renewed, got...)
	}
	return renewed, nil
}
