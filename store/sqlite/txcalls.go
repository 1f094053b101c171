package sqlite

import (
	"context"

	"github.com/tonepay/tonepay"
)

// txCalls is the committer's copy of call rows, for FindCall inside
// transactions: every key press and Payments request reads its call there,
// and that lookup was a quarter of a key press's time in the committer. The
// Store's own caches (cache.go) cannot serve it: they are dropped only after
// a commit's caller wakes, when the committer may be running the next batch.
//
// Only the committer goroutine uses it, and every write to calls goes
// through the committer, so it can be exact: a row the batch being built
// has written is read from SQL until the batch ends (its job may still roll
// back to its savepoint) and is never copied meanwhile; a failed commit
// empties the copy. Rows are kept and handed out by value, as in cache.go.
type txCalls struct {
	m       map[string]tonepay.Call
	written map[string]bool // rows the batch being built has written
}

func (c *txCalls) get(sid string) (*tonepay.Call, bool) {
	if c.written[sid] {
		return nil, false
	}
	v, ok := c.m[sid]
	return &v, ok
}

func (c *txCalls) fill(v *tonepay.Call) {
	if c.written[v.Sid] {
		return
	}
	if c.m == nil || len(c.m) >= cacheSize {
		c.m = make(map[string]tonepay.Call)
	}
	c.m[v.Sid] = *v
}

// write notes rows a job is writing.
func (c *txCalls) write(sids ...string) {
	if c.written == nil {
		c.written = make(map[string]bool)
	}
	for _, sid := range sids {
		c.written[sid] = true
		delete(c.m, sid)
	}
}

// endBatch is told whether the batch committed.
func (c *txCalls) endBatch(committed bool) {
	if !committed {
		c.m = nil
	}
	clear(c.written)
}

// FindCall implements tonepay.Tx through the committer's copy.
func (t *txn) FindCall(ctx context.Context, sid string) (*tonepay.Call, error) {
	if c, ok := t.calls.get(sid); ok {
		return c, nil
	}
	c, err := t.reader.FindCall(ctx, sid)
	if err != nil {
		return nil, err
	}
	t.calls.fill(c)
	return c, nil
}
