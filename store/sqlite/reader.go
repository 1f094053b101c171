package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/store/internal/sqlrow"
)

// querier is what *sql.DB and *sql.Tx share, so each read is written once
// and serves both the Store and a transaction.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// reader implements tonepay.Reader.
type reader struct {
	q      querier
	tokens *sqlrow.Tokens
}

func scanAll[T any](rows *sql.Rows, scan func(sqlrow.Scanner) (*T, error)) ([]*T, error) {
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
	v, err := scan(q.QueryRowContext(ctx, query, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, tonepay.ErrNotFound
	}
	return v, wrap(op, err)
}

func many[T any](ctx context.Context, q querier, op string, scan func(sqlrow.Scanner) (*T, error), query string, args ...any) ([]*T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, wrap(op, err)
	}
	out, err := scanAll(rows, scan)
	return out, wrap(op, err)
}

// limit turns a filter's Limit into SQL's, where -1 means no limit.
func limit(n int) int {
	if n <= 0 {
		return -1
	}
	return n
}

func (r reader) FindAccount(ctx context.Context, sid string) (*tonepay.Account, error) {
	return one(ctx, r.q, "FindAccount", r.tokens.ScanAccount, `SELECT `+sqlrow.AccountCols+` FROM accounts WHERE sid = ?`, sid)
}

func (r reader) FindAccounts(ctx context.Context, f tonepay.AccountFilter) ([]*tonepay.Account, error) {
	who := `(sid = ?1 OR owner_sid = ?1)`
	if f.Main {
		who = `(sid = owner_sid AND ?1 = ?1)` // ?1 stays in: every argument is used
	}
	return many(ctx, r.q, "FindAccounts", r.tokens.ScanAccount, `SELECT `+sqlrow.AccountCols+` FROM accounts
		WHERE `+who+` AND (?2 = '' OR friendly_name = ?2) AND (?3 = '' OR status = ?3)
		ORDER BY date_created, sid LIMIT ?4 OFFSET ?5`, f.OwnerSid, f.FriendlyName, f.Status, limit(f.Limit), f.Offset)
}

func (r reader) CountAccounts(ctx context.Context) (int, error) {
	var n int
	err := r.q.QueryRowContext(ctx, `SELECT count(*) FROM accounts`).Scan(&n)
	return n, wrap("CountAccounts", err)
}

func (r reader) FindAPIKey(ctx context.Context, sid string) (*tonepay.APIKey, error) {
	return one(ctx, r.q, "FindAPIKey", sqlrow.ScanAPIKey, `SELECT `+sqlrow.APIKeyCols+` FROM keys WHERE sid = ?`, sid)
}

func (r reader) FindAPIKeys(ctx context.Context, f tonepay.APIKeyFilter) ([]*tonepay.APIKey, error) {
	return many(ctx, r.q, "FindAPIKeys", sqlrow.ScanAPIKey, `SELECT `+sqlrow.APIKeyCols+` FROM keys WHERE account_sid = ?
		ORDER BY date_created, sid LIMIT ? OFFSET ?`, f.AccountSid, limit(f.Limit), f.Offset)
}

func (r reader) FindCall(ctx context.Context, sid string) (*tonepay.Call, error) {
	return one(ctx, r.q, "FindCall", sqlrow.ScanCall, `SELECT `+sqlrow.CallCols+` FROM calls WHERE sid = ?`, sid)
}

func (r reader) FindCalls(ctx context.Context, f tonepay.CallFilter) ([]*tonepay.Call, error) {
	return many(ctx, r.q, "FindCalls", sqlrow.ScanCall, `SELECT `+sqlrow.CallCols+` FROM calls
		WHERE account_sid = ?1 AND (?2 = '' OR to_number = ?2) AND (?3 = '' OR from_number = ?3) AND (?4 = '' OR status = ?4)
		AND (?7 = '' OR parent_call_sid = ?7)
		ORDER BY date_created DESC, sid DESC LIMIT ?5 OFFSET ?6`, f.AccountSid, f.To, f.From, f.Status, limit(f.Limit), f.Offset, f.Parent)
}

func (r reader) FindSession(ctx context.Context, sid string) (*tonepay.Session, error) {
	return one(ctx, r.q, "FindSession", sqlrow.ScanSession, `SELECT `+sqlrow.SessionCols+` FROM sessions WHERE sid = ?`, sid)
}

func (r reader) FindDueSessions(ctx context.Context, now time.Time, n int) ([]string, error) {
	rows, err := r.q.QueryContext(ctx, `SELECT sid FROM sessions WHERE deadline != 0 AND deadline <= ? ORDER BY deadline LIMIT ?`, sqlrow.Ts(now), n)
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
	return one(ctx, r.q, "FindOpenSession", sqlrow.ScanSession, `SELECT `+sqlrow.SessionCols+` FROM sessions WHERE call_sid = ? AND status != 'ended'`, callSid)
}

// FindSessions reads the call's sessions through sessions_call (migration
// 012): a call's few rows, not the table.
func (r reader) FindSessions(ctx context.Context, f tonepay.SessionFilter) ([]*tonepay.Session, error) {
	return many(ctx, r.q, "FindSessions", sqlrow.ScanSession, `SELECT `+sqlrow.SessionCols+` FROM sessions WHERE call_sid = ?
		ORDER BY date_created DESC, sid DESC LIMIT ? OFFSET ?`, f.CallSid, limit(f.Limit), f.Offset)
}

func (r reader) FindCallbacks(ctx context.Context, sessionSid string) ([]*tonepay.Callback, error) {
	return many(ctx, r.q, "FindCallbacks", sqlrow.ScanCallback, `SELECT `+sqlrow.CallbackCols+` FROM callbacks WHERE session_sid = ? ORDER BY id`, sessionSid)
}

func (r reader) FindAttempts(ctx context.Context, callbackID int64) ([]*tonepay.Attempt, error) {
	return many(ctx, r.q, "FindAttempts", sqlrow.ScanAttempt, `SELECT callback_id, n, at, duration_ns, status_code, error
		FROM callback_attempts WHERE callback_id = ? ORDER BY n`, callbackID)
}

func (r reader) FindAnswer(ctx context.Context, key string, since time.Time) (*tonepay.Answer, error) {
	return one(ctx, r.q, "FindAnswer", sqlrow.ScanAnswer, `SELECT key, status, body, date_created FROM answers WHERE key = ? AND date_created >= ?`, key, sqlrow.Ts(since))
}
