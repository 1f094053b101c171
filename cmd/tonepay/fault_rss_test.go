package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestFaultRSSReturned parks thousands of calls in a <Gather>, hangs them
// all up, and waits for the server's resident memory to come back down once
// it is idle. Go's heap returns by itself; SQLite's page caches live in its
// own allocator and stayed resident (an attack run saw 21 → 111 MB over three
// rounds, unchanged after idle) until the idle store shrank them.
func TestFaultRSSReturned(t *testing.T) {
	t.Parallel()
	fs := newFaultServer(t, filepath.Join(t.TempDir(), "rss.db"))
	pid := fs.cur.Pid()
	if _, err := rssAnon(pid); err != nil {
		t.Skipf("no /proc here: %v", err) // Linux only; CI runs on Linux
	}
	base, _ := rssAnon(pid)

	const calls, workers = 8000, 16
	twiml := `<Response><Say>Hello there caller</Say><Gather timeout="600" numDigits="3"><Say>Press keys</Say></Gather></Response>`
	sids := make([]string, calls)
	each := func(f func(i int)) {
		var wg sync.WaitGroup
		next := make(chan int)
		for range workers {
			wg.Go(func() {
				for i := range next {
					f(i)
				}
			})
		}
		for i := range calls {
			next <- i
		}
		close(next)
		wg.Wait()
	}
	each(func(i int) {
		code, b, err := fs.do("POST", fs.api("/Calls.json"), url.Values{"To": {"+15005550006"}, "From": {"+15005550001"}, "Twiml": {twiml}})
		var c struct{ Sid string }
		if err == nil && code == http.StatusCreated && json.Unmarshal(b, &c) == nil {
			sids[i] = c.Sid
		}
	})
	hungUp := 0
	var mu sync.Mutex
	each(func(i int) {
		if sids[i] == "" {
			return
		}
		if code, _, err := fs.do("POST", fs.api("/Calls/"+sids[i]+".json"), url.Values{"Status": {"completed"}}); err == nil && code == http.StatusOK {
			mu.Lock()
			hungUp++
			mu.Unlock()
		}
	})
	peak, err := rssAnon(pid)
	if err != nil {
		t.Fatal(err)
	}
	if peak-base < 20<<20 {
		t.Logf("the load grew resident memory by only %d KiB; nothing to return", (peak-base)>>10)
	}
	// Idle: the WAL's idle truncation (5 s) shrinks the writer's cache, idle
	// readers close after 30 s. Back within half the growth, or less.
	want := base + (peak-base)/2
	var now int64
	deadline := time.Now().Add(3 * time.Minute)
	for {
		if now, err = rssAnon(pid); err != nil {
			t.Fatal(err)
		}
		if now <= want || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	correct := 0
	if now <= want {
		correct = 1
	}
	figures(t, "fault-rss-returned", 1, correct, fmt.Sprintf("calls=%d hung_up=%d rss_anon_kib start=%d peak=%d idle=%d",
		calls, hungUp, base>>10, peak>>10, now>>10))
	if hungUp != calls {
		t.Errorf("%d of %d calls created and hung up", hungUp, calls)
	}
}

// rssAnon reads a process's anonymous resident memory (RssAnon, in bytes)
// from /proc: what the heap and the allocators hold, not its mapped files.
func rssAnon(pid int) (int64, error) {
	f, err := os.Open(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "RssAnon:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no RssAnon in /proc/%d/status", pid)
}
