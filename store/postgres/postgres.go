// Package postgres is the store for several tonepay processes sharing one
// PostgreSQL database. Any process serves any request: state lives only in
// the database, a transaction that rewrites a session or a call reads it
// FOR UPDATE, and callbacks are claimed FOR UPDATE SKIP LOCKED, so that each
// is delivered by one process at a time and in order per session.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/store/internal/sqlrow"
)

var (
	_ tonepay.Store           = (*Store)(nil)
	_ tonepay.SessionListener = (*Store)(nil)
)

// eventChannel is the NOTIFY channel of tonepay.SessionChanged.
const eventChannel = "tonepay_events"

//go:embed migrations/*.sql
var migrations embed.FS

// migrationLock is the advisory lock that keeps processes starting together
// from applying the same migration twice.
const migrationLock = 0x70e_9a7

// Store implements tonepay.Store on a pgxpool.
type Store struct {
	reader
	pool   *pgxpool.Pool
	erase  *eraser
	tokens sqlrow.Tokens

	// ObserveCommit, if set, is told how long each COMMIT of Update and
	// RecordAttempt took (the durable write): for metrics. Set it before
	// the first write.
	ObserveCommit func(time.Duration)
}

// Options are the settings of OpenWith; the zero value is Open's.
type Options struct {
	// EraseWithin bounds how long an ended session's sealed values stay
	// readable in the files of the table that holds them (vacuum.go): 0
	// means DefaultEraseWithin; less than a second or more than
	// MaxEraseWithin is refused.
	// What other files keep (WAL, backups) is in docs/deployment.md.
	EraseWithin time.Duration
	// Tokens, if set, seals account auth tokens at rest (the data key's
	// seal.Box). OpenWith then seals the tokens stored in clear before, and
	// fails if a sealed one does not open: a wrong data key stops start-up.
	// Without it tokens are stored in clear, and sealed ones cannot be read.
	Tokens tonepay.Sealer
}

// Open connects to the database at url (postgres://…) and applies any
// migrations it has not yet recorded, with the default Options.
func Open(ctx context.Context, url string) (*Store, error) {
	return OpenWith(ctx, url, Options{})
}

// OpenWith is Open with options. The Store rewrites its secrets table in
// the background until Close.
func OpenWith(ctx context.Context, url string, o Options) (*Store, error) {
	if o.EraseWithin == 0 {
		o.EraseWithin = DefaultEraseWithin
	}
	if o.EraseWithin < time.Second || o.EraseWithin > MaxEraseWithin {
		return nil, fmt.Errorf("postgres.Open: EraseWithin %v is not between 1s and %v", o.EraseWithin, MaxEraseWithin)
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres.Open: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres.Open: %w", err)
	}
	s := &Store{pool: pool, erase: newEraser(pool, o.EraseWithin), tokens: sqlrow.Tokens{Sealer: o.Tokens}}
	s.reader = reader{q: pool, tokens: &s.tokens}
	err = s.migrate(ctx)
	if err == nil && o.Tokens != nil {
		err = s.sealTokens(ctx)
	}
	if err != nil {
		pool.Close()
		return nil, err
	}
	go s.erase.run()
	return s, nil
}

// Close stops the background rewrites and closes the pool.
func (s *Store) Close() error {
	s.erase.stop()
	s.pool.Close()
	return nil
}

func (s *Store) migrate(ctx context.Context) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("postgres.migrate: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrationLock); err != nil {
		return fmt.Errorf("postgres.migrate: %w", err)
	}
	defer conn.Exec(context.Background(), `SELECT pg_advisory_unlock($1)`, migrationLock)
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS migrations (name text PRIMARY KEY, applied_at bigint NOT NULL)`); err != nil {
		return fmt.Errorf("postgres.migrate: %w", err)
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			var n int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM migrations WHERE name = $1`, name).Scan(&n); err != nil || n > 0 {
				return err
			}
			body, err := migrations.ReadFile(name)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, string(body)); err != nil {
				return err
			}
			_, err = tx.Exec(ctx, `INSERT INTO migrations (name, applied_at) VALUES ($1, $2)`, name, time.Now().UnixNano())
			return err
		})
		if err != nil {
			return fmt.Errorf("postgres.migrate %s: %w", name, err)
		}
	}
	return nil
}

// sealTokens seals the auth tokens stored in clear and checks that every
// sealed one opens (sqlrow.Tokens.Reseal). A token is replaced only if it is
// still the clear one read, so processes starting together, or a rotation
// meanwhile, lose nothing. The clear tokens' old row versions are then
// rewritten away within EraseWithin (vacuum.go): they would stay in the
// table's free space otherwise.
func (s *Store) sealTokens(ctx context.Context) error {
	rows, err := s.pool.Query(ctx, `SELECT sid, auth_token FROM accounts`)
	if err != nil {
		return fmt.Errorf("postgres.Open: tokens: %w", err)
	}
	todo, err := s.tokens.ResealAll(rows)
	rows.Close()
	if err != nil {
		return fmt.Errorf("postgres.Open: %w", err)
	}
	for _, r := range todo {
		if _, err := s.pool.Exec(ctx, `UPDATE accounts SET auth_token = $1 WHERE sid = $2 AND auth_token = $3`, r.Sealed, r.Sid, r.Clear); err != nil {
			return fmt.Errorf("postgres.Open: tokens: %w", err)
		}
	}
	if len(todo) > 0 {
		s.erase.accounts.Store(vacuumRounds)
	}
	return nil
}

// Update implements tonepay.Store.
func (s *Store) Update(ctx context.Context, fn func(tonepay.Tx) error) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		return fn(&txn{reader: reader{q: tx, lock: true, tokens: &s.tokens}, tx: tx, erase: s.erase})
	})
}

// inTx is pgx.BeginFunc with the COMMIT timed for ObserveCommit.
func (s *Store) inTx(ctx context.Context, fn func(pgx.Tx) error) error {
	if s.ObserveCommit == nil {
		return pgx.BeginFunc(ctx, s.pool, fn)
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx) // a no-op after Commit
	if err := fn(tx); err != nil {
		return err
	}
	start := time.Now()
	err = tx.Commit(ctx)
	s.ObserveCommit(time.Since(start))
	return err
}

// ClaimCallbacks implements tonepay.Store.
func (s *Store) ClaimCallbacks(ctx context.Context, now time.Time, claim time.Duration, limit int) ([]*tonepay.Callback, error) {
	rows, err := s.pool.Query(ctx, claimCallbacks, sqlrow.Ts(now.Add(claim)), sqlrow.Ts(now), limit)
	if err != nil {
		return nil, wrap("ClaimCallbacks", err)
	}
	out, err := scanAll(rows, sqlrow.ScanCallback)
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, wrap("ClaimCallbacks", err)
}

// claimCallbacks leases ($1) up to $3 callbacks due at $2. Only the oldest
// pending callback of each session is eligible, so a session's callbacks go
// out one after another, in order; SKIP LOCKED lets several processes claim
// at once without waiting on each other. The candidates are the chains'
// heads in the order they fell due (callbacks_heads, migration 010), each
// checked with one probe of callbacks_session, so a claim reads about $3
// index entries however many callbacks are due or already delivered.
const claimCallbacks = `UPDATE callbacks SET leased_until = $1
	WHERE id IN (SELECT c.id FROM callbacks c
		WHERE c.status = 'pending' AND c.chain_head AND greatest(c.next_attempt_at, c.leased_until) <= $2
		AND NOT EXISTS (SELECT 1 FROM callbacks p WHERE p.session_sid = c.session_sid AND p.status = 'pending' AND p.id < c.id)
		ORDER BY greatest(c.next_attempt_at, c.leased_until), c.id LIMIT $3 FOR UPDATE SKIP LOCKED)
	RETURNING ` + sqlrow.CallbackCols

// RecordAttempt implements tonepay.Store.
func (s *Store) RecordAttempt(ctx context.Context, cb *tonepay.Callback, a *tonepay.Attempt) error {
	return wrap("RecordAttempt", s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO callback_attempts (callback_id, n, at, duration_ns, status_code, error) VALUES ($1, $2, $3, $4, $5, $6)`,
			cb.ID, a.N, sqlrow.Ts(a.At), int64(a.Duration), a.StatusCode, a.Error); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE callbacks SET status = $1, attempts = $2, next_attempt_at = $3, leased_until = 0, date_updated = $4 WHERE id = $5`,
			string(cb.Status), cb.Attempts, sqlrow.Ts(cb.NextAttemptAt), sqlrow.Ts(cb.DateUpdated), cb.ID); err != nil || cb.Status != tonepay.CallbackPending {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE callbacks SET leased_until = 0 WHERE session_sid = $1 AND status = 'pending' AND id > $2 AND leased_until <> 0`, cb.Chain, cb.ID)
		return err
	}))
}

// DeferCallback implements tonepay.Store, in one statement: the session is
// found only while the callback is pending, so a delivered one changes
// nothing; the later callbacks of the session lose their claims with it.
func (s *Store) DeferCallback(ctx context.Context, id int64, until time.Time) error {
	_, err := s.pool.Exec(ctx, `UPDATE callbacks SET leased_until = 0,
			next_attempt_at = CASE WHEN id = $1 THEN $2 ELSE next_attempt_at END
		WHERE status = 'pending' AND id >= $1 AND (id = $1 OR leased_until <> 0)
			AND session_sid = (SELECT session_sid FROM callbacks WHERE id = $1 AND status = 'pending')`, id, sqlrow.Ts(until))
	return wrap("DeferCallback", err)
}

// NextCallbackAt implements tonepay.Store.
func (s *Store) NextCallbackAt(ctx context.Context) (time.Time, error) {
	var n int64
	err := s.pool.QueryRow(ctx, nextCallbackAt).Scan(&n)
	if errors.Is(err, pgx.ErrNoRows) {
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
const nextCallbackAt = `SELECT greatest(c.next_attempt_at, c.leased_until) FROM callbacks c
	WHERE c.status = 'pending' AND c.chain_head
	AND NOT EXISTS (SELECT 1 FROM callbacks p WHERE p.session_sid = c.session_sid AND p.status = 'pending' AND p.id < c.id)
	ORDER BY greatest(c.next_attempt_at, c.leased_until) LIMIT 1`

// PruneAnswers implements tonepay.Store.
func (s *Store) PruneAnswers(ctx context.Context, before time.Time) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM answers WHERE date_created < $1`, sqlrow.Ts(before))
	return wrap("PruneAnswers", err)
}

// wrap adds the operation to an internal error; domain errors pass unchanged.
func wrap(op string, err error) error {
	var te *tonepay.Error
	if err == nil || errors.As(err, &te) {
		return err
	}
	return fmt.Errorf("postgres.%s: %w", op, err)
}

func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

func encodeForm(v url.Values) string { return v.Encode() }

// Listen implements tonepay.SessionListener with LISTEN on a connection of its own.
// A lost connection is opened again; events committed meanwhile are missed,
// which costs only latency: dispatchers also poll.
func (s *Store) Listen(ctx context.Context, fn func(tonepay.SessionChanged)) error {
	for ctx.Err() == nil {
		err := s.listen(ctx, fn)
		if ctx.Err() != nil {
			break
		}
		_ = err // the caller cannot do better than retry; the pause bounds the retries
		t := time.NewTimer(time.Second)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
	return nil
}

func (s *Store) listen(ctx context.Context, fn func(tonepay.SessionChanged)) error {
	pooled, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	// The connection stays in LISTEN mode: it must not go back to the pool.
	conn := pooled.Hijack()
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+eventChannel); err != nil {
		return err
	}
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		account, session, _ := strings.Cut(n.Payload, ":")
		fn(tonepay.SessionChanged{AccountSid: account, SessionSid: session})
	}
}
