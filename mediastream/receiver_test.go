package mediastream

import (
	"testing"
	"time"
)

// TestFlood: more than 100 frames in each of 3 seconds in a row is a
// flood; 2 such seconds, or a quiet second between, are not.
func TestFlood(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	run := func(perSecond []int) (flooded bool) {
		var f flood
		for sec, n := range perSecond {
			for i := range n {
				at := t0.Add(time.Duration(sec)*time.Second + time.Duration(i)*time.Second/time.Duration(n+1))
				if f.frame(at) {
					return true
				}
			}
		}
		return false
	}
	tests := []struct {
		name string
		secs []int
		want bool
	}{
		{"Twilio's pace", []int{50, 51, 50, 50, 50}, false},
		{"three seconds over", []int{101, 101, 101}, true},
		{"two seconds over", []int{150, 150, 50, 150}, false},
		{"at the limit", []int{100, 100, 100, 100}, false},
		{"a burst in one second", []int{1000}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := run(tt.secs); got != tt.want {
				t.Errorf("flood %v, want %v", got, tt.want)
			}
		})
	}
}
