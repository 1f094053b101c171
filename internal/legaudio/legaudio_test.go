package legaudio

import (
	"testing"
	"time"
)

// TestLogLimit: one line a minute, the rest counted.
func TestLogLimit(t *testing.T) {
	var l LogLimit
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, ok := l.Allow(t0); !ok {
		t.Fatal("first line held back")
	}
	for i := 1; i <= 3; i++ {
		if _, ok := l.Allow(t0.Add(time.Duration(i) * time.Second)); ok {
			t.Fatal("a second line within the minute")
		}
	}
	if n, ok := l.Allow(t0.Add(time.Minute)); !ok || n != 3 {
		t.Errorf("after a minute: %d %v, want 3 true", n, ok)
	}
}
