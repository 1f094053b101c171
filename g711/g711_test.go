package g711

import "testing"

func TestMulawRoundTrip(t *testing.T) {
	for i := 0; i < 256; i++ {
		b := byte(i)
		got := MulawEncode(MulawDecode(b))
		want := b
		if b == 0x7F { // -0 decodes to 0, which encodes as +0
			want = 0xFF
		}
		if got != want {
			t.Errorf("MulawEncode(MulawDecode(%#02x)) = %#02x, want %#02x", b, got, want)
		}
	}
}

func TestAlawRoundTrip(t *testing.T) {
	for i := 0; i < 256; i++ {
		b := byte(i)
		if got := AlawEncode(AlawDecode(b)); got != b {
			t.Errorf("AlawEncode(AlawDecode(%#02x)) = %#02x", b, got)
		}
	}
}

func TestG711KnownValues(t *testing.T) {
	mu := []struct {
		b byte
		s int16
	}{{0x00, -32124}, {0x80, 32124}, {0xFF, 0}, {0x7F, 0}, {0xFE, 8}, {0x7E, -8}, {0xF0, 120}, {0xEF, 132}}
	for _, tt := range mu {
		if got := MulawDecode(tt.b); got != tt.s {
			t.Errorf("MulawDecode(%#02x) = %d, want %d", tt.b, got, tt.s)
		}
	}
	enc := []struct {
		s int16
		b byte
	}{{0, 0xFF}, {32767, 0x80}, {-32768, 0x00}, {-1, 0x7F}, {1, 0xFF}, {8, 0xFE}}
	for _, tt := range enc {
		if got := MulawEncode(tt.s); got != tt.b {
			t.Errorf("MulawEncode(%d) = %#02x, want %#02x", tt.s, got, tt.b)
		}
	}
	a := []struct {
		b byte
		s int16
	}{{0xD5, 8}, {0x55, -8}, {0xAA, 32256}, {0x2A, -32256}}
	for _, tt := range a {
		if got := AlawDecode(tt.b); got != tt.s {
			t.Errorf("AlawDecode(%#02x) = %d, want %d", tt.b, got, tt.s)
		}
	}
	aenc := []struct {
		s int16
		b byte
	}{{0, 0xD5}, {-1, 0x55}, {32767, 0xAA}, {-32768, 0x2A}}
	for _, tt := range aenc {
		if got := AlawEncode(tt.s); got != tt.b {
			t.Errorf("AlawEncode(%d) = %#02x, want %#02x", tt.s, got, tt.b)
		}
	}
}

// Encoding must pick the nearest level: every 16-bit input decodes back within
// half a step of itself (outside the clipped top).
func TestG711Monotonic(t *testing.T) {
	prevMu, prevA := MulawDecode(MulawEncode(-32768)), AlawDecode(AlawEncode(-32768))
	for s := -32767; s <= 32767; s++ {
		m, a := MulawDecode(MulawEncode(int16(s))), AlawDecode(AlawEncode(int16(s)))
		if m < prevMu || a < prevA {
			t.Fatalf("not monotonic at %d", s)
		}
		prevMu, prevA = m, a
	}
}
