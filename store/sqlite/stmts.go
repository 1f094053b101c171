package sqlite

import (
	"context"
	"database/sql"
	"sync"
)

// stmts caches prepared statements by their SQL. Preparing is a third of
// what a short query costs (SQLite parses and plans it); a prepared statement
// keeps its compiled form on each connection that has run it.
type stmts struct {
	db *sql.DB
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

func newStmts(db *sql.DB) *stmts { return &stmts{db: db, m: map[string]*sql.Stmt{}} }

func (c *stmts) get(ctx context.Context, query string) (*sql.Stmt, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.m[query]; ok {
		return st, nil
	}
	st, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	c.m[query] = st
	return st, nil
}

func (c *stmts) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.m {
		st.Close()
	}
	c.m = nil
}

// pool runs queries on a connection pool through cached statements.
type pool struct{ c *stmts }

func (p pool) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := p.c.get(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

func (p pool) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := p.c.get(ctx, query)
	if err != nil {
		return p.c.db.QueryRowContext(ctx, query, args...) // reports the same error through Scan
	}
	return st.QueryRowContext(ctx, args...)
}

// wstmts caches the writer's prepared statements. The writer has one
// connection and a transaction holds it, so a statement cannot be prepared
// through the pool while one runs (it would wait for the connection
// forever). A statement first seen in a transaction therefore runs
// unprepared and is noted; the committer prepares what was noted once the
// batch has committed and the connection is free. Only the committer
// goroutine uses it, so it needs no lock.
type wstmts struct {
	db   *sql.DB
	m    map[string]*sql.Stmt
	want map[string]bool
}

func newWstmts(db *sql.DB) *wstmts {
	return &wstmts{db: db, m: map[string]*sql.Stmt{}, want: map[string]bool{}}
}

// prepareWanted prepares the statements noted since the last call. A failure
// only means the statement keeps running unprepared.
func (w *wstmts) prepareWanted() {
	for q := range w.want {
		if st, err := w.db.Prepare(q); err == nil {
			w.m[q] = st
		}
		delete(w.want, q)
	}
}

func (w *wstmts) close() {
	for _, st := range w.m {
		st.Close()
	}
	w.m = nil
}

// txq runs queries in a write transaction, through the writer's prepared
// statements when w has them (rebound to the transaction, where they stay
// compiled on the writer's one connection).
type txq struct {
	tx *sql.Tx
	w  *wstmts
}

func (t txq) stmt(ctx context.Context, query string) *sql.Stmt {
	if t.w == nil {
		return nil
	}
	st, ok := t.w.m[query]
	if !ok {
		t.w.want[query] = true
		return nil
	}
	return t.tx.StmtContext(ctx, st)
}

func (t txq) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := t.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return t.tx.QueryContext(ctx, query, args...)
}

func (t txq) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := t.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return t.tx.QueryRowContext(ctx, query, args...)
}

func (t txq) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := t.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return t.tx.ExecContext(ctx, query, args...)
}
