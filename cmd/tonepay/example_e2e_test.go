package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tonepay/tonepay/examples/ivr/ivrapp"
	api "github.com/twilio/twilio-go/rest/api/v2010"
)

// exampleRequest is one webhook the example app received.
type exampleRequest struct {
	Path   string // with its query
	Form   url.Values
	Valid  bool // signed with the account's auth token
	Status int  // what the app answered
}

// exampleApp serves examples/ivr's app on loopback and records every
// request it gets and whether its X-Twilio-Signature was valid.
type exampleApp struct {
	URL string
	mu  sync.Mutex
	got []exampleRequest
}

func startExampleApp(t *testing.T, token string, timeout int) *exampleApp {
	ea := &exampleApp{}
	var app *ivrapp.App
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		rec := &recordStatus{ResponseWriter: w, code: 200}
		app.ServeHTTP(rec, r)
		ea.mu.Lock()
		ea.got = append(ea.got, exampleRequest{r.URL.RequestURI(), r.PostForm, app.Valid(r), rec.code})
		ea.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	app = ivrapp.New(token, srv.URL)
	app.Timeout = timeout
	ea.URL = srv.URL
	return ea
}

func (ea *exampleApp) requests(callSid string) []exampleRequest {
	ea.mu.Lock()
	defer ea.mu.Unlock()
	var out []exampleRequest
	for _, r := range ea.got {
		if r.Form.Get("CallSid") == callSid {
			out = append(out, r)
		}
	}
	return out
}

type recordStatus struct {
	http.ResponseWriter
	code int
}

func (r *recordStatus) WriteHeader(code int) { r.code = code; r.ResponseWriter.WriteHeader(code) }

// TestExampleIVR drives the README's example app, examples/ivr, through
// whole calls on a real tonepay: calls placed with twilio-go (Url) and
// dialled in (a number and Calls/Inbound), keys pressed on the keypad API;
// every webhook the app got was signed and answered, and each call's
// timeline holds the words the app said.
func TestExampleIVR(t *testing.T) {
	srv := startServer(t, "TONEPAY_DB="+filepath.Join(t.TempDir(), "example.db"))
	sid, token := parseAccount(srv.Stdout())
	tw, _ := newTwilio(t, srv.URL, sid, token, sid, nil)
	ext := srv.URL + "/_tonepay/Accounts/" + sid + "/Calls/"
	do := extCaller(t, ext, sid, token)
	press := func(call, keys string) { do("POST", call+"/Digits", url.Values{"Digits": {keys}}, nil) }
	said := func(call string) (status string, words []string, dialled []string) {
		var tl struct {
			Status  string `json:"status"`
			Entries []struct{ Kind, Verb, Text string }
		}
		do("GET", call+"/Timeline?PageSize=1000", nil, &tl)
		for _, e := range tl.Entries {
			switch {
			case e.Kind == "say":
				words = append(words, e.Text)
			case e.Kind == "verb" && e.Verb == "Dial":
				dialled = append(dialled, e.Text)
			}
		}
		return tl.Status, words, dialled
	}
	ended := func(call string) {
		t.Helper()
		waitFor(t, 20*time.Second, "the call to end", func() bool { c, err := tw.FetchCall(call, nil); return err == nil && *c.Status == "completed" })
	}
	// checkRequests: the app's webhooks for the call, in order, each signed
	// and answered 200, with the parameters Twilio sends.
	checkRequests := func(app *exampleApp, call, direction string, paths ...string) {
		t.Helper()
		got := app.requests(call)
		var gotPaths []string
		for i, r := range got {
			gotPaths = append(gotPaths, r.Path)
			if !r.Valid || r.Status != 200 || r.Form.Get("AccountSid") != sid || r.Form.Get("Direction") != direction || r.Form.Get("ApiVersion") != "2010-04-01" {
				t.Errorf("call %s request %d %s: valid=%v, answered %d, form %v", call, i, r.Path, r.Valid, r.Status, r.Form)
			}
		}
		if !slices.Equal(gotPaths, paths) {
			t.Errorf("call %s: the app was asked for %q, want %q", call, gotPaths, paths)
		}
	}
	app := startExampleApp(t, token, 10)

	// 1 for the order's status, then the order number: placed with twilio-go.
	c, err := tw.CreateCall((&api.CreateCallParams{}).SetTo("+15005550006").SetFrom("+15005550001").SetUrl(app.URL + "/voice"))
	if err != nil {
		t.Fatal(err)
	}
	press(*c.Sid, "1")
	press(*c.Sid, "1234#")
	ended(*c.Sid)
	_, words, _ := said(*c.Sid)
	want := []string{"Welcome to Acme Pizza.", "For the status of your order, press 1. To talk to someone, press 2.",
		"Please enter your 4-digit order number, then press pound.", "Order 1 2 3 4 is in the oven. It will be with you in 20 minutes. Goodbye."}
	if !slices.Equal(words, want) {
		t.Errorf("order call said\n %q, want\n %q", words, want)
	}
	checkRequests(app, *c.Sid, "outbound-api", "/voice", "/menu", "/order")
	if r := app.requests(*c.Sid); len(r) == 3 && (r[0].Form.Get("CallStatus") != "in-progress" || r[2].Form.Get("Digits") != "1234" || r[2].Form.Get("FinishedOnKey") != "#") {
		t.Errorf("order call's requests: %+v", r)
	}

	// 2 for an agent, dialled in: the Dial holds the call until it is hung up.
	if _, err := tw.CreateIncomingPhoneNumber((&api.CreateIncomingPhoneNumberParams{}).SetPhoneNumber("+14155550123").SetVoiceUrl(app.URL + "/voice")); err != nil {
		t.Fatal(err)
	}
	var in struct{ Sid string }
	do("POST", "Inbound", url.Values{"From": {"+14155550111"}, "To": {"+14155550123"}}, &in)
	press(in.Sid, "2")
	status, words, dialled := said(in.Sid)
	if status != "in-progress" || !slices.Contains(words, "Connecting you to an agent.") || len(dialled) != 1 || !strings.Contains(dialled[0], ivrapp.Agent) {
		t.Errorf("agent call: %s, said %q, dialled %q", status, words, dialled)
	}
	if _, err := tw.UpdateCall(in.Sid, (&api.UpdateCallParams{}).SetStatus("completed")); err != nil {
		t.Fatal(err)
	}
	checkRequests(app, in.Sid, "inbound", "/voice", "/menu")
	if r := app.requests(in.Sid); len(r) > 0 && r[0].Form.Get("CallStatus") != "ringing" {
		t.Errorf("inbound call's first request: %v", r[0].Form)
	}

	// No key at all: asked twice more, then goodbye. The Gather's timeout
	// runs on the clock, so this app waits 1 s per menu.
	quick := startExampleApp(t, token, 1)
	c, err = tw.CreateCall((&api.CreateCallParams{}).SetTo("+15005550006").SetFrom("+15005550001").SetUrl(quick.URL + "/voice"))
	if err != nil {
		t.Fatal(err)
	}
	ended(*c.Sid)
	_, words, _ = said(*c.Sid)
	if n := strings.Count(strings.Join(words, "|"), "Sorry, I didn't get that."); n != 2 || words[len(words)-1] != "Goodbye." {
		t.Errorf("silent call said %q", words)
	}
	checkRequests(quick, *c.Sid, "outbound-api", "/voice", "/voice?tries=1", "/voice?tries=2")

	// The app refuses what tonepay did not sign with this account's token.
	for name, sig := range map[string]string{"unsigned": "", "signed with another token": "bm90IGEgc2lnbmF0dXJl"} {
		req, _ := http.NewRequest("POST", app.URL+"/voice", strings.NewReader("CallSid=CA1&Digits=1"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if sig != "" {
			req.Header.Set("X-Twilio-Signature", sig)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusForbidden {
			t.Errorf("%s: HTTP %d, want 403", name, res.StatusCode)
		}
	}
}

// extCaller returns a function that sends an account's request under base
// (the extension API's calls), fails the test on anything but 200 or 201,
// and decodes the JSON answer into out when given.
func extCaller(t *testing.T, base, sid, token string) func(method, path string, form url.Values, out any) {
	return func(method, path string, form url.Values, out any) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(sid, token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if res.StatusCode != 200 && res.StatusCode != 201 {
			t.Fatalf("%s %s: HTTP %d", method, path, res.StatusCode)
		}
		if out != nil {
			if err := json.NewDecoder(res.Body).Decode(out); err != nil {
				t.Fatal(err)
			}
		}
	}
}
