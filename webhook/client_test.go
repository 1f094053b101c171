package webhook_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tonepay/tonepay"
	fig "github.com/tonepay/tonepay/internal/figures"
	"github.com/tonepay/tonepay/webhook"
)

// figures reports what an attack or fault test tried and how much of it came
// out right, in the line CI collects (internal/figures).
var figures = fig.Report

// hits counts the requests a server saw, by method and path.
type hits struct {
	mu sync.Mutex
	m  map[string]int
}

func (h *hits) add(r *http.Request) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.m == nil {
		h.m = map[string]int{}
	}
	h.m[r.Method+" "+r.URL.RequestURI()]++
}

func (h *hits) total() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, c := range h.m {
		n += c
	}
	return n
}

// ownServer stands in for tonepay's own listener: its sink answers 204, and
// anything else (the API, pprof) 200.
func ownServer(t *testing.T, h *hits) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.add(r)
		io.Copy(io.Discard, r.Body)
		if r.Method == http.MethodPost && r.URL.Path == webhook.SinkPath {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Write([]byte("the API"))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestSSRF tries destinations a tenant could write in a StatusCallback,
// through the client the dispatcher uses, against real loopback servers.
// Refused destinations are refused before any connection is made.
func TestSSRF(t *testing.T) {
	var ownHits, rcHits hits
	own := ownServer(t, &ownHits)
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { rcHits.add(r) }))
	t.Cleanup(rc.Close)
	// A second own listener, "bound to 0.0.0.0": its port is ours on every
	// local address. (The test binds it on loopback only.)
	anyLn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { ownHits.add(r) }))
	t.Cleanup(anyLn.Close)
	ownPort, rcPort, anyPort := port(t, own), port(t, rc), port(t, anyLn)

	policies := map[string]*webhook.Policy{}
	for _, spec := range []string{"", "public", "loopback", "127.0.0.0/8", "private,::1"} {
		p, err := webhook.ParsePolicy(spec)
		if err != nil {
			t.Fatal(err)
		}
		p.DenyListener(own.Listener.Addr())
		p.DenyListener(&net.TCPAddr{IP: net.IPv4zero, Port: anyPort})
		policies[spec] = p
	}

	const (
		reached  = ""
		ownRefus = "tonepay's own listener"
	)
	tests := []struct {
		policy, method, url string
		want                string // reached, or the reason it is refused
	}{
		// The default: everything but link-local and tonepay's own listeners.
		{"", "POST", "http://127.0.0.1:{rc}/cb", reached},
		{"", "POST", "http://localhost:{rc}/cb", reached},
		{"", "POST", "http://[::ffff:127.0.0.1]:{rc}/cb", reached},
		{"", "POST", "http://169.254.169.254/latest/meta-data/", "link-local"},
		{"", "GET", "http://169.254.169.254:80/latest/meta-data/iam/", "link-local"},
		{"", "POST", "http://[::ffff:169.254.169.254]/", "link-local"},
		{"", "POST", "http://[::ffff:a9fe:a9fe]/", "link-local"},
		{"", "POST", "http://[64:ff9b::169.254.169.254]/", "link-local"},
		{"", "POST", "http://[fe80::1]/", "link-local"},
		{"", "POST", "http://127.0.0.1:{own}/2010-04-01/Accounts.json", ownRefus},
		{"", "GET", "http://127.0.0.1:{own}/debug/pprof/profile?seconds=30", ownRefus},
		{"", "POST", "http://localhost:{own}/cb", ownRefus},
		{"", "POST", "http://0.0.0.0:{own}/cb", ownRefus},
		{"", "POST", "http://[::]:{own}/cb", ownRefus},
		{"", "POST", "http://[::1]:{own}/cb", ownRefus},
		{"", "POST", "http://127.0.0.2:{own}/cb", ownRefus},
		{"", "POST", "http://[::ffff:127.0.0.1]:{own}/cb", ownRefus},
		{"", "POST", "http://127.0.0.1:{any}/cb", ownRefus},
		{"", "POST", "http://0.0.0.0:{any}/cb", ownRefus},
		// The sink exception: exactly a POST to the sink, nothing else.
		{"", "POST", "http://127.0.0.1:{own}/_tonepay/sink", reached},
		{"", "POST", "http://localhost:{own}/_tonepay/sink", reached},
		{"public", "POST", "http://127.0.0.1:{own}/_tonepay/sink", reached},
		{"", "POST", "http://127.0.0.1:{own}/other", ownRefus}, // after the sink: not on its connection
		{"", "GET", "http://127.0.0.1:{own}/_tonepay/sink", ownRefus},
		{"", "POST", "http://127.0.0.1:{own}/_tonepay/sink?x=1", ownRefus},
		{"", "POST", "http://127.0.0.1:{own}/_tonepay/sink/../debug/pprof/profile", ownRefus},
		{"", "POST", "http://127.0.0.1:{own}/_tonepay/%73ink", ownRefus},
		{"", "POST", "http://u:p@127.0.0.1:{own}/_tonepay/sink", ownRefus},
		{"public", "POST", "http://127.0.0.1:{rc}/_tonepay/sink", "loopback"}, // not an own listener: the policy applies
		// Loopback when it is not allowed, however it is written.
		{"public", "POST", "http://127.0.0.1:{rc}/cb", "loopback"},
		{"public", "POST", "http://localhost:{rc}/cb", "loopback"}, // a hostname resolving to a refused address
		{"public", "POST", "http://[::1]:{rc}/cb", "loopback"},
		{"public", "POST", "http://0.0.0.0:{rc}/cb", "loopback"},
		{"public", "POST", "http://[::ffff:127.0.0.1]:{rc}/cb", "loopback"},
		{"public", "POST", "http://10.0.0.1/cb", "private"},
		{"public", "POST", "http://100.64.0.1/cb", "private"},
		{"public", "POST", "http://[fd00::1]/cb", "private"},
		{"public", "POST", "http://[::ffff:192.168.0.1]/cb", "private"},
		// Allowed by word or CIDR.
		{"loopback", "POST", "http://127.0.0.1:{rc}/cb", reached},
		{"loopback", "POST", "http://169.254.169.254/", "link-local"},
		{"loopback", "POST", "http://127.0.0.1:{own}/cb", ownRefus},
		{"127.0.0.0/8", "POST", "http://127.0.0.1:{rc}/cb", reached},
		{"127.0.0.0/8", "POST", "http://localhost:{rc}/cb", reached},
		{"127.0.0.0/8", "POST", "http://[::1]:{rc}/cb", "loopback"},
		{"private,::1", "POST", "http://127.0.0.1:{rc}/cb", "loopback"},
		{"private,::1", "POST", "http://[::1]:{own}/cb", ownRefus},
	}
	correct := 0
	for _, tt := range tests {
		u := strings.NewReplacer("{own}", fmt.Sprint(ownPort), "{rc}", fmt.Sprint(rcPort), "{any}", fmt.Sprint(anyPort)).Replace(tt.url)
		c := webhook.NewClient(policies[tt.policy], 3*time.Second)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		req, err := http.NewRequestWithContext(ctx, tt.method, u, strings.NewReader("a=b"))
		if err != nil {
			t.Fatalf("%s: %v", u, err)
		}
		res, err := c.Do(req)
		cancel()
		var re *webhook.RefusedError
		got := "other: "
		switch {
		case err == nil:
			res.Body.Close()
			got = reached
		case errors.As(err, &re):
			got = re.Reason
		default:
			got += err.Error()
		}
		if got == tt.want {
			correct++
		} else {
			t.Errorf("policy %q: %s %s: %q, want %q", tt.policy, tt.method, u, got, tt.want)
		}
	}
	// Only the sink was ever reached on our own listeners.
	ownHits.mu.Lock()
	for k, n := range ownHits.m {
		if k != "POST /_tonepay/sink" {
			t.Errorf("own listener reached: %s (%d)", k, n)
		}
	}
	ownHits.mu.Unlock()
	figures(t, "webhook-ssrf", len(tests), correct, fmt.Sprintf("receiver_hits=%d", rcHits.total()))
}

func port(t *testing.T, s *httptest.Server) int {
	return s.Listener.Addr().(*net.TCPAddr).Port
}

// TestNoProxyFromEnvironment: an HTTP proxy in the environment is not used;
// it would connect on the client's behalf, past the policy.
func TestNoProxyFromEnvironment(t *testing.T) {
	var proxied hits
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { proxied.add(r) }))
	defer proxy.Close()
	t.Setenv("HTTP_PROXY", proxy.URL)
	t.Setenv("http_proxy", proxy.URL)
	c := webhook.NewClient(nil, 2*time.Second)
	_, err := c.Post("http://169.254.169.254/latest/meta-data/", "text/plain", nil)
	var re *webhook.RefusedError
	if !errors.As(err, &re) {
		t.Errorf("got %v, want refused", err)
	}
	if proxied.total() != 0 {
		t.Errorf("the proxy was used: %v", proxied.m)
	}
}

// TestCredentials: credentials in a callback URL go only after a 401 Basic
// challenge, to the same receiver, and never show in attempts or logs.
func TestCredentials(t *testing.T) {
	f := newFixture(t)
	type seen struct{ path, auth, sig string }
	var mu sync.Mutex
	var got []seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		mu.Lock()
		got = append(got, seen{r.URL.Path, r.Header.Get("Authorization"), r.Header.Get("X-Twilio-Signature")})
		mu.Unlock()
		user, pass, ok := r.BasicAuth()
		switch r.URL.Path {
		case "/open": // no auth needed
		case "/basic", "/basic500":
			if !ok || user != "alice" || pass != "s3cret" {
				w.Header().Set("WWW-Authenticate", `Basic realm="cb"`)
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			if r.URL.Path == "/basic500" {
				w.WriteHeader(http.StatusInternalServerError)
			}
		case "/multi":
			if !ok {
				w.Header().Add("WWW-Authenticate", `Digest realm="cb", nonce="x", Basic realm="cb"`)
				w.WriteHeader(http.StatusUnauthorized)
			}
		case "/digest", "/bare401":
			if r.URL.Path == "/digest" {
				w.Header().Set("WWW-Authenticate", `Digest realm="cb", nonce="x"`)
			}
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	defer srv.Close()
	var logs logBuffer
	d := &webhook.Dispatcher{Store: f.store, Poll: time.Hour, Logger: debugLogger(&logs), Backoff: func(int) time.Duration { return time.Hour }}
	run(t, d)
	creds := strings.Replace(srv.URL, "http://", "http://alice:s3cret@", 1)
	cases := []struct {
		sid, path string
		want      []string // the Authorization of each request seen: "" or "basic"
		status    tonepay.CallbackStatus
		err       string
	}{
		{"PK1", "/open?x=1", []string{""}, tonepay.CallbackDelivered, ""},
		{"PK2", "/basic?x=1", []string{"", "basic"}, tonepay.CallbackDelivered, ""},
		{"PK3", "/multi", []string{"", "basic"}, tonepay.CallbackDelivered, ""},
		{"PK4", "/digest", []string{""}, tonepay.CallbackPending, "HTTP 401"},  // Basic only: Digest is not offered
		{"PK5", "/bare401", []string{""}, tonepay.CallbackPending, "HTTP 401"}, // no challenge, no credentials
		{"PK6", "/basic500", []string{"", "basic"}, tonepay.CallbackPending, "HTTP 500"},
	}
	basic := "Basic YWxpY2U6czNjcmV0" // alice:s3cret
	for _, c := range cases {
		mu.Lock()
		got = nil
		mu.Unlock()
		cb := f.queue(t, c.sid, creds+c.path, 1, time.Now())[0]
		d.Notify()
		waitFor(t, c.sid+" attempted", func() bool { return len(f.attempts(t, cb.ID)) == 1 })
		mu.Lock()
		var auths []string
		for _, g := range got {
			switch g.auth {
			case "":
				auths = append(auths, "")
			case basic:
				auths = append(auths, "basic")
			default:
				auths = append(auths, "other: "+g.auth)
			}
			// Signed over the URL as the receiver sees it: no credentials.
			if want := webhook.Sign(f.account.AuthToken, srv.URL+c.path, cb.Form); g.sig != want {
				t.Errorf("%s: signature %q, want the one over %s", c.sid, g.sig, srv.URL+c.path)
			}
		}
		mu.Unlock()
		if fmt.Sprint(auths) != fmt.Sprint(c.want) {
			t.Errorf("%s %s: Authorization per request %q, want %q", c.sid, c.path, auths, c.want)
		}
		a := f.attempts(t, cb.ID)[0]
		if a.Error != c.err {
			t.Errorf("%s: attempt error %q, want %q", c.sid, a.Error, c.err)
		}
		waitFor(t, c.sid+" recorded", func() bool { return f.callbacks(t, c.sid)[0].Status == c.status })
	}

	// Failures of other kinds: refused, nobody listening. The credentials are
	// in no attempt and no log line.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := ln.Addr().String()
	ln.Close()
	refused := f.queue(t, "PK7", "http://alice:s3cret@169.254.169.254/cb", 1, time.Now())[0]
	closed := f.queue(t, "PK8", "http://alice:s3cret@"+dead+"/cb", 1, time.Now())[0]
	d.Notify()
	waitFor(t, "the failures recorded", func() bool {
		return len(f.attempts(t, refused.ID)) == 1 && len(f.attempts(t, closed.ID)) == 1
	})
	if a := f.attempts(t, refused.ID)[0]; a.Error != "destination 169.254.169.254:80 refused by callback-networks (link-local)" {
		t.Errorf("refused attempt: %+v", a)
	}
	if a := f.attempts(t, closed.ID)[0]; a.Error != "connection refused" {
		t.Errorf("closed port attempt: %+v", a)
	}
	for i := range 8 {
		for _, a := range f.attempts(t, f.callbacks(t, fmt.Sprintf("PK%d", i+1))[0].ID) {
			if strings.Contains(a.Error, "s3cret") || strings.Contains(a.Error, "alice") || strings.Contains(a.Error, "127.0.0.1") {
				t.Errorf("attempt error shows the URL or its credentials: %q", a.Error)
			}
		}
	}
	if out := logs.String(); strings.Contains(out, "s3cret") || strings.Contains(out, "alice") || strings.Contains(out, "YWxpY2U6czNjcmV0") {
		t.Errorf("credentials in the log:\n%s", out)
	}
}
