// Package sqlite is the embedded store: one SQLite file in WAL mode with
// synchronous=FULL, so every committed transaction is fsynced and survives a
// crash. Writes go through one connection (SQLite has one writer anyway, and
// queuing in Go avoids SQLITE_BUSY); reads use a pool that WAL lets run
// alongside the writer.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/tonepay/tonepay"
	_ "modernc.org/sqlite" // the pure-Go driver: no cgo
)

var _ tonepay.Store = (*Store)(nil)

//go:embed migrations/*.sql
var migrations embed.FS

// Store implements tonepay.Store on a SQLite file.
type Store struct {
	reader
	write *sql.DB
	read  *sql.DB
}

// Open opens (creating if needed) the database at path and applies any
// migrations it has not yet recorded.
func Open(path string) (*Store, error) {
	pragmas := "_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)"
	write, err := sql.Open("sqlite", "file:"+path+"?"+pragmas+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("sqlite.Open: %w", err)
	}
	write.SetMaxOpenConns(1)
	write.SetConnMaxIdleTime(0)
	read := write
	if path != ":memory:" { // an in-memory database exists once per connection
		if read, err = sql.Open("sqlite", "file:"+path+"?"+pragmas+"&_pragma=query_only(1)"); err != nil {
			write.Close()
			return nil, fmt.Errorf("sqlite.Open: %w", err)
		}
	}
	s := &Store{reader: reader{read}, write: write, read: read}
	if err := s.migrate(context.Background()); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error {
	err := s.write.Close()
	if s.read != s.write {
		err = errors.Join(err, s.read.Close())
	}
	return err
}

// migrate applies the embedded migrations in name order, each in its own
// transaction together with its row in the migrations table.
func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.write.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("sqlite.migrate: %w", err)
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		err := s.inTx(ctx, func(tx *sql.Tx) error {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM migrations WHERE name = ?`, name).Scan(&n); err != nil || n > 0 {
				return err
			}
			body, err := migrations.ReadFile(name)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, string(body)); err != nil {
				return err
			}
			_, err = tx.ExecContext(ctx, `INSERT INTO migrations (name, applied_at) VALUES (?, ?)`, name, time.Now().UnixNano())
			return err
		})
		if err != nil {
			return fmt.Errorf("sqlite.migrate %s: %w", name, err)
		}
	}
	return nil
}

func (s *Store) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// Update implements tonepay.Store.
func (s *Store) Update(ctx context.Context, fn func(tonepay.Tx) error) error {
	return s.inTx(ctx, func(tx *sql.Tx) error { return fn(&txn{reader{tx}, tx}) })
}

// ClaimCallbacks implements tonepay.Store.
func (s *Store) ClaimCallbacks(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*tonepay.Callback, error) {
	// A cheap read first: most polls find nothing, and need no write (no fsync).
	var due int
	if err := s.read.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM callbacks WHERE status = 'pending' AND next_attempt_at <= ?1 AND leased_until <= ?1)`,
		ts(now)).Scan(&due); err != nil || due == 0 {
		return nil, wrap("ClaimCallbacks", err)
	}
	var out []*tonepay.Callback
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		// Only the oldest pending callback of each session is eligible, so a
		// session's callbacks go out one after another, in order.
		rows, err := tx.QueryContext(ctx, `UPDATE callbacks SET leased_until = ?1
			WHERE id IN (SELECT c.id FROM callbacks c
				WHERE c.status = 'pending' AND c.next_attempt_at <= ?2 AND c.leased_until <= ?2
				AND NOT EXISTS (SELECT 1 FROM callbacks p WHERE p.session_sid = c.session_sid AND p.status = 'pending' AND p.id < c.id)
				ORDER BY c.id LIMIT ?3)
			RETURNING `+callbackCols, ts(now.Add(lease)), ts(now), limit)
		if err != nil {
			return err
		}
		out, err = scanAll(rows, scanCallback)
		return err
	})
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, wrap("ClaimCallbacks", err)
}

// ReleaseLeases frees every callback claim. A SQLite file is served by one
// process, so at start-up any claim left is a dead process's: releasing it
// sends the callback now instead of when the lease would have ended.
func (s *Store) ReleaseLeases(ctx context.Context) error {
	return wrap("ReleaseLeases", s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE callbacks SET leased_until = 0 WHERE status = 'pending' AND leased_until != 0`)
		return err
	}))
}

// RecordAttempt implements tonepay.Store.
func (s *Store) RecordAttempt(ctx context.Context, cb *tonepay.Callback, a *tonepay.Attempt) error {
	return wrap("RecordAttempt", s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO callback_attempts (callback_id, n, at, duration_ns, status_code, error) VALUES (?, ?, ?, ?, ?, ?)`,
			cb.ID, a.N, ts(a.At), int64(a.Duration), a.StatusCode, a.Error); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE callbacks SET status = ?, attempts = ?, next_attempt_at = ?, leased_until = 0, date_updated = ? WHERE id = ?`,
			string(cb.Status), cb.Attempts, ts(cb.NextAttemptAt), ts(cb.DateUpdated), cb.ID)
		return err
	}))
}

// NextCallbackAt implements tonepay.Store.
func (s *Store) NextCallbackAt(ctx context.Context) (time.Time, error) {
	var n sql.NullInt64
	// Only the callbacks ClaimCallbacks could hand out count: one waiting
	// behind an earlier callback of its session is not due, whatever its time.
	err := s.read.QueryRowContext(ctx, `SELECT min(max(c.next_attempt_at, c.leased_until)) FROM callbacks c
		WHERE c.status = 'pending'
		AND NOT EXISTS (SELECT 1 FROM callbacks p WHERE p.session_sid = c.session_sid AND p.status = 'pending' AND p.id < c.id)`).Scan(&n)
	if err != nil || !n.Valid {
		return time.Time{}, wrap("NextCallbackAt", err)
	}
	return tm(n.Int64), nil
}

// PruneAnswers implements tonepay.Store.
func (s *Store) PruneAnswers(ctx context.Context, before time.Time) error {
	return wrap("PruneAnswers", s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM answers WHERE date_created < ?`, ts(before))
		return err
	}))
}

// ts and tm convert times to and from the stored form: Unix nanoseconds, with
// 0 for the zero time.
func ts(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func tm(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// wrap adds the operation to an internal error; domain errors pass unchanged
// so that callers can match them.
func wrap(op string, err error) error {
	var te *tonepay.Error
	if err == nil || errors.As(err, &te) {
		return err
	}
	return fmt.Errorf("sqlite.%s: %w", op, err)
}

func isUniqueViolation(err error) bool {
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}

func encodeForm(v url.Values) string { return v.Encode() }

// Pragma returns the value of a PRAGMA as the writer connection sees it; for
// tests and diagnostics.
func (s *Store) Pragma(name string) (string, error) {
	var v string
	err := s.write.QueryRow("PRAGMA " + name).Scan(&v)
	return v, err
}

// QueryRow runs a read-only query; for tests and diagnostics.
func (s *Store) QueryRow(query string, args ...any) *sql.Row { return s.read.QueryRow(query, args...) }

// Migrations lists the names of the applied migrations, in order.
func (s *Store) Migrations() ([]string, error) {
	rows, err := s.read.Query(`SELECT name FROM migrations ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}
