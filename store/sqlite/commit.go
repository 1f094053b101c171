package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

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
