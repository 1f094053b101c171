package tts

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"testing"

	"github.com/tonepay/tonepay/g711"
)

// goertzel returns the mean-square power of s at f Hz (rate fs).
func goertzel(s []float64, f float64, fs int) float64 {
	w := 2 * math.Pi * f / float64(fs)
	c := 2 * math.Cos(w)
	var s1, s2 float64
	for _, x := range s {
		s1, s2 = x+c*s1-s2, s1
	}
	p := s1*s1 + s2*s2 - c*s1*s2
	return 2 * p / float64(len(s)) / float64(len(s))
}

func rms(s []float64) float64 {
	sum := 0.0
	for _, v := range s {
		sum += v * v
	}
	return math.Sqrt(sum / float64(max(len(s), 1)))
}

func sine(f float64, fs int, seconds float64, amp float64) []float64 {
	s := make([]float64, int(seconds*float64(fs)))
	for i := range s {
		s[i] = amp * math.Sin(2*math.Pi*f*float64(i)/float64(fs))
	}
	return s
}

func db(x float64) float64 { return 20 * math.Log10(x) }

// TestResample: a tone in the telephone band keeps its frequency and level;
// one above 4 kHz, which naive decimation would fold to 2 kHz, is gone.
func TestResample(t *testing.T) {
	const amp = 10000
	tests := []struct {
		in     int
		f      float64
		passes bool
	}{
		{22050, 1000, true},
		{22050, 300, true},
		{22050, 3000, true},
		{22050, 6000, false},
		{22050, 4600, false},
		{22050, 10000, false},
		{44100, 1000, true},
		{44100, 15000, false},
		{16000, 2000, true},
		{16000, 7000, false},
		{11025, 1000, true},
		{6000, 1000, true}, // upsampling
		{8000, 1000, true}, // unchanged
	}
	for _, tt := range tests {
		x := sine(tt.f, tt.in, 1, amp)
		y := resample(x, tt.in, 8000)
		if want := 8000; len(y) != want {
			t.Errorf("%d Hz: %d samples out of 1 s, want %d", tt.in, len(y), want)
		}
		y = y[200 : len(y)-200] // away from the edges' half filters
		level := db(rms(y) / (amp / math.Sqrt2))
		if !tt.passes {
			t.Logf("%d Hz in, %g Hz tone: %.1f dB", tt.in, tt.f, level)
			if level > -60 {
				t.Errorf("%d Hz in, %g Hz tone: %.1f dB out, want under -60 dB", tt.in, tt.f, level)
			}
			continue
		}
		if math.Abs(level) > 0.5 {
			t.Errorf("%d Hz in, %g Hz tone: %.2f dB out, want 0 ± 0.5", tt.in, tt.f, level)
		}
		// The energy is at f: Goertzel at f holds it all, and 50 Hz off
		// next to nothing.
		at, off := goertzel(y, tt.f, 8000), goertzel(y, tt.f+50, 8000)
		total := rms(y) * rms(y)
		if at < 0.95*total || off > 0.01*total {
			t.Errorf("%d Hz in, %g Hz tone: power at f %.3f, 50 Hz off %.4f of the total", tt.in, tt.f, at/total, off/total)
		}
	}
}

// wavFile builds a WAV file: fmt (format, channels, rate, bits; extensible
// when ext) and data, with a LIST chunk of odd size before data to test
// alignment.
func wavFile(format, channels, rate, bits int, ext bool, data []byte) []byte {
	var fmtc bytes.Buffer
	le := binary.LittleEndian
	tag := format
	if ext {
		tag = waveExtensible
	}
	binary.Write(&fmtc, le, uint16(tag))
	binary.Write(&fmtc, le, uint16(channels))
	binary.Write(&fmtc, le, uint32(rate))
	binary.Write(&fmtc, le, uint32(rate*channels*bits/8))
	binary.Write(&fmtc, le, uint16(channels*bits/8))
	binary.Write(&fmtc, le, uint16(bits))
	if ext {
		binary.Write(&fmtc, le, uint16(22))
		binary.Write(&fmtc, le, uint16(bits))
		binary.Write(&fmtc, le, uint32(0))
		binary.Write(&fmtc, le, uint16(format))
		fmtc.Write([]byte{0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71})
	}
	var body bytes.Buffer
	body.WriteString("WAVE")
	chunk := func(id string, b []byte) {
		body.WriteString(id)
		binary.Write(&body, le, uint32(len(b)))
		body.Write(b)
		if len(b)%2 == 1 {
			body.WriteByte(0)
		}
	}
	chunk("fmt ", fmtc.Bytes())
	chunk("LIST", []byte("INFOx"))
	chunk("data", data)
	var out bytes.Buffer
	out.WriteString("RIFF")
	binary.Write(&out, le, uint32(body.Len()))
	out.Write(body.Bytes())
	return out.Bytes()
}

// encode writes samples (16-bit scale) interleaved over channels in one
// of the encodings decode reads.
func encode(s []float64, channels int, enc string, order binary.ByteOrder) []byte {
	var b bytes.Buffer
	for _, v := range s {
		for range channels {
			switch enc {
			case "u8":
				b.WriteByte(byte(int(v/256) + 128))
			case "s8":
				b.WriteByte(byte(int8(v / 256)))
			case "16":
				binary.Write(&b, order, int16(v))
			case "24":
				x := int32(v * 256)
				if order == binary.LittleEndian {
					b.Write([]byte{byte(x), byte(x >> 8), byte(x >> 16)})
				} else {
					b.Write([]byte{byte(x >> 16), byte(x >> 8), byte(x)})
				}
			case "32":
				binary.Write(&b, order, int32(v*65536))
			case "f32":
				binary.Write(&b, order, float32(v/32767))
			case "ulaw":
				b.WriteByte(g711.MulawEncode(int16(v)))
			case "alaw":
				b.WriteByte(g711.AlawEncode(int16(v)))
			}
		}
	}
	return b.Bytes()
}

func auFile(enc, channels, rate int, data []byte) []byte {
	var b bytes.Buffer
	b.WriteString(".snd")
	for _, v := range []uint32{28, uint32(len(data)), uint32(enc), uint32(rate), uint32(channels), 0} {
		binary.Write(&b, binary.BigEndian, v)
	}
	b.Write(data)
	return b.Bytes()
}

// TestDecodeFile: every format Play takes, built here, comes out as 8 kHz
// audio of the right length holding the 1 kHz tone; the rest is refused.
func TestDecodeFile(t *testing.T) {
	const amp = 8000
	tone := func(rate int) []float64 { return sine(1000, rate, 0.5, amp) }
	le, be := binary.LittleEndian, binary.BigEndian
	tests := []struct {
		name, ctype, url string
		body             []byte
	}{
		{"WAV PCM 16-bit 8 kHz", "audio/wav", "/a.wav", wavFile(wavePCM, 1, 8000, 16, false, encode(tone(8000), 1, "16", le))},
		{"WAV PCM 16-bit stereo 44.1 kHz", "audio/x-wav", "/a.wav", wavFile(wavePCM, 2, 44100, 16, false, encode(tone(44100), 2, "16", le))},
		{"WAV PCM 8-bit 22.05 kHz", "audio/wave", "/a", wavFile(wavePCM, 1, 22050, 8, false, encode(tone(22050), 1, "u8", le))},
		{"WAV PCM 24-bit 48 kHz", "", "/a.wav", wavFile(wavePCM, 1, 48000, 24, false, encode(tone(48000), 1, "24", le))},
		{"WAV PCM 32-bit 16 kHz", "audio/wav", "/a.wav", wavFile(wavePCM, 1, 16000, 32, false, encode(tone(16000), 1, "32", le))},
		{"WAV float 32-bit", "audio/wav", "/a.wav", wavFile(waveFloat, 1, 16000, 32, false, encode(tone(16000), 1, "f32", le))},
		{"WAV extensible PCM 16-bit", "audio/wav", "/a.wav", wavFile(wavePCM, 2, 16000, 16, true, encode(tone(16000), 2, "16", le))},
		{"WAV mu-law", "application/octet-stream", "/x", wavFile(waveMuLaw, 1, 8000, 8, false, encode(tone(8000), 1, "ulaw", le))},
		{"WAV A-law 3 channels", "audio/wav", "/x", wavFile(waveALaw, 3, 8000, 8, false, encode(tone(8000), 3, "alaw", le))},
		{"AU mu-law", "audio/basic", "/a.au", auFile(auMuLaw, 1, 8000, encode(tone(8000), 1, "ulaw", be))},
		{"AU PCM 16-bit 16 kHz", "audio/basic", "/a.au", auFile(auPCM16, 1, 16000, encode(tone(16000), 1, "16", be))},
		{"AU PCM 8-bit", "", "/a.au", auFile(auPCM8, 1, 8000, encode(tone(8000), 1, "s8", be))},
		{"AU PCM 24-bit", "", "/a.au", auFile(auPCM24, 1, 8000, encode(tone(8000), 1, "24", be))},
		{"raw mu-law, audio/basic", "audio/basic", "/a", encode(tone(8000), 1, "ulaw", le)},
		{"raw mu-law, audio/x-mulaw", "audio/x-mulaw; rate=8000", "/a", encode(tone(8000), 1, "ulaw", le)},
		{"raw mu-law, .ulaw", "application/octet-stream", "/prompt.ulaw?v=2", encode(tone(8000), 1, "ulaw", le)},
		{"raw A-law, audio/x-alaw", "audio/x-alaw", "/a", encode(tone(8000), 1, "alaw", le)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := decodeFile(tt.body, tt.ctype, "http://127.0.0.1"+tt.url)
			if err != nil {
				t.Fatal(err)
			}
			y := resample(a.s, a.rate, 8000)
			if len(y) < 3990 || len(y) > 4000 {
				t.Fatalf("%d samples at 8 kHz, want 4000", len(y))
			}
			y = y[200 : len(y)-200]
			if level := db(rms(y) / (amp / math.Sqrt2)); math.Abs(level) > 0.6 {
				t.Errorf("level %.2f dB, want 0 ± 0.6", level)
			}
			if p := goertzel(y, 1000, 8000); p < 0.95*rms(y)*rms(y) {
				t.Errorf("the 1 kHz tone holds %.2f of the power", p/(rms(y)*rms(y)))
			}
		})
	}

	mp3 := append([]byte("ID3\x04\x00\x00\x00\x00\x00\x00"), make([]byte, 100)...)
	refused := []struct {
		name, ctype, url string
		body             []byte
		says             string
	}{
		{"mp3", "audio/mpeg", "/a.mp3", mp3, "audio/mpeg"},
		{"mp3 by extension", "application/octet-stream", "/a.mp3", mp3, ".mp3"},
		{"html", "text/html", "/a", []byte("<html></html>"), "text/html"},
		{"WAV of GSM", "audio/wav", "/a.wav", wavFile(0x31, 1, 8000, 0, false, make([]byte, 65)), "0x0031"},
		{"not a WAV", "audio/wav", "/a.wav", []byte("hello"), "not a RIFF"},
		{"WAV without data", "audio/wav", "/a.wav", wavFile(wavePCM, 1, 8000, 16, false, nil)[:36], "without data"},
		{"AU, bad offset", "audio/basic", "/a.au", []byte(".snd\xff\xff\xff\xff" + string(make([]byte, 20))), "offset"},
		{"WAV with 0 channels", "audio/wav", "/a.wav", wavFile(wavePCM, 0, 8000, 16, false, make([]byte, 10)), "0 channels"},
	}
	for _, tt := range refused {
		_, err := decodeFile(tt.body, tt.ctype, "http://127.0.0.1"+tt.url)
		if err == nil || !bytes.Contains([]byte(err.Error()), []byte(tt.says)) {
			t.Errorf("%s: %v, want an error saying %q", tt.name, err, tt.says)
		}
		if tt.name == "mp3" && !errors.Is(err, errFormat) {
			t.Errorf("mp3: %v is not errFormat", err)
		}
	}
}

// TestStreamedWAV: espeak-ng --stdout writes sizes it cannot know
// (0x7FFFF000); the data ends where the file does.
func TestStreamedWAV(t *testing.T) {
	w := wavFile(wavePCM, 1, 22050, 16, false, encode(sine(440, 22050, 0.1, 1000), 1, "16", binary.LittleEndian))
	binary.LittleEndian.PutUint32(w[4:8], 0x7FFFF024)
	binary.LittleEndian.PutUint32(w[len(w)-2205*2-4:], 0x7FFFF000)
	a, err := decodeWAV(w)
	if err != nil || len(a.s) != 2205 || a.rate != 22050 {
		t.Fatalf("got %d samples at %d Hz, %v; want 2205 at 22050", len(a.s), a.rate, err)
	}
}
