package metrics_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/calls"
	"github.com/tonepay/tonepay/connector/sandbox"
	"github.com/tonepay/tonepay/internal/servicetest"
	"github.com/tonepay/tonepay/metrics"
	"github.com/tonepay/tonepay/payments"
	"github.com/tonepay/tonepay/seal"
	"github.com/tonepay/tonepay/store/sqlite"
	"github.com/tonepay/tonepay/store/storetest"
)

// BenchmarkWrap: what the middleware adds to a request, against a handler
// that does nothing (the cheapest request there is), in process.
func BenchmarkWrap(b *testing.B) {
	mux := http.NewServeMux()
	mux.Handle("POST /_tonepay/Accounts/{AccountSid}/Calls/{CallSid}/Digits", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
	}))
	m := metrics.New(metrics.Options{})
	for _, bc := range []struct {
		name string
		h    http.Handler
	}{{"bare", mux}, {"wrapped", m.Wrap(mux)}} {
		b.Run(bc.name, func(b *testing.B) {
			req := httptest.NewRequest("POST", "/_tonepay/Accounts/AC1/Calls/CA1/Digits", nil)
			w := httptest.NewRecorder()
			b.ReportAllocs()
			for b.Loop() {
				bc.h.ServeHTTP(w, req)
			}
		})
	}
}

// BenchmarkPress: a key press through the session service on SQLite (in
// memory, so no fsync hides the hooks' cost), with the hooks off and on.
func BenchmarkPress(b *testing.B) {
	for _, on := range []bool{false, true} {
		name := "nil-hooks"
		if on {
			name = "metrics-hooks"
		}
		b.Run(name, func(b *testing.B) {
			store, err := sqlite.Open(":memory:")
			if err != nil {
				b.Fatal(err)
			}
			defer store.Close()
			box, _ := seal.New(make([]byte, 32))
			svc := servicetest.New(store, nop{}, box, tonepay.Connectors{"Default": sandbox.New()}, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if on {
				m := metrics.New(metrics.Options{Live: store})
				store.ObserveCommit = m.Commit
				svc.Payments.Hooks = payments.Hooks{Ended: m.SessionEnded, Connector: m.ConnectorCall}
				svc.Hooks = calls.Hooks{Keys: m.Keys}
			}
			acct := storetest.MustAccount(b, store, "", time.Now())
			call := storetest.MustCall(b, store, acct.Sid, time.Now())
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := svc.Keypad(ctx, acct.Sid, call.Sid, "1"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkHooks: each hook alone.
func BenchmarkHooks(b *testing.B) {
	m := metrics.New(metrics.Options{})
	b.Run("Keys", func(b *testing.B) {
		for b.Loop() {
			m.Keys("keypad", 1)
		}
	})
	b.Run("Commit", func(b *testing.B) {
		for b.Loop() {
			m.Commit(time.Millisecond)
		}
	})
	b.Run("CallbackAttempt", func(b *testing.B) {
		for b.Loop() {
			m.CallbackAttempt("delivered", time.Millisecond, time.Second)
		}
	})
}
