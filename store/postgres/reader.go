package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/tonepay/tonepay"
)

// querier is what the pool and a transaction share, so each read is written
// once and serves both the Store and a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// reader implements tonepay.Reader. Inside a transaction (lock) the rows a
// transaction rewrites are read FOR UPDATE: two processes changing one
// session take turns instead of overwriting each other.
type reader struct {
	q    querier
	lock bool
}

func (r reader) forUpdate() string {
	if r.lock {
		return " FOR UPDATE"
	}
	return ""
}

type scanner interface{ Scan(dest ...any) error }

func scanAll[T any](rows pgx.Rows, scan func(scanner) (*T, error)) ([]*T, error) {
	defer rows.Close()
	var out []*T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// one runs a single-row query; a missing row is tonepay.ErrNotFound.
func one[T any](ctx context.Context, q querier, op string, scan func(scanner) (*T, error), query string, args ...any) (*T, error) {
	v, err := scan(q.QueryRow(ctx, query, args...))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, tonepay.ErrNotFound
	}
	return v, wrap(op, err)
}

func many[T any](ctx context.Context, q querier, op string, scan func(scanner) (*T, error), query string, args ...any) ([]*T, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, wrap(op, err)
	}
	out, err := scanAll(rows, scan)
	return out, wrap(op, err)
}

// limit turns a filter's Limit into SQL's, where NULL means no limit.
func limit(n int) *int {
	if n <= 0 {
		return nil
	}
	return &n
}

const accountCols = `sid, owner_sid, friendly_name, status, auth_token, date_created, date_updated`

func scanAccount(s scanner) (*tonepay.Account, error) {
	var a tonepay.Account
	var token string
	var created, updated int64
	if err := s.Scan(&a.Sid, &a.OwnerSid, &a.FriendlyName, &a.Status, &token, &created, &updated); err != nil {
		return nil, err
	}
	a.AuthToken, a.DateCreated, a.DateUpdated = tonepay.NewSecret(token), tm(created), tm(updated)
	return &a, nil
}

func (r reader) FindAccount(ctx context.Context, sid string) (*tonepay.Account, error) {
	return one(ctx, r.q, "FindAccount", scanAccount, `SELECT `+accountCols+` FROM accounts WHERE sid = $1`+r.forUpdate(), sid)
}

func (r reader) FindAccounts(ctx context.Context, f tonepay.AccountFilter) ([]*tonepay.Account, error) {
	return many(ctx, r.q, "FindAccounts", scanAccount, `SELECT `+accountCols+` FROM accounts
		WHERE (sid = $1 OR owner_sid = $1) AND ($2 = '' OR friendly_name = $2) AND ($3 = '' OR status = $3)
		ORDER BY date_created, sid LIMIT $4 OFFSET $5`, f.OwnerSid, f.FriendlyName, f.Status, limit(f.Limit), f.Offset)
}

func (r reader) CountAccounts(ctx context.Context) (int, error) {
	var n int
	err := r.q.QueryRow(ctx, `SELECT count(*) FROM accounts`).Scan(&n)
	return n, wrap("CountAccounts", err)
}

const keyCols = `sid, account_sid, friendly_name, secret_hash, date_created, date_updated`

func scanKey(s scanner) (*tonepay.Key, error) {
	var k tonepay.Key
	var created, updated int64
	if err := s.Scan(&k.Sid, &k.AccountSid, &k.FriendlyName, &k.SecretHash, &created, &updated); err != nil {
		return nil, err
	}
	k.DateCreated, k.DateUpdated = tm(created), tm(updated)
	return &k, nil
}

func (r reader) FindKey(ctx context.Context, sid string) (*tonepay.Key, error) {
	return one(ctx, r.q, "FindKey", scanKey, `SELECT `+keyCols+` FROM keys WHERE sid = $1`, sid)
}

func (r reader) FindKeys(ctx context.Context, f tonepay.KeyFilter) ([]*tonepay.Key, error) {
	return many(ctx, r.q, "FindKeys", scanKey, `SELECT `+keyCols+` FROM keys WHERE account_sid = $1
		ORDER BY date_created, sid LIMIT $2 OFFSET $3`, f.AccountSid, limit(f.Limit), f.Offset)
}

const callCols = `sid, account_sid, to_number, from_number, url, status, direction, start_time, end_time, date_created, date_updated`

func scanCall(s scanner) (*tonepay.Call, error) {
	var c tonepay.Call
	var start, end, created, updated int64
	if err := s.Scan(&c.Sid, &c.AccountSid, &c.To, &c.From, &c.URL, &c.Status, &c.Direction, &start, &end, &created, &updated); err != nil {
		return nil, err
	}
	c.StartTime, c.EndTime, c.DateCreated, c.DateUpdated = tm(start), tm(end), tm(created), tm(updated)
	return &c, nil
}

func (r reader) FindCall(ctx context.Context, sid string) (*tonepay.Call, error) {
	return one(ctx, r.q, "FindCall", scanCall, `SELECT `+callCols+` FROM calls WHERE sid = $1`+r.forUpdate(), sid)
}

func (r reader) FindCalls(ctx context.Context, f tonepay.CallFilter) ([]*tonepay.Call, error) {
	return many(ctx, r.q, "FindCalls", scanCall, `SELECT `+callCols+` FROM calls
		WHERE account_sid = $1 AND ($2 = '' OR to_number = $2) AND ($3 = '' OR from_number = $3) AND ($4 = '' OR status = $4)
		ORDER BY date_created DESC, sid DESC LIMIT $5 OFFSET $6`, f.AccountSid, f.To, f.From, f.Status, limit(f.Limit), f.Offset)
}

const sessionCols = `sid, account_sid, call_sid, status, params, state, sealed, deadline, date_created, date_updated`

func scanSession(s scanner) (*tonepay.Session, error) {
	var x tonepay.Session
	var params, state []byte
	var deadline, created, updated int64
	if err := s.Scan(&x.Sid, &x.AccountSid, &x.CallSid, &x.Status, &params, &state, &x.Sealed, &deadline, &created, &updated); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(params, &x.Params); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(state, &x.State); err != nil {
		return nil, err
	}
	x.Deadline, x.DateCreated, x.DateUpdated = tm(deadline), tm(created), tm(updated)
	return &x, nil
}

func (r reader) FindSession(ctx context.Context, sid string) (*tonepay.Session, error) {
	return one(ctx, r.q, "FindSession", scanSession, `SELECT `+sessionCols+` FROM sessions WHERE sid = $1`+r.forUpdate(), sid)
}

func (r reader) FindDueSessions(ctx context.Context, now time.Time, n int) ([]string, error) {
	rows, err := r.q.Query(ctx, `SELECT sid FROM sessions WHERE deadline <> 0 AND deadline <= $1 ORDER BY deadline LIMIT $2`, ts(now), n)
	if err != nil {
		return nil, wrap("FindDueSessions", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var sid string
		if err := rows.Scan(&sid); err != nil {
			return nil, wrap("FindDueSessions", err)
		}
		out = append(out, sid)
	}
	return out, wrap("FindDueSessions", rows.Err())
}

func (r reader) FindOpenSession(ctx context.Context, callSid string) (*tonepay.Session, error) {
	return one(ctx, r.q, "FindOpenSession", scanSession, `SELECT `+sessionCols+` FROM sessions WHERE call_sid = $1 AND status <> 'ended'`+r.forUpdate(), callSid)
}

const callbackCols = `id, token, account_sid, session_sid, url, form, status, attempts, next_attempt_at, date_created, date_updated`

func scanCallback(s scanner) (*tonepay.Callback, error) {
	var c tonepay.Callback
	var form string
	var next, created, updated int64
	if err := s.Scan(&c.ID, &c.Token, &c.AccountSid, &c.SessionSid, &c.URL, &form, &c.Status, &c.Attempts, &next, &created, &updated); err != nil {
		return nil, err
	}
	var err error
	if c.Form, err = url.ParseQuery(form); err != nil {
		return nil, err
	}
	c.NextAttemptAt, c.DateCreated, c.DateUpdated = tm(next), tm(created), tm(updated)
	return &c, nil
}

func (r reader) FindCallbacks(ctx context.Context, sessionSid string) ([]*tonepay.Callback, error) {
	return many(ctx, r.q, "FindCallbacks", scanCallback, `SELECT `+callbackCols+` FROM callbacks WHERE session_sid = $1 ORDER BY id`, sessionSid)
}

func scanAttempt(s scanner) (*tonepay.Attempt, error) {
	var a tonepay.Attempt
	var at, d int64
	if err := s.Scan(&a.CallbackID, &a.N, &at, &d, &a.StatusCode, &a.Error); err != nil {
		return nil, err
	}
	a.At, a.Duration = tm(at), time.Duration(d)
	return &a, nil
}

func (r reader) FindAttempts(ctx context.Context, callbackID int64) ([]*tonepay.Attempt, error) {
	return many(ctx, r.q, "FindAttempts", scanAttempt, `SELECT callback_id, n, at, duration_ns, status_code, error
		FROM callback_attempts WHERE callback_id = $1 ORDER BY n`, callbackID)
}

func scanAnswer(s scanner) (*tonepay.Answer, error) {
	var a tonepay.Answer
	var created int64
	if err := s.Scan(&a.Key, &a.Status, &a.Body, &created); err != nil {
		return nil, err
	}
	a.DateCreated = tm(created)
	return &a, nil
}

func (r reader) FindAnswer(ctx context.Context, key string, since time.Time) (*tonepay.Answer, error) {
	return one(ctx, r.q, "FindAnswer", scanAnswer, `SELECT key, status, body, date_created FROM answers WHERE key = $1 AND date_created >= $2`, key, ts(since))
}
