package sqlite

import (
	"context"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/store/internal/sqlrow"
)

// txn implements tonepay.Tx on a write transaction.
type txn struct {
	reader
	tx      txq
	changed changed // rows to drop from the Store's caches after commit
	// dropsSealed: a session's sealed values were dropped (it ended), so
	// their older versions must leave the files within EraseWithin.
	dropsSealed bool
}

func (t *txn) exec(ctx context.Context, op, query string, args ...any) error {
	_, err := t.tx.ExecContext(ctx, query, args...)
	return wrap(op, err)
}

// execOne runs a statement that must change exactly one row.
func (t *txn) execOne(ctx context.Context, op, query string, args ...any) error {
	res, err := t.tx.ExecContext(ctx, query, args...)
	if err != nil {
		return wrap(op, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return wrap(op, err)
	} else if n == 0 {
		return tonepay.ErrNotFound
	}
	return nil
}

func (t *txn) CreateAccount(ctx context.Context, a *tonepay.Account) error {
	t.changed.accounts = append(t.changed.accounts, a.Sid)
	return t.exec(ctx, "CreateAccount", `INSERT INTO accounts (`+sqlrow.AccountCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		a.Sid, a.OwnerSid, a.FriendlyName, a.Status, t.tokens.Seal(a.Sid, a.AuthToken), sqlrow.Ts(a.DateCreated), sqlrow.Ts(a.DateUpdated))
}

func (t *txn) UpdateAccount(ctx context.Context, a *tonepay.Account) error {
	t.changed.accounts = append(t.changed.accounts, a.Sid)
	return t.execOne(ctx, "UpdateAccount", `UPDATE accounts SET friendly_name = ?, status = ?, auth_token = ?, date_updated = ? WHERE sid = ?`,
		a.FriendlyName, a.Status, t.tokens.Seal(a.Sid, a.AuthToken), sqlrow.Ts(a.DateUpdated), a.Sid)
}

func (t *txn) CreateAPIKey(ctx context.Context, k *tonepay.APIKey) error {
	t.changed.keys = append(t.changed.keys, k.Sid)
	return t.exec(ctx, "CreateAPIKey", `INSERT INTO keys (`+sqlrow.APIKeyCols+`) VALUES (?, ?, ?, ?, ?, ?)`,
		k.Sid, k.AccountSid, k.FriendlyName, k.SecretHash, sqlrow.Ts(k.DateCreated), sqlrow.Ts(k.DateUpdated))
}

func (t *txn) UpdateAPIKey(ctx context.Context, k *tonepay.APIKey) error {
	t.changed.keys = append(t.changed.keys, k.Sid)
	return t.execOne(ctx, "UpdateAPIKey", `UPDATE keys SET friendly_name = ?, date_updated = ? WHERE sid = ?`, k.FriendlyName, sqlrow.Ts(k.DateUpdated), k.Sid)
}

func (t *txn) DeleteAPIKey(ctx context.Context, sid string) error {
	t.changed.keys = append(t.changed.keys, sid)
	return t.execOne(ctx, "DeleteAPIKey", `DELETE FROM keys WHERE sid = ?`, sid)
}

func (t *txn) CreateCall(ctx context.Context, c *tonepay.Call) error {
	t.changed.calls = append(t.changed.calls, c.Sid)
	return t.exec(ctx, "CreateCall", `INSERT INTO calls (`+sqlrow.CallCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		sqlrow.CallArgs(c)...)
}

func (t *txn) UpdateCall(ctx context.Context, c *tonepay.Call) error {
	t.changed.calls = append(t.changed.calls, c.Sid)
	return t.execOne(ctx, "UpdateCall", `UPDATE calls SET status = ?, end_time = ?, date_updated = ?,
		url = ?, method = ?, twiml = ?, status_callback = ?, status_callback_method = ? WHERE sid = ?`, sqlrow.CallUpdateArgs(c)...)
}

func (t *txn) CreateSession(ctx context.Context, s *tonepay.Session) error {
	params, state, err := sqlrow.SessionJSON(s)
	if err != nil {
		return wrap("CreateSession", err)
	}
	_, err = t.tx.ExecContext(ctx, `INSERT INTO sessions (`+sqlrow.SessionCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		s.Sid, s.AccountSid, s.CallSid, string(s.Status), params, state, s.Sealed, sqlrow.Ts(s.Deadline), sqlrow.Ts(s.DateCreated), sqlrow.Ts(s.DateUpdated))
	if isUniqueViolation(err) {
		return tonepay.ErrConflict
	}
	return wrap("CreateSession", err)
}

func (t *txn) UpdateSession(ctx context.Context, s *tonepay.Session) error {
	_, state, err := sqlrow.SessionJSON(s)
	if err != nil {
		return wrap("UpdateSession", err)
	}
	if s.Sealed == nil || s.Status == tonepay.SessionEnded {
		t.dropsSealed = true
	}
	return t.execOne(ctx, "UpdateSession", `UPDATE sessions SET status = ?, state = ?, sealed = ?, deadline = ?, date_updated = ? WHERE sid = ?`,
		string(s.Status), state, s.Sealed, sqlrow.Ts(s.Deadline), sqlrow.Ts(s.DateUpdated), s.Sid)
}

func (t *txn) AddCallbacks(ctx context.Context, cbs ...*tonepay.Callback) error {
	const op = "AddCallbacks"
	pending := map[string]bool{}
	for _, c := range cbs {
		if _, seen := pending[c.Chain]; seen {
			continue
		}
		var p bool
		err := t.tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM callbacks WHERE session_sid = ? AND status = 'pending')`, c.Chain).Scan(&p)
		if err != nil {
			return wrap(op, err)
		}
		pending[c.Chain] = p
	}
	err := sqlrow.KeepClaims(cbs, func(session string) (bool, error) { return pending[session], nil })
	if err != nil {
		return wrap(op, err)
	}
	for _, c := range cbs {
		// The first pending callback of a session with none pending heads
		// its chain (migration 012).
		head := c.Status == tonepay.CallbackPending && !pending[c.Chain]
		if head {
			pending[c.Chain] = true
		}
		err := t.tx.QueryRowContext(ctx, `INSERT INTO callbacks (token, account_sid, session_sid, url, form, status, attempts, next_attempt_at, leased_until, date_created, date_updated, method, chain_head)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			c.Token, c.AccountSid, c.Chain, c.URL, encodeForm(c.Form), string(c.Status), c.Attempts, sqlrow.Ts(c.NextAttemptAt), sqlrow.Ts(c.ClaimedUntil), sqlrow.Ts(c.DateCreated), sqlrow.Ts(c.DateUpdated), c.Method, head).Scan(&c.ID)
		if err != nil {
			return wrap(op, err)
		}
	}
	return nil
}

func (t *txn) AddAnswer(ctx context.Context, a *tonepay.Answer) error {
	return t.exec(ctx, "AddAnswer", `INSERT OR REPLACE INTO answers (key, status, body, date_created) VALUES (?, ?, ?, ?)`,
		a.Key, a.Format, a.Body, sqlrow.Ts(a.DateCreated))
}
