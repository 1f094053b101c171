package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"sync"

	"github.com/tonepay/tonepay"
)

// records coalesces RecordAttempt calls: at most one job of records is with
// the committer at a time, and every record that arrives meanwhile waits to
// go in the next one together. Alone, a record is written at once.
type records struct {
	mu      sync.Mutex
	waiting []*record
	running bool // a flusher goroutine is writing records
}

type record struct {
	ctx  context.Context
	cb   *tonepay.Callback
	a    *tonepay.Attempt
	err  error
	done chan struct{}
}

// add queues one record and waits until it is committed (or failed).
func (rs *records) add(ctx context.Context, s *Store, cb *tonepay.Callback, a *tonepay.Attempt) error {
	r := &record{ctx: ctx, cb: cb, a: a, done: make(chan struct{})}
	rs.mu.Lock()
	rs.waiting = append(rs.waiting, r)
	start := !rs.running
	rs.running = true
	rs.mu.Unlock()
	if start {
		go rs.flush(s)
	}
	<-r.done
	return r.err
}

// flush writes the waiting records, a job at a time, until none wait.
func (rs *records) flush(s *Store) {
	for {
		rs.mu.Lock()
		batch := rs.waiting
		rs.waiting = nil
		if len(batch) == 0 {
			rs.running = false
			rs.mu.Unlock()
			return
		}
		rs.mu.Unlock()
		err := s.inTx(context.Background(), "RecordAttempt", func(tx *sql.Tx) error {
			for _, r := range batch {
				if r.err = r.ctx.Err(); r.err != nil {
					continue
				}
				// A callback not found wrote nothing; any other error may
				// have written part of a record: the whole job rolls back.
				if r.err = s.recordAttempt(r.ctx, tx, r.cb, r.a); r.err != nil && !errors.Is(r.err, tonepay.ErrNotFound) {
					return r.err
				}
			}
			return nil
		})
		for _, r := range batch {
			if err != nil && (r.err == nil || errors.Is(r.err, tonepay.ErrNotFound)) {
				r.err = err // rolled back with the rest
			}
			close(r.done)
		}
	}
}
