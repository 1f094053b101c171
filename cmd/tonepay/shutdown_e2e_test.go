package main

import (
	"bufio"
	"net/http"
	"path/filepath"
	"strings"
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
