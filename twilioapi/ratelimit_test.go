package twilioapi

import (
	"strconv"
	"testing"
	"time"
)

func TestClientAddr(t *testing.T) {
	tests := []struct{ remote, want string }{
		{"192.0.2.7:5555", "192.0.2.7"},
		{"[::ffff:192.0.2.7]:5555", "192.0.2.7"},
		{"[2001:db8:1:2:3:4:5:6]:443", "2001:db8:1:2::/64"},
		{"[2001:db8:1:2:ffff::1]:443", "2001:db8:1:2::/64"},
		{"[fe80::1%eth0]:80", "fe80::/64"},
		{"@", "@"}, // not an address (a unix socket): one key for all
	}
	for _, tt := range tests {
		if got := clientAddr(tt.remote); got != tt.want {
			t.Errorf("clientAddr(%q) = %q, want %q", tt.remote, got, tt.want)
		}
	}
}

// TestLimiterMemory: buckets of idle keys go, and no number of keys grows a
// limiter past maxKeys.
func TestLimiterMemory(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newLimiter(1, 5, func() time.Time { return now })
	l.max = 1000
	for i := range 5000 {
		l.take("k" + strconv.Itoa(i))
		if len(l.buckets) > l.max {
			t.Fatalf("%d buckets after %d keys, max %d", len(l.buckets), i+1, l.max)
		}
	}
	// Once refilled, an idle bucket is dropped at the next sweep.
	now = now.Add(2 * time.Minute)
	l.take("new")
	if len(l.buckets) != 1 {
		t.Errorf("%d buckets after every key went idle, want 1", len(l.buckets))
	}
	// A bucket still refilling is kept: dropping it would refill it early.
	for range 5 {
		l.take("busy")
	}
	now = now.Add(61 * time.Second)
	for range 5 {
		l.take("busy")
	}
	now = now.Add(2 * time.Second)
	l.take("other")
	if _, ok := l.buckets["busy"]; !ok {
		t.Error("a bucket that has not refilled was dropped")
	}
}

func TestLimiterRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newLimiter(10.0/60, 10, func() time.Time { return now }) // 10 a minute
	for i := range 10 {
		if ok, _ := l.take("a"); !ok {
			t.Fatalf("take %d refused within the burst", i)
		}
	}
	ok, wait := l.take("a")
	if ok || retryAfter(wait) != "6" {
		t.Fatalf("over the burst: %v, Retry-After %s, want refused and 6", ok, retryAfter(wait))
	}
	if spent, wait := l.spent("a"); !spent || retryAfter(wait) != "6" {
		t.Errorf("spent = %v, Retry-After %s, want true and 6", spent, retryAfter(wait))
	}
	now = now.Add(6 * time.Second)
	if spent, _ := l.spent("a"); spent {
		t.Error("still spent after Retry-After")
	}
	if ok, _ := l.take("a"); !ok {
		t.Error("no token after Retry-After")
	}
}
