package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/internal/suites"
)

// The same application, written against Twilio's official helper libraries
// for Node.js (npm's twilio) and Python (Debian's python3-twilio), runs
// unchanged but for the API's address (twilioapi/e2e): a call, an
// agent-assisted card payment with signed status callbacks, the call read
// back, Twilio's errors as each library reports them.
func TestTwilioNodeSDK(t *testing.T) {
	dir := sdkDir(t)
	runSDKApp(t, "node", filepath.Join(dir, "payment.mjs"))
}

func TestTwilioPythonSDK(t *testing.T) {
	dir := sdkDir(t)
	python, _ := suites.TwilioSDKs(dir)
	runSDKApp(t, python, filepath.Join(dir, "payment.py"))
}

func sdkDir(t *testing.T) string {
	t.Helper()
	dir, _ := filepath.Abs("../../twilioapi/e2e")
	if _, how := suites.TwilioSDKs(dir); how != "" {
		suites.Need(t, suites.SDKSuite, how)
	}
	return dir
}

// sdkReport is what the app prints: the sids it got and the errors it met.
type sdkReport struct {
	Call, Payment, Replayed, Completed string
	Created                            struct{ AccountSid, CallSid, URI string }
	CallStatus                         string
	Listed                             bool
	Errors                             map[string]*struct{ Status, Code int }
	HungUp                             string
}

func runSDKApp(t *testing.T, interpreter, script string) {
	sid, token := tonepay.NewSID("AC"), tonepay.NewSID("AC")[2:]
	srv := startServer(t, "TONEPAY_DB="+filepath.Join(t.TempDir(), "sdk.db"), "TONEPAY_ACCOUNT_SID="+sid, "TONEPAY_AUTH_TOKEN="+token)
	rc := newReceiver(t, token)
	cmd := exec.Command(interpreter, filepath.Base(script))
	cmd.Dir = filepath.Dir(script)
	cmd.Env = append(os.Environ(), "TONEPAY_URL="+srv.URL, "TONEPAY_ACCOUNT_SID="+sid, "TONEPAY_AUTH_TOKEN="+token,
		"STATUS_CALLBACK="+rc.srv.URL+"/pay?order=1138")
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s%s", interpreter, filepath.Base(script), err, out, stderr.String())
	}
	var r sdkReport
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("the app printed %q: %v", out, err)
	}
	if !strings.HasPrefix(r.Call, "CA") || !strings.HasPrefix(r.Payment, "PK") || r.Replayed != r.Payment || r.Completed != r.Payment {
		t.Errorf("sids: %+v", r)
	}
	if r.Created.AccountSid != sid || r.Created.CallSid != r.Call ||
		r.Created.URI != "/2010-04-01/Accounts/"+sid+"/Calls/"+r.Call+"/Payments/"+r.Payment+".json" {
		t.Errorf("the created payment as the library read it: %+v", r.Created)
	}
	if r.CallStatus != "in-progress" || !r.Listed || r.HungUp != "completed" {
		t.Errorf("the call as the library read it: %+v", r)
	}
	for name, want := range map[string][2]int{"unknownCall": {404, 20404}, "badCapture": {400, 64020}, "wrongToken": {401, 20003}} {
		if got := r.Errors[name]; got == nil || got.Status != want[0] || got.Code != want[1] {
			t.Errorf("%s: the library reported %+v, want HTTP %d, code %d", name, got, want[0], want[1])
		}
	}

	// The callbacks the app's endpoint got: signed, in order, masked, the
	// charge's result last.
	var result *delivery
	waitFor(t, 15*time.Second, "the result callback", func() bool {
		for _, d := range rc.forSession(r.Payment) {
			if d.Form.Get("Result") != "" {
				result = &d
				return true
			}
		}
		return false
	})
	f := result.Form
	if f.Get("Result") != "success" || f.Get("PaymentCardNumber") != "xxxxxxxxxxxx4242" || f.Get("SecurityCode") != "xxx" ||
		f.Get("ChargeAmount") != "19.99" || !strings.HasPrefix(f.Get("PaymentConfirmationCode"), "ch_") {
		t.Errorf("the result callback: %v", f)
	}
	for i, d := range rc.forSession(r.Payment) {
		if !d.Valid || d.Form.Get("CallSid") != r.Call {
			t.Errorf("callback %d: signed %v, %v", i, d.Valid, d.Form)
		}
		for _, v := range d.Form {
			if strings.Contains(strings.Join(v, " "), "42424242") {
				t.Errorf("callback %d holds the card number: %v", i, d.Form)
			}
		}
	}
}
