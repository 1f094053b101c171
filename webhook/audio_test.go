package webhook_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/webhook"
)

func TestFetchAudio(t *testing.T) {
	var mu sync.Mutex
	var gets []string
	requests := func() []string {
		mu.Lock()
		defer mu.Unlock()
		g := gets
		gets = nil
		return g
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		gets = append(gets, r.Method+" "+r.URL.RequestURI()+" sig="+r.Header.Get("X-Twilio-Signature"))
		mu.Unlock()
		switch r.URL.Path {
		case "/a.ulaw":
			w.Header().Set("Content-Type", "audio/basic")
			w.Write([]byte{0xFF, 0x7F, 0x00})
		case "/moved":
			http.Redirect(w, r, "/a.ulaw", http.StatusFound)
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		case "/big":
			n, _ := strconv.Atoi(r.URL.Query().Get("n"))
			w.Header().Set("Content-Type", "application/octet-stream")
			w.(http.Flusher).Flush() // no Content-Length: the limit holds on the read
			w.Write([]byte(strings.Repeat("x", n)))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	fetcher := webhook.NewFetcher(nil, loopbackOnly(t), 0)
	tests := []struct {
		path  string
		code  int
		ctype string
		size  int
	}{
		{"/a.ulaw", 0, "audio/basic", 3},
		{"/moved", 0, "audio/basic", 3},
		{"/nothing.wav", tonepay.CodeHTTPRetrieval, "", 0},
		{"/loop", tonepay.CodeHTTPTooManyRedirs, "", 0},
		{"/big?n=" + strconv.Itoa(webhook.MaxAudioBody), 0, "application/octet-stream", webhook.MaxAudioBody},
		{"/big?n=" + strconv.Itoa(webhook.MaxAudioBody+1), tonepay.CodeBodyTooLarge, "", 0},
	}
	for _, tt := range tests {
		body, ctype, err := fetcher.FetchAudio(context.Background(), srv.URL+tt.path)
		if tt.code != 0 || err != nil {
			if code := fetchCode(err); code != tt.code {
				t.Errorf("%s: error %v (code %d), want code %d", tt.path, err, code, tt.code)
			}
		} else if ctype != tt.ctype || len(body) != tt.size {
			t.Errorf("%s: %d bytes of %q, want %d of %q", tt.path, len(body), ctype, tt.size, tt.ctype)
		}
		for _, g := range requests() {
			if !strings.HasPrefix(g, "GET ") || !strings.HasSuffix(g, "sig=") {
				t.Errorf("%s: request %q, want an unsigned GET", tt.path, g)
			}
		}
	}

	// The callback policy holds: loopback is refused by a public-only policy.
	p, err := webhook.ParsePolicy("public")
	if err != nil {
		t.Fatal(err)
	}
	requests()
	_, _, err = webhook.NewFetcher(nil, p, 0).FetchAudio(context.Background(), srv.URL+"/a.ulaw")
	if n := len(requests()); fetchCode(err) != tonepay.CodeHTTPConnection || n != 0 {
		t.Errorf("public-only policy: %v, %d requests; want 11205 and none", err, n)
	}
	if _, _, err := fetcher.FetchAudio(context.Background(), "ftp://example.com/a.wav"); fetchCode(err) != tonepay.CodeHTTPRetrieval {
		t.Errorf("ftp URL: %v, want 11200", err)
	}
}
