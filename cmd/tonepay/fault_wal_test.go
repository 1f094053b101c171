package main

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestFaultWALSize: 32 clients create payment sessions and press keys on the
// real server for 10 s while the size of the SQLite -wal file is sampled; it
// must stay at most 64 MiB (DESIGN §8), then shrink to at most 8 MiB once
// the store has had 30 s without writes. There is no knob to shorten the
// idle threshold, so the test waits the contract's 30 s.
func TestFaultWALSize(t *testing.T) {
	t.Parallel()
	const clients, load, idle = 32, 10 * time.Second, 30 * time.Second
	const maxLoad, maxIdle = 64 << 20, 8 << 20
	db := filepath.Join(t.TempDir(), "wal.db")
	fs := newFaultServer(t, db)
	hk := newHook(t, fs.token, "")
	walStat := func() (int64, time.Time) {
		fi, err := os.Stat(db + "-wal")
		if err != nil {
			return 0, time.Time{}
		}
		return fi.Size(), fi.ModTime()
	}
	walSize := func() int64 { n, _ := walStat(); return n }

	var peak atomic.Int64
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if n := walSize(); n > peak.Load() {
				peak.Store(n)
			}
			select {
			case <-stopSampling:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()

	var sessions, presses atomic.Int64
	end := time.Now().Add(load)
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for time.Now().Before(end) {
				call, pk, err := fs.walSession(hk.url(), &presses)
				if err != nil {
					t.Errorf("session %s on %s: %v", pk, call, err)
					return
				}
				sessions.Add(1)
			}
		})
	}
	wg.Wait()
	// Idle starts once the last callbacks are delivered (each delivery writes its record).
	waitFor(t, 20*time.Second, "the callbacks of the load delivered", func() bool {
		n, _, _ := hk.counts()
		time.Sleep(300 * time.Millisecond)
		m, _, _ := hk.counts()
		return n == m
	})
	close(stopSampling)
	<-sampled
	_, idleFrom := walStat()
	time.Sleep(idle + time.Second)
	idleSize, lastChange := walStat()
	dbSize := int64(0)
	if fi, err := os.Stat(db); err == nil {
		dbSize = fi.Size()
	}

	correct := 0
	if peak.Load() <= maxLoad {
		correct++
	} else {
		t.Errorf("the WAL reached %.1f MiB under load (at most 64 MiB)", mib(peak.Load()))
	}
	if idleSize <= maxIdle {
		correct++
	} else {
		t.Errorf("the WAL is %.1f MiB after %s idle (at most 8 MiB); the file changed during the idle time: %v", mib(idleSize), idle, !lastChange.Equal(idleFrom))
	}
	figures(t, "fault-wal-size", 2, correct, fmt.Sprintf("max_wal_mib=%.1f idle_wal_mib=%.1f db_mib=%.1f clients=%d sessions=%d presses=%d",
		mib(peak.Load()), mib(idleSize), mib(dbSize), clients, sessions.Load(), presses.Load()))
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

// walSession is one short session: create, the card number typed in a few
// presses, cancelled (so that no timer writes once the load stops).
func (fs *faultServer) walSession(cb string, presses *atomic.Int64) (call, pk string, err error) {
	if call = fs.newCall(); call == "" {
		return "", "", fmt.Errorf("no call")
	}
	payments := fs.api("/Calls/" + call + "/Payments")
	code, b, err := fs.do("POST", payments+".json", url.Values{"IdempotencyKey": {"create"}, "StatusCallback": {cb}, "ChargeAmount": {"9.99"}})
	if err != nil || code != 201 {
		return call, "", fmt.Errorf("create: %d %s %v", code, b, err)
	}
	pk = sidOf(b)
	steps := []struct {
		path string
		form url.Values
	}{
		{payments + "/" + pk + ".json", url.Values{"IdempotencyKey": {"c"}, "StatusCallback": {cb}, "Capture": {"payment-card-number"}}},
		{fs.ext("/Calls/" + call + "/Digits"), url.Values{"Digits": {"4242"}}},
		{fs.ext("/Calls/" + call + "/Digits"), url.Values{"Digits": {"4242"}}},
		{fs.ext("/Calls/" + call + "/Digits"), url.Values{"Digits": {"4242"}}},
		{fs.ext("/Calls/" + call + "/Digits"), url.Values{"Digits": {"4242#"}}},
		{payments + "/" + pk + ".json", url.Values{"IdempotencyKey": {"end"}, "StatusCallback": {cb}, "Status": {"cancel"}}},
	}
	for _, s := range steps {
		code, b, err := fs.do("POST", s.path, s.form)
		if err != nil || code/100 != 2 {
			return call, pk, fmt.Errorf("%s: %d %s %v", s.path, code, b, err)
		}
		if s.form.Has("Digits") {
			presses.Add(1)
		}
	}
	return call, pk, nil
}
