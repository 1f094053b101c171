package twilioapi

import (
	"net"
	"net/netip"
	"sync"
	"time"
)

// limiter is a token bucket per key (an account, or a client address): each
// key may spend rate tokens a second on average, burst at once.
//
// Its memory is bounded whatever the keys: a bucket that has refilled is the
// same as no bucket, so such buckets are dropped once a minute, and past
// maxKeys the oldest-looking entries are evicted (an evicted key starts full,
// which costs an attacker's many addresses no more than they already have).
type limiter struct {
	rate  float64 // tokens a second
	burst float64
	now   func() time.Time
	max   int

	mu      sync.Mutex
	buckets map[string]*bucket
	swept   time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

// maxKeys bounds a limiter's buckets: a few MiB.
const maxKeys = 1 << 16

func newLimiter(rate float64, burst int, now func() time.Time) *limiter {
	b := float64(burst)
	if b < 1 {
		b = max(1, rate)
	}
	return &limiter{rate: rate, burst: b, now: now, max: maxKeys, buckets: make(map[string]*bucket), swept: now()}
}

// take takes a token from key's bucket. Without one it reports how long
// until there is one: the answer's Retry-After.
func (l *limiter) take(key string) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.bucket(key, now)
	if b.tokens < 1 {
		return false, time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
	}
	b.tokens--
	return true, 0
}

// spent reports whether key's bucket is empty, and if so how long until it
// has a token again; it takes nothing.
func (l *limiter) spent(key string) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if b, ok := l.buckets[key]; ok {
		if t := b.tokens + now.Sub(b.last).Seconds()*l.rate; t < 1 {
			return true, time.Duration((1 - t) / l.rate * float64(time.Second))
		}
	}
	return false, 0
}

// bucket returns key's bucket refilled up to now, making it if needed.
func (l *limiter) bucket(key string, now time.Time) *bucket {
	b, ok := l.buckets[key]
	if !ok {
		l.sweep(now)
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
		return b
	}
	if d := now.Sub(b.last); d > 0 {
		b.tokens = min(l.burst, b.tokens+d.Seconds()*l.rate)
		b.last = now
	}
	return b
}

// sweep drops full buckets once a minute, or whenever the map is full; if it
// is still full, it evicts arbitrary entries (Go's map order is random).
func (l *limiter) sweep(now time.Time) {
	if now.Sub(l.swept) < time.Minute && len(l.buckets) < l.max {
		return
	}
	l.swept = now
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*l.rate >= l.burst {
			delete(l.buckets, k)
		}
	}
	for k := range l.buckets {
		if len(l.buckets) < l.max {
			break
		}
		delete(l.buckets, k)
	}
}

// clientAddr is the key of a request's client for failed-authentication
// limits: the IP of the connection's peer, never a header a client could
// set (X-Forwarded-For). IPv6 clients are limited by /64, the block one
// host or site usually gets, so that one attacker cannot rotate through its
// own 2^64 addresses.
func clientAddr(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	ip = ip.WithZone("").Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}
