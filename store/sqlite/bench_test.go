package sqlite_test

import (
	"context"
	"errors"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/store/sqlite"
	"github.com/tonepay/tonepay/store/storetest"
)

// BenchmarkClaimCallbacks claims and records one callback at a time from an
// outbox of many sessions: the dispatcher's path per delivery.
func BenchmarkClaimCallbacks(b *testing.B) {
	ctx := context.Background()
	s, err := sqlite.Open(filepath.Join(b.TempDir(), "b.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	now := time.Now().UTC()
	a := storetest.MustAccount(b, s, "", now)
	const n = 2000
	cbs := make([]*tonepay.Callback, n)
	for i := range cbs {
		cbs[i] = &tonepay.Callback{Token: tonepay.RandomHex(8), AccountSid: a.Sid, Chain: tonepay.NewSID("PK"), URL: "http://x/",
			Status: tonepay.CallbackPending, NextAttemptAt: now, DateCreated: now, DateUpdated: now}
	}
	if err := s.Update(ctx, func(tx tonepay.Tx) error { return tx.AddCallbacks(ctx, cbs...) }); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		got, err := s.ClaimCallbacks(ctx, now.Add(time.Duration(i)), time.Minute, 1)
		if err == nil && len(got) == 0 { // all delivered: queue more
			b.StopTimer()
			for j := range cbs {
				c := *cbs[j]
				c.Token, c.Chain = tonepay.RandomHex(8), tonepay.NewSID("PK")
				cbs[j] = &c
			}
			err = s.Update(ctx, func(tx tonepay.Tx) error { return tx.AddCallbacks(ctx, cbs...) })
			b.StartTimer()
			if err == nil {
				got, err = s.ClaimCallbacks(ctx, now.Add(time.Duration(i)), time.Minute, 1)
			}
		}
		if err != nil || len(got) != 1 {
			b.Fatalf("claim: %d %v", len(got), err)
		}
		cb := got[0]
		cb.Status, cb.Attempts = tonepay.CallbackDelivered, 1
		if err := s.RecordAttempt(ctx, cb, &tonepay.Attempt{CallbackID: cb.ID, N: 1, At: now, StatusCode: 204}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCreateDurable is what one Payments create asks of the store, with
// 64 at once as under load: the create transaction (call check, session,
// its callback handed over, the idempotent answer), then the callback's
// attempt record. Every commit is fsynced; concurrent ones share it. Its
// rate is the ceiling of durable creates on this machine, HTTP aside.
func BenchmarkCreateDurable(b *testing.B) {
	ctx := context.Background()
	s, err := sqlite.Open(filepath.Join(b.TempDir(), "b.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	now := time.Now().UTC()
	a := storetest.MustAccount(b, s, "", now)
	calls := make(chan *tonepay.Call, b.N)
	for i := 0; i < b.N; i += 500 {
		err := s.Update(ctx, func(tx tonepay.Tx) error {
			for range min(500, b.N-i) {
				c := &tonepay.Call{Sid: tonepay.NewSID("CA"), AccountSid: a.Sid, To: "+15005550006", From: "+15005550001",
					Status: tonepay.CallInProgress, StartTime: now, DateCreated: now, DateUpdated: now}
				if err := tx.CreateCall(ctx, c); err != nil {
					return err
				}
				calls <- c
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	body := make([]byte, 900) // a rendered Payments resource
	b.SetParallelism(32)      // × GOMAXPROCS (2) = 64 at once
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			call := <-calls
			sess := &tonepay.Session{Sid: tonepay.NewSID("PK"), AccountSid: a.Sid, CallSid: call.Sid, Status: tonepay.SessionOpen,
				Params: tonepay.Params{PaymentMethod: tonepay.CreditCard, ChargeAmount: "10.00", Currency: "USD", Timeout: 5},
				State:  tonepay.State{StatusCallback: "http://127.0.0.1/cb"}, DateCreated: now, DateUpdated: now}
			cb := &tonepay.Callback{Token: tonepay.RandomHex(16), AccountSid: a.Sid, Chain: sess.Sid, URL: "http://127.0.0.1/cb",
				Form:   url.Values{"AccountSid": {a.Sid}, "CallSid": {call.Sid}, "Sid": {sess.Sid}, "PaymentConnector": {"Default"}},
				Status: tonepay.CallbackPending, NextAttemptAt: now, ClaimedUntil: now.Add(time.Minute), DateCreated: now, DateUpdated: now}
			err := s.Update(ctx, func(tx tonepay.Tx) error {
				if _, err := tx.FindAnswer(ctx, sess.Sid, now); !errors.Is(err, tonepay.ErrNotFound) {
					return err
				}
				if _, err := tx.FindCall(ctx, call.Sid); err != nil {
					return err
				}
				if err := tx.CreateSession(ctx, sess); err != nil {
					return err
				}
				if err := tx.AddCallbacks(ctx, cb); err != nil {
					return err
				}
				return tx.AddAnswer(ctx, &tonepay.Answer{Key: sess.Sid, Format: 201, Body: body, DateCreated: now})
			})
			if err != nil {
				b.Fatal(err)
			}
			cb.Status, cb.Attempts = tonepay.CallbackDelivered, 1
			if err := s.RecordAttempt(ctx, cb, &tonepay.Attempt{CallbackID: cb.ID, N: 1, At: now, StatusCode: 204}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkRecordAttempt records delivered callbacks, 64 at once as the
// dispatcher's workers do under load: the outbox's half of the committer's
// jobs when every key press has a callback.
func BenchmarkRecordAttempt(b *testing.B) {
	ctx := context.Background()
	s, err := sqlite.Open(filepath.Join(b.TempDir(), "b.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	now := time.Now().UTC()
	a := storetest.MustAccount(b, s, "", now)
	cbs := make(chan *tonepay.Callback, b.N)
	for i := 0; i < b.N; i += 500 {
		batch := make([]*tonepay.Callback, min(500, b.N-i))
		for j := range batch {
			batch[j] = &tonepay.Callback{Token: tonepay.RandomHex(16), AccountSid: a.Sid, Chain: tonepay.NewSID("PK"), URL: "http://127.0.0.1/cb",
				Status: tonepay.CallbackPending, NextAttemptAt: now, ClaimedUntil: now.Add(time.Minute), DateCreated: now, DateUpdated: now}
		}
		if err := s.Update(ctx, func(tx tonepay.Tx) error { return tx.AddCallbacks(ctx, batch...) }); err != nil {
			b.Fatal(err)
		}
		for _, cb := range batch {
			cbs <- cb
		}
	}
	b.SetParallelism(32) // × GOMAXPROCS (2) = 64 at once
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			cb := <-cbs
			cb.Status, cb.Attempts = tonepay.CallbackDelivered, 1
			if err := s.RecordAttempt(ctx, cb, &tonepay.Attempt{CallbackID: cb.ID, N: 1, At: now, StatusCode: 204}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
