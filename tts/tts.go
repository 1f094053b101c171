// Package tts renders what a real caller hears (tonepay.Audio): <Say> text
// spoken by espeak-ng, run as a separate process, and <Play> files fetched
// under the callback policy and decoded; both as 8 kHz G.711 mu-law, cached.
//
// espeak-ng writes a 22050 Hz 16-bit WAV; tts resamples it to 8 kHz with a
// windowed-sinc low-pass (resample.go) and encodes mu-law. Played files may
// be WAV (PCM 8–32 bits, float, mu-law, A-law; any rate and channels), AU,
// or raw mu-law or A-law; mp3 and others are refused with an error the leg
// shows as a timeline warning.
package tts

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os/exec"
	"strings"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/g711"
)

var _ tonepay.Audio = (*Engine)(nil)

const (
	// DefaultCacheBytes bounds the audio cache: 32 MiB of 8 kHz mu-law is
	// about 70 minutes of prompts.
	DefaultCacheBytes = 32 << 20
	// DefaultTimeout bounds one espeak-ng run. It renders some 100× faster
	// than real time, so a <Say> of MaxText characters (about 4 minutes of
	// speech) takes a few seconds on a loaded machine.
	DefaultTimeout = 20 * time.Second
	// MaxText is the longest <Say> text, in characters: Twilio's limit.
	MaxText = 4096
	// maxWAV bounds espeak-ng's output: MaxText characters are well under
	// 10 minutes at 22050 Hz, 16 bits.
	maxWAV = 32 << 20
)

// Twilio's error codes for what tts refuses.
const (
	codeSayLength   = 13521 // Say: invalid text length
	codePlayContent = 13420 // Play: invalid Content-Type (a format tonepay does not decode)
)

// Config configures an Engine; the zero value is usable.
type Config struct {
	// Binary is espeak-ng's path, or a name looked up on PATH ("":
	// "espeak-ng"). It is found once, by New.
	Binary string
	// Fetch gets a <Play> file under the callback policy
	// (webhook.Fetcher.FetchAudio); its errors are returned as they are.
	// nil: Play fails.
	Fetch func(ctx context.Context, url string) (body []byte, contentType string, err error)
	// CacheBytes bounds the cache of rendered audio, Speak's and Play's
	// together (0: DefaultCacheBytes).
	CacheBytes int64
	// Timeout bounds one espeak-ng run (0: DefaultTimeout).
	Timeout time.Duration
}

// Engine implements tonepay.Audio. It is safe for concurrent use.
type Engine struct {
	bin     string // "" when no espeak-ng was found
	fetch   func(context.Context, string) ([]byte, string, error)
	timeout time.Duration
	cache   *cache
	runs    atomic.Int64 // espeak-ng processes started
}

// New returns an Engine. When espeak-ng is not found, Speak returns
// tonepay.ErrNoSpeech (Play still works); Available says which.
func New(cfg Config) *Engine {
	bin := cfg.Binary
	if bin == "" {
		bin = "espeak-ng"
	}
	path, err := exec.LookPath(bin)
	if err != nil {
		path = ""
	}
	if cfg.CacheBytes <= 0 {
		cfg.CacheBytes = DefaultCacheBytes
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	return &Engine{bin: path, fetch: cfg.Fetch, timeout: cfg.Timeout, cache: newCache(cfg.CacheBytes)}
}

// Available reports whether espeak-ng was found, and where.
func (e *Engine) Available() (path string, ok bool) { return e.bin, e.bin != "" }

// Speak implements tonepay.Audio: text spoken by espeak-ng in the voice
// that voice and language map to (voices.go), as 8 kHz mu-law. The result
// is shared with the cache: callers must not modify it. Errors:
// tonepay.ErrNoSpeech without espeak-ng; 13521 for text over MaxText
// characters; CodeInternal when espeak-ng fails or times out.
func (e *Engine) Speak(ctx context.Context, text, voice, language string) ([]byte, error) {
	if e.bin == "" {
		return nil, tonepay.ErrNoSpeech
	}
	text = clean(text)
	if utf8.RuneCountInString(text) > MaxText {
		return nil, tonepay.Errorf(codeSayLength, "say: text over %d characters", MaxText)
	}
	if text == "" {
		return []byte{}, nil
	}
	ev := espeakVoice(voice, language)
	return e.cache.get(ctx, "say\x00"+ev+"\x00"+text, func(ctx context.Context) ([]byte, error) {
		return e.render(ctx, text, ev)
	})
}

// clean makes text safe to hand to espeak-ng: valid UTF-8, no control
// characters (a NUL would end its input early), trimmed.
func clean(text string) string {
	text = strings.ToValidUTF8(text, " ")
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, text))
}

// render runs espeak-ng once: the text on its standard input (never a
// shell, never an argument that could read as an option), the WAV on its
// standard output.
func (e *Engine) render(ctx context.Context, text, voice string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.bin, "-v", voice, "-b", "1", "--stdin", "--stdout")
	cmd.Stdin = strings.NewReader(text)
	var out, stderr limited
	out.max, stderr.max = maxWAV, 512
	cmd.Stdout, cmd.Stderr = &out, &stderr
	cmd.WaitDelay = time.Second // a child holding the pipes open cannot hang us
	e.runs.Add(1)
	err := cmd.Run()
	if out.over {
		return nil, tonepay.Errorf(tonepay.CodeInternal, "espeak-ng wrote over %d bytes", maxWAV)
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, tonepay.Errorf(tonepay.CodeInternal, "espeak-ng timed out after %v", e.timeout)
		}
		return nil, tonepay.Errorf(tonepay.CodeInternal, "espeak-ng failed: %v %s", err, strings.TrimSpace(stderr.String()))
	}
	a, err := decodeWAV(out.Bytes())
	if err != nil {
		return nil, tonepay.Errorf(tonepay.CodeInternal, "espeak-ng output: %v", err)
	}
	return toMulaw(a), nil
}

// Play implements tonepay.Audio: the file at url, fetched by Config.Fetch
// and decoded (decode.go), as 8 kHz mu-law; cached by URL. The result is
// shared with the cache: callers must not modify it. Errors: Fetch's
// (*tonepay.FetchError: 11200, 11205, 11210, 11215, 11750); a
// *tonepay.FetchError 13420 for a format tonepay does not decode (mp3...)
// or a file it cannot read.
func (e *Engine) Play(ctx context.Context, url string) ([]byte, error) {
	if e.fetch == nil {
		return nil, tonepay.Errorf(tonepay.CodeInternal, "play: no fetcher configured")
	}
	return e.cache.get(ctx, "play\x00"+url, func(ctx context.Context) ([]byte, error) {
		body, ctype, err := e.fetch(ctx, url)
		if err != nil {
			return nil, err
		}
		a, err := decodeFile(body, ctype, url)
		if err != nil {
			return nil, &tonepay.FetchError{Code: codePlayContent, Message: "play: " + err.Error()}
		}
		return toMulaw(a), nil
	})
}

// toMulaw resamples a to 8 kHz and encodes it.
func toMulaw(a pcm) []byte {
	s := resample(a.s, a.rate, 8000)
	out := make([]byte, len(s))
	for i, v := range s {
		out[i] = g711.MulawEncode(clip(v))
	}
	return out
}

func clip(v float64) int16 {
	switch {
	case v > 32767:
		return 32767
	case v < -32768:
		return -32768
	}
	return int16(math.Round(v))
}

// limited is a buffer that keeps at most max bytes and says when more came.
type limited struct {
	bytes.Buffer
	max  int
	over bool
}

func (l *limited) Write(p []byte) (int, error) {
	if room := l.max - l.Len(); len(p) > room {
		l.over = true
		if room > 0 {
			l.Buffer.Write(p[:room])
		}
		return 0, errors.New("output over its bound")
	}
	return l.Buffer.Write(p)
}

// stats is for tests and figures: espeak-ng runs, cache entries and bytes.
func (e *Engine) stats() (runs int64, entries int, bytes int64) {
	entries, bytes = e.cache.stats()
	return e.runs.Load(), entries, bytes
}
