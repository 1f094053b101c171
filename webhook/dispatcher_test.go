package webhook_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/store/sqlite"
	"github.com/tonepay/tonepay/store/storetest"
	"github.com/tonepay/tonepay/webhook"
	twclient "github.com/twilio/twilio-go/client"
)

// receiver records deliveries and checks each signature with twilio-go.
type receiver struct {
	srv    *httptest.Server
	token  string
	status atomic.Int32
	mu     sync.Mutex
	got    []got
}

type got struct {
	sid, seq, token string
	valid           bool
}

func newReceiver(t *testing.T, token string) *receiver {
	rc := &receiver{token: token}
	rc.status.Store(200)
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		params := map[string]string{}
		for k := range r.PostForm {
			params[k] = r.PostForm.Get(k)
		}
		v := twclient.NewRequestValidator(rc.token)
		rc.mu.Lock()
		rc.got = append(rc.got, got{r.PostForm.Get("Sid"), r.PostForm.Get("Seq"), r.Header.Get("I-Twilio-Idempotency-Token"),
			v.Validate("http://"+r.Host+r.URL.RequestURI(), params, r.Header.Get("X-Twilio-Signature"))})
		rc.mu.Unlock()
		w.WriteHeader(int(rc.status.Load()))
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) deliveries() []got {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]got(nil), rc.got...)
}

type fixture struct {
	store   *sqlite.Store
	account *tonepay.Account
	call    *tonepay.Call
}

func newFixture(t *testing.T) *fixture {
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "w.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	a := storetest.MustAccount(t, s, "", time.Now())
	return &fixture{store: s, account: a, call: storetest.MustCall(t, s, a.Sid, time.Now())}
}

// queue adds n callbacks for session sid to url, numbered by Seq.
func (f *fixture) queue(t *testing.T, sid, to string, n int) []*tonepay.Callback {
	t.Helper()
	now := time.Now().UTC()
	var cbs []*tonepay.Callback
	for i := range n {
		cbs = append(cbs, &tonepay.Callback{Token: tonepay.RandomHex(16), AccountSid: f.account.Sid, SessionSid: sid, URL: to,
			Form:   url.Values{"Sid": {sid}, "Seq": {string(rune('a' + i))}},
			Status: tonepay.CallbackPending, NextAttemptAt: now, DateCreated: now, DateUpdated: now})
	}
	if err := f.store.Update(context.Background(), func(tx tonepay.Tx) error { return tx.AddCallbacks(context.Background(), cbs...) }); err != nil {
		t.Fatal(err)
	}
	return cbs
}

// run starts d and stops it when the test ends.
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

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func status(t *testing.T, s *sqlite.Store, session string) []*tonepay.Callback {
	cbs, err := s.FindCallbacks(context.Background(), session)
	if err != nil {
		t.Fatal(err)
	}
	return cbs
}

func TestDeliversInOrderPerSession(t *testing.T) {
	f := newFixture(t)
	rc := newReceiver(t, f.account.AuthToken.Reveal())
	d := &webhook.Dispatcher{Store: f.store, Poll: time.Hour} // only Notify wakes it
	run(t, d)
	for _, sid := range []string{"PK1", "PK2", "PK3"} {
		f.queue(t, sid, rc.srv.URL+"/cb?tenant=7", 5)
	}
	d.Notify()
	waitFor(t, "15 deliveries", func() bool { return len(rc.deliveries()) == 15 })
	last := map[string]string{}
	tokens := map[string]bool{}
	for _, g := range rc.deliveries() {
		if !g.valid {
			t.Errorf("invalid signature on %+v", g)
		}
		if g.seq <= last[g.sid] {
			t.Errorf("session %s: %s after %s", g.sid, g.seq, last[g.sid])
		}
		last[g.sid] = g.seq
		if tokens[g.token] {
			t.Errorf("idempotency token %s used twice", g.token)
		}
		tokens[g.token] = true
	}
	waitFor(t, "all recorded delivered", func() bool {
		for _, cb := range status(t, f.store, "PK2") {
			if cb.Status != tonepay.CallbackDelivered || cb.Attempts != 1 {
				return false
			}
		}
		return true
	})
}

func TestRetriesWithBackoff(t *testing.T) {
	f := newFixture(t)
	rc := newReceiver(t, f.account.AuthToken.Reveal())
	rc.status.Store(500)
	d := &webhook.Dispatcher{Store: f.store, Backoff: func(int) time.Duration { return 20 * time.Millisecond }}
	run(t, d)
	cbs := f.queue(t, "PK1", rc.srv.URL+"/cb", 2)
	d.Notify()
	waitFor(t, "three failed attempts", func() bool { return len(rc.deliveries()) >= 3 })
	rc.status.Store(204)
	waitFor(t, "both delivered", func() bool {
		s := status(t, f.store, "PK1")
		return s[0].Status == tonepay.CallbackDelivered && s[1].Status == tonepay.CallbackDelivered
	})
	attempts, err := f.store.FindAttempts(context.Background(), cbs[0].ID)
	if err != nil || len(attempts) < 4 {
		t.Fatalf("attempts: %d %v", len(attempts), err)
	}
	for i, a := range attempts {
		last := i == len(attempts)-1
		if last && (a.StatusCode != 204 || a.Error != "") || !last && (a.StatusCode != 500 || a.Error != "HTTP 500") {
			t.Errorf("attempt %d: %+v", a.N, a)
		}
	}
	// The second callback never went out before the first was delivered.
	for _, g := range rc.deliveries()[:len(attempts)] {
		if g.seq != "a" {
			t.Fatalf("callback b delivered while a was failing: %+v", rc.deliveries())
		}
	}
}

func TestConnectionRefusedAndGiveUp(t *testing.T) {
	f := newFixture(t)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "http://" + ln.Addr().String() + "/cb"
	ln.Close() // nothing listens there now
	d := &webhook.Dispatcher{Store: f.store, Backoff: func(int) time.Duration { return 10 * time.Millisecond }, GiveUp: 100 * time.Millisecond}
	run(t, d)
	cbs := f.queue(t, "PK1", dead, 1)
	d.Notify()
	waitFor(t, "give up", func() bool { return status(t, f.store, "PK1")[0].Status == tonepay.CallbackFailed })
	attempts, _ := f.store.FindAttempts(context.Background(), cbs[0].ID)
	if len(attempts) < 2 || attempts[0].StatusCode != 0 || attempts[0].Error == "" {
		t.Errorf("attempts: %+v", attempts)
	}
}

func TestPollFindsCallbacksWithoutNotify(t *testing.T) {
	f := newFixture(t)
	rc := newReceiver(t, f.account.AuthToken.Reveal())
	d := &webhook.Dispatcher{Store: f.store, Poll: 50 * time.Millisecond}
	run(t, d)
	time.Sleep(20 * time.Millisecond) // Run is asleep
	// Written by "another process": no Notify.
	f.queue(t, "PK9", rc.srv.URL+"/cb", 1)
	waitFor(t, "delivery by polling", func() bool { return len(rc.deliveries()) == 1 })
}

func TestShutdownFinishesInFlight(t *testing.T) {
	f := newFixture(t)
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	defer slow.Close()
	d := &webhook.Dispatcher{Store: f.store}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- d.Run(ctx) }()
	f.queue(t, "PK1", slow.URL, 1)
	d.Notify()
	time.Sleep(100 * time.Millisecond) // the POST is in flight
	cancel()
	select {
	case <-done:
		t.Fatal("Run returned with a delivery in flight")
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if s := status(t, f.store, "PK1")[0]; s.Status != tonepay.CallbackDelivered {
		t.Errorf("in-flight delivery not recorded: %+v", s)
	}
}
