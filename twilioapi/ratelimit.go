package twilioapi

import (
	"sync"
	"time"
)

// limiter is a token bucket per account: each account may make rate requests
// a second on average, burst at once.
type limiter struct {
	rate  float64
	burst float64
	now   func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newLimiter(rate float64, burst int, now func() time.Time) *limiter {
	b := float64(burst)
	if b < 1 {
		b = max(1, rate)
	}
	return &limiter{rate: rate, burst: b, now: now, buckets: make(map[string]*bucket)}
}

// allow takes a token from account's bucket, reporting whether one was there.
func (l *limiter) allow(account string) bool {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[account]
	if !ok {
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[account] = b
	}
	b.tokens = min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
