package tts

import (
	"container/list"
	"context"
	"sync"
)

// cache holds rendered audio, least recently used first out, within a bound
// on the bytes it holds; and runs one render per key at a time, whoever
// asks (singleflight): twenty calls reaching the same <Say> together run
// espeak-ng once.
type cache struct {
	max int64

	mu       sync.Mutex
	size     int64
	lru      *list.List // of *entry, most recent at the front
	entries  map[string]*list.Element
	inflight map[string]*flight
}

type entry struct {
	key   string
	audio []byte
}

type flight struct {
	done  chan struct{}
	audio []byte
	err   error
}

func newCache(max int64) *cache {
	return &cache{max: max, lru: list.New(), entries: map[string]*list.Element{}, inflight: map[string]*flight{}}
}

// get returns key's audio, from the cache or from render. A render runs
// detached from ctx, so that a caller who hangs up does not fail the others
// waiting for it (the result is cached for the next); render bounds its own
// time. ctx bounds only this caller's wait. Errors are not cached.
func (c *cache) get(ctx context.Context, key string, render func(context.Context) ([]byte, error)) ([]byte, error) {
	c.mu.Lock()
	if el, ok := c.entries[key]; ok {
		c.lru.MoveToFront(el)
		c.mu.Unlock()
		return el.Value.(*entry).audio, nil
	}
	f, ok := c.inflight[key]
	if !ok {
		f = &flight{done: make(chan struct{})}
		c.inflight[key] = f
		go func() {
			f.audio, f.err = render(context.WithoutCancel(ctx))
			c.mu.Lock()
			delete(c.inflight, key)
			if f.err == nil {
				c.add(key, f.audio)
			}
			c.mu.Unlock()
			close(f.done)
		}()
	}
	c.mu.Unlock()
	select {
	case <-f.done:
		return f.audio, f.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// add stores audio under key and evicts the least recently used entries
// until the bound holds. Audio over an eighth of the bound is not kept: one
// long file would push out every prompt. Called with mu held.
func (c *cache) add(key string, audio []byte) {
	n := int64(len(audio)) + int64(len(key))
	if n > c.max/8 {
		return
	}
	c.entries[key] = c.lru.PushFront(&entry{key: key, audio: audio})
	c.size += n
	for c.size > c.max {
		el := c.lru.Back()
		e := el.Value.(*entry)
		c.lru.Remove(el)
		delete(c.entries, e.key)
		c.size -= int64(len(e.audio)) + int64(len(e.key))
	}
}

// stats returns the entries and bytes held.
func (c *cache) stats() (entries int, bytes int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries), c.size
}
