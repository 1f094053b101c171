package mediastream

import (
	"testing"
	"time"
)

// TestDedup: one press reported by a dtmf frame and a tone within 200 ms
// counts once, whichever comes first; either alone counts; two real
// presses of one key count twice. Times are on the stream's audio clock.
func TestDedup(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	type rep struct {
		digit byte
		tone  bool
		at    time.Duration
	}
	tests := []struct {
		name string
		reps []rep
		want []bool // counted
	}{
		{"frame then tone", []rep{{'5', false, ms(100)}, {'5', true, ms(20)}}, []bool{true, false}},
		{"tone then frame", []rep{{'5', true, ms(0)}, {'5', false, ms(90)}}, []bool{true, false}},
		{"frame alone", []rep{{'5', false, ms(0)}}, []bool{true}},
		{"tone alone", []rep{{'5', true, ms(0)}}, []bool{true}},
		{"at the window's edge", []rep{{'5', true, ms(0)}, {'5', false, ms(200)}}, []bool{true, false}},
		{"past the window", []rep{{'5', true, ms(0)}, {'5', false, ms(201)}}, []bool{true, true}},
		{"two presses of one key 300 ms apart, both sources", []rep{
			{'7', true, ms(0)}, {'7', false, ms(80)}, {'7', true, ms(300)}, {'7', false, ms(380)},
		}, []bool{true, false, true, false}},
		{"two presses 300 ms apart, frames only", []rep{{'7', false, ms(0)}, {'7', false, ms(300)}}, []bool{true, true}},
		{"two presses 300 ms apart, tones only", []rep{{'7', true, ms(0)}, {'7', true, ms(300)}}, []bool{true, true}},
		{"one source twice within the window is two presses", []rep{{'7', false, ms(0)}, {'7', false, ms(100)}}, []bool{true, true}},
		{"different keys", []rep{{'1', false, ms(0)}, {'2', true, ms(50)}, {'2', false, ms(120)}, {'1', true, ms(130)}}, []bool{true, true, false, false}},
		{"a report matches one report only", []rep{{'4', true, ms(0)}, {'4', false, ms(60)}, {'4', false, ms(120)}}, []bool{true, false, true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d dedup
			for i, r := range tt.reps {
				if got := d.add(r.digit, r.tone, r.at); got != tt.want[i] {
					t.Errorf("report %d (%c tone=%v at %v): counted %v, want %v", i, r.digit, r.tone, r.at, got, tt.want[i])
				}
			}
		})
	}
}

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

// TestLogLimit: one line a minute, the rest counted.
func TestLogLimit(t *testing.T) {
	var l logLimit
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, ok := l.allow(t0); !ok {
		t.Fatal("first line held back")
	}
	for i := 1; i <= 3; i++ {
		if _, ok := l.allow(t0.Add(time.Duration(i) * time.Second)); ok {
			t.Fatal("a second line within the minute")
		}
	}
	if n, ok := l.allow(t0.Add(time.Minute)); !ok || n != 3 {
		t.Errorf("after a minute: %d %v, want 3 true", n, ok)
	}
}
