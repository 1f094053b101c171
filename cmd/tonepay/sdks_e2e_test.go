package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/client"
	"github.com/tonepay/tonepay/internal/suites"
)

// The same application, written against Twilio's official helper libraries
// for Node.js (npm's twilio) and Python (Debian's python3-twilio), runs
// unchanged but for the API's address (twilioapi/e2e): a call, an
// agent-assisted card payment whose status callbacks the app receives and
// checks with the library's own validator, the call read back, Twilio's
// errors as each library reports them, a <Pay> IVR whose TwiML (call and
// action answer) the library's builder wrote, and a number of the app's
// rung by a caller, its voice webhooks checked by the library.
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
	Callbacks, Unsigned                int               // the app's status callbacks, and how many failed the library's check
	Result                             map[string]string // the callback with the charge's Result
	IVR                                struct {          // a <Pay> IVR whose TwiML the library built
		Call              string
		Actions, Unsigned int
		Action            map[string]string // the <Pay> action's parameters
		Status            string
	}
	Number struct { // an IncomingPhoneNumber made, listed, updated, deleted
		Sid, FriendlyName, PhoneNumber, Updated string
		Listed                                  bool
		Gone                                    *struct{ Status, Code int }
	}
	Inbound struct { // a caller ringing it: the app's voice webhooks
		Call, Status string
		Requests     []struct {
			Path, Direction, Digits string
			Valid                   bool
		}
	}
}

func runSDKApp(t *testing.T, interpreter, script string) {
	sid, token := tonepay.NewSID("AC"), tonepay.NewSID("AC")[2:]
	srv := startServer(t, "TONEPAY_DB="+filepath.Join(t.TempDir(), "sdk.db"), "TONEPAY_ACCOUNT_SID="+sid, "TONEPAY_AUTH_TOKEN="+token)
	cmd := exec.Command(interpreter, filepath.Base(script))
	cmd.Dir = filepath.Dir(script)
	cmd.Env = append(os.Environ(), "TONEPAY_URL="+srv.URL, "TONEPAY_ACCOUNT_SID="+sid, "TONEPAY_AUTH_TOKEN="+token)
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

	// The app's callbacks: a partial result per key at least, every one
	// signed as the library checks it, the charge's result masked.
	if r.Callbacks < 16 || r.Unsigned != 0 {
		t.Errorf("%d callbacks, %d failing the library's signature check", r.Callbacks, r.Unsigned)
	}
	f := r.Result
	if f["Result"] != "success" || f["PaymentCardNumber"] != "xxxxxxxxxxxx4242" || f["SecurityCode"] != "xxx" || f["CallSid"] != r.Call ||
		f["ChargeAmount"] != "19.99" || !strings.HasPrefix(f["PaymentConfirmationCode"], "ch_") {
		t.Errorf("the result callback: %v", f)
	}
	for k, v := range f {
		if strings.Contains(v, "42424242") {
			t.Errorf("the result callback's %s holds the card number: %q", k, v)
		}
	}

	// The <Pay> IVR: the action got the result, signed; its TwiML (the
	// library's builder again) thanked the caller and hung up. The caller
	// heard the app's own prompts, the visa security-code one included.
	ivr := r.IVR
	if ivr.Actions != 1 || ivr.Unsigned != 0 || ivr.Status != "completed" || ivr.Action["Result"] != "success" ||
		ivr.Action["PaymentCardNumber"] != "xxxxxxxxxxxx4242" || ivr.Action["SecurityCode"] != "xxx" || ivr.Action["CallSid"] != ivr.Call {
		t.Errorf("the <Pay> IVR: %+v", ivr)
	}
	said := func(call string) []string {
		var said []string
		if err := srv.Client(t, sid, token).EachEntry(context.Background(), call, func(e client.Entry) {
			if e.Kind == "say" {
				said = append(said, e.Text)
			}
		}); err != nil {
			t.Fatal(err)
		}
		return said
	}
	heard := said(ivr.Call)
	for _, want := range []string{"Welcome to Acme billing.", "Please enter your card number, then press pound.",
		"Please enter the three digits on the back of your card.", "Thank you, your payment went through."} {
		if !slices.Contains(heard, want) {
			t.Errorf("the <Pay> IVR's caller never heard %q; heard %q", want, heard)
		}
	}

	// The number, through the library, and a caller ringing it: the app's
	// webhooks signed, inbound, the relative action resolved, the key sent.
	n := r.Number
	if !strings.HasPrefix(n.Sid, "PN") || n.PhoneNumber != "+14155550123" || n.FriendlyName != "(415) 555-0123" || !n.Listed ||
		!strings.HasSuffix(n.Updated, "/voice?v=2") || n.Gone == nil || n.Gone.Status != 404 || n.Gone.Code != 20404 {
		t.Errorf("the number as the library read it: %+v (gone: %+v)", n, n.Gone)
	}
	in := r.Inbound
	if in.Status != "completed" || len(in.Requests) != 2 || in.Requests[0].Path != "/voice?v=2" || in.Requests[1].Path != "/menu" ||
		in.Requests[1].Digits != "1" {
		t.Fatalf("the inbound call: %+v", in)
	}
	for _, q := range in.Requests {
		if !q.Valid || q.Direction != "inbound" {
			t.Errorf("the app's %s request: signed %v (the library's check), Direction %q", q.Path, q.Valid, q.Direction)
		}
	}
	if heard := said(in.Call); !slices.Contains(heard, "You pressed 1.") {
		t.Errorf("the inbound caller heard %q", heard)
	}
}
