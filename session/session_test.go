package session_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/connector/sandbox"
	"github.com/tonepay/tonepay/seal"
	"github.com/tonepay/tonepay/session"
	"github.com/tonepay/tonepay/store/sqlite"
	"github.com/tonepay/tonepay/store/storetest"
)

type nop struct{}

func (nop) HandOver() time.Duration       { return 0 }
func (nop) Committed([]*tonepay.Callback) {}

// clock is a settable time.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }
func newClock() *clock               { return &clock{t: time.Date(2026, 11, 23, 1, 0, 0, 0, time.UTC)} }

// recorder wraps a connector, counting calls per transaction id; fail makes
// the next calls fail as a crash or a timeout would.
type recorder struct {
	tonepay.Connector
	mu    sync.Mutex
	calls map[string]int
	fail  bool
	gate  chan struct{} // when set, Pay waits on it
}

func (r *recorder) Pay(ctx context.Context, req *tonepay.PayRequest) (*tonepay.PayResult, error) {
	if r.gate != nil {
		<-r.gate
	}
	r.mu.Lock()
	r.calls[req.TransactionID]++
	fail := r.fail
	r.mu.Unlock()
	if fail {
		return nil, errors.New("connection reset")
	}
	return r.Connector.Pay(ctx, req)
}

func (r *recorder) snapshot() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]int{}
	for k, v := range r.calls {
		out[k] = v
	}
	return out
}

type fixture struct {
	store *sqlite.Store
	path  string
	clock *clock
	conn  *recorder
	box   *seal.Box
	acct  *tonepay.Account
	call  *tonepay.Call
}

func newFixture(t testing.TB) *fixture {
	path := filepath.Join(t.TempDir(), "s.db")
	store, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	box, _ := seal.New(bytes.Repeat([]byte{1}, 32))
	f := &fixture{store: store, path: path, clock: newClock(), box: box,
		conn: &recorder{Connector: sandbox.New(), calls: map[string]int{}}}
	f.acct = storetest.MustAccount(t, store, "", f.clock.Now())
	f.call = storetest.MustCall(t, store, f.acct.Sid, f.clock.Now())
	return f
}

// service is one tonepay process's session service over the shared store.
func (f *fixture) service() *session.Service {
	svc := session.New(f.store, nop{}, f.box, tonepay.Connectors{"Default": f.conn}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	svc.Now = f.clock.Now
	svc.Sleep = func(context.Context, time.Duration) error { return nil }
	return svc
}

// capturedSession creates a charging session and types a whole card into it.
func (f *fixture) capturedSession(t *testing.T, svc *session.Service) string {
	t.Helper()
	ctx := context.Background()
	p := tonepay.Params{PaymentMethod: tonepay.CreditCard, Currency: "USD", PaymentConnector: "Default",
		SecurityCode: true, Timeout: 5, ValidCardTypes: []string{"visa"}, Input: "dtmf"}
	ans, err := svc.CreateSession(ctx, &tonepay.CreateRequest{AccountSid: f.acct.Sid, CallSid: f.call.Sid, Params: p,
		ChargeAmount: "10.00", StatusCallback: "https://example.com/cb"})
	if err != nil {
		t.Fatal(err)
	}
	sid := ans.Sid
	for _, fk := range []struct {
		field tonepay.Field
		keys  string
	}{{tonepay.FieldCardNumber, "4242424242424242#"}, {tonepay.FieldExpiration, "1230"}, {tonepay.FieldSecurityCode, "123"}} {
		field, keys := fk.field, fk.keys
		if _, err := svc.UpdateSession(ctx, &tonepay.UpdateRequest{AccountSid: f.acct.Sid, CallSid: f.call.Sid, Sid: sid, Capture: field}); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Press(ctx, f.acct.Sid, f.call.Sid, keys); err != nil {
			t.Fatal(err)
		}
	}
	return sid
}

func (f *fixture) complete(svc *session.Service, sid, key string) error {
	_, err := svc.UpdateSession(context.Background(), &tonepay.UpdateRequest{AccountSid: f.acct.Sid, CallSid: f.call.Sid, Sid: sid,
		Status: "complete", IdempotencyKey: key})
	return err
}

func (f *fixture) session(t *testing.T, sid string) *tonepay.Session {
	t.Helper()
	s, err := f.store.FindSession(context.Background(), sid)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func waitEnded(t *testing.T, f *fixture, sid string) *tonepay.Session {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if s := f.session(t, sid); s.Status == tonepay.SessionEnded {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatal("session did not end")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestConcurrentComplete: many Status=complete at once (from several
// processes) reach the connector once.
func TestConcurrentComplete(t *testing.T) {
	f := newFixture(t)
	a, b := f.service(), f.service()
	sid := f.capturedSession(t, a)
	f.conn.gate = make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for i := range 10 {
		svc := a
		if i%2 == 1 {
			svc = b
		}
		wg.Go(func() { errs <- f.complete(svc, sid, "k"+string(rune('0'+i))) })
	}
	wg.Wait()
	close(errs)
	ok := 0
	for err := range errs {
		if err == nil {
			ok++
		} else if tonepay.ErrorCode(err) != tonepay.CodeInvalidOperation {
			t.Errorf("unexpected error %v", err)
		}
	}
	close(f.conn.gate)
	s := waitEnded(t, f, sid)
	a.Wait()
	b.Wait()
	if ok != 1 || s.State.Result != tonepay.ResultSuccess {
		t.Errorf("%d completes accepted, result %q; want 1 and success", ok, s.State.Result)
	}
	if calls := f.conn.snapshot(); len(calls) != 1 || calls[s.State.TransactionID] != 1 {
		t.Errorf("connector calls %v, want one call for %s", calls, s.State.TransactionID)
	}
}

// TestCrashBetweenChargingAndCharged: the process that started the charge
// dies before it records the answer. Another process's sweeper retries when
// the lease ends, with the same transaction id, and the session ends once.
func TestCrashBetweenChargingAndCharged(t *testing.T) {
	f := newFixture(t)
	crashed := f.service()
	sid := f.capturedSession(t, crashed)
	f.conn.fail = true // the first attempt's answer is lost
	if err := f.complete(crashed, sid, "k"); err != nil {
		t.Fatal(err)
	}
	crashed.Wait()
	s := f.session(t, sid)
	if s.Status != tonepay.SessionProcessing || len(s.Sealed) == 0 {
		t.Fatalf("after the lost answer: %s, sealed %d bytes", s.Status, len(s.Sealed))
	}
	txid := s.State.TransactionID

	f.conn.mu.Lock()
	f.conn.fail = false
	f.conn.mu.Unlock()
	other := f.service()
	if n, _ := other.Sweep(context.Background()); n != 0 {
		t.Fatalf("swept %d sessions before the lease ended", n)
	}
	f.clock.Add(time.Minute)
	if n, err := other.Sweep(context.Background()); err != nil || n != 1 {
		t.Fatalf("sweep after the lease: %d, %v", n, err)
	}
	other.Wait()
	s = waitEnded(t, f, sid)
	if s.State.Result != tonepay.ResultSuccess || s.State.TransactionID != txid || s.Sealed != nil {
		t.Errorf("after the retry: %+v, sealed %v", s.State, s.Sealed)
	}
	if calls := f.conn.snapshot(); len(calls) != 1 || calls[txid] != 2 {
		t.Errorf("connector calls %v, want two attempts of %s only", calls, txid)
	}
	cbs, _ := f.store.FindCallbacks(context.Background(), sid)
	results := 0
	for _, cb := range cbs {
		if cb.Form.Has("Result") {
			results++
		}
	}
	if results != 1 {
		t.Errorf("%d result callbacks, want 1", results)
	}
}

// TestGiveUp: a connector that never answers ends the session with
// internal-error after Engine.GiveUp, and says the outcome is unknown.
func TestGiveUp(t *testing.T) {
	f := newFixture(t)
	svc := f.service()
	sid := f.capturedSession(t, svc)
	f.conn.fail = true
	if err := f.complete(svc, sid, "k"); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		svc.Wait()
		f.clock.Add(time.Minute)
		if _, err := svc.Sweep(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	s := waitEnded(t, f, sid)
	if s.State.Result != tonepay.ResultInternalError || s.State.PayErrorCode != 0 && s.State.PayErrorCode != 64002 {
		t.Errorf("after giving up: %+v", s.State)
	}
}

// TestSealedAtRest: captured values are in the database only encrypted,
// and gone once the session ends.
func TestSealedAtRest(t *testing.T) {
	f := newFixture(t)
	svc := f.service()
	sid := f.capturedSession(t, svc)
	s := f.session(t, sid)
	if len(s.Sealed) == 0 || bytes.Contains(s.Sealed, []byte("4242424242424242")) {
		t.Fatalf("sealed data: %q", s.Sealed)
	}
	if err := f.complete(svc, sid, "k"); err != nil {
		t.Fatal(err)
	}
	svc.Wait()
	if s := waitEnded(t, f, sid); s.Sealed != nil {
		t.Errorf("sealed data kept after the end: %d bytes", len(s.Sealed))
	}
}

func TestPressWithoutSession(t *testing.T) {
	f := newFixture(t)
	p, err := f.service().Press(context.Background(), f.acct.Sid, f.call.Sid, "12w3#")
	if err != nil || p.Dropped != 4 || p.Applied != 0 {
		t.Fatalf("Press = %+v, %v", p, err)
	}
	_, err = f.service().Press(context.Background(), f.acct.Sid, f.call.Sid, "12a")
	if tonepay.ErrorCode(err) != tonepay.CodeInvalidParameter {
		t.Errorf("a key not on a keypad: %v", err)
	}
}

// courier records what each commit reported, delivering nothing.
type courier struct {
	mu      sync.Mutex
	commits [][]*tonepay.Callback
}

func (c *courier) HandOver() time.Duration { return 30 * time.Second }
func (c *courier) Committed(cbs []*tonepay.Callback) {
	c.mu.Lock()
	c.commits = append(c.commits, cbs)
	c.mu.Unlock()
}

// TestCommittedCallbacks: the service reports every callback of a commit to
// its Courier, once, in order, as the store left them: claimed for the
// hand-over when nothing of the session was pending, not claimed behind a
// pending one. A run of keys is one commit.
func TestCommittedCallbacks(t *testing.T) {
	f := newFixture(t)
	c := &courier{}
	svc := session.New(f.store, c, f.box, tonepay.Connectors{"Default": f.conn}, slog.New(slog.DiscardHandler))
	svc.Now = f.clock.Now
	ctx := context.Background()
	p := tonepay.Params{PaymentMethod: tonepay.CreditCard, ChargeAmount: "10.00", Currency: "USD", PaymentConnector: "Default",
		SecurityCode: true, Timeout: 5, ValidCardTypes: []string{"visa"}, Input: "dtmf"}
	ans, err := svc.CreateSession(ctx, &tonepay.CreateRequest{AccountSid: f.acct.Sid, CallSid: f.call.Sid, Params: p,
		ChargeAmount: "10.00", StatusCallback: "https://example.com/cb"})
	if err != nil {
		t.Fatal(err)
	}
	sid := ans.Sid
	if _, err := svc.UpdateSession(ctx, &tonepay.UpdateRequest{AccountSid: f.acct.Sid, CallSid: f.call.Sid, Sid: sid,
		Capture: tonepay.FieldCardNumber}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Press(ctx, f.acct.Sid, f.call.Sid, "4242424242424242#"); err != nil {
		t.Fatal(err)
	}
	if len(c.commits) != 3 || len(c.commits[0]) != 1 || len(c.commits[1]) != 1 || len(c.commits[2]) != 17 {
		t.Fatalf("commits reported: %d, want create (1), capture (1), the key run (17)", len(c.commits))
	}
	if c.commits[0][0].ClaimedUntil.IsZero() {
		t.Error("the first callback of a session was not handed over")
	}
	stored, err := f.store.FindCallbacks(ctx, sid)
	if err != nil {
		t.Fatal(err)
	}
	var reported []int64
	for i, commit := range c.commits {
		for _, cb := range commit {
			reported = append(reported, cb.ID)
			if i > 0 && !cb.ClaimedUntil.IsZero() {
				t.Errorf("callback %d handed over behind a pending one", cb.ID)
			}
		}
	}
	if len(stored) != len(reported) {
		t.Fatalf("%d stored, %d reported", len(stored), len(reported))
	}
	for i, cb := range stored {
		if cb.ID != reported[i] {
			t.Fatalf("reported out of order: %v", reported)
		}
	}
	last := stored[len(stored)-1].Form
	if last.Get("PartialResult") != "false" || last.Get("PaymentCardNumber") != "xxxxxxxxxxxx4242" {
		t.Errorf("the run's last callback: %v", last)
	}
}
