package postgres

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Erasing ended sessions' sealed values (DESIGN §8). A DELETE or UPDATE in
// PostgreSQL leaves the old row version in its page; a plain VACUUM frees
// its slot but leaves its bytes in the page's free space until another row
// happens to be written over them (measured: TestEraseSealed, and
// docs/deployment.md). Only a rewrite of the table into a new file removes
// them, so the store rewrites session_secrets (VACUUM FULL) within
// EraseWithin of every change to it. The table holds one small row per open
// session: a rewrite takes milliseconds.
//
// VACUUM FULL holds an ACCESS EXCLUSIVE lock, which every session read and
// write waits for. So it waits for the lock at most vacuumLockWait (then
// the next round tries again), and an advisory lock keeps the processes
// sharing the database from queueing rewrites behind one another.

const (
	// DefaultEraseWithin and MaxEraseWithin bound Options.EraseWithin, as
	// --erase-within does for SQLite.
	DefaultEraseWithin = 30 * time.Second
	MaxEraseWithin     = 60 * time.Second

	// vacuumLock is the advisory lock of the rewrite, across processes.
	vacuumLock = 0x70e_5ec
	// vacuumLockWait bounds how long a rewrite waits for its table lock,
	// during which the session writes queued behind it wait too.
	vacuumLockWait = 100 * time.Millisecond
	// vacuumRounds is how many rounds fit in EraseWithin: a round that
	// cannot have the lock, or runs beside an older snapshot that still
	// sees a deleted row (VACUUM FULL copies such rows), leaves the rest.
	vacuumRounds = 4
)

// eraser runs the rewrites of one Store.
type eraser struct {
	pool  *pgxpool.Pool
	every time.Duration
	// The rewrites still owed, per table: every change owes one a round for
	// EraseWithin, so that a row that an older snapshot still saw at one
	// rewrite (VACUUM FULL keeps those) goes at a later one.
	secrets  atomic.Int32 // session_secrets: the sealed values
	accounts atomic.Int32 // accounts, once its clear tokens are sealed
	quit     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
}

func newEraser(pool *pgxpool.Pool, within time.Duration) *eraser {
	e := &eraser{pool: pool, every: within / vacuumRounds, quit: make(chan struct{}), done: make(chan struct{})}
	// A process that died may have left rows it had not yet erased.
	e.owe()
	return e
}

// owe records a change to session_secrets.
func (e *eraser) owe() { e.secrets.Store(vacuumRounds) }

// run rewrites each table every round while a rewrite of it is owed, until
// stop.
func (e *eraser) run() {
	defer close(e.done)
	t := time.NewTicker(e.every)
	defer t.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { <-e.quit; cancel() }()
	tables := []struct {
		name string
		owed *atomic.Int32
	}{{"session_secrets", &e.secrets}, {"accounts", &e.accounts}}
	for {
		select {
		case <-e.quit:
			return
		case <-t.C:
			for _, tb := range tables {
				if n := tb.owed.Load(); n > 0 {
					// Decrement only what was read: a change meanwhile owes them all again.
					if ran, err := e.vacuum(ctx, tb.name); ran && err == nil {
						tb.owed.CompareAndSwap(n, n-1)
					}
				}
			}
		}
	}
}

func (e *eraser) stop() {
	e.stopOnce.Do(func() { close(e.quit) })
	<-e.done
}

// vacuum rewrites table unless another process is rewriting one; ran says
// whether this call did. Its duration is the time session writes may
// have waited (the lock wait is bounded by vacuumLockWait).
func (e *eraser) vacuum(ctx context.Context, table string) (ran bool, err error) {
	conn, err := e.pool.Acquire(ctx)
	if err != nil {
		return false, err
	}
	defer conn.Release()
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, vacuumLock).Scan(&ran); err != nil || !ran {
		return false, err
	}
	defer conn.Exec(context.Background(), `SELECT pg_advisory_unlock($1)`, vacuumLock)
	if _, err := conn.Exec(ctx, fmt.Sprintf(`SET lock_timeout = %d`, vacuumLockWait.Milliseconds())); err != nil {
		return false, err
	}
	defer conn.Exec(context.Background(), `RESET lock_timeout`)
	_, err = conn.Exec(ctx, `VACUUM FULL `+table)
	return err == nil, err
}
