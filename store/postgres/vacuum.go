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
	// owed counts the rewrites still owed: set to 2 by every change, so that
	// a row a concurrent snapshot kept through one rewrite goes at the next.
	owed     atomic.Int32
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

func (e *eraser) owe() { e.owed.Store(2) }

// run rewrites the table every round while a rewrite is owed, until stop.
func (e *eraser) run() {
	defer close(e.done)
	t := time.NewTicker(e.every)
	defer t.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { <-e.quit; cancel() }()
	for {
		select {
		case <-e.quit:
			return
		case <-t.C:
			if n := e.owed.Load(); n > 0 {
				// Decrement only what was read: a change meanwhile set 2 again.
				if ran, err := e.vacuum(ctx); ran && err == nil {
					e.owed.CompareAndSwap(n, n-1)
				}
			}
		}
	}
}

func (e *eraser) stop() {
	e.stopOnce.Do(func() { close(e.quit) })
	<-e.done
}

// vacuum rewrites session_secrets unless another process is doing so; ran
// says whether this call did. Its duration is the time session writes may
// have waited (the lock wait is bounded by vacuumLockWait).
func (e *eraser) vacuum(ctx context.Context) (ran bool, err error) {
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
	_, err = conn.Exec(ctx, `VACUUM FULL session_secrets`)
	return err == nil, err
}
