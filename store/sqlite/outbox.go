package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"sort"
	"time"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/store/internal/sqlrow"
)

// ClaimCallbacks implements tonepay.Store.
func (s *Store) ClaimCallbacks(ctx context.Context, now time.Time, claim time.Duration, limit int) ([]*tonepay.Callback, error) {
	const op = "ClaimCallbacks"
	if limit <= 0 {
		return nil, nil
	}
	// A cheap read first: most polls find nothing, and then need no write
	// transaction (and no fsync).
	var due int
	if err := s.read.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM callbacks WHERE status = 'pending' AND chain_head AND max(next_attempt_at, leased_until) <= ?1)`,
		sqlrow.Ts(now)).Scan(&due); err != nil || due == 0 {
		return nil, wrap(op, err)
	}
	var out []*tonepay.Callback
	err := s.inTx(ctx, op, func(tx *sql.Tx) error {
		rows, err := (txq{tx, s.wstmts}).QueryContext(ctx, claimCallbacks, sqlrow.Ts(now.Add(claim)), sqlrow.Ts(now), limit)
		if err != nil {
			return wrap(op, err)
		}
		out, err = scanAll(rows, sqlrow.ScanCallback)
		return wrap(op, err)
	})
	if err != nil {
		return nil, err
	}
	// RETURNING does not promise an order.
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// claimCallbacks leases (?1) up to ?3 callbacks due at ?2. Only the oldest
// pending callback of each session is eligible, so a session's callbacks go
// out one after another, in order, even when a later one is due first. The
// claim is a column of its own (leased_until), so that claiming does not
// disturb the retry schedule (see ReleaseClaims). The candidates are the
// chains' heads in the order they fell due (callbacks_heads, migration 012),
// each checked with one probe of callbacks_pending, so a claim reads about
// ?3 index entries however many callbacks are due or already delivered.
const claimCallbacks = `UPDATE callbacks SET leased_until = ?1
	WHERE id IN (SELECT c.id FROM callbacks c
		WHERE c.status = 'pending' AND c.chain_head AND max(c.next_attempt_at, c.leased_until) <= ?2
		AND NOT EXISTS (SELECT 1 FROM callbacks p WHERE p.session_sid = c.session_sid AND p.status = 'pending' AND p.id < c.id)
		ORDER BY max(c.next_attempt_at, c.leased_until), c.id LIMIT ?3)
	RETURNING ` + sqlrow.CallbackCols

// ReleaseClaims frees every callback claim. A SQLite file is served by one
// process, so at start-up any claim left is a dead process's: releasing it
// sends the callback now instead of when the claim would have ended.
func (s *Store) ReleaseClaims(ctx context.Context) error {
	const op = "ReleaseClaims"
	return s.inTx(ctx, op, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE callbacks SET leased_until = 0 WHERE status = 'pending' AND leased_until != 0`)
		return wrap(op, err)
	})
}

// RecordAttempt implements tonepay.Store. It returns tonepay.ErrNotFound
// when cb is not in the store. Recording ends the claim: the
// callback is due again at its new NextAttemptAt.
func (s *Store) RecordAttempt(ctx context.Context, cb *tonepay.Callback, a *tonepay.Attempt) error {
	const op = "RecordAttempt"
	return s.inTx(ctx, op, func(tx *sql.Tx) error {
		q := txq{tx, s.wstmts}
		// chain_head is left as it is: only a head is attempted, so a stale
		// attempt making a delivered callback pending again finds it set,
		// and its chain still has a head (the next one, also marked, waits
		// behind it: claims check for an earlier pending callback).
		res, err := q.ExecContext(ctx, `UPDATE callbacks SET status = ?, attempts = ?, next_attempt_at = ?, leased_until = 0, date_updated = ? WHERE id = ?`,
			string(cb.Status), cb.Attempts, sqlrow.Ts(cb.NextAttemptAt), sqlrow.Ts(cb.DateUpdated), cb.ID)
		if err != nil {
			return wrap(op, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return wrap(op, err)
		} else if n == 0 {
			return tonepay.ErrNotFound
		}
		_, err = q.ExecContext(ctx, `INSERT INTO callback_attempts (callback_id, n, at, duration_ns, status_code, error) VALUES (?, ?, ?, ?, ?, ?)`,
			cb.ID, a.N, sqlrow.Ts(a.At), int64(a.Duration), a.StatusCode, a.Error)
		if err != nil {
			return wrap(op, err)
		}
		if cb.Status != tonepay.CallbackPending {
			// The next pending callback of the session heads its chain now.
			_, err = q.ExecContext(ctx, `UPDATE callbacks SET chain_head = 1
				WHERE id = (SELECT min(id) FROM callbacks WHERE session_sid = ? AND status = 'pending') AND NOT chain_head`, cb.Chain)
			return wrap(op, err)
		}
		_, err = q.ExecContext(ctx, `UPDATE callbacks SET leased_until = 0 WHERE session_sid = ? AND status = 'pending' AND id > ? AND leased_until != 0`, cb.Chain, cb.ID)
		return wrap(op, err)
	})
}

// DeferCallback implements tonepay.Store, in one statement: the session is
// found only while the callback is pending, so a delivered one changes nothing.
func (s *Store) DeferCallback(ctx context.Context, id int64, until time.Time) error {
	const op = "DeferCallback"
	return s.inTx(ctx, op, func(tx *sql.Tx) error {
		_, err := (txq{tx, s.wstmts}).ExecContext(ctx, deferCallback, id, sqlrow.Ts(until))
		return wrap(op, err)
	})
}

// NextCallbackAt implements tonepay.Store.
func (s *Store) NextCallbackAt(ctx context.Context) (time.Time, error) {
	var n int64
	err := s.read.QueryRowContext(ctx, nextCallbackAt).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, wrap("NextCallbackAt", err)
	}
	return sqlrow.Tm(n), nil
}

// nextCallbackAt is when the first callback ClaimCallbacks could hand out is
// due: the earliest chain head, read first from callbacks_heads. One waiting
// behind an earlier callback of its session does not count, whatever its
// time, and a claimed one is due when its claim ends.
const nextCallbackAt = `SELECT max(c.next_attempt_at, c.leased_until) FROM callbacks c
	WHERE c.status = 'pending' AND c.chain_head
	AND NOT EXISTS (SELECT 1 FROM callbacks p WHERE p.session_sid = c.session_sid AND p.status = 'pending' AND p.id < c.id)
	ORDER BY max(c.next_attempt_at, c.leased_until) LIMIT 1`

// deferCallback moves callback ?1 to ?2 and ends its claim and those of the
// later callbacks of its session; nothing when ?1 is not pending.
const deferCallback = `UPDATE callbacks SET leased_until = 0,
		next_attempt_at = CASE WHEN id = ?1 THEN ?2 ELSE next_attempt_at END
	WHERE status = 'pending' AND id >= ?1 AND (id = ?1 OR leased_until != 0)
		AND session_sid = (SELECT session_sid FROM callbacks WHERE id = ?1 AND status = 'pending')`
