package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/store/internal/sqlrow"
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
	q      querier
	lock   bool
	tokens *sqlrow.Tokens // the stored form of auth tokens
}

func (r reader) forUpdate() string {
	if r.lock {
		return " FOR UPDATE"
	}
	return ""
}

// A session's sealed values live in session_secrets (migration 002), so a
// session is read joined to its secret: the columns of sqlrow.SessionCols, in
// its order, from sessions s and session_secrets x. FOR UPDATE OF s locks the
// session row, which every writer of the secret locks first.
const (
	sessionCols = `s.sid, s.account_sid, s.call_sid, s.status, s.params, s.state, x.sealed, s.deadline, s.date_created, s.date_updated`
	sessionFrom = `sessions s LEFT JOIN session_secrets x ON x.sid = s.sid`
)

func (r reader) forUpdateOfSession() string {
	if r.lock {
		return " FOR UPDATE OF s"
	}
	return ""
}

func scanAll[T any](rows pgx.Rows, scan func(sqlrow.Scanner) (*T, error)) ([]*T, error) {
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
func one[T any](ctx context.Context, q querier, op string, scan func(sqlrow.Scanner) (*T, error), query string, args ...any) (*T, error) {
	v, err := scan(q.QueryRow(ctx, query, args...))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, tonepay.ErrNotFound
	}
	return v, wrap(op, err)
}

func many[T any](ctx context.Context, q querier, op string, scan func(sqlrow.Scanner) (*T, error), query string, args ...any) ([]*T, error) {
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

func (r reader) FindAccount(ctx context.Context, sid string) (*tonepay.Account, error) {
	return one(ctx, r.q, "FindAccount", r.tokens.ScanAccount, `SELECT `+sqlrow.AccountCols+` FROM accounts WHERE sid = $1`+r.forUpdate(), sid)
}

func (r reader) FindAccounts(ctx context.Context, f tonepay.AccountFilter) ([]*tonepay.Account, error) {
	who := `(sid = $1 OR owner_sid = $1)`
	if f.Main {
		who = `(sid = owner_sid AND $1::text = $1::text)` // $1 stays typed: every placeholder is used
	}
	return many(ctx, r.q, "FindAccounts", r.tokens.ScanAccount, `SELECT `+sqlrow.AccountCols+` FROM accounts
		WHERE `+who+` AND ($2 = '' OR friendly_name = $2) AND ($3 = '' OR status = $3)
		ORDER BY date_created, sid LIMIT $4 OFFSET $5`, f.OwnerSid, f.FriendlyName, f.Status, limit(f.Limit), f.Offset)
}

func (r reader) CountAccounts(ctx context.Context) (int, error) {
	var n int
	err := r.q.QueryRow(ctx, `SELECT count(*) FROM accounts`).Scan(&n)
	return n, wrap("CountAccounts", err)
}

func (r reader) FindAPIKey(ctx context.Context, sid string) (*tonepay.APIKey, error) {
	return one(ctx, r.q, "FindAPIKey", sqlrow.ScanAPIKey, `SELECT `+sqlrow.APIKeyCols+` FROM keys WHERE sid = $1`, sid)
}

func (r reader) FindAPIKeys(ctx context.Context, f tonepay.APIKeyFilter) ([]*tonepay.APIKey, error) {
	return many(ctx, r.q, "FindAPIKeys", sqlrow.ScanAPIKey, `SELECT `+sqlrow.APIKeyCols+` FROM keys WHERE account_sid = $1
		ORDER BY date_created, sid LIMIT $2 OFFSET $3`, f.AccountSid, limit(f.Limit), f.Offset)
}

func (r reader) FindCall(ctx context.Context, sid string) (*tonepay.Call, error) {
	return one(ctx, r.q, "FindCall", sqlrow.ScanCall, `SELECT `+sqlrow.CallCols+` FROM calls WHERE sid = $1`+r.forUpdate(), sid)
}

func (r reader) FindCalls(ctx context.Context, f tonepay.CallFilter) ([]*tonepay.Call, error) {
	return many(ctx, r.q, "FindCalls", sqlrow.ScanCall, `SELECT `+sqlrow.CallCols+` FROM calls
		WHERE account_sid = $1 AND ($2 = '' OR to_number = $2) AND ($3 = '' OR from_number = $3) AND ($4 = '' OR status = $4)
		AND ($7 = '' OR parent_call_sid = $7)
		ORDER BY date_created DESC, sid DESC LIMIT $5 OFFSET $6`, f.AccountSid, f.To, f.From, f.Status, limit(f.Limit), f.Offset, f.Parent)
}

func (r reader) FindSession(ctx context.Context, sid string) (*tonepay.Session, error) {
	return one(ctx, r.q, "FindSession", sqlrow.ScanSession, `SELECT `+sessionCols+` FROM `+sessionFrom+` WHERE s.sid = $1`+r.forUpdateOfSession(), sid)
}

func (r reader) FindDueSessions(ctx context.Context, now time.Time, n int) ([]string, error) {
	rows, err := r.q.Query(ctx, `SELECT sid FROM sessions WHERE deadline <> 0 AND deadline <= $1 ORDER BY deadline LIMIT $2`, sqlrow.Ts(now), n)
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
	return one(ctx, r.q, "FindOpenSession", sqlrow.ScanSession, `SELECT `+sessionCols+` FROM `+sessionFrom+` WHERE s.call_sid = $1 AND s.status <> 'ended'`+r.forUpdateOfSession(), callSid)
}

// FindSessions reads the call's sessions through sessions_call (migration
// 010): a call's few rows, not the table. A list locks nothing, in a
// transaction too: nothing rewrites what it reads.
func (r reader) FindSessions(ctx context.Context, f tonepay.SessionFilter) ([]*tonepay.Session, error) {
	return many(ctx, r.q, "FindSessions", sqlrow.ScanSession, `SELECT `+sessionCols+` FROM `+sessionFrom+` WHERE s.call_sid = $1
		ORDER BY s.date_created DESC, s.sid DESC LIMIT $2 OFFSET $3`, f.CallSid, limit(f.Limit), f.Offset)
}

func (r reader) FindCallbacks(ctx context.Context, sessionSid string) ([]*tonepay.Callback, error) {
	return many(ctx, r.q, "FindCallbacks", sqlrow.ScanCallback, `SELECT `+sqlrow.CallbackCols+` FROM callbacks WHERE session_sid = $1 ORDER BY id`, sessionSid)
}

func (r reader) FindAttempts(ctx context.Context, callbackID int64) ([]*tonepay.Attempt, error) {
	return many(ctx, r.q, "FindAttempts", sqlrow.ScanAttempt, `SELECT callback_id, n, at, duration_ns, status_code, error
		FROM callback_attempts WHERE callback_id = $1 ORDER BY n`, callbackID)
}

func (r reader) FindAnswer(ctx context.Context, key string, since time.Time) (*tonepay.Answer, error) {
	return one(ctx, r.q, "FindAnswer", sqlrow.ScanAnswer, `SELECT key, status, body, date_created FROM answers WHERE key = $1 AND date_created >= $2`, key, sqlrow.Ts(since))
}
