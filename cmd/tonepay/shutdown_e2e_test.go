package main

import (
	"bufio"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tonepay/tonepay"
)

// TestShutdownEndsEventStreams: SIGTERM with a console's event stream open
// ends the stream and exits 0 at once, instead of waiting out the grace
// period and exiting 2 ("context deadline exceeded").
func TestShutdownEndsEventStreams(t *testing.T) {
	sid, token := tonepay.NewSID("AC"), "shutdowntoken1"
	srv := startServer(t, "TONEPAY_DB="+filepath.Join(t.TempDir(), "s.db"), "TONEPAY_ACCOUNT_SID="+sid, "TONEPAY_AUTH_TOKEN="+token)
	req, _ := http.NewRequest("GET", srv.URL+"/_tonepay/Accounts/"+sid+"/Events", nil)
	req.SetBasicAuth(sid, token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	lines := bufio.NewScanner(res.Body)
	for lines.Scan() && !strings.HasPrefix(lines.Text(), "event: ready") {
	}
	ended := make(chan struct{})
	go func() {
		for lines.Scan() {
		}
		close(ended)
	}()
	start := time.Now()
	if code := srv.stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("exit code %d with an event stream open\n%s", code, srv.Stderr())
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("shutdown took %v: it waited for the stream", took)
	}
	select {
	case <-ended:
	case <-time.After(5 * time.Second):
		t.Error("the event stream did not end")
	}
}

// TestShutdownWithAFetchInFlight: SIGTERM while a call's create waits for
// an app that does not answer: the create answers, the process exits 0
// without waiting for the app, and the next start repeats the fetch.
func TestShutdownWithAFetchInFlight(t *testing.T) {
	sid, token := tonepay.NewSID("AC"), "shutdowntoken2"
	db := filepath.Join(t.TempDir(), "s.db")
	env := []string{"TONEPAY_DB=" + db, "TONEPAY_ACCOUNT_SID=" + sid, "TONEPAY_AUTH_TOKEN=" + token}
	var hits atomic.Int32
	release := make(chan struct{})
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) == 1 {
			select { // the first request hangs until the test ends
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		w.Header().Set("Content-Type", "text/xml")
		w.Write([]byte(`<Response><Say>Second time lucky</Say><Pause length="60"/></Response>`))
	}))
	t.Cleanup(app.Close)
	t.Cleanup(func() { close(release) })
	srv := startServer(t, env...)
	created := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest("POST", srv.URL+"/2010-04-01/Accounts/"+sid+"/Calls.json",
			strings.NewReader(url.Values{"To": {"+15005550006"}, "From": {"+15005550001"}, "Url": {app.URL + "/voice"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(sid, token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			created <- 0
			return
		}
		res.Body.Close()
		created <- res.StatusCode
	}()
	waitFor(t, 10*time.Second, "the app's first request", func() bool { return hits.Load() == 1 })
	start := time.Now()
	if code := srv.stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("exit code %d with a fetch in flight\n%s", code, srv.Stderr())
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("shutdown took %s: it waited for the app", d)
	}
	if code := <-created; code != 201 {
		t.Errorf("the create answered %d", code)
	}
	next := startServer(t, env...)
	waitFor(t, 10*time.Second, "the fetch repeated by the next start", func() bool { return hits.Load() == 2 })
	_ = next
}
