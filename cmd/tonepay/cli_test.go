package main

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/tonepay/tonepay"
	api "github.com/twilio/twilio-go/rest/api/v2010"
)

func TestDemo(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"demo"}, func(string) string { return "" }, &out, &out); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	s := out.String()
	for _, want := range []string{"session created", "PaymentCardNumber=xxxxxxxxxxxx4242", "Result=success", "ch_"} {
		if !strings.Contains(s, want) {
			t.Errorf("demo output lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "INVALID") || strings.Contains(s, "4242424242424242") {
		t.Errorf("demo output shows a bad signature or a card number:\n%s", s)
	}
}

// TestCallCommands plays the caller with `tonepay call` against a real server.
func TestCallCommands(t *testing.T) {
	sid, token := tonepay.NewSID("AC"), "clitoken1"
	srv := startServer(t, "TONEPAY_DB="+filepath.Join(t.TempDir(), "cli.db"), "TONEPAY_ACCOUNT_SID="+sid, "TONEPAY_AUTH_TOKEN="+token)
	tonepayCmd := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(binary, args...)
		cmd.Env = []string{"TONEPAY_SERVER=" + srv.URL, "TONEPAY_ACCOUNT_SID=" + sid, "TONEPAY_AUTH_TOKEN=" + token}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("tonepay %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	call := tonepayCmd("call", "create")
	if !tonepay.IsSID(call, "CA") {
		t.Fatalf("call create printed %q", call)
	}
	rc := newReceiver(t, token)
	tw, _ := newTwilio(t, srv.URL, sid, token, sid, nil)
	pay, err := tw.CreatePayments(call, (&api.CreatePaymentsParams{}).SetIdempotencyKey("k").SetStatusCallback(rc.srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tw.UpdatePayments(call, *pay.Sid, (&api.UpdatePaymentsParams{}).SetIdempotencyKey("c").SetStatusCallback(rc.srv.URL).SetCapture("expiration-date")); err != nil {
		t.Fatal(err)
	}
	if out := tonepayCmd("call", "press", call, "12w305"); out != "4 keys applied, 1 dropped" {
		t.Errorf("call press printed %q", out)
	}
	waitFor(t, 15*time.Second, "the expiry", func() bool {
		for _, d := range rc.forSession(*pay.Sid) {
			if d.Form.Get("ExpirationDate") == "1230" && d.Form.Get("PartialResult") == "false" {
				return true
			}
		}
		return false
	})
	tonepayCmd("call", "hangup", call)
	if c, err := tw.FetchCall(call, &api.FetchCallParams{}); err != nil || *c.Status != "completed" {
		t.Errorf("after hangup: %v %v", c, err)
	}
	cmd := exec.Command(binary, "call", "press", call, "1")
	cmd.Env = []string{"TONEPAY_SERVER=" + srv.URL, "TONEPAY_ACCOUNT_SID=" + sid, "TONEPAY_AUTH_TOKEN=wrong"}
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "20003") {
		t.Errorf("wrong token: %v %s", err, out)
	}
}

// TestRestartKeepsDeadlines: a capture waiting for its first digit when the
// server is killed still times out after the restart.
func TestRestartKeepsDeadlines(t *testing.T) {
	db := filepath.Join(t.TempDir(), "deadline.db")
	sid, token := tonepay.NewSID("AC"), "deadlinetoken1"
	env := []string{"TONEPAY_DB=" + db, "TONEPAY_ACCOUNT_SID=" + sid, "TONEPAY_AUTH_TOKEN=" + token, "TONEPAY_FIRST_DIGIT_TIMEOUT=2s"}
	rc := newReceiver(t, token)
	first := startServer(t, env...)
	tw, _ := newTwilio(t, first.URL, sid, token, sid, nil)
	call, err := tw.CreateCall((&api.CreateCallParams{}).SetTo("+15005550006").SetFrom("+15005550001").SetUrl("https://example.com/t"))
	if err != nil {
		t.Fatal(err)
	}
	pay, err := tw.CreatePayments(*call.Sid, (&api.CreatePaymentsParams{}).SetIdempotencyKey("k").SetStatusCallback(rc.srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tw.UpdatePayments(*call.Sid, *pay.Sid, (&api.UpdatePaymentsParams{}).SetIdempotencyKey("c").SetStatusCallback(rc.srv.URL).SetCapture("payment-card-number")); err != nil {
		t.Fatal(err)
	}
	first.kill()
	second := startServer(t, env...)
	defer func() {
		if t.Failed() {
			t.Logf("deliveries: %+v\nlog: %s", rc.deliveries(), second.Stderr())
		}
	}()
	waitFor(t, 10*time.Second, "input-timeout after the restart", func() bool {
		for _, d := range rc.forSession(*pay.Sid) {
			if d.Form.Get("ErrorType") == "input-timeout" {
				return d.Valid
			}
		}
		return false
	})
}

// TestVersion: a build with a VCS stamp shows the revision; one without
// says why there is none.
func TestVersion(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "(devel)"}}
	if got, want := versionOf(bi, true), "tonepay (devel) go1.26.0; revision unknown (built without VCS information, e.g. go run or -buildvcs=false)"; got != want {
		t.Errorf("no VCS stamp: %q, want %q", got, want)
	}
	bi.Settings = []debug.BuildSetting{{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.time", Value: "2025-03-01T12:00:00Z"}, {Key: "vcs.modified", Value: "true"}}
	if got, want := versionOf(bi, true), "tonepay (devel) abc123 (modified) 2025-03-01T12:00:00Z go1.26.0"; got != want {
		t.Errorf("stamped: %q, want %q", got, want)
	}
	if got := versionOf(nil, false); got != "tonepay (no build information)" {
		t.Errorf("no build info: %q", got)
	}
}
