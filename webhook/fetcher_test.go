package webhook_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/webhook"
	twclient "github.com/twilio/twilio-go/client"
)

// hit is one request as the application saw it.
type hit struct {
	Method string
	URI    string     // path and query, as sent
	Body   url.Values // the POST body
	Valid  bool       // X-Twilio-Signature passed twilio-go's RequestValidator
	Auth   string     // Authorization
	UA     string
	Accept string
	Idem   string // I-Twilio-Idempotency-Token
}

// app is a real HTTP application that checks every request's signature with
// twilio-go, as a Twilio user's application would.
type app struct {
	srv    *httptest.Server
	token  string
	answer func(w http.ResponseWriter, r *http.Request)
	mu     sync.Mutex
	hits   []hit
}

func newApp(t *testing.T, token string, answer func(w http.ResponseWriter, r *http.Request)) *app {
	a := &app{token: token, answer: answer}
	a.srv = httptest.NewServer(a)
	t.Cleanup(a.srv.Close)
	return a
}

func (a *app) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	params := map[string]string{}
	for k := range r.PostForm {
		params[k] = r.PostForm.Get(k)
	}
	h := hit{Method: r.Method, URI: r.URL.RequestURI(), Body: r.PostForm, Auth: r.Header.Get("Authorization"),
		UA: r.Header.Get("User-Agent"), Accept: r.Header.Get("Accept"), Idem: r.Header.Get("I-Twilio-Idempotency-Token")}
	if len(h.Body) == 0 {
		h.Body = nil
	}
	// The URL the application was called on, as it rebuilds it.
	v := twclient.NewRequestValidator(a.token)
	h.Valid = v.Validate("http://"+r.Host+r.URL.RequestURI(), params, r.Header.Get("X-Twilio-Signature"))
	a.mu.Lock()
	a.hits = append(a.hits, h)
	a.mu.Unlock()
	if a.answer != nil {
		a.answer(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/xml")
	fmt.Fprint(w, "<Response/>")
}

func (a *app) got() []hit {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]hit(nil), a.hits...)
}

func loopbackOnly(t *testing.T) *webhook.Policy {
	p, err := webhook.ParsePolicy("loopback")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func fetchCode(err error) int {
	var fe *tonepay.FetchError
	if errors.As(err, &fe) {
		return fe.Code
	}
	return -1
}

func TestFetchSignsLikeTwilio(t *testing.T) {
	f := newFixture(t)
	a := newApp(t, f.account.AuthToken.Reveal(), nil)
	fetcher := webhook.NewFetcher(f.store, loopbackOnly(t), 0)
	params := url.Values{"CallSid": {"CA1"}, "From": {"+14155550100"}, "ToState": {""}, "Digits": {"1 2"}}
	tests := []struct {
		name, method, path string
		want               hit
	}{
		{"POST", "POST", "/voice?tenant=7&x=a%20b#rt=100",
			hit{Method: "POST", URI: "/voice?tenant=7&x=a%20b", Body: params}},
		{"empty method is POST", "", "/voice",
			hit{Method: "POST", URI: "/voice", Body: params}},
		{"GET", "GET", "/voice#ct=100",
			hit{Method: "GET", URI: "/voice?" + params.Encode()}},
		{"GET keeps the query", "GET", "/voice?tenant=7&x=a%20b",
			hit{Method: "GET", URI: "/voice?tenant=7&x=a%20b&" + params.Encode()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := len(a.got())
			res, err := fetcher.Fetch(context.Background(), &tonepay.FetchRequest{AccountSid: f.account.Sid, URL: a.srv.URL + tt.path, Method: tt.method, Params: params})
			if err != nil {
				t.Fatal(err)
			}
			if want := (&tonepay.FetchResponse{Status: 200, ContentType: "application/xml", Body: []byte("<Response/>")}); !cmp.Equal(want, res) {
				t.Errorf("response %+v, want %+v", res, want)
			}
			hits := a.got()[n:]
			if len(hits) != 1 {
				t.Fatalf("%d requests, want 1", len(hits))
			}
			got := hits[0]
			if got.Idem == "" || got.UA != "TwilioProxy/1.1 (tonepay)" || got.Accept != "*/*" {
				t.Errorf("headers: token %q, User-Agent %q, Accept %q", got.Idem, got.UA, got.Accept)
			}
			got.Idem, got.UA, got.Accept = "", "", ""
			tt.want.Valid = true
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("request (-want +got):\n%s", diff)
			}
		})
	}
	hits := a.got()
	if hits[0].Idem == hits[1].Idem {
		t.Error("two fetches carried the same idempotency token")
	}
}

func TestFetchStatusIsAnAnswer(t *testing.T) {
	f := newFixture(t)
	a := newApp(t, f.account.AuthToken.Reveal(), func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/"))
		w.WriteHeader(code) // a 3xx without Location is an answer too
		fmt.Fprint(w, "no")
	})
	fetcher := webhook.NewFetcher(f.store, loopbackOnly(t), 0)
	for _, code := range []int{201, 302, 404, 500, 503} {
		res, err := fetcher.Fetch(context.Background(), &tonepay.FetchRequest{AccountSid: f.account.Sid, URL: a.srv.URL + "/" + strconv.Itoa(code), Method: "POST"})
		if err != nil || res.Status != code || string(res.Body) != "no" {
			t.Errorf("HTTP %d: %+v, %v", code, res, err)
		}
	}
}

func TestFetchRedirects(t *testing.T) {
	f := newFixture(t)
	token := f.account.AuthToken.Reveal()
	refused := closedPort(t)
	// /r/N answers with a redirect N times, then TwiML.
	a := newApp(t, token, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/refused":
			w.Header().Set("Location", "http://"+refused+"/gone")
			w.WriteHeader(http.StatusFound)
		case strings.HasPrefix(r.URL.Path, "/r/"):
			n, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/r/"))
			if n == 0 {
				fmt.Fprint(w, "<Response/>")
				return
			}
			codes := []int{301, 302, 303, 307, 308}
			w.Header().Set("Location", fmt.Sprintf("%d?hop=%d#frag", n-1, n))
			w.WriteHeader(codes[n%len(codes)])
		}
	})
	fetcher := webhook.NewFetcher(f.store, loopbackOnly(t), 0)
	tests := []struct {
		name     string
		path     string
		code     int // 0: answered
		requests int
	}{
		{"one", "/r/1", 0, 2},
		{"ten", "/r/10", 0, 11},
		{"eleven", "/r/11", tonepay.CodeHTTPTooManyRedirs, 11},
		{"to a refused port", "/refused", tonepay.CodeHTTPConnection, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := len(a.got())
			res, err := fetcher.Fetch(context.Background(), &tonepay.FetchRequest{AccountSid: f.account.Sid, URL: a.srv.URL + tt.path + "?q=1",
				Method: "POST", Params: url.Values{"Digits": {"12"}}})
			if code := fetchCode(err); tt.code != 0 && code != tt.code || tt.code == 0 && (err != nil || string(res.Body) != "<Response/>") {
				t.Fatalf("got %+v, %v; want code %d", res, err, tt.code)
			}
			hits := a.got()[n:]
			if len(hits) != tt.requests {
				t.Fatalf("%d requests, want %d", len(hits), tt.requests)
			}
			for i, h := range hits {
				if !h.Valid {
					t.Errorf("request %d (%s): signature rejected", i, h.URI)
				}
				if i == 0 {
					if h.Method != "POST" || h.Body.Get("Digits") != "12" {
						t.Errorf("first request: %+v", h)
					}
					continue
				}
				// The follow-up is a GET of the Location, without the call's parameters.
				if h.Method != "GET" || h.Body != nil || !strings.Contains(h.URI, "?hop=") || strings.Contains(h.URI, "q=1") {
					t.Errorf("request %d: %+v", i, h)
				}
			}
		})
	}
}

// closedPort returns a loopback host:port where nothing listens.
func closedPort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestFetchBodyLimit(t *testing.T) {
	f := newFixture(t)
	a := newApp(t, f.account.AuthToken.Reveal(), func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		if r.URL.Query().Has("chunked") {
			w.(http.Flusher).Flush() // no Content-Length: the limit holds on the read
		}
		w.Write([]byte(strings.Repeat("x", n)))
	})
	fetcher := webhook.NewFetcher(f.store, loopbackOnly(t), 0)
	tests := []struct {
		query string
		code  int
	}{
		{"n=65536", 0},
		{"n=65537", tonepay.CodeBodyTooLarge},
		{"n=65536&chunked", 0},
		{"n=200000&chunked", tonepay.CodeBodyTooLarge},
	}
	for _, tt := range tests {
		res, err := fetcher.Fetch(context.Background(), &tonepay.FetchRequest{AccountSid: f.account.Sid, URL: a.srv.URL + "/?" + tt.query, Method: "GET"})
		if code := fetchCode(err); tt.code != 0 && code != tt.code || tt.code == 0 && (err != nil || len(res.Body) != tonepay.MaxTwimlBody) {
			t.Errorf("%s: %v, %v; want code %d", tt.query, res != nil, err, tt.code)
		}
	}
}

func TestFetchFailures(t *testing.T) {
	f := newFixture(t)
	token := f.account.AuthToken.Reveal()
	release := make(chan struct{})
	hang := newApp(t, token, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	t.Cleanup(func() { close(release) }) // before the server closes
	other := newApp(t, token, nil)

	tests := []struct {
		name   string
		policy string
		url    string
		code   int
		msg    string
	}{
		{"hanging app", "loopback", hang.srv.URL + "/voice", tonepay.CodeHTTPRetrieval, "timed out"},
		{"refused port", "loopback", "http://" + closedPort(t) + "/voice", tonepay.CodeHTTPConnection, "connection refused"},
		{"bad host", "", "http://nonexistent.invalid/voice", tonepay.CodeHTTPBadHost, "host not found"},
		{"refused by policy", "private", other.srv.URL + "/voice", tonepay.CodeHTTPConnection, "destination refused by callback-networks"},
		{"link-local by default", "", "http://169.254.169.254/latest/meta-data/", tonepay.CodeHTTPConnection, "destination refused by callback-networks"},
		{"not http", "", "ftp://example.com/voice", tonepay.CodeHTTPRetrieval, "bad URL"},
		{"neither GET nor POST", "", "PUT http://example.com/voice", tonepay.CodeHTTPRetrieval, "method is neither GET nor POST"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := webhook.ParsePolicy(tt.policy)
			if err != nil {
				t.Fatal(err)
			}
			fetcher := webhook.NewFetcher(f.store, p, 300*time.Millisecond)
			start := time.Now()
			method, target := "POST", tt.url
			if m, u, ok := strings.Cut(tt.url, " "); ok {
				method, target = m, u
			}
			res, err := fetcher.Fetch(context.Background(), &tonepay.FetchRequest{AccountSid: f.account.Sid, URL: target, Method: method, Params: url.Values{"CallSid": {"CA1"}}})
			var fe *tonepay.FetchError
			if !errors.As(err, &fe) {
				t.Fatalf("got %+v, %v; want a FetchError", res, err)
			}
			if tt.code == tonepay.CodeHTTPBadHost && fe.Message == "host name lookup failed" {
				t.Skip("no DNS resolver answers here")
			}
			if fe.Code != tt.code || fe.Message != tt.msg {
				t.Errorf("got %d %q, want %d %q", fe.Code, fe.Message, tt.code, tt.msg)
			}
			if el := time.Since(start); el > 5*time.Second {
				t.Errorf("took %v with a 300 ms timeout", el)
			}
		})
	}
	if n := len(other.got()); n != 0 {
		t.Errorf("the policy-refused app got %d requests", n)
	}
}

func TestFetchCredentialsOnlyAfterChallenge(t *testing.T) {
	f := newFixture(t)
	a := newApp(t, f.account.AuthToken.Reveal(), func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Has("challenge") && r.Header.Get("Authorization") == "" {
			w.Header().Set("WWW-Authenticate", `Basic realm="app"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, "<Response/>")
	})
	fetcher := webhook.NewFetcher(f.store, loopbackOnly(t), 0)
	withCreds := strings.Replace(a.srv.URL, "http://", "http://user:p%40ss@", 1)
	basic := "Basic dXNlcjpwQHNz" // user:p@ss
	tests := []struct {
		name, method, path string
		auths              []string
	}{
		{"no challenge", "POST", "/voice", []string{""}},
		{"POST challenged", "POST", "/voice?challenge", []string{"", basic}},
		{"GET challenged", "GET", "/voice?challenge", []string{"", basic}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := len(a.got())
			res, err := fetcher.Fetch(context.Background(), &tonepay.FetchRequest{AccountSid: f.account.Sid, URL: withCreds + tt.path, Method: tt.method, Params: url.Values{"CallSid": {"CA1"}}})
			if err != nil || res.Status != 200 {
				t.Fatalf("%+v, %v", res, err)
			}
			var auths []string
			for _, h := range a.got()[n:] {
				auths = append(auths, h.Auth)
				if !h.Valid || (tt.method == "POST" && h.Body.Get("CallSid") != "CA1") {
					t.Errorf("request %+v: signature rejected or body lost", h)
				}
			}
			if diff := cmp.Diff(tt.auths, auths); diff != "" {
				t.Errorf("Authorization headers (-want +got):\n%s", diff)
			}
		})
	}
}
