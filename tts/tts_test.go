package tts

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/g711"
	"github.com/tonepay/tonepay/internal/suites"
)

// needEspeak returns an Engine on the real espeak-ng: a failure under CI
// when it is missing, a skip elsewhere (internal/suites/notrun says so).
func needEspeak(t *testing.T, cfg Config) *Engine {
	t.Helper()
	bin, how := suites.FindEspeak()
	if bin == "" {
		suites.Need(t, suites.SpeechSuite, how)
	}
	cfg.Binary = bin
	return New(cfg)
}

func linear(audio []byte) []float64 {
	s := make([]float64, len(audio))
	for i, b := range audio {
		s[i] = float64(g711.MulawDecode(b))
	}
	return s
}

func TestSpeak(t *testing.T) {
	e := needEspeak(t, Config{})
	tests := []struct{ text, voice, language string }{
		{"one two three four five", "", ""},
		{"one two three four five", "woman", "en-GB"},
		{"uno dos tres cuatro cinco", "Polly.Conchita", ""},
		{"un deux trois quatre cinq", "Google.fr-FR-Standard-A", ""},
		{"eins zwei drei vier fünf", "man", "de-DE"},
	}
	for _, tt := range tests {
		audio, err := e.Speak(context.Background(), tt.text, tt.voice, tt.language)
		if err != nil {
			t.Fatalf("%q: %v", tt.text, err)
		}
		secs := float64(len(audio)) / 8000
		level := db(rms(linear(audio)) / 32767)
		t.Logf("%q %s/%s (%s): %.2f s, %.1f dBFS", tt.text, tt.voice, tt.language, espeakVoice(tt.voice, tt.language), secs, level)
		if secs < 1 || secs > 5 {
			t.Errorf("%q: %.2f s of audio, want 1–5 s", tt.text, secs)
		}
		if level < -35 || level > -3 {
			t.Errorf("%q: %.1f dBFS, want speech (-35 to -3)", tt.text, level)
		}
	}
}

// TestSpeakText: what reaches espeak-ng is text, not options or a shell
// line; empty text is no audio; over MaxText is Twilio's 13521.
func TestSpeakText(t *testing.T) {
	e := needEspeak(t, Config{})
	ctx := context.Background()
	for _, text := range []string{"-v xx --help", "$(touch /tmp/tts-pwned); `id`", "a\x00b\x07c", "\xff\xfe invalid"} {
		audio, err := e.Speak(ctx, text, "", "")
		if err != nil || len(audio) < 800 {
			t.Errorf("%q: %d bytes, %v; want it spoken", text, len(audio), err)
		}
	}
	if _, err := os.Stat("/tmp/tts-pwned"); err == nil {
		t.Error("a shell ran the text")
	}
	if audio, err := e.Speak(ctx, " \n\t", "", ""); err != nil || len(audio) != 0 {
		t.Errorf("blank text: %d bytes, %v; want none", len(audio), err)
	}
	runs, _, _ := e.stats()
	if _, err := e.Speak(ctx, strings.Repeat("é", MaxText+1), "", ""); tonepay.ErrorCode(err) != codeSayLength {
		t.Errorf("over MaxText: %v, want 13521", err)
	}
	if r, _, _ := e.stats(); r != runs {
		t.Error("espeak-ng ran for a text over MaxText")
	}
}

// TestSpeakCache: the second identical request, and one that maps to the
// same espeak-ng voice, run nothing; twenty at once run espeak-ng once.
func TestSpeakCache(t *testing.T) {
	e := needEspeak(t, Config{})
	ctx := context.Background()
	first, err := e.Speak(ctx, "Please enter your card number", "", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range [][2]string{{"", ""}, {"man", "en-US"}, {"Polly.Matthew", ""}, {"Google.en-US-Standard-B", ""}} {
		again, err := e.Speak(ctx, "  Please enter your card number\n", v[0], v[1])
		if err != nil || &again[0] != &first[0] {
			t.Errorf("%v: not the cached audio (%v)", v, err)
		}
	}
	if runs, entries, _ := e.stats(); runs != 1 || entries != 1 {
		t.Errorf("%d runs, %d entries; want 1 and 1", runs, entries)
	}

	var wg sync.WaitGroup
	results := make([][]byte, 20)
	for i := range results {
		wg.Go(func() {
			results[i], _ = e.Speak(ctx, "Thank you, your payment is complete", "woman", "")
		})
	}
	wg.Wait()
	for i, r := range results {
		if len(r) == 0 || &r[0] != &results[0][0] {
			t.Errorf("caller %d got other audio", i)
		}
	}
	if runs, _, _ := e.stats(); runs != 2 {
		t.Errorf("twenty identical requests at once: %d runs in all, want 2", runs)
	}
	// A different voice is a different rendering.
	if _, err := e.Speak(ctx, "Thank you, your payment is complete", "man", ""); err != nil {
		t.Fatal(err)
	}
	if runs, _, _ := e.stats(); runs != 3 {
		t.Errorf("another voice: %d runs in all, want 3", runs)
	}
}

// TestCacheBound: the cache holds at most its bytes, evicting the least
// recently used; a render an eighth of the bound or more is not kept.
func TestCacheBound(t *testing.T) {
	c := newCache(8000)
	renders := 0
	get := func(key string, n int) {
		t.Helper()
		if _, err := c.get(context.Background(), key, func(context.Context) ([]byte, error) {
			renders++
			return make([]byte, n), nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 10 {
		get(fmt.Sprint(i), 699) // 700 bytes with its key
	}
	if n, size := c.stats(); size > 8000 || n != 10 {
		t.Fatalf("%d entries, %d bytes", n, size)
	}
	get("0", 699)  // used: now the most recent
	get("10", 699) // evicts "1", the least recently used
	get("11", 699) // and "2"
	if renders != 12 {
		t.Errorf("%d renders, want 12 (0 was cached)", renders)
	}
	get("1", 699)
	get("0", 699)
	if renders != 13 {
		t.Errorf("%d renders, want 13 (1 evicted, 0 kept)", renders)
	}
	if _, size := c.stats(); size > 8000 {
		t.Errorf("%d bytes held, bound 8000", size)
	}
	get("big", 2000)
	get("big", 2000)
	if renders != 15 {
		t.Errorf("a render over an eighth of the bound was cached")
	}
	// Errors are not cached.
	fail := errors.New("boom")
	for range 2 {
		if _, err := c.get(context.Background(), "bad", func(context.Context) ([]byte, error) { renders++; return nil, fail }); err != fail {
			t.Errorf("got %v", err)
		}
	}
	if renders != 17 {
		t.Errorf("an error was cached")
	}
}

// TestCacheWaiterLeaves: a caller whose context ends stops waiting; the
// render goes on for the others and is cached.
func TestCacheWaiterLeaves(t *testing.T) {
	c := newCache(1 << 20)
	release := make(chan struct{})
	started := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error)
	go func() {
		_, err := c.get(ctx, "k", func(ctx context.Context) ([]byte, error) {
			close(started)
			<-release
			return []byte("audio"), ctx.Err()
		})
		errc <- err
	}()
	<-started
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("the leaving caller got %v", err)
	}
	close(release)
	got, err := c.get(context.Background(), "k", func(context.Context) ([]byte, error) { return nil, errors.New("rendered twice") })
	if err != nil || string(got) != "audio" {
		t.Errorf("got %q, %v; want the first render's audio", got, err)
	}
}

func TestNoEspeak(t *testing.T) {
	for _, bin := range []string{"/nonexistent/espeak-ng", "no-such-espeak-ng-here"} {
		e := New(Config{Binary: bin})
		if _, ok := e.Available(); ok {
			t.Errorf("%s: available", bin)
		}
		if _, err := e.Speak(context.Background(), "hello", "", ""); err != tonepay.ErrNoSpeech {
			t.Errorf("%s: %v, want ErrNoSpeech", bin, err)
		}
	}
}

// TestEspeakFails: a speech engine that fails, hangs or writes garbage is an
// error, never a hang, and is not cached.
func TestEspeakFails(t *testing.T) {
	dir := t.TempDir()
	script := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name, body, says string
	}{
		{"exits 1", "echo 'no voice' >&2; exit 1", "no voice"},
		{"hangs", "exec sleep 30", "timed out"},
		{"garbage", "cat >/dev/null; echo garbage", "not a RIFF"},
	}
	for _, tt := range tests {
		e := New(Config{Binary: script(tt.name, tt.body), Timeout: 300 * time.Millisecond})
		for range 2 {
			_, err := e.Speak(context.Background(), "hello", "", "")
			if err == nil || !strings.Contains(err.Error(), tt.says) {
				t.Errorf("%s: %v, want an error saying %q", tt.name, err, tt.says)
			}
		}
		if runs, entries, _ := e.stats(); runs != 2 || entries != 0 {
			t.Errorf("%s: %d runs, %d cached; want 2 and 0", tt.name, runs, entries)
		}
	}
}

func TestEspeakVoice(t *testing.T) {
	tests := []struct{ voice, language, want string }{
		{"", "", "en-us"},
		{"man", "", "en-us"},
		{"woman", "", "en-us+f3"},
		{"alice", "", "en-us+f3"},
		{"alice", "en-GB", "en-gb+f3"},
		{"man", "es-ES", "es"},
		{"woman", "fr-FR", "fr-fr+f3"},
		{"woman", "de-DE", "de+f3"},
		{"", "es-MX", "es-419"},
		{"", "fr-CA", "fr-fr"},
		{"", "pt-BR", "pt-br"},
		{"", "zh-HK", "yue"},
		{"", "en-AU", "en-gb"},
		{"", "EN_us", "en-us"},
		{"", "de-LI", "de"},    // not listed: its primary subtag
		{"", "cs-CZ", "cs"},    // espeak-ng's own name
		{"", "xx-YY", "en-us"}, // nothing known: Twilio's default
		{"Polly.Joanna", "", "en-us+f3"},
		{"Polly.Matthew-Neural", "", "en-us"},
		{"Polly.Amy", "", "en-gb+f3"},
		{"Polly.Hans", "", "de"},
		{"Polly.Celine", "", "fr-fr+f3"},
		{"Polly.Mia-Generative", "", "es-419+f3"},
		{"Polly.Conchita", "en-US", "en-us+f3"}, // the language attribute wins
		{"Polly.Unknown", "it-IT", "it"},
		{"Google.en-GB-Standard-A", "", "en-gb"},
		{"Google.de-DE-Wavenet-F", "", "de"},
		{"Google.es-US-Neural2-B", "fr-FR", "fr-fr"},
		{"Google.x", "", "en-us"},
		{"robot", "ja-JP", "ja"},
	}
	for _, tt := range tests {
		if got := espeakVoice(tt.voice, tt.language); got != tt.want {
			t.Errorf("espeakVoice(%q, %q) = %q, want %q", tt.voice, tt.language, got, tt.want)
		}
	}
}

// TestVoicesExist: every voice the table names is one espeak-ng has.
func TestVoicesExist(t *testing.T) {
	e := needEspeak(t, Config{})
	seen := map[string]bool{}
	check := func(v string) {
		if seen[v] {
			return
		}
		seen[v] = true
		if _, err := e.render(context.Background(), "a", v); err != nil {
			t.Errorf("voice %q: %v", v, err)
		}
	}
	for _, v := range languages {
		check(v)
		check(v + female)
	}
	for _, v := range sameName {
		check(v)
	}
}

// TestPlay: files over real HTTP, cached by URL; a failed fetch is not
// cached; mp3 is a 13420 FetchError.
func TestPlay(t *testing.T) {
	var mu sync.Mutex
	hits := map[string]int{}
	tone := encode(sine(1000, 16000, 1, 8000), 1, "16", binary.LittleEndian)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits[r.URL.Path]++
		n := hits[r.URL.Path]
		mu.Unlock()
		switch r.URL.Path {
		case "/tone.wav":
			w.Header().Set("Content-Type", "audio/wav")
			w.Write(wavFile(wavePCM, 1, 16000, 16, false, tone))
		case "/flaky.ulaw":
			if n == 1 {
				http.Error(w, "busy", http.StatusServiceUnavailable)
				return
			}
			w.Header().Set("Content-Type", "audio/basic")
			w.Write(make([]byte, 8000))
		case "/song.mp3":
			w.Header().Set("Content-Type", "audio/mpeg")
			w.Write([]byte("ID3\x04\x00\x00\x00\x00\x00\x00"))
		}
	}))
	t.Cleanup(srv.Close)
	get := func(ctx context.Context, url string) ([]byte, string, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		res, err := srv.Client().Do(req)
		if err != nil {
			return nil, "", err
		}
		defer res.Body.Close()
		if res.StatusCode != 200 {
			return nil, "", &tonepay.FetchError{Code: tonepay.CodeHTTPRetrieval, Message: res.Status}
		}
		b, err := io.ReadAll(res.Body)
		return b, res.Header.Get("Content-Type"), err
	}
	e := New(Config{Binary: "/nonexistent", Fetch: get}) // Play needs no espeak-ng
	ctx := context.Background()
	for range 3 {
		audio, err := e.Play(ctx, srv.URL+"/tone.wav")
		if err != nil || len(audio) != 8000 {
			t.Fatalf("tone.wav: %d bytes, %v; want 8000", len(audio), err)
		}
		if s := linear(audio)[200:7800]; goertzel(s, 1000, 8000) < 0.95*rms(s)*rms(s) {
			t.Error("tone.wav: the 1 kHz tone is not what plays")
		}
	}
	if _, err := e.Play(ctx, srv.URL+"/flaky.ulaw"); fetchCode(err) != tonepay.CodeHTTPRetrieval {
		t.Errorf("flaky.ulaw first: %v, want 11200", err)
	}
	if audio, err := e.Play(ctx, srv.URL+"/flaky.ulaw"); err != nil || len(audio) != 8000 {
		t.Errorf("flaky.ulaw again: %d bytes, %v; want it fetched again", len(audio), err)
	}
	_, err := e.Play(ctx, srv.URL+"/song.mp3")
	var fe *tonepay.FetchError
	if !errors.As(err, &fe) || fe.Code != codePlayContent || !strings.Contains(fe.Message, "audio/mpeg") {
		t.Errorf("song.mp3: %v, want a 13420 FetchError naming audio/mpeg", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if hits["/tone.wav"] != 1 || hits["/flaky.ulaw"] != 2 {
		t.Errorf("requests %v; want tone.wav once (cached), flaky.ulaw twice", hits)
	}
	if _, err := New(Config{}).Play(ctx, srv.URL+"/tone.wav"); err == nil {
		t.Error("Play without a Fetch worked")
	}
}

func fetchCode(err error) int {
	var fe *tonepay.FetchError
	if errors.As(err, &fe) {
		return fe.Code
	}
	return -1
}
