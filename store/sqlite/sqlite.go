// Package sqlite is the embedded store: one SQLite file in WAL mode with
// synchronous=FULL, so every committed transaction is fsynced to the WAL
// before Update returns and survives a crash or kill -9.
//
// Writes go through a pool of one connection: SQLite has one writer anyway,
// and queuing in Go rather than in SQLite's busy handler keeps SQLITE_BUSY
// away. Every write transaction starts with BEGIN IMMEDIATE, taking the write
// lock up front, so a transaction that reads and then writes cannot fail
// half-way on a lock upgrade. Reads outside transactions use a second,
// read-only pool, which WAL lets run alongside the writer.
//
// A file is served by one process. The Store relies on it twice: it caches
// the rows every request reads (cache.go), and it releases callback leases
// at start-up (ReleaseClaims).
//
// Card data at rest (DESIGN §8). A session's captured values are stored only
// sealed (sessions.sealed, AES-256-GCM under the data key), and the WAL keeps
// every older version of a row's page until it is checkpointed and
// truncated. When a session ends (UpdateSession dropping Sealed), the
// committer truncates the WAL (wal_checkpoint(TRUNCATE)) at the latest
// EraseWithin (Options, default 30 s) after the end, and secure_delete has
// zeroed the old values' bytes in the database file's pages, freed ones
// included: from then on no file of the store (database, -wal, -shm) holds a
// copy the data key can open. A process killed before its erase leaves the
// older versions in the -wal until the file is next opened: Open truncates
// the WAL right after SQLite's recovery, before it returns (unless another
// process holds a read transaction on the file; then as soon as it ends).
// A file an older build wrote without secure_delete is rewritten once
// (VACUUM) by the first Open of this one. The bound is on the files'
// contents: blocks the file system freed, and copies made by backups or
// snapshots of the files, are the operator's.
//
// The WAL stays small: the committer checkpoints it between batches, on the
// writer connection (so no commit adds to it meanwhile), once it reaches
// WALLimit (default 16 MiB; it stays under 64 MiB under any load), and
// truncates it after IdleAfter (default 5 s) without writes. A checkpoint
// waits for readers briefly (they are short) and is tried again rather than
// stall the writers long.
//
// The database and its -wal and -shm files are mode 0600, whatever the
// umask: they hold auth tokens and sealed card data.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/store/internal/sqlrow"
	"modernc.org/sqlite" // the pure-Go driver: no cgo
	sqlite3 "modernc.org/sqlite/lib"
)

var _ tonepay.Store = (*Store)(nil)

// Store implements tonepay.Store on a SQLite file.
type Store struct {
	reader
	write *sql.DB // one connection: every write transaction queues for it
	read  *sql.DB // query_only pool for reads outside transactions

	rstmts     *stmts        // prepared statements of the read pool
	wstmts     *wstmts       // the writer's, used by the committer alone
	cache      caches        // rows the request path reads most (cache.go)
	tokens     sqlrow.Tokens // the stored form of auth tokens (tokens.go)
	commitOnce sync.Once
	closeOnce  sync.Once
	jobs       chan *job
	quit       chan struct{} // closed by Close: the committer stops
	committer  sync.WaitGroup
	wal        walState // the committer's alone

	// Now is the clock for what the store timestamps itself (the
	// migrations table). Domain times (DateCreated, NextAttemptAt, …) come
	// from the caller, whose clock is injected in turn.
	Now func() time.Time
	// ObserveCommit, if set, is told how long each COMMIT took (the fsync
	// that makes a write durable; one per group of transactions committed
	// together): for metrics. It runs on the committer, so it must not
	// block. Set it before the first write.
	ObserveCommit func(time.Duration)
}

// Update implements tonepay.Store. fn must use tx for every read and write:
// the writer has one connection, so a nested Update would wait forever, and
// reads through the Store do not see tx's uncommitted writes.
func (s *Store) Update(ctx context.Context, fn func(tonepay.Tx) error) error {
	var t *txn
	err := s.inTx(ctx, "Update", func(tx *sql.Tx) error {
		q := txq{tx, s.wstmts}
		t = &txn{reader: reader{q, &s.tokens}, tx: q}
		err := fn(t)
		if t.dropsSealed {
			// On the committer goroutine, as every job's fn: the WAL
			// state needs no lock. Noted even if the job fails: an
			// early truncation costs little.
			s.wal.noteEnded(time.Now())
		}
		return err
	})
	if t != nil {
		// Even after an error: the commit may have happened (an error of
		// COMMIT's answer), and dropping a row only costs a read.
		s.cache.drop(&t.changed)
	}
	return err
}

// PruneAnswers implements tonepay.Store.
func (s *Store) PruneAnswers(ctx context.Context, before time.Time) error {
	const op = "PruneAnswers"
	return s.inTx(ctx, op, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM answers WHERE date_created < ?`, sqlrow.Ts(before))
		return wrap(op, err)
	})
}

// QueryRow runs a query on the read-only pool; for tests and diagnostics
// (a test checks that ended sessions keep no sealed card data).
func (s *Store) QueryRow(query string, args ...any) *sql.Row { return s.read.QueryRow(query, args...) }

// wrap adds the operation to an internal error; domain errors
// (tonepay.ErrNotFound, tonepay.ErrConflict) pass unchanged, so that callers
// can match them and the API can show their message.
func wrap(op string, err error) error {
	var te *tonepay.Error
	if err == nil || errors.As(err, &te) {
		return err
	}
	return fmt.Errorf("sqlite.%s: %w", op, err)
}

// isUniqueViolation reports whether err is a UNIQUE index refusing a row
// (not a PRIMARY KEY: a repeated SID is a bug, not a conflict).
func isUniqueViolation(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE
}

func encodeForm(v url.Values) string { return v.Encode() }
