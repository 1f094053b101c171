package sqlite

import (
	"context"
	"sync"

	"github.com/tonepay/tonepay"
)

// The request path reads the same few rows again and again: the account (and
// key) of every request's credentials and of every callback's signature, the
// call of every Payments request. Each read outside the writer is costly
// here: every commit invalidates the read connections' page caches, so a
// lookup goes back to the file. These rows rarely change, and a SQLite file
// is served by one process (see ReleaseClaims), so the Store keeps them in
// memory, dropped whenever a transaction that changed them commits.
// Transactions read through their own connection, never this cache.

// cacheSize bounds each cache; a full cache starts again empty.
const cacheSize = 10_000

// rowCache holds copies of rows by SID. gen counts invalidations: a row read
// from the database is kept only if no transaction that changed it committed
// while it was being read, so a stale read can never be cached.
type rowCache[T any] struct {
	mu  sync.Mutex
	gen uint64
	m   map[string]T
}

func (c *rowCache[T]) get(sid string) (T, bool, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[sid]
	return v, ok, c.gen
}

func (c *rowCache[T]) fill(sid string, v T, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if c.m == nil || len(c.m) >= cacheSize {
		c.m = make(map[string]T)
	}
	c.m[sid] = v
}

func (c *rowCache[T]) drop(sids []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, sid := range sids {
		delete(c.m, sid)
	}
	c.gen++
}

// cached reads sid through c. Rows are kept and handed out by value, so a
// caller changing what it got cannot change the cache.
func cached[T any](ctx context.Context, c *rowCache[T], sid string, load func(context.Context, string) (*T, error)) (*T, error) {
	v, ok, gen := c.get(sid)
	if ok {
		return &v, nil
	}
	p, err := load(ctx, sid)
	if err != nil {
		return nil, err
	}
	c.fill(sid, *p, gen)
	return p, nil
}

// caches are the Store's row caches.
type caches struct {
	accounts rowCache[tonepay.Account]
	keys     rowCache[tonepay.APIKey]
	calls    rowCache[tonepay.Call]
}

// changed lists the rows a transaction wrote, to drop once it commits.
type changed struct{ accounts, keys, calls []string }

func (c *caches) drop(ch *changed) {
	if len(ch.accounts) > 0 {
		c.accounts.drop(ch.accounts)
	}
	if len(ch.keys) > 0 {
		c.keys.drop(ch.keys)
	}
	if len(ch.calls) > 0 {
		c.calls.drop(ch.calls)
	}
}

// FindAccount implements tonepay.Reader, through the cache.
func (s *Store) FindAccount(ctx context.Context, sid string) (*tonepay.Account, error) {
	return cached(ctx, &s.cache.accounts, sid, s.reader.FindAccount)
}

// FindAPIKey implements tonepay.Reader, through the cache.
func (s *Store) FindAPIKey(ctx context.Context, sid string) (*tonepay.APIKey, error) {
	return cached(ctx, &s.cache.keys, sid, s.reader.FindAPIKey)
}

// FindCall implements tonepay.Reader, through the cache.
func (s *Store) FindCall(ctx context.Context, sid string) (*tonepay.Call, error) {
	return cached(ctx, &s.cache.calls, sid, s.reader.FindCall)
}
