package sqlite_test

import (
	"context"
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
		cbs[i] = &tonepay.Callback{Token: tonepay.RandomHex(8), AccountSid: a.Sid, SessionSid: tonepay.NewSID("PK"), URL: "http://x/",
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
				c.Token, c.SessionSid = tonepay.RandomHex(8), tonepay.NewSID("PK")
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
