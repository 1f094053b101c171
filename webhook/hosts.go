package webhook

import (
	"net"
	"net/url"
	"strings"
	"sync"
	"time"
)

// waitersPerSlot bounds how many callbacks wait for a busy host, per slot.
// Beyond that a callback is deferred at once (see Dispatcher.putOff): a dead
// host with ten thousand sessions must not hold ten thousand goroutines. Enough of them
// for a burst at a healthy receiver, which would otherwise wait out claims.
const waitersPerSlot = 64

// hosts is the state of each destination (host:port) that has deliveries
// under way or a record of failing.
type hosts struct {
	mu sync.Mutex
	m  map[string]*host
}

// host is one destination: its delivery slots, and whether it is backed off.
type host struct {
	key   string
	slots chan struct{} // one token per delivery under way to it
	refs  int           // callbacks using this entry; guarded by hosts.mu

	mu        sync.Mutex
	waiting   int           // callbacks waiting for a slot
	failures  int           // host failures in a row since the last success or trip
	trips     int           // backoffs in a row: the next one waits longer
	trippedAt time.Time     // when the current backoff began
	resume    time.Time     // no attempt before this
	last      time.Time     // of the last attempt's end
	took      time.Duration // how long its attempts take: a moving average
}

func (hs *hosts) get(key string, slots int) *host {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if hs.m == nil {
		hs.m = map[string]*host{}
	}
	h := hs.m[key]
	if h == nil {
		h = &host{key: key, slots: make(chan struct{}, slots)}
		hs.m[key] = h
	}
	h.refs++
	return h
}

// put drops a reference. An unused entry is forgotten when it holds nothing
// worth keeping: no failure, or none for longer than forget (the host's
// callbacks have all been given up on).
func (hs *hosts) put(h *host, now time.Time, forget time.Duration) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	h.refs--
	if h.refs > 0 {
		return
	}
	h.mu.Lock()
	idle := h.failures == 0 && h.trips == 0 || now.Sub(h.last) > forget
	h.mu.Unlock()
	if idle {
		delete(hs.m, h.key)
	}
}

// backedOff returns when the host's backoff ends, or the zero time when it
// may be tried at now.
func (h *host) backedOff(now time.Time) (time.Time, int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if now.Before(h.resume) {
		return h.resume, h.trips
	}
	return time.Time{}, 0
}

// tryAcquire takes a slot if one is free.
func (h *host) tryAcquire() bool {
	select {
	case h.slots <- struct{}{}:
		return true
	default:
		return false
	}
}

// wait queues for a slot for at most d, unless too many already wait or quit
// is closed.
func (h *host) wait(d time.Duration, quit <-chan struct{}) bool {
	h.mu.Lock()
	full := h.waiting >= cap(h.slots)*waitersPerSlot
	if !full {
		h.waiting++
	}
	h.mu.Unlock()
	if full {
		return false
	}
	defer func() {
		h.mu.Lock()
		h.waiting--
		h.mu.Unlock()
	}()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case h.slots <- struct{}{}:
		return true
	case <-t.C:
		return false
	case <-quit:
		return false
	}
}

func (h *host) release() { <-h.slots }

// drain estimates how long the callbacks waiting for the host take to get
// their slots: a round of attempts per slot count, each as long as its
// attempts have taken lately (0 before any has ended).
func (h *host) drain() time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	return time.Duration(h.waiting/cap(h.slots)+1) * h.took
}

// result notes how an attempt that started at start ended, and returns when
// the host's backoff ends (the zero time if it is not backed off).
//
// Only a sign that the host itself is down counts (down: no answer, 5xx,
// 429); any other answer, a 404 included, shows it up and resets it. After
// trip failures in a row the host is backed off for backoff(n), the nth
// backoff in a row; once backed off, the first failure after it ends backs
// it off again, longer. Attempts that started before the backoff began were
// under way during the outage that caused it: they count for nothing.
func (h *host) result(start, now time.Time, down bool, trip int, backoff func(int) time.Duration) (resume time.Time, tripped bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.last = now
	if h.took == 0 {
		h.took = now.Sub(start)
	} else {
		h.took += (now.Sub(start) - h.took) / 8
	}
	switch {
	case !down:
		h.failures, h.trips, h.resume = 0, 0, time.Time{}
	case start.Before(h.trippedAt):
	default:
		h.failures++
		if h.failures >= trip || h.trips > 0 {
			h.trips++
			h.failures = 0
			h.trippedAt, h.resume = now, now.Add(backoff(h.trips))
			tripped = true
		}
	}
	if now.Before(h.resume) {
		return h.resume, tripped
	}
	return time.Time{}, false
}

// hostKey is the destination a URL's requests go to: host:port, with the
// scheme's port when the URL has none, so that http://x and http://x:80 are
// one receiver.
func hostKey(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "invalid"
	}
	port := u.Port()
	if port == "" {
		port = "80"
		if strings.EqualFold(u.Scheme, "https") {
			port = "443"
		}
	}
	return net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}
