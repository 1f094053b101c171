package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/tonepay/tonepay"
)

// LiveCounter is what the stores offer /metrics beyond tonepay.Store.
type LiveCounter interface {
	tonepay.Store
	CountLive(ctx context.Context) (sessions, callbacks, calls int, err error)
}

// RunLive checks CountLive: it counts open sessions, pending callbacks and
// calls in progress, and forgets each once it ends.
func RunLive(t *testing.T, s LiveCounter) {
	t.Helper()
	check := func(step string, sessions, callbacks, calls int) {
		t.Helper()
		gs, gcb, gc, err := s.CountLive(ctx)
		if err != nil || gs != sessions || gcb != callbacks || gc != calls {
			t.Errorf("%s: CountLive = %d, %d, %d, %v; want %d, %d, %d", step, gs, gcb, gc, err, sessions, callbacks, calls)
		}
	}
	check("empty", 0, 0, 0)
	acct := MustAccount(t, s, "", t0)
	call := MustCall(t, s, acct.Sid, t0)
	MustCall(t, s, acct.Sid, t0) // stays in progress
	sess := newSession(call)
	cb := newCallback(sess, t0)
	update(t, s, func(tx tonepay.Tx) error {
		if err := tx.CreateSession(ctx, sess); err != nil {
			return err
		}
		return tx.AddCallbacks(ctx, cb)
	})
	check("live", 1, 1, 2)

	sess.Status, sess.State.Result = tonepay.SessionEnded, tonepay.ResultHungUp
	call.Status, call.EndTime = tonepay.CallCompleted, t0.Add(time.Minute)
	update(t, s, func(tx tonepay.Tx) error {
		if err := tx.UpdateSession(ctx, sess); err != nil {
			return err
		}
		return tx.UpdateCall(ctx, call)
	})
	check("ended", 0, 1, 1)
	cb.Status, cb.Attempts = tonepay.CallbackDelivered, 1
	if err := s.RecordAttempt(ctx, cb, &tonepay.Attempt{CallbackID: cb.ID, N: 1, At: t0, StatusCode: 200}); err != nil {
		t.Fatal(err)
	}
	check("delivered", 0, 0, 1)
}
