package payments_test

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/internal/servicetest"
)

// TestConcurrentComplete: many Status=complete at once (from several
// processes) reach the connector once.
func TestConcurrentComplete(t *testing.T) {
	f := newFixture(t)
	a, b := f.Service(), f.Service()
	sid := f.CapturedSession(t, a)
	f.Conn.Gate = make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for i := range 10 {
		svc := a
		if i%2 == 1 {
			svc = b
		}
		wg.Go(func() { errs <- f.Complete(svc, sid, "k"+string(rune('0'+i))) })
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
	close(f.Conn.Gate)
	s := waitEnded(t, f, sid)
	a.Wait()
	b.Wait()
	if ok != 1 || s.State.Result != tonepay.ResultSuccess {
		t.Errorf("%d completes accepted, result %q; want 1 and success", ok, s.State.Result)
	}
	if calls := f.Conn.Snapshot(); len(calls) != 1 || calls[s.State.TransactionID] != 1 {
		t.Errorf("connector calls %v, want one call for %s", calls, s.State.TransactionID)
	}
}

// TestCrashBetweenChargingAndCharged: the process that started the charge
// dies before it records the answer. Another process's sweeper retries when
// the lease ends, with the same transaction id, and the session ends once.
func TestCrashBetweenChargingAndCharged(t *testing.T) {
	f := newFixture(t)
	crashed := f.Service()
	sid := f.CapturedSession(t, crashed)
	f.Conn.Fail = true // the first attempt's answer is lost
	if err := f.Complete(crashed, sid, "k"); err != nil {
		t.Fatal(err)
	}
	crashed.Wait()
	s := f.Session(t, sid)
	if s.Status != tonepay.SessionProcessing || len(s.Sealed) == 0 {
		t.Fatalf("after the lost answer: %s, sealed %d bytes", s.Status, len(s.Sealed))
	}
	txid := s.State.TransactionID

	f.Conn.Mu.Lock()
	f.Conn.Fail = false
	f.Conn.Mu.Unlock()
	other := f.Service()
	if n, _ := other.Sweep(context.Background()); n != 0 {
		t.Fatalf("swept %d sessions before the lease ended", n)
	}
	f.Clock.Add(time.Minute)
	if n, err := other.Sweep(context.Background()); err != nil || n != 1 {
		t.Fatalf("sweep after the lease: %d, %v", n, err)
	}
	other.Wait()
	s = waitEnded(t, f, sid)
	if s.State.Result != tonepay.ResultSuccess || s.State.TransactionID != txid || s.Sealed != nil {
		t.Errorf("after the retry: %+v, sealed %v", s.State, s.Sealed)
	}
	if calls := f.Conn.Snapshot(); len(calls) != 1 || calls[txid] != 2 {
		t.Errorf("connector calls %v, want two attempts of %s only", calls, txid)
	}
	cbs, _ := f.Store.FindCallbacks(context.Background(), sid)
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
	svc := f.Service()
	sid := f.CapturedSession(t, svc)
	f.Conn.Fail = true
	if err := f.Complete(svc, sid, "k"); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		svc.Wait()
		f.Clock.Add(time.Minute)
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
	svc := f.Service()
	sid := f.CapturedSession(t, svc)
	s := f.Session(t, sid)
	if len(s.Sealed) == 0 || bytes.Contains(s.Sealed, []byte("4242424242424242")) {
		t.Fatalf("sealed data: %q", s.Sealed)
	}
	if err := f.Complete(svc, sid, "k"); err != nil {
		t.Fatal(err)
	}
	svc.Wait()
	if s := waitEnded(t, f, sid); s.Sealed != nil {
		t.Errorf("sealed data kept after the end: %d bytes", len(s.Sealed))
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
// pending one. A burst of keys is one commit.
func TestCommittedCallbacks(t *testing.T) {
	f := newFixture(t)
	c := &courier{}
	svc := servicetest.New(f.Store, c, f.Box, tonepay.Connectors{"Default": f.Conn}, slog.New(slog.DiscardHandler))
	svc.Tx.Now = f.Clock.Now
	ctx := context.Background()
	p := tonepay.Params{PaymentMethod: tonepay.CreditCard, ChargeAmount: "10.00", Currency: "USD", PaymentConnector: "Default",
		SecurityCode: true, Timeout: 5, ValidCardTypes: []string{"visa"}, Input: "dtmf"}
	ans, err := svc.CreateSession(ctx, &tonepay.CreateRequest{AccountSid: f.Acct.Sid, CallSid: f.Call.Sid, Params: p,
		ChargeAmount: "10.00", StatusCallback: "https://example.com/cb"})
	if err != nil {
		t.Fatal(err)
	}
	sid := ans.Sid
	if _, err := svc.UpdateSession(ctx, &tonepay.UpdateRequest{AccountSid: f.Acct.Sid, CallSid: f.Call.Sid, Sid: sid,
		Capture: tonepay.FieldCardNumber}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Keypad(ctx, f.Acct.Sid, f.Call.Sid, "4242424242424242#"); err != nil {
		t.Fatal(err)
	}
	if len(c.commits) != 3 || len(c.commits[0]) != 1 || len(c.commits[1]) != 1 || len(c.commits[2]) != 17 {
		t.Fatalf("commits reported: %d, want create (1), capture (1), the key run (17)", len(c.commits))
	}
	if c.commits[0][0].ClaimedUntil.IsZero() {
		t.Error("the first callback of a session was not handed over")
	}
	stored, err := f.Store.FindCallbacks(ctx, sid)
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
