package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestFaultKillCreates: 32 clients create calls and payment sessions as fast
// as the server answers; the server is killed with SIGKILL in the middle and
// started again on the same store. Every create it acknowledged (201) is
// there after the restart: a call reads back as it was created, a payment
// create replayed with its IdempotencyKey answers the very same body, and
// its first callback was queued with it. A create that got no answer was
// either made whole or not at all: replayed, it succeeds (a session without
// its stored answer would be refused as a second session on the call).
func TestFaultKillCreates(t *testing.T) {
	t.Parallel()
	t.Run("sqlite", func(t *testing.T) {
		db := filepath.Join(t.TempDir(), "kill.db")
		faultKillCreates(t, "fault-kill-creates-sqlite", db, func(fs *faultServer) {
			var check string
			if err := openReadOnly(t, db).QueryRow(`PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
				t.Errorf("integrity_check after the crash: %q %v", check, err)
			}
		})
	})
	t.Run("postgres", func(t *testing.T) {
		faultKillCreates(t, "fault-kill-creates-postgres", postgresDB(t), nil)
	})
}

type createdPayment struct {
	call    string
	form    url.Values
	body    []byte // nil: no answer
	refused bool   // answered, but not 201
}

func faultKillCreates(t *testing.T, name, db string, after func(*faultServer)) {
	fs := newFaultServer(t, db)
	hk := newHook(t, fs.token, "")
	const clients, killAfter = 32, 400 // acknowledged payments before the kill

	var (
		mu       sync.Mutex
		calls    = map[string][]byte{} // sid -> create body
		payments []*createdPayment
		acked    atomic.Int32
		killed   = make(chan struct{})
		once     sync.Once
		wg       sync.WaitGroup
		refused  = map[int]int{} // answers other than 201, by status
	)
	// A create answered with an error is not acknowledged, but no create
	// with good credentials should be refused: say so once per status.
	refuse := func(what string, code int, body []byte) {
		mu.Lock()
		if refused[code]++; refused[code] == 1 {
			t.Errorf("%s answered %d: %s", what, code, body)
		}
		mu.Unlock()
		time.Sleep(10 * time.Millisecond) // as a client would, a little
	}
	for c := range clients {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-killed:
					return
				default:
				}
				code, b, err := fs.do("POST", fs.api("/Calls.json"), url.Values{"To": {"+15005550006"}, "From": {"+15005550001"}, "Url": {"https://example.com/twiml"}})
				if err != nil {
					return
				}
				var call struct{ Sid string }
				if code != http.StatusCreated || json.Unmarshal(b, &call) != nil {
					refuse("call create", code, b)
					continue
				}
				mu.Lock()
				calls[call.Sid] = b
				mu.Unlock()
				p := &createdPayment{call: call.Sid, form: url.Values{"IdempotencyKey": {fmt.Sprintf("create-%d-%d", c, i)},
					"StatusCallback": {hk.url()}, "ChargeAmount": {fmt.Sprintf("%d.%02d", 1+i%90, c)}}}
				mu.Lock()
				payments = append(payments, p)
				mu.Unlock()
				code, b, err = fs.do("POST", fs.api("/Calls/"+call.Sid+"/Payments.json"), p.form)
				if err != nil {
					return
				}
				if code != http.StatusCreated {
					refuse("payment create", code, b)
					p.refused = true
					continue
				}
				mu.Lock()
				p.body = b
				mu.Unlock()
				if acked.Add(1) == killAfter {
					once.Do(func() { fs.kill(); close(killed) })
				}
			}
		})
	}
	select {
	case <-killed:
	case <-time.After(30 * time.Second):
		t.Fatal("the server never acknowledged enough creates")
	}
	wg.Wait()
	fs.start()
	if after != nil {
		after(fs)
	}

	tried, correct := 0, 0
	for sid, want := range calls {
		tried++
		code, got := fs.retry("GET", fs.api("/Calls/"+sid+".json"), nil)
		if code == 200 && bytes.Equal(got, want) {
			correct++
		} else {
			t.Errorf("acknowledged call %s after the restart: %d %s\nwas created as %s", sid, code, got, want)
		}
	}
	unacked, whole := 0, 0
	for _, p := range payments {
		if p.refused {
			continue
		}
		code, got := fs.retry("POST", fs.api("/Calls/"+p.call+"/Payments.json"), p.form)
		if p.body == nil {
			unacked++
			if code == http.StatusCreated {
				whole++
			} else {
				t.Errorf("unanswered create on %s, replayed: %d %s (half written?)", p.call, code, got)
			}
			continue
		}
		tried++
		var pay struct{ Sid string }
		json.Unmarshal(p.body, &pay)
		cbs, ok := fs.queued(p.call, pay.Sid)
		switch {
		case code != http.StatusCreated || !bytes.Equal(got, p.body):
			t.Errorf("acknowledged payment %s replayed after the restart: %d %s\nwas %s", pay.Sid, code, got, p.body)
		case !ok || len(cbs) == 0:
			t.Errorf("acknowledged payment %s has no callback queued", pay.Sid)
		default:
			correct++
		}
	}
	n := 0
	for _, c := range refused {
		n += c
	}
	figures(t, name, tried, correct, fmt.Sprintf("calls=%d payments=%d unanswered=%d unanswered_whole_on_replay=%d refused=%d",
		len(calls), tried-len(calls), unacked, whole, n))
}
