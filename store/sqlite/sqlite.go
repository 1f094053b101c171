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
// at start-up (ReleaseLeases).
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
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/tonepay/tonepay"
	"modernc.org/sqlite" // the pure-Go driver: no cgo
	sqlite3 "modernc.org/sqlite/lib"
)

var _ tonepay.Store = (*Store)(nil)

//go:embed migrations/*.sql
var migrations embed.FS

// Store implements tonepay.Store on a SQLite file.
type Store struct {
	reader
	write *sql.DB // one connection: every write transaction queues for it
	read  *sql.DB // query_only pool for reads outside transactions

	rstmts     *stmts  // prepared statements of the read pool
	wstmts     *wstmts // the writer's, used by the committer alone
	cache      caches  // rows the request path reads most (cache.go)
	tokens     tokens  // the stored form of auth tokens (tokens.go)
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

// Open opens (creating if needed) the database at path with the default
// Options and applies any migrations it has not yet recorded. The path
// ":memory:" gives a private in-memory database for tests; it lives on the
// writer connection alone.
func Open(path string) (*Store, error) { return OpenWith(path, Options{}) }

// busyTimeout is how long a write waits for another process's write lock (a
// second tonepay command on the same file) instead of failing at once.
const busyTimeout = 10 * time.Second

// OpenWith is Open with the erase and WAL bounds of o.
func OpenWith(path string, o Options) (*Store, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	mem := path == ":memory:"
	if !mem {
		if err := privateFiles(path); err != nil {
			return nil, fmt.Errorf("sqlite.Open: %w", err)
		}
	}
	common := []string{
		fmt.Sprintf("_pragma=busy_timeout(%d)", busyTimeout.Milliseconds()),
		"_pragma=foreign_keys(1)",
	}
	write, err := sql.Open("sqlite", dsn(path, append(common,
		"_pragma=journal_mode(WAL)",     // readers do not block the writer, nor it them
		"_pragma=synchronous(FULL)",     // fsync the WAL at every commit: durable, not just consistent
		"_pragma=cache_size(-65536)",    // 64 MiB: the writer's working set stays in memory
		"_pragma=wal_autocheckpoint(0)", // the committer checkpoints between batches (maintain), not inside a commit
		"_pragma=temp_store(MEMORY)",    // savepoints journal in memory: a job's rollback needs no file
		// A row's old bytes are zeroed where it was, and freed pages too, so
		// that once the WAL is truncated no old version of a sealed value is
		// left in the database file (see maintain).
		"_pragma=secure_delete(1)",
		"_txlock=immediate", // BEGIN IMMEDIATE: take the write lock at the start
	)...))
	if err != nil {
		return nil, fmt.Errorf("sqlite.Open: %w", err)
	}
	write.SetMaxOpenConns(1)
	// Keep the connection: an in-memory database dies with it, and a file's
	// connection is cheaper kept than reopened.
	write.SetMaxIdleConns(1)
	write.SetConnMaxIdleTime(0)
	write.SetConnMaxLifetime(0)
	read := write
	if !mem {
		if read, err = sql.Open("sqlite", dsn(path, append(common, "_pragma=query_only(1)")...)); err != nil {
			write.Close()
			return nil, fmt.Errorf("sqlite.Open: %w", err)
		}
	}
	s := &Store{write: write, read: read, Now: time.Now, rstmts: newStmts(read), wstmts: newWstmts(write), quit: make(chan struct{})}
	s.reader = reader{pool{s.rstmts}, &s.tokens}
	s.wal.opts = o
	if !mem {
		if err := s.scrub(); err != nil {
			s.Close()
			return nil, fmt.Errorf("sqlite.Open: %w", err)
		}
		s.wal.path, s.wal.shm = path+"-wal", path+"-shm"
		// A crash may have left sessions' older row versions in the WAL:
		// the committer's first act, before the migrations below, is to
		// truncate it (urgently, as if the bound were near).
		s.wal.ended = time.Now().Add(-o.EraseWithin)
	}
	if err := s.migrate(context.Background()); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// dsn makes the driver's data source name for path. The driver hands
// "file:" names to SQLite as URIs, so the characters a URI reads
// specially are escaped; the rest of the path goes as it is.
func dsn(path string, params ...string) string {
	p := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	return "file:" + p + "?" + strings.Join(params, "&")
}

// Close closes both connection pools.
func (s *Store) Close() error {
	s.commitOnce.Do(func() {}) // no committer will start after this
	s.closeOnce.Do(func() {
		close(s.quit)
		s.committer.Wait()
		s.rstmts.close()
		s.wstmts.close()
	})
	err := s.write.Close()
	if s.read != s.write {
		err = errors.Join(err, s.read.Close())
	}
	return err
}

// migrate applies the embedded migrations in name order, each in its own
// transaction together with its row in the migrations table, so that a
// migration is either applied and recorded or neither. The check runs
// inside the write transaction: two processes opening a new file at once
// cannot both apply a migration.
func (s *Store) migrate(ctx context.Context) error {
	const op = "migrate"
	if _, err := s.write.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)`); err != nil {
		return wrap(op, err)
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return wrap(op, err)
	}
	sort.Strings(names) // 001_…, 002_…: the numeric prefix is the order
	for _, name := range names {
		err := s.inTx(ctx, op, func(tx *sql.Tx) error {
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
			_, err = tx.ExecContext(ctx, `INSERT INTO migrations (name, applied_at) VALUES (?, ?)`, name, ts(s.Now()))
			return err
		})
		if err != nil {
			return fmt.Errorf("sqlite.migrate %s: %w", name, err)
		}
	}
	return nil
}

// inTx runs fn in a write transaction and returns once that transaction is
// committed (durable) or rolled back. Errors of BEGIN and COMMIT are wrapped
// with op; fn's own errors are returned as they are, so that callers can
// match them.
//
// Group commit: concurrent callers share one transaction and so one fsync.
// A single committer goroutine takes every call waiting at that moment, runs
// each fn in a savepoint of its own (an fn that fails rolls back alone, as if
// it had its own transaction), and commits them together. fsync is what a
// durable write costs; sharing it is what lets throughput grow with
// concurrency while every acknowledged write stays on disk.
func (s *Store) inTx(ctx context.Context, op string, fn func(*sql.Tx) error) error {
	s.commitOnce.Do(func() {
		s.jobs = make(chan *job)
		s.committer.Add(1)
		go s.commitLoop()
	})
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sqlite.%s: %w", op, err)
	}
	j := &job{ctx: ctx, op: op, fn: fn, done: make(chan error, 1)}
	select {
	case s.jobs <- j:
	case <-ctx.Done():
		return fmt.Errorf("sqlite.%s: %w", op, ctx.Err())
	case <-s.quit:
		return fmt.Errorf("sqlite.%s: the store is closed", op)
	}
	return <-j.done
}

// job is one caller's transaction, waiting for the committer.
type job struct {
	ctx  context.Context
	op   string
	fn   func(*sql.Tx) error
	done chan error
}

// maxBatch bounds how many transactions share one commit, so that one
// commit's latency stays bounded too.
const maxBatch = 256

func (s *Store) commitLoop() {
	defer s.committer.Done()
	// The timer wakes an idle committer when the WAL is due for truncation
	// (an erase bound, idleness): with no writes, nothing else would.
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		s.maintain()
		if at, ok := s.wal.next(); ok {
			timer.Reset(time.Until(at))
		} else {
			timer.Stop()
		}
		var first *job
		select {
		case first = <-s.jobs:
		case <-timer.C:
			continue
		case <-s.quit:
			return
		}
		batch := []*job{first}
	more:
		for len(batch) < maxBatch {
			select {
			case j := <-s.jobs:
				batch = append(batch, j)
			default:
				break more
			}
		}
		s.commitBatch(batch)
		s.wal.dirty, s.wal.lastWrite = true, time.Now()
		s.wstmts.prepareWanted() // the connection is free between batches
	}
}

func (s *Store) commitBatch(batch []*job) {
	finish := func(errs []error) {
		for i, j := range batch {
			j.done <- errs[i]
		}
	}
	errs := make([]error, len(batch))
	// The transaction is the committer's, not any caller's: one caller giving
	// up must not roll back the others.
	tx, err := s.write.BeginTx(context.Background(), nil)
	if err != nil {
		for i, j := range batch {
			errs[i] = fmt.Errorf("sqlite.%s: begin: %w", j.op, err)
		}
		finish(errs)
		return
	}
	defer tx.Rollback() // a no-op after Commit
	if len(batch) == 1 {
		// Alone: no savepoint needed, and a failure rolls back the transaction.
		if errs[0] = batch[0].fn(tx); errs[0] != nil {
			finish(errs)
			return
		}
	} else {
		for i, j := range batch {
			if err := j.ctx.Err(); err != nil {
				errs[i] = fmt.Errorf("sqlite.%s: %w", j.op, err)
				continue
			}
			q := txq{tx, s.wstmts}
			if _, err := q.ExecContext(j.ctx, `SAVEPOINT job`); err != nil {
				errs[i] = fmt.Errorf("sqlite.%s: savepoint: %w", j.op, err)
				continue
			}
			if errs[i] = j.fn(tx); errs[i] != nil {
				q.ExecContext(context.Background(), `ROLLBACK TO job`)
			}
			q.ExecContext(context.Background(), `RELEASE job`)
		}
	}
	start := time.Now()
	err = tx.Commit()
	if s.ObserveCommit != nil {
		s.ObserveCommit(time.Since(start))
	}
	if err != nil {
		for i, j := range batch {
			if errs[i] == nil {
				errs[i] = fmt.Errorf("sqlite.%s: commit: %w", j.op, err)
			}
		}
	}
	finish(errs)
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

// ClaimCallbacks implements tonepay.Store.
func (s *Store) ClaimCallbacks(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*tonepay.Callback, error) {
	const op = "ClaimCallbacks"
	if limit <= 0 {
		return nil, nil
	}
	// A cheap read first: most polls find nothing, and then need no write
	// transaction (and no fsync).
	var due int
	if err := s.read.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM callbacks WHERE status = 'pending' AND next_attempt_at <= ?1 AND leased_until <= ?1)`,
		ts(now)).Scan(&due); err != nil || due == 0 {
		return nil, wrap(op, err)
	}
	var out []*tonepay.Callback
	err := s.inTx(ctx, op, func(tx *sql.Tx) error {
		// Only the oldest pending callback of each session is eligible, so a
		// session's callbacks go out one after another, in order, even when a
		// later one is due first. The lease is a column of its own, so that
		// claiming does not disturb the retry schedule (see ReleaseLeases).
		rows, err := (txq{tx, s.wstmts}).QueryContext(ctx, `UPDATE callbacks SET leased_until = ?1
			WHERE id IN (SELECT c.id FROM callbacks c
				WHERE c.status = 'pending' AND c.next_attempt_at <= ?2 AND c.leased_until <= ?2
				AND NOT EXISTS (SELECT 1 FROM callbacks p WHERE p.session_sid = c.session_sid AND p.status = 'pending' AND p.id < c.id)
				ORDER BY c.id LIMIT ?3)
			RETURNING `+callbackCols, ts(now.Add(lease)), ts(now), limit)
		if err != nil {
			return wrap(op, err)
		}
		out, err = scanAll(rows, scanCallback)
		return wrap(op, err)
	})
	if err != nil {
		return nil, err
	}
	// RETURNING does not promise an order.
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// ReleaseLeases frees every callback claim. A SQLite file is served by one
// process, so at start-up any claim left is a dead process's: releasing it
// sends the callback now instead of when the lease would have ended.
func (s *Store) ReleaseLeases(ctx context.Context) error {
	const op = "ReleaseLeases"
	return s.inTx(ctx, op, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE callbacks SET leased_until = 0 WHERE status = 'pending' AND leased_until != 0`)
		return wrap(op, err)
	})
}

// RecordAttempt implements tonepay.Store. It returns tonepay.ErrNotFound
// when cb is not in the store. Recording ends the claim's lease: the
// callback is due again at its new NextAttemptAt.
func (s *Store) RecordAttempt(ctx context.Context, cb *tonepay.Callback, a *tonepay.Attempt) error {
	const op = "RecordAttempt"
	return s.inTx(ctx, op, func(tx *sql.Tx) error {
		q := txq{tx, s.wstmts}
		res, err := q.ExecContext(ctx, `UPDATE callbacks SET status = ?, attempts = ?, next_attempt_at = ?, leased_until = 0, date_updated = ? WHERE id = ?`,
			string(cb.Status), cb.Attempts, ts(cb.NextAttemptAt), ts(cb.DateUpdated), cb.ID)
		if err != nil {
			return wrap(op, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return wrap(op, err)
		} else if n == 0 {
			return tonepay.ErrNotFound
		}
		_, err = q.ExecContext(ctx, `INSERT INTO callback_attempts (callback_id, n, at, duration_ns, status_code, error) VALUES (?, ?, ?, ?, ?, ?)`,
			cb.ID, a.N, ts(a.At), int64(a.Duration), a.StatusCode, a.Error)
		if err != nil || cb.Status != tonepay.CallbackPending {
			return wrap(op, err)
		}
		_, err = q.ExecContext(ctx, `UPDATE callbacks SET leased_until = 0 WHERE session_sid = ? AND status = 'pending' AND id > ? AND leased_until != 0`, cb.SessionSid, cb.ID)
		return wrap(op, err)
	})
}

// NextCallbackAt implements tonepay.Store.
func (s *Store) NextCallbackAt(ctx context.Context) (time.Time, error) {
	var n sql.NullInt64
	// Only the callbacks ClaimCallbacks could hand out count: one waiting
	// behind an earlier callback of its session is not due, whatever its
	// time, and a leased one is due when its lease ends.
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
	const op = "PruneAnswers"
	return s.inTx(ctx, op, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM answers WHERE date_created < ?`, ts(before))
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
