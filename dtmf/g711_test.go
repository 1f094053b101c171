package dtmf

import "testing"

// dtmf's G.711 functions are g711's (tested there), kept for the legs.
func TestG711Forwards(t *testing.T) {
	for i := range 256 {
		b := byte(i)
		if MulawEncode(MulawDecode(b)) != MulawEncodeAll([]int16{MulawDecode(b)})[0] || AlawEncode(AlawDecode(b)) != b {
			t.Fatalf("byte %#02x does not round-trip", b)
		}
	}
}
