package sip

import "testing"

func TestEvents(t *testing.T) {
	type pkt struct {
		marker bool
		ts     uint32
		ev     byte
		end    bool
	}
	// one event: marker start, growing duration, three end packets
	ev := func(ts uint32, e byte, marker bool) []pkt {
		return []pkt{{marker, ts, e, false}, {false, ts, e, false}, {false, ts, e, true}, {false, ts, e, true}, {false, ts, e, true}}
	}
	cat := func(ps ...[]pkt) (out []pkt) {
		for _, p := range ps {
			out = append(out, p...)
		}
		return out
	}
	for _, tt := range []struct {
		name string
		pkts []pkt
		want string
	}{
		{"one key, three end packets", ev(100, 4, true), "4"},
		{"new timestamps", cat(ev(100, 4, true), ev(900, 1, true), ev(1700, 1, true)), "411"},
		{"SIPp: same timestamp, marker", cat(ev(100, 4, true), ev(100, 1, true), ev(100, 1, true), ev(100, 1, true)), "4111"},
		{"same timestamp, no marker, a start after an end", cat(ev(100, 1, false), ev(100, 1, false)), "11"},
		{"end packets only, lost start", []pkt{{false, 50, 11, true}, {false, 50, 11, true}}, "#"},
		{"star and pound", cat(ev(1, 10, true), ev(2, 11, true)), "*#"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var e events
			got := ""
			for _, p := range tt.pkts {
				b := []byte{p.ev, 10, 0, 160}
				if p.end {
					b[1] |= 0x80
				}
				if k, _ := e.packet(p.marker, p.ts, b); k != 0 {
					got += string(k)
				}
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
