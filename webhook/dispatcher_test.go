package webhook_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/store/sqlite"
	"github.com/tonepay/tonepay/store/storetest"
	"github.com/tonepay/tonepay/webhook"
	twclient "github.com/twilio/twilio-go/client"
)

// delivery is one request as the receiver saw it.
type delivery struct {
	Path   string // path and query
	Sid    string // the form's Sid: which session
	Seq    string // the form's Seq: which callback of the session
	Token  string // I-Twilio-Idempotency-Token
	UA     string
	CType  string
	Form   url.Values
	Valid  bool // X-Twilio-Signature passed twilio-go's RequestValidator
	Status int  // what the receiver answered
}

// receiver is a real HTTP endpoint that checks every signature with twilio-go,
// as a Twilio user's application would, and records what came in and when.
type receiver struct {
	srv *httptest.Server

	mu       sync.Mutex
	token    string                        // the auth token signatures must verify with
	answer   func(delivery) int            // the status to answer; default 200
	delay    time.Duration                 // how long each request takes
	got      []delivery                    // in arrival order
	inFlight map[string]int                // by session
	overlap  bool                          // two callbacks of one session were in flight at once
	conc     int                           // requests in flight
	maxConc  int                           // the most ever in flight
	seen     func(delivery, *http.Request) // called on arrival, before answering
}

func newReceiver(t *testing.T, token string) *receiver {
	rc := &receiver{token: token, inFlight: map[string]int{}}
	rc.srv = httptest.NewServer(rc)
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	params := map[string]string{}
	for k := range r.PostForm {
		params[k] = r.PostForm.Get(k)
	}
	d := delivery{Path: r.URL.RequestURI(), Sid: r.PostForm.Get("Sid"), Seq: r.PostForm.Get("Seq"),
		Token: r.Header.Get("I-Twilio-Idempotency-Token"), UA: r.Header.Get("User-Agent"),
		CType: r.Header.Get("Content-Type"), Form: r.PostForm}

	rc.mu.Lock()
	// The URL as the receiver was called on it, as a Twilio user's app rebuilds it.
	v := twclient.NewRequestValidator(rc.token)
	d.Valid = v.Validate("http://"+r.Host+r.URL.RequestURI(), params, r.Header.Get("X-Twilio-Signature"))
	d.Status = http.StatusOK
	if rc.answer != nil {
		d.Status = rc.answer(d)
	}
	rc.inFlight[d.Sid]++
	rc.overlap = rc.overlap || rc.inFlight[d.Sid] > 1
	rc.conc++
	rc.maxConc = max(rc.maxConc, rc.conc)
	delay, seen := rc.delay, rc.seen
	rc.mu.Unlock()

	if seen != nil {
		seen(d, r)
	}
	time.Sleep(delay)

	rc.mu.Lock()
	rc.inFlight[d.Sid]--
	rc.conc--
	rc.got = append(rc.got, d)
	rc.mu.Unlock()
	if d.Status/100 == 3 {
		w.Header().Set("Location", "/followed")
	}
	w.WriteHeader(d.Status)
}

func (rc *receiver) set(fn func(rc *receiver)) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	fn(rc)
}

func (rc *receiver) deliveries() []delivery {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]delivery(nil), rc.got...)
}

type fixture struct {
	store   *sqlite.Store
	account *tonepay.Account
}

// newFixture opens a real SQLite store with one account. Callbacks need no
// session row: the schema has no foreign key from callbacks to sessions.
func newFixture(t *testing.T) *fixture {
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "w.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return &fixture{store: s, account: storetest.MustAccount(t, s, "", time.Now())}
}

// formCard is the card field every queued callback's form carries: a log or
// an attempt's error showing it has leaked the form. (Not "4242" alone: a
// receiver's port can hold that.)
const formCard = "xxxxxxxxxxxx4242"

// queue adds n callbacks for session sid to url, created at created, with
// Seq a, b, c…
func (f *fixture) queue(t *testing.T, sid, to string, n int, created time.Time) []*tonepay.Callback {
	t.Helper()
	var cbs []*tonepay.Callback
	for i := range n {
		cbs = append(cbs, &tonepay.Callback{Token: tonepay.RandomHex(16), AccountSid: f.account.Sid, Chain: sid, URL: to,
			Form:   url.Values{"Sid": {sid}, "Seq": {string(rune('a' + i))}, "PaymentCardNumber": {formCard}},
			Status: tonepay.CallbackPending, NextAttemptAt: created, DateCreated: created, DateUpdated: created})
	}
	if err := f.store.Update(context.Background(), func(tx tonepay.Tx) error { return tx.AddCallbacks(context.Background(), cbs...) }); err != nil {
		t.Fatal(err)
	}
	return cbs
}

func (f *fixture) callbacks(t *testing.T, session string) []*tonepay.Callback {
	t.Helper()
	cbs, err := f.store.FindCallbacks(context.Background(), session)
	if err != nil {
		t.Fatal(err)
	}
	return cbs
}

func (f *fixture) attempts(t *testing.T, id int64) []*tonepay.Attempt {
	t.Helper()
	as, err := f.store.FindAttempts(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return as
}

// run starts d and checks, when the test ends, that Run returns nil soon
// after its context is cancelled.
func run(t *testing.T, d *webhook.Dispatcher) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
}

// waitFor polls ok until it holds, failing the test after 10 s.
func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	waitWithin(t, 10*time.Second, what, ok)
}

// waitWithin is waitFor with its own bound.
func waitWithin(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// logBuffer collects log output safely across goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func debugLogger(l *logBuffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func TestDeliversAfterNotify(t *testing.T) {
	f := newFixture(t)
	rc := newReceiver(t, f.account.AuthToken.Reveal())
	d := &webhook.Dispatcher{Store: f.store, Poll: time.Hour} // only Notify wakes it
	run(t, d)

	// The query string is part of what is signed.
	to := rc.srv.URL + "/cb?tenant=7&x=a%20b"
	cb := f.queue(t, "PK1", to, 1, time.Now())[0]
	d.Notify()
	waitFor(t, "the delivery", func() bool { return len(rc.deliveries()) == 1 })
	got := rc.deliveries()[0]
	want := delivery{Path: "/cb?tenant=7&x=a%20b", Sid: "PK1", Seq: "a", Token: cb.Token, UA: "TwilioProxy/1.1 (tonepay)",
		CType: "application/x-www-form-urlencoded", Form: cb.Form, Valid: true, Status: 200}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("delivery (-want +got):\n%s", diff)
	}
	waitFor(t, "the delivery recorded", func() bool { return f.callbacks(t, "PK1")[0].Status == tonepay.CallbackDelivered })
	if c := f.callbacks(t, "PK1")[0]; c.Attempts != 1 {
		t.Errorf("Attempts = %d, want 1", c.Attempts)
	}
	as := f.attempts(t, cb.ID)
	if len(as) != 1 || as[0].N != 1 || as[0].StatusCode != 200 || as[0].Error != "" || as[0].At.IsZero() || as[0].Duration < 0 {
		t.Errorf("attempts: %+v", as)
	}

	// Run now sleeps for an hour. A callback written meanwhile waits for
	// Notify, and goes out as soon as it comes.
	time.Sleep(50 * time.Millisecond)
	f.queue(t, "PK2", to, 1, time.Now())
	time.Sleep(200 * time.Millisecond)
	if n := len(rc.deliveries()); n != 1 {
		t.Fatalf("%d deliveries before Notify, want 1: Run did not sleep", n)
	}
	start := time.Now()
	d.Notify()
	waitFor(t, "the delivery after Notify", func() bool { return len(rc.deliveries()) == 2 })
	if el := time.Since(start); el > time.Second {
		t.Errorf("delivered %v after Notify", el)
	}
}

func TestOrderPerSession(t *testing.T) {
	f := newFixture(t)
	rc := newReceiver(t, f.account.AuthToken.Reveal())
	rc.delay = 3 * time.Millisecond // lets deliveries overlap, if the dispatcher allowed it
	d := &webhook.Dispatcher{Store: f.store, Poll: time.Hour}
	run(t, d)
	sessions := []string{"PK1", "PK2", "PK3", "PK4"}
	for _, sid := range sessions {
		f.queue(t, sid, rc.srv.URL+"/cb?tenant=7", 5, time.Now())
	}
	d.Notify()
	waitFor(t, "20 deliveries", func() bool { return len(rc.deliveries()) == 20 })

	seqs := map[string]string{}
	tokens := map[string]bool{}
	for _, g := range rc.deliveries() {
		if !g.Valid {
			t.Errorf("invalid signature on %+v", g)
		}
		seqs[g.Sid] += g.Seq
		if tokens[g.Token] {
			t.Errorf("idempotency token %s used twice", g.Token)
		}
		tokens[g.Token] = true
	}
	for _, sid := range sessions {
		if seqs[sid] != "abcde" {
			t.Errorf("session %s delivered in order %q, want abcde", sid, seqs[sid])
		}
	}
	rc.set(func(rc *receiver) {
		if rc.overlap {
			t.Error("two callbacks of one session were in flight at once")
		}
		if rc.maxConc < 2 {
			t.Errorf("at most %d deliveries at once: sessions were not delivered in parallel", rc.maxConc)
		}
	})
	waitFor(t, "all recorded delivered", func() bool {
		for _, sid := range sessions {
			for _, cb := range f.callbacks(t, sid) {
				if cb.Status != tonepay.CallbackDelivered || cb.Attempts != 1 {
					return false
				}
			}
		}
		return true
	})
}

func TestWorkersBoundParallelism(t *testing.T) {
	f := newFixture(t)
	rc := newReceiver(t, f.account.AuthToken.Reveal())
	rc.delay = 20 * time.Millisecond
	d := &webhook.Dispatcher{Store: f.store, Workers: 2, Poll: time.Hour}
	run(t, d)
	for _, sid := range []string{"PK1", "PK2", "PK3", "PK4", "PK5", "PK6"} {
		f.queue(t, sid, rc.srv.URL+"/cb", 2, time.Now())
	}
	d.Notify()
	waitFor(t, "12 deliveries", func() bool { return len(rc.deliveries()) == 12 })
	rc.set(func(rc *receiver) {
		if rc.maxConc != 2 {
			t.Errorf("at most %d deliveries at once, want 2", rc.maxConc)
		}
	})
}

func TestRetriesWithBackoffOn500(t *testing.T) {
	f := newFixture(t)
	rc := newReceiver(t, f.account.AuthToken.Reveal())
	rc.answer = func(delivery) int { return 500 }
	var mu sync.Mutex
	var backoffs []int
	d := &webhook.Dispatcher{Store: f.store, Poll: time.Hour, // retries must come from the schedule, not the poll
		Backoff: func(n int) time.Duration {
			mu.Lock()
			defer mu.Unlock()
			backoffs = append(backoffs, n)
			return 20 * time.Millisecond
		}}
	run(t, d)
	cbs := f.queue(t, "PK1", rc.srv.URL+"/cb", 2, time.Now())
	d.Notify()
	waitFor(t, "three failed attempts", func() bool { return len(rc.deliveries()) >= 3 })
	rc.set(func(rc *receiver) { rc.answer = nil })
	waitFor(t, "both delivered", func() bool {
		s := f.callbacks(t, "PK1")
		return s[0].Status == tonepay.CallbackDelivered && s[1].Status == tonepay.CallbackDelivered
	})

	as := f.attempts(t, cbs[0].ID)
	if len(as) < 4 {
		t.Fatalf("%d attempts, want at least 4", len(as))
	}
	for i, a := range as {
		last := i == len(as)-1
		if a.N != i+1 || last && (a.StatusCode != 200 || a.Error != "") || !last && (a.StatusCode != 500 || a.Error != "HTTP 500") {
			t.Errorf("attempt %d: %+v", i+1, a)
		}
		if i > 0 && a.At.Sub(as[i-1].At) < 20*time.Millisecond {
			t.Errorf("attempt %d came %v after the one before, sooner than the backoff", a.N, a.At.Sub(as[i-1].At))
		}
	}
	if c := f.callbacks(t, "PK1")[0]; c.Attempts != len(as) {
		t.Errorf("Attempts = %d, want %d", c.Attempts, len(as))
	}
	mu.Lock()
	for i, n := range backoffs {
		if n != i+1 {
			t.Errorf("Backoff called with %v, want 1, 2, 3…", backoffs)
			break
		}
	}
	mu.Unlock()

	// Every try of the first callback carries its token, and the second
	// callback never went out before the first was delivered.
	ds := rc.deliveries()
	for i, g := range ds {
		first := i < len(as)
		if first && (g.Seq != "a" || g.Token != cbs[0].Token) || !first && (g.Seq != "b" || g.Token != cbs[1].Token) || !g.Valid {
			t.Fatalf("delivery %d: %+v (all: %+v)", i, g, ds)
		}
	}
}

func TestNon2xxAndRedirectsAreFailures(t *testing.T) {
	f := newFixture(t)
	rc := newReceiver(t, f.account.AuthToken.Reveal())
	rc.answer = func(g delivery) int {
		switch g.Path {
		case "/redirect":
			return http.StatusFound
		case "/accepted":
			return http.StatusAccepted
		}
		return http.StatusNotFound
	}
	d := &webhook.Dispatcher{Store: f.store, Poll: time.Hour, Backoff: func(int) time.Duration { return time.Hour }}
	run(t, d)
	redirect := f.queue(t, "PK1", rc.srv.URL+"/redirect", 1, time.Now())[0]
	notFound := f.queue(t, "PK2", rc.srv.URL+"/missing", 1, time.Now())[0]
	accepted := f.queue(t, "PK3", rc.srv.URL+"/accepted", 1, time.Now())[0]
	d.Notify()
	waitFor(t, "three attempts", func() bool {
		return len(f.attempts(t, redirect.ID))+len(f.attempts(t, notFound.ID))+len(f.attempts(t, accepted.ID)) == 3
	})
	for _, c := range []struct {
		cb     *tonepay.Callback
		sid    string
		code   int
		err    string
		status tonepay.CallbackStatus
	}{
		{redirect, "PK1", 302, "HTTP 302", tonepay.CallbackPending},
		{notFound, "PK2", 404, "HTTP 404", tonepay.CallbackPending},
		{accepted, "PK3", 202, "", tonepay.CallbackDelivered},
	} {
		a := f.attempts(t, c.cb.ID)[0]
		if a.StatusCode != c.code || a.Error != c.err {
			t.Errorf("%s: attempt %+v, want status %d, error %q", c.sid, a, c.code, c.err)
		}
		if got := f.callbacks(t, c.sid)[0]; got.Status != c.status {
			t.Errorf("%s: status %s, want %s", c.sid, got.Status, c.status)
		}
	}
	// The redirect was not followed: nothing went to its Location.
	if n := len(rc.deliveries()); n != 3 {
		t.Errorf("%d requests reached the receiver, want 3", n)
	}
}

func TestRetriesOnConnectionRefused(t *testing.T) {
	f := newFixture(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	d := &webhook.Dispatcher{Store: f.store, Poll: time.Hour, Backoff: func(int) time.Duration { return 20 * time.Millisecond }}
	run(t, d)
	cb := f.queue(t, "PK1", "http://"+addr+"/cb?tenant=7", 1, time.Now())[0]
	d.Notify()
	waitFor(t, "two refused attempts", func() bool { return len(f.attempts(t, cb.ID)) >= 2 })
	for _, a := range f.attempts(t, cb.ID) {
		if a.StatusCode != 0 || !strings.Contains(a.Error, "connection refused") || strings.Contains(a.Error, formCard) {
			t.Errorf("attempt %+v, want status 0 and connection refused", a)
		}
	}
	if c := f.callbacks(t, "PK1")[0]; c.Status != tonepay.CallbackPending || c.Attempts < 2 {
		t.Errorf("callback after refused attempts: %+v", c)
	}

	// The receiver comes up at that address: the next retry gets through.
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen on %s again: %v", addr, err)
	}
	rc := &receiver{token: f.account.AuthToken.Reveal(), inFlight: map[string]int{}}
	rc.srv = httptest.NewUnstartedServer(rc)
	rc.srv.Listener.Close()
	rc.srv.Listener = ln
	rc.srv.Start()
	defer rc.srv.Close()
	waitFor(t, "delivery once the receiver is up", func() bool { return f.callbacks(t, "PK1")[0].Status == tonepay.CallbackDelivered })
	if g := rc.deliveries(); len(g) != 1 || !g[0].Valid || g[0].Token != cb.Token {
		t.Errorf("deliveries: %+v", g)
	}
}

// TestGivesUp pins the clock: attempts are stamped with it, retries are
// scheduled from it, and a callback created more than GiveUp (default 24 h)
// before it fails for good on its next failed attempt.
func TestGivesUp(t *testing.T) {
	f := newFixture(t)
	rc := newReceiver(t, f.account.AuthToken.Reveal())
	rc.answer = func(delivery) int { return 503 }
	now := time.Now().UTC().Truncate(time.Millisecond)
	var logs logBuffer
	d := &webhook.Dispatcher{Store: f.store, Now: func() time.Time { return now }, Logger: debugLogger(&logs),
		Backoff: func(int) time.Duration { return time.Hour }}
	run(t, d)
	old := f.queue(t, "PK1", rc.srv.URL+"/cb", 2, now.Add(-24*time.Hour-time.Second))
	young := f.queue(t, "PK2", rc.srv.URL+"/cb", 1, now.Add(-23*time.Hour))[0]
	d.Notify()
	waitFor(t, "the old callback failed for good", func() bool { return f.callbacks(t, "PK1")[0].Status == tonepay.CallbackFailed })
	waitFor(t, "the young callback's attempt", func() bool { return len(f.attempts(t, young.ID)) == 1 })

	a := f.attempts(t, old[0].ID)
	want := []*tonepay.Attempt{{CallbackID: old[0].ID, N: 1, At: now, StatusCode: 503, Error: "HTTP 503"}}
	if diff := cmp.Diff(want, a); diff != "" {
		t.Errorf("old callback's attempts (-want +got):\n%s", diff)
	}
	if c := f.callbacks(t, "PK1")[0]; c.Attempts != 1 {
		t.Errorf("Attempts = %d, want 1", c.Attempts)
	}
	// A failed callback no longer holds its session back.
	waitFor(t, "the session's next callback tried", func() bool { return len(f.attempts(t, old[1].ID)) == 1 })

	c := f.callbacks(t, "PK2")[0]
	if c.Status != tonepay.CallbackPending || c.Attempts != 1 || !c.NextAttemptAt.Equal(now.Add(time.Hour)) {
		t.Errorf("young callback: %+v, want pending, 1 attempt, next at %v", c, now.Add(time.Hour))
	}

	out := logs.String()
	if !strings.Contains(out, "level=WARN") || !strings.Contains(out, "session=PK1") {
		t.Errorf("no warning for the failed callback in:\n%s", out)
	}
	if strings.Contains(out, formCard) || strings.Contains(out, "PaymentCardNumber") {
		t.Errorf("form values in the log:\n%s", out)
	}
	if n := strings.Count(out, "level=DEBUG"); n < 1 {
		t.Errorf("no debug line per attempt in:\n%s", out)
	}
}

func TestSignsWithCurrentAuthToken(t *testing.T) {
	f := newFixture(t)
	rc := newReceiver(t, f.account.AuthToken.Reveal())
	d := &webhook.Dispatcher{Store: f.store, Poll: time.Hour}
	run(t, d)
	f.queue(t, "PK1", rc.srv.URL+"/cb", 1, time.Now())
	d.Notify()
	waitFor(t, "the first delivery", func() bool { return len(rc.deliveries()) == 1 })

	// The account's token changes: later callbacks are signed with the new one.
	f.account.AuthToken = tonepay.NewSecret("rotatedtoken42")
	if err := f.store.Update(context.Background(), func(tx tonepay.Tx) error {
		return tx.UpdateAccount(context.Background(), f.account)
	}); err != nil {
		t.Fatal(err)
	}
	rc.set(func(rc *receiver) { rc.token = "rotatedtoken42" })
	f.queue(t, "PK2", rc.srv.URL+"/cb", 1, time.Now())
	d.Notify()
	waitFor(t, "the second delivery", func() bool { return len(rc.deliveries()) == 2 })
	for _, g := range rc.deliveries() {
		if !g.Valid {
			t.Errorf("invalid signature on %+v", g)
		}
	}
}

func TestPollFindsCallbacksWithoutNotify(t *testing.T) {
	f := newFixture(t)
	rc := newReceiver(t, f.account.AuthToken.Reveal())
	d := &webhook.Dispatcher{Store: f.store, Poll: 50 * time.Millisecond}
	run(t, d)
	time.Sleep(20 * time.Millisecond) // Run is asleep
	// Written by "another process": no Notify.
	f.queue(t, "PK9", rc.srv.URL+"/cb", 1, time.Now())
	waitFor(t, "delivery by polling", func() bool { return len(rc.deliveries()) == 1 })
}

// TestStoreErrors runs the dispatcher on a closed store: every read fails.
// Run logs and pauses, without panicking or spinning, and still stops.
func TestStoreErrors(t *testing.T) {
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "w.db"))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	var logs logBuffer
	d := &webhook.Dispatcher{Store: s, Poll: time.Millisecond, Logger: debugLogger(&logs)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- d.Run(ctx) }()
	for range 100 {
		d.Notify() // wake-ups do not cut the pause short
	}
	time.Sleep(time.Second)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	out := logs.String()
	if n := strings.Count(out, "level=ERROR"); n < 1 || n > 6 {
		t.Errorf("%d error lines in 1 s, want a few:\n%s", n, out)
	}
}

func TestShutdownFinishesInFlight(t *testing.T) {
	f := newFixture(t)
	rc := newReceiver(t, f.account.AuthToken.Reveal())
	arrived, release := make(chan struct{}), make(chan struct{})
	rc.seen = func(delivery, *http.Request) {
		close(arrived)
		<-release
	}
	d := &webhook.Dispatcher{Store: f.store}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- d.Run(ctx) }()
	f.queue(t, "PK1", rc.srv.URL+"/cb", 1, time.Now())
	d.Notify()
	<-arrived // the POST is in flight
	cancel()
	select {
	case <-done:
		t.Fatal("Run returned with a delivery in flight")
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return once the delivery finished")
	}
	if s := f.callbacks(t, "PK1")[0]; s.Status != tonepay.CallbackDelivered {
		t.Errorf("in-flight delivery not recorded: %+v", s)
	}
}

func TestDefaultBackoff(t *testing.T) {
	prev := time.Duration(0)
	for n := 0; n <= 40; n++ {
		b := webhook.DefaultBackoff(n)
		if b <= 0 || b > 10*time.Minute {
			t.Errorf("DefaultBackoff(%d) = %v, want within (0, 10m]", n, b)
		}
		if n >= 2 && n <= 10 && b < prev/2 {
			t.Errorf("DefaultBackoff(%d) = %v, shrank from %v", n, b, prev)
		}
		prev = b
	}
	if b := webhook.DefaultBackoff(1); b < 800*time.Millisecond || b > time.Second {
		t.Errorf("DefaultBackoff(1) = %v, want about 1 s", b)
	}
	if b := webhook.DefaultBackoff(30); b < 8*time.Minute {
		t.Errorf("DefaultBackoff(30) = %v, want near the 10 min cap", b)
	}
}

// handOver queues n callbacks of session sid claimed for lease, as the session
// service does for its Courier, and returns those the store kept claimed.
func (f *fixture) handOver(t *testing.T, sid, to string, n int, lease time.Duration) []*tonepay.Callback {
	t.Helper()
	now := time.Now()
	var cbs []*tonepay.Callback
	for i := range n {
		cbs = append(cbs, &tonepay.Callback{Token: tonepay.RandomHex(16), AccountSid: f.account.Sid, Chain: sid, URL: to,
			Form:   url.Values{"Sid": {sid}, "Seq": {string(rune('a' + i))}},
			Status: tonepay.CallbackPending, NextAttemptAt: now, ClaimedUntil: now.Add(lease), DateCreated: now, DateUpdated: now})
	}
	if err := f.store.Update(context.Background(), func(tx tonepay.Tx) error { return tx.AddCallbacks(context.Background(), cbs...) }); err != nil {
		t.Fatal(err)
	}
	var kept []*tonepay.Callback
	for _, cb := range cbs {
		if !cb.ClaimedUntil.IsZero() {
			kept = append(kept, cb)
		}
	}
	return kept
}

// TestDeliverHandsOver: callbacks handed over go out in order per session,
// sessions in parallel, with no claim and no wake-up.
func TestDeliverHandsOver(t *testing.T) {
	f := newFixture(t)
	rc := newReceiver(t, f.account.AuthToken.Reveal())
	rc.delay = 3 * time.Millisecond
	d := &webhook.Dispatcher{Store: f.store, Poll: time.Hour}
	run(t, d)
	var all []*tonepay.Callback
	for _, sid := range []string{"PK1", "PK2", "PK3"} {
		all = append(all, f.handOver(t, sid, rc.srv.URL+"/cb", 4, d.HandOver())...)
	}
	if len(all) != 12 {
		t.Fatalf("the store kept %d of 12 leases", len(all))
	}
	d.Committed(all)
	waitFor(t, "12 deliveries", func() bool { return len(rc.deliveries()) == 12 })
	seqs := map[string]string{}
	for _, g := range rc.deliveries() {
		if !g.Valid {
			t.Errorf("invalid signature on %+v", g)
		}
		seqs[g.Sid] += g.Seq
	}
	if want := (map[string]string{"PK1": "abcd", "PK2": "abcd", "PK3": "abcd"}); !cmp.Equal(want, seqs) {
		t.Errorf("order per session = %v, want %v", seqs, want)
	}
	rc.set(func(rc *receiver) {
		if rc.overlap {
			t.Error("two callbacks of one session were in flight at once")
		}
	})
	waitFor(t, "all recorded delivered", func() bool {
		for _, cb := range f.callbacks(t, "PK3") {
			if cb.Status != tonepay.CallbackDelivered || cb.Attempts != 1 || !cb.ClaimedUntil.IsZero() {
				return false
			}
		}
		return true
	})
}

// TestDeliverStopsAtFailure: a handed-over chain stops at its first failure;
// the rest go out through the claims after the retry, still in order.
func TestDeliverStopsAtFailure(t *testing.T) {
	f := newFixture(t)
	rc := newReceiver(t, f.account.AuthToken.Reveal())
	failed := false
	rc.answer = func(g delivery) int {
		if g.Seq == "b" && !failed {
			failed = true
			return 503
		}
		return 200
	}
	d := &webhook.Dispatcher{Store: f.store, Poll: time.Hour, Backoff: func(int) time.Duration { return 50 * time.Millisecond }}
	run(t, d)
	d.Committed(f.handOver(t, "PK1", rc.srv.URL+"/cb", 4, d.HandOver()))
	waitFor(t, "5 deliveries", func() bool { return len(rc.deliveries()) == 5 })
	var seq string
	for _, g := range rc.deliveries() {
		seq += g.Seq
	}
	if seq != "abbcd" {
		t.Errorf("arrival order %q, want abbcd", seq)
	}
}

// TestDeliverLeavesExpiredLeases: a callback whose lease has (nearly) run
// out is not attempted by the hand-over: the claim after the lease sends it.
func TestDeliverLeavesExpiredLeases(t *testing.T) {
	f := newFixture(t)
	rc := newReceiver(t, f.account.AuthToken.Reveal())
	d := &webhook.Dispatcher{Store: f.store, Poll: 50 * time.Millisecond}
	cbs := f.handOver(t, "PK1", rc.srv.URL+"/cb", 1, 500*time.Millisecond)
	d.Committed(cbs)
	time.Sleep(200 * time.Millisecond)
	if n := len(rc.deliveries()); n != 0 {
		t.Fatalf("%d deliveries with less than a second of lease left", n)
	}
	run(t, d)
	waitFor(t, "the claim after the lease", func() bool { return len(rc.deliveries()) == 1 })
}

// slowRecords is the real store with every attempt record taking a while to
// commit: the window in which a crash would lose a delivery's record.
type slowRecords struct {
	*sqlite.Store
	delay time.Duration
}

func (s slowRecords) RecordAttempt(ctx context.Context, cb *tonepay.Callback, a *tonepay.Attempt) error {
	time.Sleep(s.delay)
	return s.Store.RecordAttempt(ctx, cb, a)
}

// TestDeliverWaitsForRecords: a handed-over chain sends a session's next
// callback only once the previous one's delivery is on record. Otherwise a
// crash between the two would make the restarted outbox send the previous
// one again after the next: the receiver would see a, b, a, b.
func TestDeliverWaitsForRecords(t *testing.T) {
	f := newFixture(t)
	rc := newReceiver(t, f.account.AuthToken.Reveal())
	var early []string
	rc.seen = func(g delivery, _ *http.Request) {
		for _, cb := range f.callbacks(t, g.Sid) {
			if cb.Form.Get("Seq") < g.Seq && cb.Status != tonepay.CallbackDelivered {
				early = append(early, g.Seq+" before "+cb.Form.Get("Seq")+" was recorded")
			}
		}
	}
	d := &webhook.Dispatcher{Store: slowRecords{f.store, 20 * time.Millisecond}, Poll: time.Hour}
	run(t, d)
	d.Committed(f.handOver(t, "PK1", rc.srv.URL+"/cb", 4, d.HandOver()))
	waitFor(t, "4 deliveries", func() bool { return len(rc.deliveries()) == 4 })
	rc.set(func(*receiver) {
		if len(early) > 0 {
			t.Errorf("sent ahead of the records: %v", early)
		}
	})
}

// TestLogsFailuresRateLimited: a receiver failing every callback is logged at
// WARN once per host per LogEvery, with the count held back, and never with
// the form or the URL's path, query or credentials.
func TestLogsFailuresRateLimited(t *testing.T) {
	f := newFixture(t)
	rc := newReceiver(t, f.account.AuthToken.Reveal())
	rc.answer = func(delivery) int { return 500 }
	var mu sync.Mutex
	now := time.Now().UTC()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	var logs logBuffer
	d := &webhook.Dispatcher{Store: f.store, Now: clock, Logger: slog.New(slog.NewTextHandler(&logs, nil)), // info level, as served
		Backoff: func(int) time.Duration { return time.Hour }, HostFailures: 100}
	run(t, d)
	secretURL := strings.Replace(rc.srv.URL, "http://", "http://user:pw@", 1) + "/pay/hidden?key=topsecret"
	var first []*tonepay.Callback
	for i := range 5 {
		first = append(first, f.queue(t, fmt.Sprintf("PKa%d", i), secretURL, 1, clock())...)
	}
	d.Notify()
	waitFor(t, "five first attempts", func() bool {
		for _, cb := range first {
			if len(f.attempts(t, cb.ID)) == 0 {
				return false
			}
		}
		return true
	})
	out := logs.String()
	if n := strings.Count(out, "callback failed; retrying"); n != 1 {
		t.Errorf("%d first-failure lines for one host in a minute, want 1:\n%s", n, out)
	}
	mu.Lock()
	now = now.Add(time.Minute)
	mu.Unlock()
	late := f.queue(t, "PKb", secretURL, 1, clock())[0]
	d.Notify()
	waitFor(t, "the later attempt", func() bool { return len(f.attempts(t, late.ID)) == 1 })
	waitFor(t, "the line a minute later", func() bool { return strings.Count(logs.String(), "callback failed; retrying") == 2 })
	out = logs.String()
	if !strings.Contains(out, "level=WARN") || !strings.Contains(out, "similar_not_logged=4") || !strings.Contains(out, "host=127.0.0.1:") {
		t.Errorf("want WARN lines naming the host and the 4 held back:\n%s", out)
	}
	for _, leak := range []string{"topsecret", "hidden", "pw@", formCard, "PaymentCardNumber"} {
		if strings.Contains(out, leak) {
			t.Errorf("the log shows %q:\n%s", leak, out)
		}
	}
}

// TestDeliversGET: a GET callback (StatusCallbackMethod=GET) carries its
// form in the query, after the query already there, and its signature
// covers that final URL with no parameters, as Twilio signs a GET.
func TestDeliversGET(t *testing.T) {
	f := newFixture(t)
	rc := newReceiver(t, f.account.AuthToken.Reveal())
	var method string
	rc.set(func(rc *receiver) {
		rc.seen = func(_ delivery, r *http.Request) { rc.set(func(*receiver) { method = r.Method }) }
	})
	d := &webhook.Dispatcher{Store: f.store, Poll: 10 * time.Millisecond}
	run(t, d)

	now := time.Now()
	form := url.Values{"CallSid": {"CA1"}, "CallStatus": {"completed"}, "ToState": {""}}
	cb := &tonepay.Callback{Token: tonepay.RandomHex(16), AccountSid: f.account.Sid, Chain: "CA1", URL: rc.srv.URL + "/cb?tenant=7&x=a%20b#rc=0",
		Method: "GET", Form: form, Status: tonepay.CallbackPending, NextAttemptAt: now, DateCreated: now, DateUpdated: now}
	if err := f.store.Update(context.Background(), func(tx tonepay.Tx) error { return tx.AddCallbacks(context.Background(), cb) }); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the delivery recorded", func() bool { return f.callbacks(t, "CA1")[0].Status == tonepay.CallbackDelivered })
	got := rc.deliveries()
	if len(got) != 1 {
		t.Fatalf("%d deliveries, want 1", len(got))
	}
	var m string
	rc.set(func(*receiver) { m = method })
	if want := "/cb?tenant=7&x=a%20b&" + form.Encode(); m != "GET" || got[0].Path != want || !got[0].Valid || got[0].CType != "" || len(got[0].Form) != 0 || got[0].Token != cb.Token {
		t.Errorf("got %s %+v, want GET %s with a valid signature and no body", m, got[0], want)
	}
}
