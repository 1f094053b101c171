package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tonepay/tonepay/cmd/tonepay/internal/bench"
)

// TestFaultReceiverRefuses: a receiver is down (connection refused), then
// answers 500, then recovers. Every callback queued meanwhile is delivered,
// each session's in the order queued, all signed.
func TestFaultReceiverRefuses(t *testing.T) {
	t.Parallel()
	const sessions, down, failing = 20, 1500 * time.Millisecond, 1500 * time.Millisecond
	fs := newFaultServer(t, filepath.Join(t.TempDir(), "refuse.db"))
	// A port nobody listens on yet: the receiver comes up on it later.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cb := "http://" + addr + "/cb"

	start := time.Now()
	type session struct{ call, pk string }
	all := make([]session, sessions)
	var wg sync.WaitGroup
	for i := range all {
		wg.Go(func() {
			s := &all[i]
			var err error
			if s.call, s.pk, err = fs.cardSteps(cb); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	time.Sleep(time.Until(start.Add(down)))
	hk := newHook(t, fs.token, addr)
	hk.setAnswer(func(w http.ResponseWriter, _ *http.Request) bool {
		w.WriteHeader(http.StatusInternalServerError)
		return false
	})
	time.Sleep(failing)
	hk.setAnswer(nil)

	tried, correct := 0, 0
	for _, s := range all {
		var cbs []queuedCallback
		waitFor(t, 30*time.Second, "every callback of "+s.pk+" delivered", func() bool {
			var ok bool
			cbs, ok = fs.queued(s.call, s.pk)
			for _, c := range cbs {
				ok = ok && c.Status == "delivered"
			}
			return ok
		})
		tried += len(cbs)
		if err := inOrder(hk.bySession()[s.pk], cbs); err != nil {
			t.Errorf("session %s: %v", s.pk, err)
			continue
		}
		correct += len(cbs)
	}
	accepted, refused, invalid := hk.counts()
	if invalid != 0 {
		t.Errorf("%d callbacks with a bad signature", invalid)
	}
	figures(t, "fault-receiver-refuses", tried, correct, fmt.Sprintf("sessions=%d answered_500=%d accepted=%d", sessions, refused, accepted))
}

// cardSteps makes a session queue several callbacks: created, capture
// asked, a partial and a complete card number, cancelled.
func (fs *faultServer) cardSteps(cb string) (call, pk string, err error) {
	if call = fs.newCall(); call == "" {
		return "", "", fmt.Errorf("no call")
	}
	payments := fs.api("/Calls/" + call + "/Payments")
	code, b := fs.retry("POST", payments+".json", url.Values{"IdempotencyKey": {"create"}, "StatusCallback": {cb}})
	var pay struct{ Sid string }
	if code != http.StatusCreated || json.Unmarshal(b, &pay) != nil {
		return call, "", fmt.Errorf("create: %d %s", code, b)
	}
	pk = pay.Sid
	steps := []struct {
		path string
		form url.Values
	}{
		{payments + "/" + pk + ".json", url.Values{"IdempotencyKey": {"c"}, "StatusCallback": {cb}, "Capture": {"payment-card-number"}}},
		{fs.ext("/Calls/" + call + "/Digits"), url.Values{"Digits": {"4242"}}},
		{fs.ext("/Calls/" + call + "/Digits"), url.Values{"Digits": {"424242424242#"}}},
		{payments + "/" + pk + ".json", url.Values{"IdempotencyKey": {"end"}, "StatusCallback": {cb}, "Status": {"cancel"}}},
	}
	for _, s := range steps {
		if code, b := fs.retry("POST", s.path, s.form); code/100 != 2 {
			return call, pk, fmt.Errorf("%s: %d %s", s.path, code, b)
		}
	}
	return call, pk, nil
}

// TestFaultReceiverHangs: 100 sessions send their callbacks to a receiver
// that accepts connections and never answers; meanwhile sessions of another
// account-holder's receiver, on another host, get theirs as if nothing were
// wrong. The bound asserted is generous (a few seconds, against the 15 s
// attempt timeout that a shared pool would make everyone wait); the
// latencies are reported.
func TestFaultReceiverHangs(t *testing.T) {
	t.Parallel()
	const hanging, healthy, bound = 100, 40, 5 * time.Second
	fs := newFaultServer(t, filepath.Join(t.TempDir(), "hang.db"))
	stuck := newHook(t, fs.token, "127.0.0.2:0") // another host than the healthy one
	release := make(chan struct{})
	t.Cleanup(func() { close(release) }) // runs before the hook's Close
	stuck.setAnswer(func(_ http.ResponseWriter, r *http.Request) bool {
		select {
		case <-release:
		case <-r.Context().Done():
		}
		return false
	})
	good := newHook(t, fs.token, "")

	create := func(cb string) (string, time.Time, error) {
		call := fs.newCall()
		code, b := fs.retry("POST", fs.api("/Calls/"+call+"/Payments.json"), url.Values{"IdempotencyKey": {"create"}, "StatusCallback": {cb}})
		at := time.Now()
		var pay struct{ Sid string }
		if code != http.StatusCreated || json.Unmarshal(b, &pay) != nil {
			return "", at, fmt.Errorf("create: %d %s", code, b)
		}
		return pay.Sid, at, nil
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for range hanging {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if _, _, err := create(stuck.url()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	waitFor(t, 10*time.Second, "the hanging receiver holding requests", func() bool {
		// Its handler returns only when released: count connections instead.
		return openConns(stuck) > 0
	})

	sent := map[string]time.Time{}
	var mu sync.Mutex
	for range healthy {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			pk, at, err := create(good.url())
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			sent[pk] = at
			mu.Unlock()
		})
		time.Sleep(25 * time.Millisecond) // a steady trickle, not one burst
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	deadline := time.Now().Add(bound + time.Second)
	for time.Now().Before(deadline) {
		if len(good.bySession()) >= healthy {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	got := good.bySession()
	var lat []time.Duration
	correct := 0
	for pk, at := range sent {
		d, ok := got[pk]
		if !ok {
			continue
		}
		l := max(0, d[0].At.Sub(at))
		lat = append(lat, l)
		if l <= bound {
			correct++
		}
	}
	slices.Sort(lat)
	if _, _, invalid := good.counts(); invalid != 0 {
		t.Errorf("%d callbacks with a bad signature", invalid)
	}
	figures(t, "fault-receiver-hangs", healthy, correct, fmt.Sprintf("hanging_sessions=%d hanging_held=%d healthy_arrived=%d healthy_p50_ms=%.1f healthy_p99_ms=%.1f bound=%s",
		hanging, openConns(stuck), len(lat), bench.Percentile(lat, 50), bench.Percentile(lat, 99), bound))
}

// openConns counts the hook's connections with a request in progress.
func openConns(h *hook) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.active
}
