package tts

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"mime"
	"net/url"
	"path"
	"strings"

	"github.com/tonepay/tonepay/g711"
)

// pcm is decoded audio: mono samples on the 16-bit scale, at rate Hz.
type pcm struct {
	s    []float64
	rate int
}

// errFormat is an audio file tonepay does not decode (mp3, AIFF, GSM...).
var errFormat = errors.New("unsupported audio format")

// WAVE format tags (RFC 2361).
const (
	wavePCM        = 0x0001
	waveFloat      = 0x0003
	waveALaw       = 0x0006
	waveMuLaw      = 0x0007
	waveExtensible = 0xFFFE
)

// decodeWAV reads a RIFF WAVE file of PCM (8, 16, 24 or 32 bits), 32-bit
// float, A-law or mu-law, at any rate and channel count; the channels are
// averaged. A data chunk whose size runs past the end (a streamed WAV, as
// espeak-ng --stdout writes with size 0x7FFFF000) ends at the end.
func decodeWAV(b []byte) (pcm, error) {
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return pcm{}, errors.New("not a RIFF WAVE file")
	}
	var format, channels, bits int
	var rate int
	haveFmt := false
	for p := 12; p+8 <= len(b); {
		id, size := string(b[p:p+4]), int64(binary.LittleEndian.Uint32(b[p+4:p+8]))
		p += 8
		end := int64(p) + size
		if end > int64(len(b)) {
			end = int64(len(b))
		}
		chunk := b[p:end]
		switch id {
		case "fmt ":
			if len(chunk) < 16 {
				return pcm{}, errors.New("WAV fmt chunk too short")
			}
			format = int(binary.LittleEndian.Uint16(chunk[0:2]))
			channels = int(binary.LittleEndian.Uint16(chunk[2:4]))
			rate = int(binary.LittleEndian.Uint32(chunk[4:8]))
			bits = int(binary.LittleEndian.Uint16(chunk[14:16]))
			if format == waveExtensible && len(chunk) >= 26 {
				format = int(binary.LittleEndian.Uint16(chunk[24:26])) // the sub-format GUID's first two bytes
			}
			haveFmt = true
		case "data":
			if !haveFmt {
				return pcm{}, errors.New("WAV data before fmt")
			}
			return samples(chunk, format, bits, channels, rate, binary.LittleEndian)
		}
		p = int(end) + int(size&1) // chunks are word-aligned
	}
	return pcm{}, errors.New("WAV without data")
}

// samples decodes interleaved frames of encoding format (a WAVE tag) and
// averages the channels.
func samples(data []byte, format, bits, channels, rate int, order binary.ByteOrder) (pcm, error) {
	if channels < 1 || channels > 32 || rate < 1000 || rate > 384000 {
		return pcm{}, fmt.Errorf("%w: %d channels at %d Hz", errFormat, channels, rate)
	}
	var width int
	var read func([]byte) float64
	switch {
	case format == wavePCM && bits == 8:
		width, read = 1, func(b []byte) float64 { return (float64(b[0]) - 128) * 256 } // unsigned
	case format == wavePCM && bits == 16:
		width, read = 2, func(b []byte) float64 { return float64(int16(order.Uint16(b))) }
	case format == wavePCM && bits == 24:
		width, read = 3, func(b []byte) float64 {
			if order == binary.LittleEndian {
				return float64(int32(uint32(b[0])<<8|uint32(b[1])<<16|uint32(b[2])<<24)) / 65536
			}
			return float64(int32(uint32(b[2])<<8|uint32(b[1])<<16|uint32(b[0])<<24)) / 65536
		}
	case format == wavePCM && bits == 32:
		width, read = 4, func(b []byte) float64 { return float64(int32(order.Uint32(b))) / 65536 }
	case format == waveFloat && bits == 32:
		width, read = 4, func(b []byte) float64 {
			v := float64(math.Float32frombits(order.Uint32(b))) * 32767
			if math.IsNaN(v) {
				return 0
			}
			return v
		}
	case format == waveMuLaw && bits == 8:
		width, read = 1, func(b []byte) float64 { return float64(g711.MulawDecode(b[0])) }
	case format == waveALaw && bits == 8:
		width, read = 1, func(b []byte) float64 { return float64(g711.AlawDecode(b[0])) }
	default:
		return pcm{}, fmt.Errorf("%w: WAV format %#04x with %d bits", errFormat, format, bits)
	}
	frame := width * channels
	n := len(data) / frame
	out := make([]float64, n)
	for i := range out {
		f := data[i*frame : (i+1)*frame]
		sum := 0.0
		for c := range channels {
			sum += read(f[c*width:])
		}
		out[i] = sum / float64(channels)
	}
	return pcm{s: out, rate: rate}, nil
}

// AU (Sun/NeXT) encodings.
const (
	auMuLaw   = 1
	auPCM8    = 2
	auPCM16   = 3
	auPCM24   = 4
	auPCM32   = 5
	auFloat32 = 6
	auALaw    = 27
)

// decodeAU reads a Sun .au file (big-endian header ".snd"): mu-law, A-law
// or PCM, any rate and channel count.
func decodeAU(b []byte) (pcm, error) {
	if len(b) < 24 || string(b[0:4]) != ".snd" {
		return pcm{}, errors.New("not an AU file")
	}
	be := binary.BigEndian
	off, size := int64(be.Uint32(b[4:8])), int64(be.Uint32(b[8:12]))
	enc, rate, channels := int(be.Uint32(b[12:16])), int(be.Uint32(b[16:20])), int(be.Uint32(b[20:24]))
	if off < 24 || off > int64(len(b)) {
		return pcm{}, errors.New("AU header offset out of range")
	}
	end := int64(len(b))
	if size != 0xFFFFFFFF && off+size < end { // ~0: unknown size
		end = off + size
	}
	data := b[off:end]
	switch enc {
	case auMuLaw:
		return samples(data, waveMuLaw, 8, channels, rate, be)
	case auALaw:
		return samples(data, waveALaw, 8, channels, rate, be)
	case auPCM8:
		// AU's 8-bit PCM is signed: shift it to WAV's unsigned form.
		u := make([]byte, len(data))
		for i, v := range data {
			u[i] = v ^ 0x80
		}
		return samples(u, wavePCM, 8, channels, rate, be)
	case auPCM16, auPCM24, auPCM32:
		return samples(data, wavePCM, 8*(enc-1), channels, rate, be)
	case auFloat32:
		return samples(data, waveFloat, 32, channels, rate, be)
	}
	return pcm{}, fmt.Errorf("%w: AU encoding %d", errFormat, enc)
}

// mulawTypes are the content types of headerless 8 kHz mu-law (Twilio lists
// audio/ulaw; audio/basic is RFC 2046's).
var mulawTypes = map[string]bool{
	"audio/basic": true, "audio/ulaw": true, "audio/x-ulaw": true, "audio/mulaw": true,
	"audio/x-mulaw": true, "audio/pcmu": true,
}

var alawTypes = map[string]bool{"audio/x-alaw": true, "audio/alaw": true, "audio/pcma": true}

var wavTypes = map[string]bool{"audio/wav": true, "audio/wave": true, "audio/x-wav": true, "audio/vnd.wave": true}

// decodeFile decodes a <Play> file by its first bytes (RIFF WAVE, .snd),
// else by its content type or, for a generic type, the URL's extension
// (.ulaw, .alaw: headerless 8 kHz). Anything else is errFormat, naming the
// type.
func decodeFile(body []byte, contentType, rawURL string) (pcm, error) {
	switch {
	case len(body) >= 12 && string(body[0:4]) == "RIFF" && string(body[8:12]) == "WAVE":
		return decodeWAV(body)
	case len(body) >= 4 && string(body[0:4]) == ".snd":
		return decodeAU(body)
	}
	ct, _, _ := mime.ParseMediaType(contentType)
	ext := ""
	if u, err := url.Parse(rawURL); err == nil {
		ext = strings.ToLower(path.Ext(u.Path))
	}
	generic := ct == "" || ct == "application/octet-stream" || ct == "binary/octet-stream"
	switch {
	case mulawTypes[ct], generic && (ext == ".ulaw" || ext == ".mulaw" || ext == ".ul" || ext == ".au"):
		return samples(body, waveMuLaw, 8, 1, 8000, binary.LittleEndian)
	case alawTypes[ct], generic && (ext == ".alaw" || ext == ".al"):
		return samples(body, waveALaw, 8, 1, 8000, binary.LittleEndian)
	case wavTypes[ct], generic && ext == ".wav":
		return decodeWAV(body) // not RIFF: its error says so
	}
	what := ct
	if generic {
		what = "a file"
		if ext != "" {
			what = "a " + ext + " file"
		}
	}
	return pcm{}, fmt.Errorf("%w: %s (real legs play WAV, AU and raw mu-law or A-law; convert mp3 and others to WAV)", errFormat, what)
}
