package servicetest

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
	"github.com/tonepay/tonepay/store/sqlite"
	"github.com/tonepay/tonepay/store/storetest"
)

// The fixture the services' own tests share (calls/, payments/): a real
// SQLite store, a settable clock, a sandbox connector that counts and can
// fail, an account and a live call.

// Nop is a Courier that takes nothing over: callbacks stay in the outbox.
type Nop struct{}

func (Nop) HandOver() time.Duration       { return 0 }
func (Nop) Committed([]*tonepay.Callback) {}

// Clock is a settable time.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *Clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *Clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// NewClock starts at a fixed time.
func NewClock() *Clock { return &Clock{t: time.Date(2026, 11, 23, 1, 0, 0, 0, time.UTC)} }

// Recorder wraps a connector, counting calls per transaction id; Fail makes
// the next calls fail as a crash or a timeout would.
type Recorder struct {
	tonepay.Connector
	Mu    sync.Mutex
	Calls map[string]int
	Fail  bool
	Gate  chan struct{} // when set, Pay waits on it
}

func (r *Recorder) Pay(ctx context.Context, req *tonepay.PayRequest) (*tonepay.PayResult, error) {
	if r.Gate != nil {
		<-r.Gate
	}
	r.Mu.Lock()
	r.Calls[req.TransactionID]++
	fail := r.Fail
	r.Mu.Unlock()
	if fail {
		return nil, errors.New("connection reset")
	}
	return r.Connector.Pay(ctx, req)
}

// Snapshot is the calls per transaction id so far.
func (r *Recorder) Snapshot() map[string]int {
	r.Mu.Lock()
	defer r.Mu.Unlock()
	out := map[string]int{}
	for k, v := range r.Calls {
		out[k] = v
	}
	return out
}

// Fixture is a store with an account and a live call on it.
type Fixture struct {
	Store *sqlite.Store
	Path  string
	Clock *Clock
	Conn  *Recorder
	Box   *seal.Box
	Acct  *tonepay.Account
	Call  *tonepay.Call
}

// NewFixture makes one on a fresh SQLite file.
func NewFixture(t testing.TB) *Fixture {
	path := filepath.Join(t.TempDir(), "s.db")
	store, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	box, _ := seal.New(bytes.Repeat([]byte{1}, 32))
	f := &Fixture{Store: store, Path: path, Clock: NewClock(), Box: box,
		Conn: &Recorder{Connector: sandbox.New(), Calls: map[string]int{}}}
	f.Acct = storetest.MustAccount(t, store, "", f.Clock.Now())
	f.Call = storetest.MustCall(t, store, f.Acct.Sid, f.Clock.Now())
	return f
}

// Service is one tonepay process's services over the shared store.
func (f *Fixture) Service() *Process {
	svc := New(f.Store, Nop{}, f.Box, tonepay.Connectors{"Default": f.Conn}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	svc.Tx.Now = f.Clock.Now
	svc.Sleep = func(context.Context, time.Duration) error { return nil }
	return svc
}

// CapturedSession creates a charging session and types a whole card into it.
func (f *Fixture) CapturedSession(t *testing.T, svc *Process) string {
	t.Helper()
	return f.CapturedSessionWith(t, svc, "4242424242424242#")
}

// CapturedSessionWith is CapturedSession with another card (its keys).
func (f *Fixture) CapturedSessionWith(t *testing.T, svc *Process, card string) string {
	t.Helper()
	ctx := context.Background()
	p := tonepay.Params{PaymentMethod: tonepay.CreditCard, Currency: "USD", PaymentConnector: "Default",
		SecurityCode: true, Timeout: 5, ValidCardTypes: []string{"visa"}, Input: "dtmf"}
	ans, err := svc.CreateSession(ctx, &tonepay.CreateRequest{AccountSid: f.Acct.Sid, CallSid: f.Call.Sid, Params: p,
		ChargeAmount: "10.00", StatusCallback: "https://example.com/cb"})
	if err != nil {
		t.Fatal(err)
	}
	sid := ans.Sid
	for _, fk := range []struct {
		field tonepay.Field
		keys  string
	}{{tonepay.FieldCardNumber, card}, {tonepay.FieldExpiration, "1230"}, {tonepay.FieldSecurityCode, "123"}} {
		field, keys := fk.field, fk.keys
		if _, err := svc.UpdateSession(ctx, &tonepay.UpdateRequest{AccountSid: f.Acct.Sid, CallSid: f.Call.Sid, Sid: sid, Capture: field}); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Keypad(ctx, f.Acct.Sid, f.Call.Sid, keys); err != nil {
			t.Fatal(err)
		}
	}
	return sid
}

// Complete asks svc to complete the session.
func (f *Fixture) Complete(svc *Process, sid, key string) error {
	_, err := svc.UpdateSession(context.Background(), &tonepay.UpdateRequest{AccountSid: f.Acct.Sid, CallSid: f.Call.Sid, Sid: sid,
		Status: "complete", IdempotencyKey: key})
	return err
}

// Session reads a session from the store.
func (f *Fixture) Session(t *testing.T, sid string) *tonepay.Session {
	t.Helper()
	s, err := f.Store.FindSession(context.Background(), sid)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// WaitEnded waits until the session has ended.
func (f *Fixture) WaitEnded(t *testing.T, sid string) *tonepay.Session {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if s := f.Session(t, sid); s.Status == tonepay.SessionEnded {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatal("session did not end")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
