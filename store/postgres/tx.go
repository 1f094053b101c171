package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/store/internal/sqlrow"
)

// txn implements tonepay.Tx on a transaction.
type txn struct {
	reader
	tx       pgx.Tx
	erase    *eraser         // told of every write to session_secrets
	notified map[string]bool // payloads NOTIFYed in this transaction
}

func (t *txn) exec(ctx context.Context, op, query string, args ...any) error {
	_, err := t.tx.Exec(ctx, query, args...)
	return wrap(op, err)
}

// execOne runs a statement that must change exactly one row.
func (t *txn) execOne(ctx context.Context, op, query string, args ...any) error {
	tag, err := t.tx.Exec(ctx, query, args...)
	if err != nil {
		return wrap(op, err)
	}
	if tag.RowsAffected() == 0 {
		return tonepay.ErrNotFound
	}
	return nil
}

func (t *txn) CreateAccount(ctx context.Context, a *tonepay.Account) error {
	return t.exec(ctx, "CreateAccount", `INSERT INTO accounts (`+sqlrow.AccountCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		a.Sid, a.OwnerSid, a.FriendlyName, a.Status, t.tokens.Seal(a.Sid, a.AuthToken), sqlrow.Ts(a.DateCreated), sqlrow.Ts(a.DateUpdated))
}

func (t *txn) UpdateAccount(ctx context.Context, a *tonepay.Account) error {
	return t.execOne(ctx, "UpdateAccount", `UPDATE accounts SET friendly_name = $1, status = $2, auth_token = $3, date_updated = $4 WHERE sid = $5`,
		a.FriendlyName, a.Status, t.tokens.Seal(a.Sid, a.AuthToken), sqlrow.Ts(a.DateUpdated), a.Sid)
}

func (t *txn) CreateAPIKey(ctx context.Context, k *tonepay.APIKey) error {
	return t.exec(ctx, "CreateAPIKey", `INSERT INTO keys (`+sqlrow.APIKeyCols+`) VALUES ($1, $2, $3, $4, $5, $6)`,
		k.Sid, k.AccountSid, k.FriendlyName, k.SecretHash, sqlrow.Ts(k.DateCreated), sqlrow.Ts(k.DateUpdated))
}

func (t *txn) UpdateAPIKey(ctx context.Context, k *tonepay.APIKey) error {
	return t.execOne(ctx, "UpdateAPIKey", `UPDATE keys SET friendly_name = $1, date_updated = $2 WHERE sid = $3`, k.FriendlyName, sqlrow.Ts(k.DateUpdated), k.Sid)
}

func (t *txn) DeleteAPIKey(ctx context.Context, sid string) error {
	return t.execOne(ctx, "DeleteAPIKey", `DELETE FROM keys WHERE sid = $1`, sid)
}

func (t *txn) CreateCall(ctx context.Context, c *tonepay.Call) error {
	return t.exec(ctx, "CreateCall", `INSERT INTO calls (`+sqlrow.CallCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,
		$12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25)`, sqlrow.CallArgs(c)...)
}

func (t *txn) UpdateCall(ctx context.Context, c *tonepay.Call) error {
	return t.execOne(ctx, "UpdateCall", `UPDATE calls SET status = $1, end_time = $2, date_updated = $3,
		url = $4, method = $5, twiml = $6, status_callback = $7, status_callback_method = $8 WHERE sid = $9`, sqlrow.CallUpdateArgs(c)...)
}

func (t *txn) CreateSession(ctx context.Context, s *tonepay.Session) error {
	params, state, err := sqlrow.SessionJSON(s)
	if err != nil {
		return wrap("CreateSession", err)
	}
	_, err = t.tx.Exec(ctx, `INSERT INTO sessions (sid, account_sid, call_sid, status, params, state, deadline, date_created, date_updated)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		s.Sid, s.AccountSid, s.CallSid, string(s.Status), params, state, sqlrow.Ts(s.Deadline), sqlrow.Ts(s.DateCreated), sqlrow.Ts(s.DateUpdated))
	if isUniqueViolation(err) {
		return tonepay.ErrConflict
	}
	if err != nil {
		return wrap("CreateSession", err)
	}
	return wrap("CreateSession", t.saveSealed(ctx, s))
}

func (t *txn) UpdateSession(ctx context.Context, s *tonepay.Session) error {
	_, state, err := sqlrow.SessionJSON(s)
	if err != nil {
		return wrap("UpdateSession", err)
	}
	if err := t.execOne(ctx, "UpdateSession", `UPDATE sessions SET status = $1, state = $2, deadline = $3, date_updated = $4 WHERE sid = $5`,
		string(s.Status), state, sqlrow.Ts(s.Deadline), sqlrow.Ts(s.DateUpdated), s.Sid); err != nil {
		return err
	}
	return wrap("UpdateSession", t.saveSealed(ctx, s))
}

// saveSealed writes the session's sealed values to session_secrets, or
// deletes them when there are none (the session ended). A changed row leaves
// a row version whose bytes only a rewrite of the table removes (a deleted
// one at commit, a written one at rollback), so the eraser is told before
// the transaction ends.
func (t *txn) saveSealed(ctx context.Context, s *tonepay.Session) error {
	var tag pgconn.CommandTag
	var err error
	if s.Sealed == nil {
		tag, err = t.tx.Exec(ctx, `DELETE FROM session_secrets WHERE sid = $1`, s.Sid)
	} else {
		// An unchanged value is not written again: no new row version.
		tag, err = t.tx.Exec(ctx, `INSERT INTO session_secrets (sid, sealed) VALUES ($1, $2)
			ON CONFLICT (sid) DO UPDATE SET sealed = excluded.sealed WHERE session_secrets.sealed <> excluded.sealed`, s.Sid, s.Sealed)
	}
	if err != nil || tag.RowsAffected() > 0 {
		t.erase.owe()
	}
	return err
}

func (t *txn) AddCallbacks(ctx context.Context, cbs ...*tonepay.Callback) error {
	if err := t.notify(ctx, cbs); err != nil {
		return err
	}
	// The session's row is locked by this transaction (FOR UPDATE), so no
	// other process adds to its callbacks between this check and the commit.
	err := sqlrow.KeepClaims(cbs, func(session string) (bool, error) {
		var pending bool
		err := t.tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM callbacks WHERE session_sid = $1 AND status = 'pending')`, session).Scan(&pending)
		return pending, err
	})
	if err != nil {
		return wrap("AddCallbacks", err)
	}
	for _, c := range cbs {
		err := t.tx.QueryRow(ctx, `INSERT INTO callbacks (token, account_sid, session_sid, url, form, status, attempts, next_attempt_at, leased_until, date_created, date_updated, method)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id`,
			c.Token, c.AccountSid, c.Chain, c.URL, encodeForm(c.Form), string(c.Status), c.Attempts, sqlrow.Ts(c.NextAttemptAt), sqlrow.Ts(c.ClaimedUntil), sqlrow.Ts(c.DateCreated), sqlrow.Ts(c.DateUpdated), c.Method).Scan(&c.ID)
		if err != nil {
			return wrap("AddCallbacks", err)
		}
	}
	return nil
}

func (t *txn) AddAnswer(ctx context.Context, a *tonepay.Answer) error {
	return t.exec(ctx, "AddAnswer", `INSERT INTO answers (key, status, body, date_created) VALUES ($1, $2, $3, $4)
		ON CONFLICT (key) DO UPDATE SET status = excluded.status, body = excluded.body, date_created = excluded.date_created`,
		a.Key, a.Format, a.Body, sqlrow.Ts(a.DateCreated))
}

// notify tells every process, at commit, which sessions queued callbacks
// (PostgreSQL delivers a NOTIFY when its transaction commits, and drops it
// on rollback). Payload: "AC…:PK…".
func (t *txn) notify(ctx context.Context, cbs []*tonepay.Callback) error {
	changes := make([]tonepay.SessionChanged, len(cbs))
	for i, c := range cbs {
		changes[i] = tonepay.SessionChanged{AccountSid: c.AccountSid, SessionSid: c.Chain}
	}
	return t.notifyOnce(ctx, "AddCallbacks", changes)
}

// Announce implements tonepay.SessionAnnouncer: a NOTIFY for each session
// not announced yet by this transaction.
func (t *txn) Announce(ctx context.Context, changes []tonepay.SessionChanged) error {
	return t.notifyOnce(ctx, "Announce", changes)
}

// notifyOnce NOTIFYs each session of changes that this transaction has not
// yet, all in one statement: one round trip, whatever their number.
func (t *txn) notifyOnce(ctx context.Context, op string, changes []tonepay.SessionChanged) error {
	var payloads []string
	for _, e := range changes {
		p := e.AccountSid + ":" + e.SessionSid
		if t.notified[p] {
			continue
		}
		if t.notified == nil {
			t.notified = map[string]bool{}
		}
		t.notified[p] = true
		payloads = append(payloads, p)
	}
	if len(payloads) == 0 {
		return nil
	}
	if _, err := t.tx.Exec(ctx, `SELECT pg_notify($1, p) FROM unnest($2::text[]) WITH ORDINALITY AS n(p, i) ORDER BY i`, eventChannel, payloads); err != nil {
		return wrap(op, err)
	}
	return nil
}
