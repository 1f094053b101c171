package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/store/sqlite"
	api "github.com/twilio/twilio-go/rest/api/v2010"
)

// TestCallInboundAndTimelineCommands: `tonepay call inbound` dials one of
// the account's numbers and `tonepay call timeline` prints a call's
// timeline, against a real server; the calls' JSON (live, ended, inbound) is
// checked against Twilio's OpenAPI spec, every field of the schema present.
func TestCallInboundAndTimelineCommands(t *testing.T) {
	db := filepath.Join(t.TempDir(), "inbound.db")
	sid, token := tonepay.NewSID("AC"), "inboundtoken1"
	srv := startServer(t, "TONEPAY_DB="+db, "TONEPAY_ACCOUNT_SID="+sid, "TONEPAY_AUTH_TOKEN="+token)
	sp := loadSpec(t)
	tw, rw := newTwilio(t, srv.URL, sid, token, sid, sp)
	cli := func(args ...string) (string, error) {
		cmd := exec.Command(binary, args...)
		cmd.Env = []string{"TONEPAY_SERVER=" + srv.URL, "TONEPAY_ACCOUNT_SID=" + sid, "TONEPAY_AUTH_TOKEN=" + token}
		out, err := cmd.CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}

	// The number's VoiceUrl is on loopback: the call runtime, once it
	// runs, fetches it there and nowhere else.
	voice := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/xml")
		io.WriteString(w, `<Response><Pause length="3600"/></Response>`)
	}))
	defer voice.Close()
	if _, err := tw.CreateIncomingPhoneNumber((&api.CreateIncomingPhoneNumberParams{}).SetPhoneNumber("+14155550100").SetVoiceUrl(voice.URL)); err != nil {
		t.Fatal(err)
	}
	// call create --url runs the app's TwiML.
	created, err := cli("call", "create", "--url", voice.URL+"/outbound")
	if err != nil || !tonepay.IsSID(created, "CA") {
		t.Fatalf("call create --url: %v %q", err, created)
	}
	if oc, err := tw.FetchCall(created, &api.FetchCallParams{}); err != nil || *oc.Status != "in-progress" {
		t.Fatalf("call create --url: %v %+v", err, oc)
	}
	if tl, err := cli("call", "timeline", created); err != nil || !strings.Contains(tl, voice.URL+"/outbound") {
		t.Fatalf("timeline of the --url call: %v\n%s", err, tl)
	}
	in, err := cli("call", "inbound", "--to", "+14155550100", "--from", "+14155550111")
	if err != nil || !tonepay.IsSID(in, "CA") {
		t.Fatalf("call inbound: %v %q", err, in)
	}
	c, err := tw.FetchCall(in, &api.FetchCallParams{})
	if err != nil || *c.Direction != "inbound" || *c.To != "+14155550100" || *c.From != "+14155550111" || *c.ToFormatted != "(415) 555-0100" {
		t.Fatalf("inbound call: %v %+v", err, c)
	}
	for _, args := range [][]string{{"call", "inbound"}, {"call", "inbound", "--to", "+14155550101"}, {"call", "timeline"}, {"call", "timeline", tonepay.NewSID("CA")}} {
		if out, err := cli(args...); err == nil {
			t.Errorf("%v succeeded: %q", args, out)
		} else if len(args) == 4 && !strings.Contains(out, "21211") && !strings.Contains(out, "20404") {
			t.Errorf("%v: %q", args, out)
		}
	}

	// The three kinds of call, each body checked against the spec.
	bodies := map[string]map[string]any{}
	live, err := tw.CreateCall((&api.CreateCallParams{}).SetTo("+15005550006").SetFrom("+15005550001").SetTwiml(`<Response><Pause length="3600"/></Response>`))
	if err != nil {
		t.Fatal(err)
	}
	bodies["live"] = specCall(t, sp, srv.URL, sid, token, "GET", *live.Sid, nil)
	ended := specCall(t, sp, srv.URL, sid, token, "POST", *live.Sid, url.Values{"Status": {"completed"}})
	bodies["ended"] = ended
	bodies["inbound"] = specCall(t, sp, srv.URL, sid, token, "POST", "Inbound", url.Values{"To": {"+14155550100"}, "From": {"+14155550111"}})
	if bodies["live"]["duration"] != nil && bodies["live"]["status"] == "in-progress" || ended["duration"] == nil || ended["end_time"] == nil ||
		bodies["inbound"]["direction"] != "inbound" || bodies["live"]["direction"] != "outbound-api" {
		t.Errorf("calls: %v", bodies)
	}
	if rw.Checked() < 3 {
		t.Errorf("%d twilio-go responses checked against the spec", rw.Checked())
	}

	// The timeline as the runtime writes it, read back by the command.
	store, err := sqlite.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	err = store.Update(context.Background(), func(tx tonepay.Tx) error {
		return tx.AddTimeline(context.Background(), in, at,
			[]byte(`{"at":"2025-03-01T12:00:00Z","kind":"fetched","url":"https://example.com/voice","method":"POST","status":200}`),
			[]byte(`{"at":"2025-03-01T12:00:00.5Z","kind":"say","verb":"Say","text":"Enter your card","voice":"alice","loop":1}`),
			[]byte(`{"at":"2025-03-01T12:00:01Z","kind":"key","text":"*","masked":true}`),
			[]byte(`{"at":"2025-03-01T12:00:02Z","kind":"hangup","code":11200,"next":"x"}`))
	})
	store.Close()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cli("call", "timeline", in)
	if err != nil {
		t.Fatalf("call timeline: %v %s", err, out)
	}
	for _, want := range []string{
		`12:00:00.000  fetched   POST https://example.com/voice  HTTP 200`,
		`12:00:00.500  say       Say  "Enter your card"  voice=alice  loop=1`,
		`12:00:01.000  key       "*"  (masked)`,
		`12:00:02.000  hangup    code 11200  next=x`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("timeline lacks %q:\n%s", want, out)
		}
	}
}

// specCall sends a call request (Calls/{sid}.json, or the extension's
// Calls/Inbound) and checks the answer against the spec's call resource, as
// Calls fetch (GET) or update (POST) answers: the extension's inbound call
// is the same resource. Every property of api.v2010.account.call must be
// there, since the spec lists none as required.
func specCall(t *testing.T, sp *spec, base, sid, token, method, call string, form url.Values) map[string]any {
	t.Helper()
	path := "/2010-04-01/Accounts/" + sid + "/Calls/" + call + ".json"
	twilioPath := path
	if call == "Inbound" {
		path = "/_tonepay/Accounts/" + sid + "/Calls/Inbound"
		twilioPath = "/2010-04-01/Accounts/" + sid + "/Calls.json"
	}
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, base+path, body)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(sid, token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode/100 != 2 {
		t.Fatalf("%s %s: %d %s", method, path, res.StatusCode, b)
	}
	orig, _ := http.NewRequest(method, "https://api.twilio.com"+twilioPath, nil)
	if err := sp.Check(orig, res, b); err != nil {
		t.Errorf("%s %s does not match the spec: %v\n%s", method, path, err, b)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	for _, k := range callProperties(t) {
		if _, ok := got[k]; !ok {
			t.Errorf("%s %s: no %q", method, path, k)
		}
	}
	return got
}

// callProperties are the property names of api.v2010.account.call.
func callProperties(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("testdata/twilio-oai/twilio_api_v2010.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]json.RawMessage `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.NewDecoder(bytes.NewReader(b)).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	var out []string
	for k := range doc.Components.Schemas["api.v2010.account.call"].Properties {
		out = append(out, k)
	}
	if len(out) < 20 {
		t.Fatalf("the spec's call has %d properties", len(out))
	}
	return out
}

// cliResult is what one run of the tonepay binary printed, and its status.
type cliResult struct {
	stdout, stderr string
	code           int
}

// runCLI runs the tonepay binary with env only (no TONEPAY_* from the
// test's own environment) and returns what it printed.
func runCLI(t *testing.T, env []string, args ...string) cliResult {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(binary, args...)
	cmd.Env, cmd.Stdout, cmd.Stderr = env, &stdout, &stderr
	err := cmd.Run()
	if _, exited := err.(*exec.ExitError); err != nil && !exited {
		t.Fatalf("tonepay %v: %v", args, err)
	}
	return cliResult{stdout.String(), stderr.String(), cmd.ProcessState.ExitCode()}
}

// TestCallCreateBrokenApp: `call create --url` and `call inbound` with an
// app that answers 404, a document that does not parse, an empty body or
// nothing at all print the call's SID, then the error with its code, and
// exit 1; serve logs a WARN naming the app's host and the code, one per
// host however many calls fail, never the URL's credentials or the
// document.
func TestCallCreateBrokenApp(t *testing.T) {
	sid, token := tonepay.NewSID("AC"), "brokentoken1"
	srv := startServer(t, "TONEPAY_DB="+filepath.Join(t.TempDir(), "broken.db"), "TONEPAY_ACCOUNT_SID="+sid, "TONEPAY_AUTH_TOKEN="+token)
	env := []string{"TONEPAY_SERVER=" + srv.URL, "TONEPAY_ACCOUNT_SID=" + sid, "TONEPAY_AUTH_TOKEN=" + token}
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/xml")
		switch r.URL.Path {
		case "/missing":
			http.NotFound(w, r)
		case "/invalid":
			io.WriteString(w, `<Response><Say>secret-document-words</Response>`)
		case "/empty":
		default:
			io.WriteString(w, `<Response><Pause length="3600"/></Response>`)
		}
	}))
	defer app.Close()
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close() // nothing listens there
	withCreds := strings.Replace(app.URL, "http://", "http://appuser:apppw@", 1)

	for _, tt := range []struct {
		name, url, code string
	}{
		{"404", withCreds + "/missing?key=querysecret", "error 11200"},
		{"invalid XML", app.URL + "/invalid", "error 12100"},
		{"empty body", app.URL + "/empty", "error 1"},
		{"nothing listens", gone.URL + "/voice", "error 11205"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, env, "call", "create", "--url", tt.url)
			call := strings.TrimSpace(r.stdout)
			if r.code != 1 || !tonepay.IsSID(call, "CA") {
				t.Fatalf("exit %d, stdout %q, want 1 and the call's SID; stderr:\n%s", r.code, r.stdout, r.stderr)
			}
			if !strings.Contains(r.stderr, tt.code) || !strings.Contains(r.stderr, "tonepay call timeline "+call) {
				t.Errorf("stderr lacks %q or the timeline hint:\n%s", tt.code, r.stderr)
			}
			if strings.Contains(r.stderr, "apppw") {
				t.Errorf("stderr shows the URL's password:\n%s", r.stderr)
			}
		})
	}
	// A working app: the SID, nothing else, status 0.
	if r := runCLI(t, env, "call", "create", "--url", app.URL+"/ok"); r.code != 0 || !tonepay.IsSID(strings.TrimSpace(r.stdout), "CA") || r.stderr != "" {
		t.Errorf("a working app: %+v", r)
	}
	// --dial scripts the far end of the app's <Dial>; a bad value is the server's 20001.
	if r := runCLI(t, env, "call", "create", "--url", app.URL+"/ok", "--dial", "busy"); r.code != 0 {
		t.Errorf("--dial busy: %+v", r)
	}
	if r := runCLI(t, env, "call", "create", "--url", app.URL+"/ok", "--dial", "engaged"); r.code == 0 || !strings.Contains(r.stderr, "TonepayDial") {
		t.Errorf("--dial engaged: %+v", r)
	}
	// An inbound call to a number whose VoiceUrl is broken.
	tw, _ := newTwilio(t, srv.URL, sid, token, sid, nil)
	if _, err := tw.CreateIncomingPhoneNumber((&api.CreateIncomingPhoneNumberParams{}).SetPhoneNumber("+14155550123").SetVoiceUrl(app.URL + "/missing")); err != nil {
		t.Fatal(err)
	}
	if r := runCLI(t, env, "call", "inbound", "--to", "+14155550123"); r.code != 1 || !tonepay.IsSID(strings.TrimSpace(r.stdout), "CA") || !strings.Contains(r.stderr, "error 11200") {
		t.Errorf("inbound to a broken app: %+v", r)
	}

	// The serve log: a WARN per host (the app's, and the one nobody
	// listens on), however many of its calls failed.
	appHost := strings.TrimPrefix(app.URL, "http://")
	waitFor(t, 10*time.Second, "the WARN lines", func() bool {
		log := srv.Stderr()
		return strings.Contains(log, "host="+appHost) && strings.Contains(log, "host="+strings.TrimPrefix(gone.URL, "http://"))
	})
	log := srv.Stderr()
	var warns []string
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, "a call's app failed") {
			warns = append(warns, line)
		}
	}
	if len(warns) != 2 || !strings.Contains(warns[0], "level=WARN") || !strings.Contains(warns[0], "code=11200") {
		t.Errorf("want 2 WARN lines (one per host), the first with code 11200:\n%s", strings.Join(warns, "\n"))
	}
	for _, leak := range []string{"apppw", "appuser", "querysecret", "/missing", "secret-document-words"} {
		if strings.Contains(log, leak) {
			t.Errorf("the serve log shows %q:\n%s", leak, log)
		}
	}
}

// TestCommandLineMistakes: what a newcomer sees on a mistake. No server
// where the command looks: it says so and how to point it elsewhere. A
// flag typo: the error once and where the help is. An unknown call
// command: the call command's list. (Version: TestVersion.)
func TestCommandLineMistakes(t *testing.T) {
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	creds := []string{"TONEPAY_ACCOUNT_SID=" + tonepay.NewSID("AC"), "TONEPAY_AUTH_TOKEN=x"}

	r := runCLI(t, append([]string{"TONEPAY_SERVER=" + gone.URL}, creds...), "call", "create")
	want := "no tonepay server at " + gone.URL + " (is `tonepay serve` running? set --server or TONEPAY_SERVER)"
	if r.code != 2 || !strings.Contains(r.stderr, want) {
		t.Errorf("no server: exit %d, stderr %q; want 2 and %q", r.code, r.stderr, want)
	}
	if r := runCLI(t, creds, "call", "press", "--server", gone.URL, "CA1", "1"); !strings.Contains(r.stderr, "no tonepay server at "+gone.URL) {
		t.Errorf("no server (--server): %q", r.stderr)
	}
	// tonepay test reads no TONEPAY_SERVER, and needs no server.
	script := filepath.Join(t.TempDir(), "s.yaml")
	os.WriteFile(script, []byte("tests:\n  - {name: a, call: {twiml: <Response/>}, steps: [hangup]}\n"), 0o600)
	r = runCLI(t, creds, "test", "--server", gone.URL, script)
	want = "no tonepay server at " + gone.URL + " (is `tonepay serve` running? check --server, or leave it out: tonepay test then runs a server of its own)"
	if r.code != 2 || !strings.Contains(r.stderr, want) {
		t.Errorf("test, no server: exit %d, stderr %q; want 2 and %q", r.code, r.stderr, want)
	}

	for _, args := range [][]string{{"serve", "--adr", "127.0.0.1:0"}, {"call", "create", "--ur", "x"}, {"account", "show", "--dbb", "x"}} {
		r := runCLI(t, creds, args...)
		lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
		if r.code != 2 || len(lines) != 2 || strings.Count(r.stderr, "flag provided but not defined") != 1 ||
			lines[1] != `Run "tonepay `+args[0]+` -h" for usage.` {
			t.Errorf("%v: exit %d, stderr:\n%s\nwant the error once and the line pointing to -h", args, r.code, r.stderr)
		}
	}
	// -h still prints the whole usage, on stdout, and succeeds.
	if r := runCLI(t, nil, "serve", "-h"); r.code != 0 || !strings.Contains(r.stdout, "-addr") || !strings.Contains(r.stdout, "TONEPAY_DATA_KEY") {
		t.Errorf("serve -h: %+v", r)
	}

	r = runCLI(t, creds, "call", "dial")
	if r.code != 2 || !strings.Contains(r.stderr, `unknown command "dial"`) || !strings.Contains(r.stderr, "tonepay call press CALLSID KEYS") ||
		strings.Contains(r.stderr, "tonepay serve [flags]") {
		t.Errorf("call dial: exit %d, stderr:\n%s\nwant unknown command and the call command's list", r.code, r.stderr)
	}
}
