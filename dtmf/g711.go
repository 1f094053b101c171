package dtmf

import "github.com/tonepay/tonepay/g711"

// The G.711 codec lives in g711/, which tts shares; these keep dtmf's API,
// which the media-stream and SIP legs call beside the detector.

// MulawDecode returns the 16-bit linear sample of a G.711 mu-law byte.
func MulawDecode(b byte) int16 { return g711.MulawDecode(b) }

// AlawDecode returns the 16-bit linear sample of a G.711 A-law byte.
func AlawDecode(b byte) int16 { return g711.AlawDecode(b) }

// MulawEncode returns the G.711 mu-law byte of a 16-bit linear sample.
func MulawEncode(s int16) byte { return g711.MulawEncode(s) }

// AlawEncode returns the G.711 A-law byte of a 16-bit linear sample.
func AlawEncode(s int16) byte { return g711.AlawEncode(s) }

// MulawEncodeAll encodes samples to G.711 mu-law bytes.
func MulawEncodeAll(s []int16) []byte { return g711.MulawEncodeAll(s) }
