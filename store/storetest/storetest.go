// Package storetest is the conformance suite of tonepay.Store: every store
// (SQLite, PostgreSQL) runs it against a real database, so that they behave
// the same way.
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

// Run runs the suite. open returns a new, empty store for each subtest.
func Run(t *testing.T, open func(t *testing.T) tonepay.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s tonepay.Store)
	}{
		{"Accounts", testAccounts},
		{"Keys", testKeys},
		{"Calls", testCalls},
		{"Sessions", testSessions},
		{"OneOpenSessionPerCall", testOneOpenSession},
		{"Rollback", testRollback},
		{"CallbackClaimOrder", testClaimOrder},
		{"CallbackLease", testClaimLease},
		{"CallbackAttempts", testAttempts},
		{"Answers", testAnswers},
		{"NotFound", testNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open(t)) })
	}
}

var ctx = context.Background()

// t0 is a fixed time with nanoseconds, to check they survive the round trip.
var t0 = time.Date(2026, 11, 23, 1, 2, 3, 456789123, time.UTC)

var seq atomic.Int64

func sid(prefix string) string { return fmt.Sprintf("%s%032x", prefix, seq.Add(1)) }

// diff compares domain values; secrets are compared by value.
func diff(want, got any) string {
	return cmp.Diff(want, got, cmp.Comparer(func(a, b tonepay.Secret) bool { return a.Reveal() == b.Reveal() }), cmpopts.EquateEmpty())
}

func update(t *testing.T, s tonepay.Store, fn func(tx tonepay.Tx) error) {
	t.Helper()
	if err := s.Update(ctx, fn); err != nil {
		t.Fatal(err)
	}
}

// MustAccount creates a main account (owner "") or a subaccount of owner.
func MustAccount(t *testing.T, s tonepay.Store, owner string, at time.Time) *tonepay.Account {
	t.Helper()
	a := &tonepay.Account{Sid: sid("AC"), FriendlyName: "acct", Status: tonepay.AccountActive,
		AuthToken: tonepay.NewSecret("token" + fmt.Sprint(seq.Add(1))), DateCreated: at, DateUpdated: at}
	a.OwnerSid = owner
	if owner == "" {
		a.OwnerSid = a.Sid
	}
	update(t, s, func(tx tonepay.Tx) error { return tx.CreateAccount(ctx, a) })
	return a
}

// MustCall creates an in-progress call on account.
func MustCall(t *testing.T, s tonepay.Store, account string, at time.Time) *tonepay.Call {
	t.Helper()
	c := &tonepay.Call{Sid: sid("CA"), AccountSid: account, To: "+15005550006", From: "+15005550001", URL: "https://example.com/twiml",
		Status: tonepay.CallInProgress, Direction: "outbound-api", StartTime: at, DateCreated: at, DateUpdated: at}
	update(t, s, func(tx tonepay.Tx) error { return tx.CreateCall(ctx, c) })
	return c
}

func newSession(call *tonepay.Call) *tonepay.Session {
	return &tonepay.Session{
		Sid: sid("PK"), AccountSid: call.AccountSid, CallSid: call.Sid, Status: tonepay.SessionOpen,
		Params: tonepay.Params{PaymentMethod: tonepay.CreditCard, ChargeAmount: "10.00", Currency: "USD", Input: "dtmf",
			PaymentConnector: "Default", PostalCode: true, SecurityCode: true, Timeout: 5, TokenType: tonepay.TokenReusable,
			ValidCardTypes: []string{"visa", "amex"}, Parameter: map[string]string{"k": "v"},
			RequireMatchingInputs: []tonepay.Field{tonepay.FieldCardNumber}},
		State:       tonepay.State{StatusCallback: "https://example.com/cb?x=1"},
		DateCreated: t0, DateUpdated: t0,
	}
}

func newCallback(session *tonepay.Session, at time.Time) *tonepay.Callback {
	return &tonepay.Callback{Token: sid("tk"), AccountSid: session.AccountSid, SessionSid: session.Sid,
		URL: "https://example.com/cb?x=1", Form: url.Values{"Sid": {session.Sid}, "Required": {"a,b"}},
		Status: tonepay.CallbackPending, NextAttemptAt: at, DateCreated: at, DateUpdated: at}
}

func testAccounts(t *testing.T, s tonepay.Store) {
	main := MustAccount(t, s, "", t0)
	sub1 := MustAccount(t, s, main.Sid, t0.Add(time.Second))
	sub2 := MustAccount(t, s, main.Sid, t0.Add(2*time.Second))
	other := MustAccount(t, s, "", t0)

	got, err := s.FindAccount(ctx, main.Sid)
	if err != nil {
		t.Fatal(err)
	}
	if d := diff(main, got); d != "" {
		t.Errorf("FindAccount (-want +got):\n%s", d)
	}
	if n, err := s.CountAccounts(ctx); err != nil || n != 4 {
		t.Errorf("CountAccounts = %d, %v; want 4", n, err)
	}

	sub2.FriendlyName, sub2.Status, sub2.AuthToken, sub2.DateUpdated = "renamed", "suspended", tonepay.NewSecret("newtoken"), t0.Add(time.Hour)
	update(t, s, func(tx tonepay.Tx) error { return tx.UpdateAccount(ctx, sub2) })

	tests := []struct {
		name string
		f    tonepay.AccountFilter
		want []*tonepay.Account
	}{
		{"owner and subaccounts, oldest first", tonepay.AccountFilter{OwnerSid: main.Sid}, []*tonepay.Account{main, sub1, sub2}},
		{"by name", tonepay.AccountFilter{OwnerSid: main.Sid, FriendlyName: "renamed"}, []*tonepay.Account{sub2}},
		{"by status", tonepay.AccountFilter{OwnerSid: main.Sid, Status: "active"}, []*tonepay.Account{main, sub1}},
		{"paged", tonepay.AccountFilter{OwnerSid: main.Sid, Offset: 1, Limit: 1}, []*tonepay.Account{sub1}},
		{"other owner", tonepay.AccountFilter{OwnerSid: other.Sid}, []*tonepay.Account{other}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.FindAccounts(ctx, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			if d := diff(tt.want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func testKeys(t *testing.T, s tonepay.Store) {
	a := MustAccount(t, s, "", t0)
	k1 := &tonepay.Key{Sid: sid("SK"), AccountSid: a.Sid, FriendlyName: "one", SecretHash: tonepay.HashSecret("s1"), DateCreated: t0, DateUpdated: t0}
	k2 := &tonepay.Key{Sid: sid("SK"), AccountSid: a.Sid, FriendlyName: "two", SecretHash: tonepay.HashSecret("s2"), DateCreated: t0.Add(time.Second), DateUpdated: t0}
	update(t, s, func(tx tonepay.Tx) error {
		if err := tx.CreateKey(ctx, k1); err != nil {
			return err
		}
		return tx.CreateKey(ctx, k2)
	})
	got, err := s.FindKey(ctx, k1.Sid)
	if err != nil || !got.Verify("s1") || got.Verify("s2") {
		t.Fatalf("FindKey: %+v %v", got, err)
	}
	k1.FriendlyName, k1.DateUpdated = "renamed", t0.Add(time.Minute)
	update(t, s, func(tx tonepay.Tx) error { return tx.UpdateKey(ctx, k1) })
	list, err := s.FindKeys(ctx, tonepay.KeyFilter{AccountSid: a.Sid})
	if err != nil {
		t.Fatal(err)
	}
	if d := diff([]*tonepay.Key{k1, k2}, list); d != "" {
		t.Errorf("FindKeys (-want +got):\n%s", d)
	}
	update(t, s, func(tx tonepay.Tx) error { return tx.DeleteKey(ctx, k1.Sid) })
	if _, err := s.FindKey(ctx, k1.Sid); !errors.Is(err, tonepay.ErrNotFound) {
		t.Errorf("FindKey after delete: %v", err)
	}
	err = s.Update(ctx, func(tx tonepay.Tx) error { return tx.DeleteKey(ctx, k1.Sid) })
	if !errors.Is(err, tonepay.ErrNotFound) {
		t.Errorf("DeleteKey twice: %v, want ErrNotFound", err)
	}
}

func testCalls(t *testing.T, s tonepay.Store) {
	a := MustAccount(t, s, "", t0)
	b := MustAccount(t, s, "", t0)
	c1 := MustCall(t, s, a.Sid, t0)
	c2 := MustCall(t, s, a.Sid, t0.Add(time.Second))
	c3 := MustCall(t, s, a.Sid, t0.Add(2*time.Second))
	MustCall(t, s, b.Sid, t0)

	got, err := s.FindCall(ctx, c1.Sid)
	if err != nil {
		t.Fatal(err)
	}
	if d := diff(c1, got); d != "" {
		t.Errorf("FindCall (-want +got):\n%s", d)
	}
	if !got.EndTime.IsZero() {
		t.Errorf("EndTime of a live call = %v, want zero", got.EndTime)
	}
	c2.Status, c2.EndTime, c2.DateUpdated = tonepay.CallCompleted, t0.Add(time.Minute), t0.Add(time.Minute)
	update(t, s, func(tx tonepay.Tx) error { return tx.UpdateCall(ctx, c2) })

	tests := []struct {
		name string
		f    tonepay.CallFilter
		want []*tonepay.Call
	}{
		{"newest first", tonepay.CallFilter{AccountSid: a.Sid}, []*tonepay.Call{c3, c2, c1}},
		{"by status", tonepay.CallFilter{AccountSid: a.Sid, Status: tonepay.CallCompleted}, []*tonepay.Call{c2}},
		{"by to", tonepay.CallFilter{AccountSid: a.Sid, To: "+15005550006", Limit: 2}, []*tonepay.Call{c3, c2}},
		{"by from, none", tonepay.CallFilter{AccountSid: a.Sid, From: "+1999"}, nil},
		{"offset", tonepay.CallFilter{AccountSid: a.Sid, Offset: 2, Limit: 5}, []*tonepay.Call{c1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.FindCalls(ctx, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			if d := diff(tt.want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func testSessions(t *testing.T, s tonepay.Store) {
	a := MustAccount(t, s, "", t0)
	call := MustCall(t, s, a.Sid, t0)
	sess := newSession(call)
	update(t, s, func(tx tonepay.Tx) error { return tx.CreateSession(ctx, sess) })
	for name, find := range map[string]func() (*tonepay.Session, error){
		"FindSession":     func() (*tonepay.Session, error) { return s.FindSession(ctx, sess.Sid) },
		"FindOpenSession": func() (*tonepay.Session, error) { return s.FindOpenSession(ctx, call.Sid) },
	} {
		got, err := find()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if d := diff(sess, got); d != "" {
			t.Errorf("%s (-want +got):\n%s", name, d)
		}
	}
	sess.State.Capture = tonepay.FieldCardNumber
	sess.State.Captured = map[tonepay.Field]string{tonepay.FieldExpiration: "1230"}
	sess.Status, sess.State.Result, sess.DateUpdated = tonepay.SessionEnded, tonepay.ResultCancelled, t0.Add(time.Minute)
	update(t, s, func(tx tonepay.Tx) error { return tx.UpdateSession(ctx, sess) })
	got, err := s.FindSession(ctx, sess.Sid)
	if err != nil {
		t.Fatal(err)
	}
	if d := diff(sess, got); d != "" {
		t.Errorf("after UpdateSession (-want +got):\n%s", d)
	}
	if _, err := s.FindOpenSession(ctx, call.Sid); !errors.Is(err, tonepay.ErrNotFound) {
		t.Errorf("FindOpenSession after the end: %v, want ErrNotFound", err)
	}
}

func testOneOpenSession(t *testing.T, s tonepay.Store) {
	a := MustAccount(t, s, "", t0)
	call := MustCall(t, s, a.Sid, t0)
	first := newSession(call)
	update(t, s, func(tx tonepay.Tx) error { return tx.CreateSession(ctx, first) })
	err := s.Update(ctx, func(tx tonepay.Tx) error { return tx.CreateSession(ctx, newSession(call)) })
	if !errors.Is(err, tonepay.ErrConflict) {
		t.Fatalf("second open session: %v, want ErrConflict", err)
	}
	// Sessions on other calls are not affected.
	other := newSession(MustCall(t, s, a.Sid, t0))
	update(t, s, func(tx tonepay.Tx) error { return tx.CreateSession(ctx, other) })
	first.Status = tonepay.SessionEnded
	update(t, s, func(tx tonepay.Tx) error { return tx.UpdateSession(ctx, first) })
	update(t, s, func(tx tonepay.Tx) error { return tx.CreateSession(ctx, newSession(call)) })
}

func testRollback(t *testing.T, s tonepay.Store) {
	a := MustAccount(t, s, "", t0)
	call := MustCall(t, s, a.Sid, t0)
	sess := newSession(call)
	boom := errors.New("boom")
	err := s.Update(ctx, func(tx tonepay.Tx) error {
		if err := tx.CreateSession(ctx, sess); err != nil {
			return err
		}
		if err := tx.AddCallbacks(ctx, newCallback(sess, t0)); err != nil {
			return err
		}
		// Reads inside the transaction see its own writes.
		if _, err := tx.FindSession(ctx, sess.Sid); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update returned %v, want fn's error", err)
	}
	if _, err := s.FindSession(ctx, sess.Sid); !errors.Is(err, tonepay.ErrNotFound) {
		t.Errorf("session after rollback: %v", err)
	}
	if cbs, err := s.FindCallbacks(ctx, sess.Sid); err != nil || len(cbs) != 0 {
		t.Errorf("callbacks after rollback: %v %v", cbs, err)
	}
	if next, err := s.NextCallbackAt(ctx); err != nil || !next.IsZero() {
		t.Errorf("NextCallbackAt after rollback: %v %v", next, err)
	}
}

// sessions makes n sessions, each on its own call.
func sessions(t *testing.T, s tonepay.Store, n int) []*tonepay.Session {
	a := MustAccount(t, s, "", t0)
	var out []*tonepay.Session
	for range n {
		sess := newSession(MustCall(t, s, a.Sid, t0))
		update(t, s, func(tx tonepay.Tx) error { return tx.CreateSession(ctx, sess) })
		out = append(out, sess)
	}
	return out
}

func ids(cbs []*tonepay.Callback) []int64 {
	var out []int64
	for _, c := range cbs {
		out = append(out, c.ID)
	}
	return out
}

func testClaimOrder(t *testing.T, s tonepay.Store) {
	ss := sessions(t, s, 2)
	a1, a2, b1 := newCallback(ss[0], t0), newCallback(ss[0], t0), newCallback(ss[1], t0)
	late := newCallback(ss[1], t0.Add(time.Hour))
	update(t, s, func(tx tonepay.Tx) error { return tx.AddCallbacks(ctx, a1, a2, b1) })
	update(t, s, func(tx tonepay.Tx) error { return tx.AddCallbacks(ctx, late) })
	if !(a1.ID < a2.ID && a2.ID < b1.ID && b1.ID < late.ID) {
		t.Fatalf("IDs not increasing in insertion order: %d %d %d %d", a1.ID, a2.ID, b1.ID, late.ID)
	}
	if next, err := s.NextCallbackAt(ctx); err != nil || !next.Equal(t0) {
		t.Errorf("NextCallbackAt = %v, %v; want %v", next, err, t0)
	}

	// One per session: a2 waits behind a1.
	got, err := s.ClaimCallbacks(ctx, t0, time.Minute, 10)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]int64{a1.ID, b1.ID}, ids(got)); d != "" {
		t.Fatalf("first claim (-want +got):\n%s", d)
	}
	if d := diff(a1.Form, got[0].Form); d != "" || got[0].Token != a1.Token || got[0].URL != a1.URL {
		t.Errorf("claimed callback differs from the one added: %+v\n%s", got[0], d)
	}
	// Deliver a1: a2 is next for its session; b1 is leased, late not due.
	a1.Status, a1.Attempts, a1.DateUpdated = tonepay.CallbackDelivered, 1, t0
	if err := s.RecordAttempt(ctx, a1, &tonepay.Attempt{CallbackID: a1.ID, N: 1, At: t0, StatusCode: 204}); err != nil {
		t.Fatal(err)
	}
	got, err = s.ClaimCallbacks(ctx, t0.Add(time.Second), time.Minute, 10)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]int64{a2.ID}, ids(got)); d != "" {
		t.Errorf("second claim (-want +got):\n%s", d)
	}
	// The limit is honoured.
	ss2 := sessions(t, s, 3)
	for _, x := range ss2 {
		update(t, s, func(tx tonepay.Tx) error { return tx.AddCallbacks(ctx, newCallback(x, t0)) })
	}
	if got, err := s.ClaimCallbacks(ctx, t0, time.Minute, 2); err != nil || len(got) != 2 {
		t.Errorf("claim with limit 2: %d, %v", len(got), err)
	}
}

func testClaimLease(t *testing.T, s tonepay.Store) {
	sess := sessions(t, s, 1)[0]
	cb := newCallback(sess, t0)
	update(t, s, func(tx tonepay.Tx) error { return tx.AddCallbacks(ctx, cb) })
	if got, _ := s.ClaimCallbacks(ctx, t0, 30*time.Second, 10); len(got) != 1 {
		t.Fatalf("first claim got %d", len(got))
	}
	if got, _ := s.ClaimCallbacks(ctx, t0.Add(29*time.Second), 30*time.Second, 10); len(got) != 0 {
		t.Errorf("claimed again while leased: %d", len(got))
	}
	if next, _ := s.NextCallbackAt(ctx); !next.Equal(t0.Add(30 * time.Second)) {
		t.Errorf("NextCallbackAt = %v, want the lease's end", next)
	}
	// A dispatcher that died holding the lease: the callback comes back.
	if got, _ := s.ClaimCallbacks(ctx, t0.Add(30*time.Second), 30*time.Second, 10); len(got) != 1 {
		t.Errorf("not claimable after the lease: %d", len(got))
	}
}

func testAttempts(t *testing.T, s tonepay.Store) {
	sess := sessions(t, s, 1)[0]
	cb := newCallback(sess, t0)
	update(t, s, func(tx tonepay.Tx) error { return tx.AddCallbacks(ctx, cb) })
	a1 := &tonepay.Attempt{CallbackID: cb.ID, N: 1, At: t0, Duration: 1500 * time.Microsecond, StatusCode: 503, Error: "HTTP 503"}
	cb.Attempts, cb.NextAttemptAt, cb.DateUpdated = 1, t0.Add(time.Second), t0
	if err := s.RecordAttempt(ctx, cb, a1); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.ClaimCallbacks(ctx, t0.Add(999*time.Millisecond), time.Minute, 10); len(got) != 0 {
		t.Errorf("claimed before its retry time")
	}
	a2 := &tonepay.Attempt{CallbackID: cb.ID, N: 2, At: t0.Add(time.Second), Error: "connection refused"}
	cb.Attempts, cb.Status, cb.DateUpdated = 2, tonepay.CallbackFailed, t0.Add(time.Second)
	if err := s.RecordAttempt(ctx, cb, a2); err != nil {
		t.Fatal(err)
	}
	got, err := s.FindAttempts(ctx, cb.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d := diff([]*tonepay.Attempt{a1, a2}, got); d != "" {
		t.Errorf("FindAttempts (-want +got):\n%s", d)
	}
	cbs, err := s.FindCallbacks(ctx, sess.Sid)
	if err != nil || len(cbs) != 1 || cbs[0].Status != tonepay.CallbackFailed || cbs[0].Attempts != 2 {
		t.Fatalf("FindCallbacks: %+v %v", cbs, err)
	}
	if next, _ := s.NextCallbackAt(ctx); !next.IsZero() {
		t.Errorf("NextCallbackAt with nothing pending = %v", next)
	}
	if got, _ := s.ClaimCallbacks(ctx, t0.Add(time.Hour), time.Minute, 10); len(got) != 0 {
		t.Errorf("a failed callback was claimed")
	}
}

func testAnswers(t *testing.T, s tonepay.Store) {
	a := &tonepay.Answer{Key: "k1", Status: 201, Body: []byte(`{"sid":"PK1"}`), DateCreated: t0}
	update(t, s, func(tx tonepay.Tx) error { return tx.AddAnswer(ctx, a) })
	got, err := s.FindAnswer(ctx, "k1", t0.Add(-tonepay.AnswerTTL))
	if err != nil {
		t.Fatal(err)
	}
	if d := diff(a, got); d != "" {
		t.Errorf("FindAnswer (-want +got):\n%s", d)
	}
	if _, err := s.FindAnswer(ctx, "k1", t0.Add(time.Nanosecond)); !errors.Is(err, tonepay.ErrNotFound) {
		t.Errorf("answer older than since: %v", err)
	}
	b := &tonepay.Answer{Key: "k1", Status: 202, Body: []byte(`{}`), DateCreated: t0.Add(time.Hour)}
	update(t, s, func(tx tonepay.Tx) error { return tx.AddAnswer(ctx, b) })
	if got, _ := s.FindAnswer(ctx, "k1", t0); got == nil || got.Status != 202 {
		t.Errorf("replaced answer: %+v", got)
	}
	old := &tonepay.Answer{Key: "k0", Status: 201, Body: []byte(`{}`), DateCreated: t0}
	update(t, s, func(tx tonepay.Tx) error { return tx.AddAnswer(ctx, old) })
	if err := s.PruneAnswers(ctx, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.FindAnswer(ctx, "k0", time.Time{}); !errors.Is(err, tonepay.ErrNotFound) {
		t.Errorf("pruned answer still there: %v", err)
	}
	if _, err := s.FindAnswer(ctx, "k1", time.Time{}); err != nil {
		t.Errorf("newer answer pruned: %v", err)
	}
}

func testNotFound(t *testing.T, s tonepay.Store) {
	finds := map[string]func() error{
		"FindAccount":     func() error { _, err := s.FindAccount(ctx, sid("AC")); return err },
		"FindKey":         func() error { _, err := s.FindKey(ctx, sid("SK")); return err },
		"FindCall":        func() error { _, err := s.FindCall(ctx, sid("CA")); return err },
		"FindSession":     func() error { _, err := s.FindSession(ctx, sid("PK")); return err },
		"FindOpenSession": func() error { _, err := s.FindOpenSession(ctx, sid("CA")); return err },
		"FindAnswer":      func() error { _, err := s.FindAnswer(ctx, "nope", time.Time{}); return err },
		"UpdateCall": func() error {
			return s.Update(ctx, func(tx tonepay.Tx) error { return tx.UpdateCall(ctx, &tonepay.Call{Sid: sid("CA")}) })
		},
		"UpdateSession": func() error {
			return s.Update(ctx, func(tx tonepay.Tx) error { return tx.UpdateSession(ctx, &tonepay.Session{Sid: sid("PK")}) })
		},
	}
	for name, find := range finds {
		if err := find(); !errors.Is(err, tonepay.ErrNotFound) {
			t.Errorf("%s: %v, want ErrNotFound", name, err)
		}
	}
	if n, err := s.CountAccounts(ctx); err != nil || n != 0 {
		t.Errorf("CountAccounts on an empty store = %d, %v", n, err)
	}
}
