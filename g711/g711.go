// Package g711 is ITU-T G.711 companding: the mu-law of Twilio Media Streams
// and SIP's PCMU, and the A-law of PCMA. dtmf (the detector and tones) and
// tts (speech and played files) use it. Stdlib only, pure.
package g711

// G.711 companding as in ITU-T G.711 and the classic Sun reference code
// (g711.c), on 16-bit linear samples. Mu-law uses the 0x84 (132) bias form, so
// its decoded values are the standard ±32124 range; A-law decodes to ±32256.
//
// Round trip: Encode(Decode(b)) == b for all 256 A-law bytes and for 255 of the
// 256 mu-law bytes. The exception is mu-law's two zeros: 0xFF (+0) and 0x7F
// (-0) both decode to 0, and 0 encodes to 0xFF, so 0x7F comes back as 0xFF.

const (
	mulawBias = 0x84
	mulawClip = 32635
)

var mulawDecodeTable, alawDecodeTable [256]int16

func init() {
	for i := 0; i < 256; i++ {
		mulawDecodeTable[i] = mulawDecode(byte(i))
		alawDecodeTable[i] = alawDecode(byte(i))
	}
}

// MulawDecode returns the 16-bit linear sample of a G.711 mu-law byte.
func MulawDecode(b byte) int16 { return mulawDecodeTable[b] }

// AlawDecode returns the 16-bit linear sample of a G.711 A-law byte.
func AlawDecode(b byte) int16 { return alawDecodeTable[b] }

func mulawDecode(u byte) int16 {
	u = ^u
	t := (int(u&0x0F) << 3) + mulawBias
	t <<= (u & 0x70) >> 4
	if u&0x80 != 0 {
		return int16(mulawBias - t)
	}
	return int16(t - mulawBias)
}

// MulawEncode returns the G.711 mu-law byte of a 16-bit linear sample.
func MulawEncode(s int16) byte {
	v := int(s)
	var sign byte
	if v < 0 {
		v = -v
		sign = 0x80
	}
	if v > mulawClip {
		v = mulawClip
	}
	v += mulawBias
	// The segment is the position of the highest set bit above bit 7.
	exp := byte(7)
	for mask := 0x4000; v&mask == 0 && exp > 0; mask >>= 1 {
		exp--
	}
	mant := byte(v>>(exp+3)) & 0x0F
	return ^(sign | exp<<4 | mant)
}

func alawDecode(a byte) int16 {
	a ^= 0x55
	t := int(a&0x0F) << 4
	seg := (a & 0x70) >> 4
	switch seg {
	case 0:
		t += 8
	case 1:
		t += 0x108
	default:
		t += 0x108
		t <<= seg - 1
	}
	if a&0x80 != 0 {
		return int16(t)
	}
	return int16(-t)
}

var alawSegEnd = [8]int{0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF}

// AlawEncode returns the G.711 A-law byte of a 16-bit linear sample.
func AlawEncode(s int16) byte {
	v := int(s) >> 3 // A-law works on 13 bits
	var mask byte = 0xD5
	if v < 0 {
		mask = 0x55
		v = -v - 1
	}
	seg := 0
	for seg < 8 && v > alawSegEnd[seg] {
		seg++
	}
	if seg >= 8 {
		return 0x7F ^ mask
	}
	a := byte(seg << 4)
	if seg < 2 {
		a |= byte(v>>1) & 0x0F
	} else {
		a |= byte(v>>seg) & 0x0F
	}
	return a ^ mask
}

// MulawEncodeAll encodes samples to G.711 mu-law bytes.
func MulawEncodeAll(s []int16) []byte {
	b := make([]byte, len(s))
	for i, v := range s {
		b[i] = MulawEncode(v)
	}
	return b
}

// MulawDecodeAll decodes G.711 mu-law bytes to samples.
func MulawDecodeAll(b []byte) []int16 {
	s := make([]int16, len(b))
	for i, c := range b {
		s[i] = mulawDecodeTable[c]
	}
	return s
}
