// Package events fans session events out to live subscribers in this
// process: the console's server-sent events. A subscriber that does not keep
// up misses events rather than slowing anyone down; it reads the session's
// current state when it next hears of it, so nothing is lost for good.
package events

import (
	"sync"

	"github.com/tonepay/tonepay"
)

// Hub delivers published events to the subscribers of their account.
type Hub struct {
	mu   sync.Mutex
	subs map[string]map[chan tonepay.SessionChanged]struct{} // account -> subscribers
}

// New returns an empty Hub.
func New() *Hub { return &Hub{subs: map[string]map[chan tonepay.SessionChanged]struct{}{}} }

// Publish sends e to the account's subscribers without blocking.
func (h *Hub) Publish(e tonepay.SessionChanged) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs[e.AccountSid] {
		select {
		case ch <- e:
		default: // a slow subscriber drops this one
		}
	}
}

// Subscribe returns the account's events and a function that ends the
// subscription.
func (h *Hub) Subscribe(account string) (<-chan tonepay.SessionChanged, func()) {
	ch := make(chan tonepay.SessionChanged, 64)
	h.mu.Lock()
	if h.subs[account] == nil {
		h.subs[account] = map[chan tonepay.SessionChanged]struct{}{}
	}
	h.subs[account][ch] = struct{}{}
	h.mu.Unlock()
	return ch, func() {
		h.mu.Lock()
		delete(h.subs[account], ch)
		if len(h.subs[account]) == 0 {
			delete(h.subs, account)
		}
		h.mu.Unlock()
	}
}
