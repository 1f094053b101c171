package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func TestFaultKillFlowsSQLite(t *testing.T) {
	t.Parallel()
	faultKillFlows(t, "fault-kill-flows-sqlite", filepath.Join(t.TempDir(), "flows.db"))
}

// On PostgreSQL the callbacks a dead process had leased wait for their lease
// (30 s) to end, since other processes may be alive: the test mostly waits.
func TestFaultKillFlowsPostgres(t *testing.T) {
	t.Parallel()
	faultKillFlows(t, "fault-kill-flows-postgres", postgresDB(t))
}

type killedFlow struct {
	call, pk string
	amount   string
	err      error
}

// TestFaultKillFlows*: sessions go through capture on the keypad and complete
// against `tonepay processor` (a generic connector), while the server is
// killed with SIGKILL at random moments, several times, and started again on
// the same store; the clients carry on as an agent would. Every session ends
// exactly once (one Result callback), every callback arrives signed and in
// order, and the processor charged each session exactly once.
func faultKillFlows(t *testing.T, name, db string) {
	const sessions, drivers, kills = 40, 20, 3
	dir := t.TempDir()
	// The processor holds each transaction's first request a while, so that
	// kills land while charges are under way too.
	processor := startProcess(t, []string{"processor", "--addr", "127.0.0.1:0", "--delay-first", "400ms"}, "TONEPAY_PROCESSOR_PASSWORD=faultproc1")
	fs := newFaultServer(t, db, "TONEPAY_CONFIG="+genericConfig(t, dir, processor.URL), "FAULT_PROC_PASSWORD=faultproc1",
		"TONEPAY_CONNECTOR_LEASE=5s")
	hk := newHook(t, fs.token, "")

	flows := make([]*killedFlow, sessions)
	work := make(chan int)
	var wg sync.WaitGroup
	for range drivers {
		wg.Go(func() {
			for i := range work {
				fl := &killedFlow{amount: fmt.Sprintf("%d.%02d", 10+i/100, i%100)}
				flows[i] = fl
				fl.err = fs.drive(fl, hk.url())
			}
		})
	}
	killerDone := make(chan struct{})
	go func() {
		defer close(killerDone)
		for range kills {
			time.Sleep(time.Duration(150+rand.IntN(500)) * time.Millisecond)
			fs.restart()
		}
	}()
	for i := range sessions {
		work <- i
	}
	close(work)
	wg.Wait()
	<-killerDone
	for _, fl := range flows {
		if fl.err != nil {
			t.Errorf("session %s on %s: %v", fl.pk, fl.call, fl.err)
		}
	}
	if t.Failed() {
		return
	}

	deadline := time.Now().Add(50 * time.Second)
	for {
		var waiting []*killedFlow
		got := hk.bySession()
		for _, fl := range flows {
			if len(finals(got[fl.pk])) == 0 {
				waiting = append(waiting, fl)
			}
		}
		if len(waiting) == 0 {
			break
		}
		if time.Now().After(deadline) {
			for _, fl := range waiting {
				v, _ := fs.view(fl.call, fl.pk)
				cbs, _ := fs.queued(fl.call, fl.pk)
				t.Errorf("session %s never sent its Result: status %q result %q, %d callbacks queued %+v", fl.pk, v.Status, v.Result, len(cbs), cbs)
			}
			t.FailNow()
		}
		time.Sleep(50 * time.Millisecond)
	}
	recs := charges(t, processor.URL, "faultproc1")
	byAmount := map[string][]charge{}
	for _, r := range recs {
		if r.ChargeID != "" {
			byAmount[r.Amount] = append(byAmount[r.Amount], r)
		}
	}
	correct, redelivered := 0, 0
	for _, fl := range flows {
		var cbs []queuedCallback
		waitFor(t, 20*time.Second, "every callback of "+fl.pk+" delivered", func() bool {
			var ok bool
			cbs, ok = fs.queued(fl.call, fl.pk)
			for _, c := range cbs {
				ok = ok && c.Status == "delivered"
			}
			return ok
		})
		d := hk.bySession()[fl.pk]
		redelivered += len(d) - len(cbs)
		res := finals(d)
		ch := byAmount[fl.amount]
		switch {
		case len(res) != 1:
			t.Errorf("session %s ended %d times: %v", fl.pk, len(res), res)
		case res[0].Get("Result") != "success":
			t.Errorf("session %s: %v", fl.pk, res[0])
		case len(ch) != 1 || ch[0].ChargeID != res[0].Get("PaymentConfirmationCode"):
			t.Errorf("session %s (%s) confirmed %s, the processor charged %+v", fl.pk, fl.amount, res[0].Get("PaymentConfirmationCode"), ch)
		default:
			if err := inOrder(d, cbs); err != nil {
				t.Errorf("session %s: %v", fl.pk, err)
				continue
			}
			correct++
		}
	}
	if _, _, invalid := hk.counts(); invalid != 0 {
		t.Errorf("%d callbacks with a bad signature", invalid)
	}
	if n := len(recs); n != sessions {
		t.Errorf("the processor recorded %d transactions for %d sessions", n, sessions)
	}
	figures(t, name, sessions, correct, fmt.Sprintf("kills=%d charges=%d redelivered=%d", kills, len(recs), redelivered))
}

// drive takes one session from create to complete through kills, as a
// careful agent would: it checks that each field was captured and asks again
// if not (a key press sent to a process that died may or may not have been
// applied), and replays its complete with the same IdempotencyKey.
func (fs *faultServer) drive(fl *killedFlow, cb string) error {
	if fl.call = fs.newCall(); fl.call == "" {
		return fmt.Errorf("no call")
	}
	payments := fs.api("/Calls/" + fl.call + "/Payments")
	code, b := fs.retry("POST", payments+".json", url.Values{"IdempotencyKey": {"create"}, "StatusCallback": {cb}, "ChargeAmount": {fl.amount}})
	var pay struct{ Sid string }
	if code != http.StatusCreated || json.Unmarshal(b, &pay) != nil {
		return fmt.Errorf("create: %d %s", code, b)
	}
	fl.pk = pay.Sid
	for _, f := range []struct{ field, keys string }{
		{"payment-card-number", "4242424242424242#"}, {"expiration-date", "1230"}, {"security-code", "123"}, {"postal-code", "94109#"},
	} {
		for try := 0; ; try++ {
			if try == 10 {
				return fmt.Errorf("%s not captured after %d tries", f.field, try)
			}
			code, b := fs.retry("POST", payments+"/"+fl.pk+".json", url.Values{"IdempotencyKey": {"c"}, "StatusCallback": {cb}, "Capture": {f.field}})
			if code/100 != 2 {
				return fmt.Errorf("capture %s: %d %s", f.field, code, b)
			}
			fs.do("POST", fs.ext("/Calls/"+fl.call+"/Digits"), url.Values{"Digits": {f.keys}})
			if v, ok := fs.view(fl.call, fl.pk); ok && v.Captured[f.field] != "" {
				break
			}
		}
	}
	code, b = fs.retry("POST", payments+"/"+fl.pk+".json", url.Values{"IdempotencyKey": {"done"}, "StatusCallback": {cb}, "Status": {"complete"}})
	if code/100 != 2 {
		return fmt.Errorf("complete: %d %s", code, b)
	}
	return nil
}
