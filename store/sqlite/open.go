package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"time"

	"github.com/tonepay/tonepay/store/internal/sqlrow"
)

//go:embed migrations/*.sql
var migrations embed.FS

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
	// A peak opens a reader per concurrent request, each with its own page
	// cache outside Go's heap; closing the idle ones returns that memory.
	read.SetConnMaxIdleTime(30 * time.Second)
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
			_, err = tx.ExecContext(ctx, `INSERT INTO migrations (name, applied_at) VALUES (?, ?)`, name, sqlrow.Ts(s.Now()))
			return err
		})
		if err != nil {
			return fmt.Errorf("sqlite.migrate %s: %w", name, err)
		}
	}
	return nil
}
