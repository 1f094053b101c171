// Package storetest is the conformance suite of tonepay.Store: every store
// (SQLite, PostgreSQL) runs it against a real database, so that the rest of
// tonepay cannot tell them apart.
//
// The suite pins what the interface comments promise and what callers rely
// on beyond them: times round-trip to the nanosecond and come back in UTC,
// lists have a total order (ties broken by SID), a transaction's writes are
// all or nothing (callbacks included), and callbacks are claimed one per
// session in ID order. Every time is derived from a fixed instant, so the
// results never depend on the machine's clock.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/tonepay/tonepay"
)

// Run runs the suite. open returns a new, empty store for each subtest and
// arranges for it to be closed (t.Cleanup).
func Run(t *testing.T, open func(t *testing.T) tonepay.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s tonepay.Store)
	}{
		{"Accounts", testAccounts},
		{"AccountFilter", testAccountFilter},
		{"Keys", testKeys},
		{"APIKeyFilter", testAPIKeyFilter},
		{"Calls", testCalls},
		{"CallFilter", testCallFilter},
		{"Numbers", testNumbers},
		{"NumberFilter", testNumberFilter},
		{"Times", testTimes},
		{"Sessions", testSessions},
		{"Sealed", testSealed},
		{"DueSessions", testDueSessions},
		{"OneOpenSessionPerCall", testOneOpenSession},
		{"SessionFilter", testSessionFilter},
		{"Rollback", testRollback},
		{"Callbacks", testCallbacks},
		{"ClaimOnePerSession", testClaimOnePerSession},
		{"ClaimLimit", testClaimLimit},
		{"Handoff", testHandoff},
		{"DeferCallback", testDeferCallback},
		{"ClaimLease", testClaimLease},
		{"ClaimConcurrent", testClaimConcurrent},
		{"ClaimWhileQueuing", testClaimWhileQueuing},
		{"StaleAttempt", testStaleAttempt},
		{"Attempts", testAttempts},
		{"NextCallbackAt", testNextCallbackAt},
		{"Answers", testAnswers},
		{"NotFound", testNotFound},
		{"Tenant", testTenant},
		{"CallRuns", testCallRuns}, {"DueCallRuns", testDueCallRuns}, {"OrphanLegs", testOrphanLegs}, {"Timeline", testTimeline}, {"CallRunRace", testCallRunRace},
		{"LapsedLegs", testLapsedLegs}, {"RenewLeases", testRenewLeases},
		{"PruneCalls", testPruneCalls}, {"PruneSessions", testPruneSessions},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open(t)) })
	}
}

var ctx = context.Background()

// t0 is the suite's fixed "now". It has nanoseconds, to check that they
// survive the round trip.
var t0 = time.Date(2026, 11, 23, 1, 2, 3, 456789123, time.UTC)

var seq atomic.Int64

// sid returns a new SID. SIDs sort in the order they are made, which the
// tie-breaking tests use.
func sid(prefix string) string { return fmt.Sprintf("%s%032x", prefix, seq.Add(1)) }

// secrets compares tonepay.Secret by value: its field is unexported, and
// its Equal takes a string, so cmp could not compare it otherwise.
var secrets = cmp.Comparer(func(a, b tonepay.Secret) bool { return a.Reveal() == b.Reveal() })

// diff compares domain values. Times compare with time.Equal (cmp uses the
// Equal method); nil and empty maps and slices are the same (a store need
// not tell them apart).
func diff(want, got any, opts ...cmp.Option) string {
	return cmp.Diff(want, got, append(opts, secrets, cmpopts.EquateEmpty())...)
}

func update(t testing.TB, s tonepay.Store, fn func(tx tonepay.Tx) error) {
	t.Helper()
	if err := s.Update(ctx, fn); err != nil {
		t.Fatal(err)
	}
}

// MustAccount creates an active main account (owner "") or a subaccount of
// owner, created at at.
func MustAccount(t testing.TB, s tonepay.Store, owner string, at time.Time) *tonepay.Account {
	t.Helper()
	a := &tonepay.Account{Sid: sid("AC"), FriendlyName: "acct", Status: tonepay.AccountActive,
		AuthToken: tonepay.NewSecret(fmt.Sprintf("token%d", seq.Add(1))), DateCreated: at, DateUpdated: at}
	a.OwnerSid = owner
	if owner == "" {
		a.OwnerSid = a.Sid
	}
	update(t, s, func(tx tonepay.Tx) error { return tx.CreateAccount(ctx, a) })
	return a
}

// MustCall creates an in-progress call on account, started at at.
func MustCall(t testing.TB, s tonepay.Store, account string, at time.Time) *tonepay.Call {
	t.Helper()
	c := newCall(account, at)
	update(t, s, func(tx tonepay.Tx) error { return tx.CreateCall(ctx, c) })
	return c
}

func newCall(account string, at time.Time) *tonepay.Call {
	return &tonepay.Call{Sid: sid("CA"), AccountSid: account, To: "+15005550006", From: "+15005550001", URL: "https://example.com/twiml",
		Status: tonepay.CallInProgress, Direction: tonepay.DirectionOutboundAPI, Leg: tonepay.LegSimulated, StartTime: at, DateCreated: at, DateUpdated: at,
		CallParams: tonepay.CallParams{Method: "GET", FallbackURL: "https://example.com/fallback", FallbackMethod: "GET",
			StatusCallback: "https://example.com/progress", StatusCallbackMethod: "GET",
			StatusCallbackEvents: []string{tonepay.EventInitiated, tonepay.EventAnswered, tonepay.EventCompleted}, Timeout: 25, SendDigits: "1234#w9"}}
}

func newKey(account string, at time.Time) *tonepay.APIKey {
	return &tonepay.APIKey{Sid: sid("SK"), AccountSid: account, FriendlyName: "key", SecretHash: tonepay.HashSecret("secret"),
		DateCreated: at, DateUpdated: at}
}

// newSession returns an open session on call with every Params field set.
func newSession(call *tonepay.Call) *tonepay.Session {
	return &tonepay.Session{
		Sid: sid("PK"), AccountSid: call.AccountSid, CallSid: call.Sid, Status: tonepay.SessionOpen,
		Params: tonepay.Params{PaymentMethod: tonepay.CreditCard, BankAccountType: "", ChargeAmount: "10.00", Currency: "USD",
			Description: "order 7", Input: "dtmf", MinPostalCodeLength: 5, Parameter: map[string]string{"k": "v", "é": "ü"},
			PaymentConnector: "Default", PostalCode: true, SecurityCode: true, Timeout: 5, TokenType: tonepay.TokenReusable,
			ValidCardTypes: []string{"visa", "amex"}, RequireMatchingInputs: []tonepay.Field{tonepay.FieldCardNumber}, Confirmation: true},
		State:       tonepay.State{StatusCallback: "https://example.com/cb?x=1"},
		DateCreated: t0, DateUpdated: t0,
	}
}

// newCallback returns a pending callback of session, due at at.
func newCallback(session *tonepay.Session, at time.Time) *tonepay.Callback {
	return &tonepay.Callback{Token: sid("tk"), AccountSid: session.AccountSid, Chain: session.Sid,
		URL: "https://example.com/cb?x=1&y=%20", Form: url.Values{"Sid": {session.Sid}, "Required": {"a,b"}, "Multi": {"1", "2"}, "Empty": {""}},
		Status: tonepay.CallbackPending, NextAttemptAt: at, DateCreated: at, DateUpdated: at}
}

// sessions makes n open sessions, each on its own call of one account.
func sessions(t testing.TB, s tonepay.Store, n int) []*tonepay.Session {
	t.Helper()
	a := MustAccount(t, s, "", t0)
	var out []*tonepay.Session
	for range n {
		sess := newSession(MustCall(t, s, a.Sid, t0))
		update(t, s, func(tx tonepay.Tx) error { return tx.CreateSession(ctx, sess) })
		out = append(out, sess)
	}
	return out
}

// addCallbacks queues cbs in one transaction.
func addCallbacks(t testing.TB, s tonepay.Store, cbs ...*tonepay.Callback) {
	t.Helper()
	update(t, s, func(tx tonepay.Tx) error { return tx.AddCallbacks(ctx, cbs...) })
}

func ids(cbs []*tonepay.Callback) []int64 {
	out := []int64{}
	for _, c := range cbs {
		out = append(out, c.ID)
	}
	return out
}

func testNotFound(t *testing.T, s tonepay.Store) {
	a := MustAccount(t, s, "", t0)
	inTx := func(fn func(tx tonepay.Tx) error) func() error {
		return func() error { return s.Update(ctx, fn) }
	}
	tests := []struct {
		name string
		do   func() error
	}{
		{"FindAccount", func() error { _, err := s.FindAccount(ctx, sid("AC")); return err }},
		{"FindAPIKey", func() error { _, err := s.FindAPIKey(ctx, sid("SK")); return err }},
		{"FindCall", func() error { _, err := s.FindCall(ctx, sid("CA")); return err }},
		{"FindSession", func() error { _, err := s.FindSession(ctx, sid("PK")); return err }},
		{"FindOpenSession", func() error { _, err := s.FindOpenSession(ctx, sid("CA")); return err }},
		{"FindAnswer", func() error { _, err := s.FindAnswer(ctx, "nope", time.Time{}); return err }},
		{"Tx.FindCall", inTx(func(tx tonepay.Tx) error { _, err := tx.FindCall(ctx, sid("CA")); return err })},
		{"UpdateAccount", inTx(func(tx tonepay.Tx) error {
			return tx.UpdateAccount(ctx, &tonepay.Account{Sid: sid("AC"), OwnerSid: a.Sid})
		})},
		{"UpdateAPIKey", inTx(func(tx tonepay.Tx) error { return tx.UpdateAPIKey(ctx, &tonepay.APIKey{Sid: sid("SK")}) })},
		{"DeleteAPIKey", inTx(func(tx tonepay.Tx) error { return tx.DeleteAPIKey(ctx, sid("SK")) })},
		{"UpdateCall", inTx(func(tx tonepay.Tx) error { return tx.UpdateCall(ctx, &tonepay.Call{Sid: sid("CA")}) })},
		{"UpdateSession", inTx(func(tx tonepay.Tx) error { return tx.UpdateSession(ctx, &tonepay.Session{Sid: sid("PK")}) })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The identity, not only the chain: callers compare with errors.Is,
			// and the API shows the error's message.
			if err := tt.do(); err != tonepay.ErrNotFound {
				t.Errorf("got %v, want tonepay.ErrNotFound", err)
			}
		})
	}

	// Lists and counts are empty, not errors.
	if cbs, err := s.FindCallbacks(ctx, sid("PK")); err != nil || len(cbs) != 0 {
		t.Errorf("FindCallbacks of an unknown session = %v, %v", cbs, err)
	}
	if as, err := s.FindAttempts(ctx, 1<<40); err != nil || len(as) != 0 {
		t.Errorf("FindAttempts of an unknown callback = %v, %v", as, err)
	}
	if cs, err := s.FindCalls(ctx, tonepay.CallFilter{AccountSid: sid("AC")}); err != nil || len(cs) != 0 {
		t.Errorf("FindCalls of an unknown account = %v, %v", cs, err)
	}
	// A callback that is not in the store cannot be recorded (SQLite says
	// ErrNotFound; any error will do).
	ghost := &tonepay.Callback{ID: 1 << 40, Status: tonepay.CallbackDelivered, Attempts: 1, DateUpdated: t0}
	if err := s.RecordAttempt(ctx, ghost, &tonepay.Attempt{CallbackID: ghost.ID, N: 1, At: t0}); err == nil {
		t.Errorf("RecordAttempt of an unknown callback succeeded")
	}
}

// testRollback: a transaction whose fn fails leaves nothing behind, its
// callbacks included (the outbox must never announce a change that did not
// happen), while inside it every read sees its own writes.
func testRollback(t *testing.T, s tonepay.Store) {
	owner := MustAccount(t, s, "", t0)
	boom := errors.New("boom")

	a := &tonepay.Account{Sid: sid("AC"), FriendlyName: "sub", Status: tonepay.AccountActive, AuthToken: tonepay.NewSecret("t"), DateCreated: t0, DateUpdated: t0}
	a.OwnerSid = owner.Sid
	k := newKey(a.Sid, t0)
	call := newCall(a.Sid, t0)
	sess := newSession(call)
	cb := newCallback(sess, t0)
	ans := &tonepay.Answer{Key: "rolled-back", Format: 201, Body: []byte("{}"), DateCreated: t0}
	err := s.Update(ctx, func(tx tonepay.Tx) error {
		steps := []func() error{
			func() error { return tx.CreateAccount(ctx, a) },
			func() error { return tx.CreateAPIKey(ctx, k) },
			func() error { return tx.CreateCall(ctx, call) },
			func() error { return tx.CreateSession(ctx, sess) },
			func() error { return tx.AddCallbacks(ctx, cb) },
			func() error { return tx.AddAnswer(ctx, ans) },
		}
		for _, step := range steps {
			if err := step(); err != nil {
				return err
			}
		}
		// Reads inside the transaction see its own writes.
		if got, err := tx.FindSession(ctx, sess.Sid); err != nil || got.CallSid != call.Sid {
			return fmt.Errorf("FindSession in the transaction: %v, %v", got, err)
		}
		if got, err := tx.FindOpenSession(ctx, call.Sid); err != nil || got.Sid != sess.Sid {
			return fmt.Errorf("FindOpenSession in the transaction: %v, %v", got, err)
		}
		if got, err := tx.FindCallbacks(ctx, sess.Sid); err != nil || len(got) != 1 {
			return fmt.Errorf("FindCallbacks in the transaction: %v, %v", got, err)
		}
		if n, err := tx.CountAccounts(ctx); err != nil || n != 2 {
			return fmt.Errorf("CountAccounts in the transaction: %d, %v", n, err)
		}
		if got, err := tx.FindAccounts(ctx, tonepay.AccountFilter{OwnerSid: owner.Sid}); err != nil || len(got) != 2 {
			return fmt.Errorf("FindAccounts in the transaction: %v, %v", got, err)
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update returned %v, want fn's error", err)
	}

	gone := map[string]func() error{
		"account": func() error { _, err := s.FindAccount(ctx, a.Sid); return err },
		"key":     func() error { _, err := s.FindAPIKey(ctx, k.Sid); return err },
		"call":    func() error { _, err := s.FindCall(ctx, call.Sid); return err },
		"session": func() error { _, err := s.FindSession(ctx, sess.Sid); return err },
		"answer":  func() error { _, err := s.FindAnswer(ctx, ans.Key, time.Time{}); return err },
	}
	for what, find := range gone {
		if err := find(); !errors.Is(err, tonepay.ErrNotFound) {
			t.Errorf("%s after rollback: %v, want ErrNotFound", what, err)
		}
	}
	if n, err := s.CountAccounts(ctx); err != nil || n != 1 {
		t.Errorf("CountAccounts after rollback = %d, %v; want 1", n, err)
	}
	if cbs, err := s.FindCallbacks(ctx, sess.Sid); err != nil || len(cbs) != 0 {
		t.Errorf("callbacks after rollback: %v %v", cbs, err)
	}
	if next, err := s.NextCallbackAt(ctx); err != nil || !next.IsZero() {
		t.Errorf("NextCallbackAt after rollback = %v, %v; want zero", next, err)
	}
	if got, err := s.ClaimCallbacks(ctx, t0.Add(time.Hour), time.Minute, 10); err != nil || len(got) != 0 {
		t.Errorf("ClaimCallbacks after rollback = %v, %v; want none", got, err)
	}

	// A domain error from inside fn comes out as it is.
	err = s.Update(ctx, func(tx tonepay.Tx) error { _, err := tx.FindCall(ctx, sid("CA")); return err })
	if err != tonepay.ErrNotFound {
		t.Errorf("Update passing on ErrNotFound returned %v", err)
	}

	// The same objects can be written once the failed attempt is gone: the
	// rollback left no row behind to collide with.
	update(t, s, func(tx tonepay.Tx) error {
		for _, step := range []func() error{
			func() error { return tx.CreateAccount(ctx, a) },
			func() error { return tx.CreateCall(ctx, call) },
			func() error { return tx.CreateSession(ctx, sess) },
		} {
			if err := step(); err != nil {
				return err
			}
		}
		return nil
	})
}
