package twilioapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/console"
	"github.com/tonepay/tonepay/events"
	"github.com/tonepay/tonepay/twilioapi"
)

// peerFromHeader lets a test play several client addresses: it sets
// RemoteAddr, as the connection would, from a test-only header.
func peerFromHeader(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.Header.Get("X-Test-Peer"); p != "" {
			r.RemoteAddr = p
		}
		h.ServeHTTP(w, r)
	})
}

// TestAuthFailLimit: past its limit of failed authentications, an address
// gets 429 with Retry-After before its credentials are checked, good ones
// included; other addresses and good credentials are not slowed, and
// X-Forwarded-For changes nothing.
func TestAuthFailLimit(t *testing.T) {
	now := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	e := newEnvWith(t, twilioapi.Options{AuthFailLimit: 3, Now: clock}, envOptions{wrap: peerFromHeader})
	path := "/2010-04-01/Accounts/" + e.main.Sid + "/Calls.json"
	good := e.as(e.main)
	wrong := client{e, e.main.Sid, "guess"}
	from := func(addr string) http.Header { return http.Header{"X-Test-Peer": {addr}} }
	a, b := from("192.0.2.1:1000"), from("192.0.2.2:1000")

	// Good credentials cost nothing, however many.
	for range 10 {
		if res, body := good.raw("GET", path, "", a); res.StatusCode != 200 {
			t.Fatalf("good credentials: %d %v", res.StatusCode, body)
		}
	}
	for i := range 3 {
		res, body := wrong.raw("GET", path, "", a)
		checkError(t, res.StatusCode, body, 401, 20003)
		_ = i
	}
	for _, tt := range []struct {
		name string
		c    client
		hdr  http.Header
	}{
		{"a fourth guess", wrong, a},
		{"good credentials from the same address", good, a},
		{"a guess claiming another address", wrong, http.Header{"X-Test-Peer": a["X-Test-Peer"], "X-Forwarded-For": {"198.51.100.9"}}},
		{"the same address on another port", wrong, from("192.0.2.1:2000")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res, body := tt.c.raw("GET", path, "", tt.hdr)
			checkError(t, res.StatusCode, body, 429, 20429)
			if ra := res.Header.Get("Retry-After"); ra != "20" {
				t.Errorf("Retry-After %q, want 20 (3 a minute)", ra)
			}
		})
	}
	t.Run("another address", func(t *testing.T) {
		res, body := wrong.raw("GET", path, "", b)
		checkError(t, res.StatusCode, body, 401, 20003)
		if res, _ := good.raw("GET", path, "", b); res.StatusCode != 200 {
			t.Errorf("good credentials from another address: %d", res.StatusCode)
		}
	})
	mu.Lock()
	now = now.Add(20 * time.Second)
	mu.Unlock()
	t.Run("after Retry-After", func(t *testing.T) {
		if res, body := good.raw("GET", path, "", a); res.StatusCode != 200 {
			t.Fatalf("good credentials: %d %v", res.StatusCode, body)
		}
		res, body := wrong.raw("GET", path, "", a)
		checkError(t, res.StatusCode, body, 401, 20003)
		res, body = wrong.raw("GET", path, "", a)
		checkError(t, res.StatusCode, body, 429, 20429)
	})
	// Many requests under way at once from one address (a call centre behind
	// one NAT) are never refused for it; guesses in parallel stop being
	// checked once the failures have spent the bucket.
	t.Run("parallel", func(t *testing.T) {
		c := from("192.0.2.3:1000")
		var wg sync.WaitGroup
		var mu sync.Mutex
		codes := map[int]int{}
		for range 50 {
			wg.Go(func() {
				res, _ := good.raw("GET", path, "", c)
				mu.Lock()
				codes[res.StatusCode]++
				mu.Unlock()
			})
		}
		wg.Wait()
		if codes[200] != 50 {
			t.Fatalf("50 good requests at once from one address: %v", codes)
		}
		clear(codes)
		for range 30 {
			wg.Go(func() {
				res, _ := wrong.raw("GET", path, "", c)
				mu.Lock()
				codes[res.StatusCode]++
				mu.Unlock()
			})
		}
		wg.Wait()
		if codes[401] < 3 || codes[401]+codes[429] != 30 {
			t.Errorf("30 parallel guesses: %v; want at least 3 checked, the rest 429", codes)
		}
		if res, body := wrong.raw("GET", path, "", c); res.StatusCode != 429 {
			t.Errorf("a guess after the parallel ones: %d %v", res.StatusCode, body)
		}
		t.Logf("30 parallel guesses from one address: %d checked, %d refused with 429", codes[401], codes[429])
	})
}

// TestRateLimitRetryAfter: the per-account limit's 429 says when to retry.
func TestRateLimitRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	e := newEnv(t, twilioapi.Options{RateLimit: 0.5, RateBurst: 1, Now: func() time.Time { return now }})
	// newEnv's call creation took the main account's one token.
	res, body := e.as(e.main).raw("GET", "/2010-04-01/Accounts/"+e.main.Sid+"/Calls.json", "", nil)
	checkError(t, res.StatusCode, body, 429, 20429)
	if ra := res.Header.Get("Retry-After"); ra != "2" {
		t.Errorf("Retry-After %q, want 2", ra)
	}
}

// syncBuffer is a log destination written by the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestClientGone: a client that goes away while its request waits is
// neither an ERROR line nor a 500, and its Press stops waiting; a real
// internal error is one ERROR line with its cause.
func TestClientGone(t *testing.T) {
	logs := &syncBuffer{}
	waiting := make(chan struct{}, 1)
	statuses := make(chan int, 1)
	record := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			if strings.HasSuffix(r.URL.Path, "/Digits") {
				statuses <- rec.Code
			}
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.Code)
			w.Write(rec.Body.Bytes())
		})
	}
	e := newEnvWith(t, twilioapi.Options{}, envOptions{log: logs, wrap: record, sleep: func(ctx context.Context, d time.Duration) error {
		waiting <- struct{}{}
		<-ctx.Done() // only the client leaving ends this wait
		return ctx.Err()
	}})
	ctx, cancel := context.WithCancel(context.Background())
	form := url.Values{"Digits": {"1w2"}}
	req, _ := http.NewRequestWithContext(ctx, "POST", e.srv.URL+"/_tonepay/Accounts/"+e.main.Sid+"/Calls/"+e.call+"/Digits", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(e.main.Sid, e.main.AuthToken.Reveal())
	done := make(chan error, 1)
	go func() {
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			res.Body.Close()
		}
		done <- err
	}()
	<-waiting
	cancel()
	<-done
	if status := <-statuses; status == 500 {
		t.Errorf("a client gone while Press waited was answered %d", status)
	}
	if out := logs.String(); strings.Contains(out, "level=ERROR") {
		t.Errorf("a client gone was logged as an error:\n%s", out)
	}
	if !strings.Contains(logs.String(), "level=DEBUG") {
		t.Errorf("nothing was logged at debug level:\n%s", logs.String())
	}

	// A real failure, the store gone: one ERROR line, with the cause.
	e.store.Close()
	code, body := e.as(e.main).do("GET", "/2010-04-01/Accounts/"+e.main.Sid+"/Calls.json", nil)
	checkError(t, code, body, 500, 20500)
	out := logs.String()
	if n := strings.Count(out, "level=ERROR"); n != 1 || !strings.Contains(out, "closed") {
		t.Errorf("%d ERROR lines for one internal error, want 1 with its cause:\n%s", n, out)
	}
	if strings.Contains(out, e.main.AuthToken.Reveal()) {
		t.Error("the log holds the auth token")
	}
}

// streamOf opens an event stream with these credentials and returns its
// lines, read in the background; the channel closes when the stream ends.
func streamOf(t *testing.T, srvURL, account, user, pass string) <-chan string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", srvURL+"/_tonepay/Accounts/"+account+"/Events", nil)
	req.SetBasicAuth(user, pass)
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("Events: %v %v", res, err)
	}
	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		defer res.Body.Close()
		r := bufio.NewReader(res.Body)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			lines <- line
		}
	}()
	return lines
}

// endOf waits for a stream to end (a test that hangs is failed after 5 s:
// a guard, not a measurement) and returns its "event: end" data, if any.
func endOf(t *testing.T, lines <-chan string) map[string]any {
	t.Helper()
	var end map[string]any
	ending := false
	deadline := time.After(5 * time.Second)
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				return end
			}
			if line == "event: end\n" {
				ending = true
			} else if data, ok := strings.CutPrefix(line, "data: "); ok && ending {
				json.Unmarshal([]byte(data), &end)
			}
		case <-deadline:
			t.Fatal("the stream did not end")
		}
	}
}

// TestStreamEnds: an event stream ends when its credentials stop being
// valid and when the server closes; one whose credentials stay good lives on.
func TestStreamEnds(t *testing.T) {
	closing := make(chan struct{})
	hub := events.New()
	e := newEnvWith(t, twilioapi.Options{StreamRecheck: 10 * time.Millisecond, Closing: closing}, envOptions{hub: hub})
	acct := "/2010-04-01/Accounts/" + e.main.Sid
	newKey := func() (string, string) {
		code, k := e.as(e.main).post(acct+"/Keys.json", url.Values{"FriendlyName": {"stream"}})
		if code != 201 {
			t.Fatalf("key: %d %v", code, k)
		}
		return k["sid"].(string), k["secret"].(string)
	}
	update := func(sid string, f func(a *tonepay.Account)) {
		err := e.store.Update(context.Background(), func(tx tonepay.Tx) error {
			a, err := tx.FindAccount(context.Background(), sid)
			if err != nil {
				return err
			}
			f(a)
			return tx.UpdateAccount(context.Background(), a)
		})
		if err != nil {
			t.Fatal(err)
		}
	}

	t.Run("key deleted", func(t *testing.T) {
		sk, secret := newKey()
		lines := streamOf(t, e.srv.URL, e.main.Sid, sk, secret)
		if code, _ := e.as(e.main).do("DELETE", acct+"/Keys/"+sk+".json", nil); code != 204 {
			t.Fatalf("delete key: %d", code)
		}
		if end := endOf(t, lines); end["code"] != float64(20003) {
			t.Errorf("end event %v, want code 20003", end)
		}
	})
	t.Run("subaccount token rotated", func(t *testing.T) {
		lines := streamOf(t, e.srv.URL, e.sub.Sid, e.sub.Sid, e.sub.AuthToken.Reveal())
		update(e.sub.Sid, func(a *tonepay.Account) { a.AuthToken = tonepay.NewSecret("rotated") })
		if end := endOf(t, lines); end["code"] != float64(20003) {
			t.Errorf("end event %v, want code 20003", end)
		}
	})
	t.Run("watched subaccount suspended", func(t *testing.T) {
		lines := streamOf(t, e.srv.URL, e.sub.Sid, e.main.Sid, e.main.AuthToken.Reveal())
		update(e.sub.Sid, func(a *tonepay.Account) { a.Status = "suspended" })
		if end := endOf(t, lines); end["code"] != float64(20003) {
			t.Errorf("end event %v, want code 20003", end)
		}
	})
	t.Run("server closing", func(t *testing.T) {
		sk, secret := newKey()
		lines := streamOf(t, e.srv.URL, e.main.Sid, sk, secret)
		// Many re-checks pass while the key is good: the stream stays.
		time.Sleep(50 * time.Millisecond)
		select {
		case _, ok := <-lines:
			if !ok {
				t.Fatal("a stream with good credentials ended")
			}
		default:
		}
		close(closing)
		endOf(t, lines)
	})
}

// TestErrorsWrapper: Errors turns every plain-text error of what it wraps
// into Twilio's error JSON, refuses oversized headers, and leaves successes
// and event streams alone.
func TestErrorsWrapper(t *testing.T) {
	hub := events.New()
	var api http.Handler
	root := http.NewServeMux()
	root.Handle("/console/", http.StripPrefix("/console", console.Handler()))
	root.Handle("GET /plain500", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom: driver detail", 500) }))
	root.Handle("GET /slow", http.TimeoutHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }), time.Millisecond, "timeout"))
	root.Handle("GET /teapot", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(418) }))
	root.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { api.ServeHTTP(w, r) }))
	e := newEnvWith(t, twilioapi.Options{}, envOptions{hub: hub, wrap: func(h http.Handler) http.Handler {
		api = h
		return twilioapi.Errors(root)
	}})
	anon := client{e: e}
	tests := []struct {
		name, path string
		hdr        http.Header
		status     int
		code       int
	}{
		{"console file not found", "/console/nope", nil, 404, 20404},
		{"console path outside", "/console/../../etc/passwd", nil, 404, 20404},
		{"plain-text 500", "/plain500", nil, 500, 20500},
		{"timeout handler", "/slow", nil, 503, 20503},
		{"bare status", "/teapot", nil, 418, 20418},
		{"API's own JSON", "/2010-04-01/Nope.json", nil, 404, 20404},
		{"header too large", "/console/", http.Header{"X-Big": {strings.Repeat("a", twilioapi.MaxHeaderBytes)}}, 431, 20431},
		{"many headers too large", "/2010-04-01/Accounts.json", func() http.Header {
			h := http.Header{}
			for i := range 1000 {
				h.Set("X-H"+itoa(i), strings.Repeat("b", 40))
			}
			return h
		}(), 431, 20431},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := anon.raw("GET", tt.path, "", tt.hdr)
			checkError(t, res.StatusCode, body, tt.status, tt.code)
			if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type %q", ct)
			}
			if msg := body["message"].(string); strings.Contains(msg, "driver detail") {
				t.Errorf("message %q repeats the handler's text", msg)
			}
		})
	}
	t.Run("console page", func(t *testing.T) {
		res, err := http.Get(e.srv.URL + "/console/")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !strings.Contains(res.Header.Get("Content-Type"), "text/html") || !strings.Contains(string(b), "<") {
			t.Errorf("console: %d %q", res.StatusCode, res.Header.Get("Content-Type"))
		}
	})
	t.Run("headers under the limit", func(t *testing.T) {
		res, _ := e.as(e.main).raw("GET", "/2010-04-01/Accounts/"+e.main.Sid+"/Calls.json", "", http.Header{"X-Big": {strings.Repeat("a", 16<<10)}})
		if res.StatusCode != 200 {
			t.Errorf("got %d", res.StatusCode)
		}
	})
	t.Run("event stream flushes through", func(t *testing.T) {
		lines := streamOf(t, e.srv.URL, e.main.Sid, e.main.Sid, e.main.AuthToken.Reveal())
		select {
		case line := <-lines:
			if !strings.HasPrefix(line, "retry:") {
				t.Errorf("first line %q", line)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the stream's first event did not come through the wrapper")
		}
	})
}

// TestStreamOutlivesServerTimeouts: the server's read and write timeouts,
// meant for requests, do not cut an event stream.
func TestStreamOutlivesServerTimeouts(t *testing.T) {
	hub := events.New()
	// Timeouts long enough for the ordinary request below (a create, with
	// its fsync, on a loaded CI machine), short beside the stream's life.
	e := newEnvWith(t, twilioapi.Options{}, envOptions{hub: hub, timeouts: 500 * time.Millisecond})
	lines := streamOf(t, e.srv.URL, e.main.Sid, e.main.Sid, e.main.AuthToken.Reveal())
	time.Sleep(1500 * time.Millisecond) // well past both timeouts
	e.createPayment(e.call)
	deadline := time.After(5 * time.Second)
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatal("the stream ended")
			}
			if line == "event: session\n" {
				return
			}
		case <-deadline:
			t.Fatal("no session event")
		}
	}
}
