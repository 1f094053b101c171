package webhook_test

import (
	"net"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tonepay/tonepay/webhook"
)

// TestObserve: each attempt's outcome reaches Observe, with the receiver's
// time and the callback's age.
func TestObserve(t *testing.T) {
	f := newFixture(t)
	rc := newReceiver(t, f.account.AuthToken.Reveal())
	fail := true
	rc.set(func(rc *receiver) {
		rc.answer = func(delivery) int {
			if fail {
				fail = false
				return http.StatusServiceUnavailable
			}
			return http.StatusOK
		}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + ln.Addr().String() + "/cb"
	ln.Close()
	deny, _ := webhook.ParsePolicy("private") // loopback is not in it

	type seen struct {
		outcome string
		aged    bool
	}
	var mu sync.Mutex
	var got []seen
	observe := func(outcome string, took, age time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, seen{outcome, age >= time.Minute})
	}
	outcomes := func() []string {
		mu.Lock()
		defer mu.Unlock()
		var o []string
		for _, s := range got {
			o = append(o, s.outcome)
		}
		slices.Sort(o)
		return o
	}
	created := time.Now().Add(-time.Minute)
	d := &webhook.Dispatcher{Store: f.store, Poll: time.Hour, Backoff: func(int) time.Duration { return 10 * time.Millisecond }, Observe: observe}
	run(t, d)
	f.queue(t, "PK1", rc.srv.URL+"/cb", 1, created) // 503, then 200
	f.queue(t, "PK2", refused, 1, created)          // nothing listens
	d.Notify()
	waitFor(t, "delivered, http_error and no_answer", func() bool {
		o := outcomes()
		return slices.Contains(o, webhook.OutcomeDelivered) && slices.Contains(o, webhook.OutcomeHTTPError) && slices.Contains(o, webhook.OutcomeNoAnswer)
	})

	// A store of its own: the first dispatcher, still retrying PK2, must
	// not take PK3.
	f2 := newFixture(t)
	strict := &webhook.Dispatcher{Store: f2.store, Poll: time.Hour, Policy: deny, Observe: observe}
	mu.Lock()
	got = nil
	mu.Unlock()
	run(t, strict)
	f2.queue(t, "PK3", rc.srv.URL+"/cb", 1, created)
	strict.Notify()
	waitFor(t, "refused", func() bool { return slices.Contains(outcomes(), webhook.OutcomeRefused) })
	mu.Lock()
	defer mu.Unlock()
	for _, s := range got {
		if !s.aged {
			t.Errorf("%s observed with the age of a callback created now; it was created a minute ago", s.outcome)
		}
	}
}
