package payments_test

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
	"github.com/tonepay/tonepay/internal/servicetest"
	"github.com/tonepay/tonepay/seal"
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
func (f *fixture) service() *servicetest.Process {
	svc := servicetest.New(f.store, nop{}, f.box, tonepay.Connectors{"Default": f.conn}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	svc.Tx.Now = f.clock.Now
	svc.Sleep = func(context.Context, time.Duration) error { return nil }
	return svc
}

// capturedSession creates a charging session and types a whole card into it.
func (f *fixture) capturedSession(t *testing.T, svc *servicetest.Process) string {
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
		if _, err := svc.Keypad(ctx, f.acct.Sid, f.call.Sid, keys); err != nil {
			t.Fatal(err)
		}
	}
	return sid
}

func (f *fixture) complete(svc *servicetest.Process, sid, key string) error {
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
