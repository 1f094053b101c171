package dtmf

import (
	"testing"
	"time"
)

// TestDedup: one press reported by a dtmf frame and a tone within 200 ms
// counts once, whichever comes first; either alone counts; two real
// presses of one key count twice. Times are on the leg's audio clock.
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
			var d Dedup
			for i, r := range tt.reps {
				if got := d.Add(r.digit, r.tone, r.at); got != tt.want[i] {
					t.Errorf("report %d (%c tone=%v at %v): counted %v, want %v", i, r.digit, r.tone, r.at, got, tt.want[i])
				}
			}
		})
	}
}
