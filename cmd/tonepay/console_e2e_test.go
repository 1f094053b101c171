package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/internal/suites"
)

// TestConsole runs the console's browser test (console/e2e, playwright-core
// and Debian's Chromium) against a real server. Without Chromium or the npm
// packages it skips, except under CI, which installs both and must run it.
// Screenshots are left in console/e2e/artifacts (ignored by git;
// console-timeline.png shows the call's timeline; docs/console.png is a copy
// of console-success.png).
func TestConsole(t *testing.T) {
	e2e, _ := filepath.Abs("../../console/e2e")
	chromium, how := suites.Browser(e2e)
	if chromium == "" {
		suites.Need(t, suites.ConsoleSuite, how)
	}
	// A server with a linked Twilio account, and a call streamed to it as
	// Twilio would: the console shows it like any other.
	ss := startStreamServer(t, nil)
	sid, token := ss.sid, ss.token
	streamed := mustDial(t, ss)
	if err := streamed.start(map[string]string{"From": "+15005550077", "To": "+15005550088"}); err != nil {
		t.Fatal(err)
	}
	ss.waitStatus(streamed.call, tonepay.CallInProgress, 10*time.Second)
	// Twilio sends audio all call long; 10 s without a frame is a hang-up.
	alive := make(chan struct{})
	defer close(alive)
	go func() {
		for t := time.NewTicker(100 * time.Millisecond); ; {
			select {
			case <-alive:
				t.Stop()
				return
			case <-t.C:
				if streamed.silence(100) != nil {
					return
				}
			}
		}
	}()
	artifacts := filepath.Join(e2e, "artifacts")
	os.MkdirAll(artifacts, 0o755)
	cmd := exec.Command("node", "console.test.mjs")
	cmd.Dir = e2e
	cmd.Env = append(os.Environ(), "TONEPAY_URL="+ss.URL, "TONEPAY_ACCOUNT_SID="+sid, "TONEPAY_AUTH_TOKEN="+token,
		"ARTIFACTS="+artifacts, "CHROMIUM="+chromium, "STREAMED_CALL="+streamed.call)
	out, err := cmd.CombinedOutput()
	t.Logf("browser test:\n%s", out)
	if err != nil {
		t.Fatalf("the browser test failed: %v", err)
	}
}
