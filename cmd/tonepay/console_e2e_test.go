package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

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
	sid, token := tonepay.NewSID("AC"), "consoletoken1"
	srv := startServer(t, "TONEPAY_DB="+filepath.Join(t.TempDir(), "console.db"), "TONEPAY_ACCOUNT_SID="+sid, "TONEPAY_AUTH_TOKEN="+token)
	artifacts := filepath.Join(e2e, "artifacts")
	os.MkdirAll(artifacts, 0o755)
	cmd := exec.Command("node", "console.test.mjs")
	cmd.Dir = e2e
	cmd.Env = append(os.Environ(), "TONEPAY_URL="+srv.URL, "TONEPAY_ACCOUNT_SID="+sid, "TONEPAY_AUTH_TOKEN="+token,
		"ARTIFACTS="+artifacts, "CHROMIUM="+chromium)
	out, err := cmd.CombinedOutput()
	t.Logf("browser test:\n%s", out)
	if err != nil {
		t.Fatalf("the browser test failed: %v", err)
	}
}
