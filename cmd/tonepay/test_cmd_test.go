package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/callerscript"
	"github.com/tonepay/tonepay/client"
	"github.com/tonepay/tonepay/examples/ivr/ivrapp"
	"github.com/tonepay/tonepay/examples/pay/payapp"
)

// scriptEnv is what `tonepay test` reads from the environment in these
// tests: the account the embedded server makes (the apps check signatures
// with its token) and the app's URL.
func scriptEnv(appURL string) (func(string) string, string) {
	token := tonepay.RandomHex(16)
	env := map[string]string{"TONEPAY_ACCOUNT_SID": tonepay.NewSID(tonepay.PrefixAccount), "TONEPAY_AUTH_TOKEN": token, "APP_URL": appURL}
	return func(k string) string { return env[k] }, token
}

// runTest runs `tonepay test args...` in this process and returns its exit
// status and outputs, stderr ending with the error main would print.
func runTest(t *testing.T, getenv func(string) string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), append([]string{"test"}, args...), getenv, &stdout, &stderr)
	code := 0
	if err != nil {
		code = exitCode(err)
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(&stderr, "tonepay:", err)
		}
	}
	return code, stdout.String(), stderr.String()
}

// startApp serves an example app on loopback; newApp gets the token and
// the app's URL.
func startApp(t *testing.T, newApp func(url string) http.Handler) string {
	return newLoopbackApp(t, newApp)
}

func newLoopbackApp(tb testing.TB, newApp func(url string) http.Handler) string {
	var h http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	tb.Cleanup(srv.Close)
	h = newApp(srv.URL)
	return srv.URL
}

// TestExampleScripts runs the caller scripts of examples/ivr and
// examples/pay against their apps, as README "Test your IVR in CI" does:
// every test passes, with the embedded server.
func TestExampleScripts(t *testing.T) {
	for _, ex := range []struct {
		script string
		app    func(token, url string) http.Handler
	}{
		{"../../examples/ivr/ivr.yaml", func(token, url string) http.Handler { return ivrapp.New(token, url) }},
		{"../../examples/pay/pay.yaml", func(token, url string) http.Handler { return payapp.New(token, url) }},
	} {
		t.Run(filepath.Base(ex.script), func(t *testing.T) {
			var getenv func(string) string
			var token string
			appURL := startApp(t, func(url string) http.Handler {
				getenv, token = scriptEnv(url)
				return ex.app(token, url)
			})
			_ = appURL
			junit := filepath.Join(t.TempDir(), "junit.xml")
			code, out, errOut := runTest(t, getenv, "--parallel", "3", "--junit", junit, ex.script)
			if code != 0 {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
			}
			if !strings.Contains(out, "✓") || !strings.Contains(out, "PASS:") {
				t.Errorf("output:\n%s", out)
			}
			b, err := os.ReadFile(junit)
			if err != nil {
				t.Fatal(err)
			}
			var suites callerscript.JUnitSuites
			if err := xml.Unmarshal(b, &suites); err != nil {
				t.Fatalf("JUnit: %v\n%s", err, b)
			}
			src, _ := os.ReadFile(ex.script)
			n := strings.Count(string(src), "\n  - name:") // one test case each
			if suites.Failures != 0 || suites.Tests != n || len(suites.Suites) != 1 || len(suites.Suites[0].Cases) != n {
				t.Errorf("JUnit: %+v", suites)
			}
		})
	}
}

// TestScriptFailure: a wrong expectation fails the run with exit 1, and the
// output names the test, the step (number, line, text), what was expected,
// what the caller heard instead, and the call's timeline; no card number
// shows anywhere (the test pays with one first), in text, JSON or JUnit.
func TestScriptFailure(t *testing.T) {
	var getenv func(string) string
	startApp(t, func(url string) http.Handler {
		var token string
		getenv, token = scriptEnv(url)
		return payapp.New(token, url)
	})
	// README "Test your IVR in CI" shows this file and its output. Beside
	// it, a test whose name holds a card number: names are redacted too.
	script := "testdata/wrong.yaml"
	named := filepath.Join(t.TempDir(), "named.yaml")
	os.WriteFile(named, []byte(`app: ${APP_URL}
tests:
  - name: passes, card 4242424242424242 in its name
    call: {url: /voice}
    steps:
      - expect: balance
`), 0o600)
	junit := filepath.Join(t.TempDir(), "junit.xml")
	code, out, errOut := runTest(t, getenv, "--junit", junit, script, named)
	if code != 1 {
		t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, want := range []string{
		"✗ " + script + ": pays, then hears the wrong thing",
		"step 2 (" + script + ":8): expect: Thank you for calling Acme Pizza",
		"expected: Thank you for calling Acme Pizza",
		"the call ended (completed) before the caller heard it",
		"Thank you, your payment of 42 dollars and 50 cents was received.",
		"timeline of CA",
		"hangup",
		"✓ " + script + ": passes",
		"✓ " + named + ": passes, card ************4242 in its name",
		"FAIL: 1 of 3 tests failed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	b, _ := os.ReadFile(junit)
	code, jsonOut, _ := runTest(t, getenv, "--json", script, named)
	if code != 1 {
		t.Errorf("--json: exit %d", code)
	}
	var res callerscript.JSON
	if err := json.Unmarshal([]byte(jsonOut), &res); err != nil || res.Failed != 1 || res.Passed != 2 || res.Tests[0].Failure.Step != 2 {
		t.Errorf("--json: %v %+v", err, res)
	}
	for name, s := range map[string]string{"text": out, "junit": string(b), "json": jsonOut} {
		if strings.Contains(s, "4242424242424242") || strings.Contains(s, "42424242") {
			t.Errorf("%s output shows the card number:\n%s", name, s)
		}
	}
}

// TestScriptRun: --run runs only the tests whose name matches, so a run
// that leaves out the failing one passes and shows exactly the selected
// ones; a pattern that matches nothing is a mistake (exit 2), not a pass.
func TestScriptRun(t *testing.T) {
	var getenv func(string) string
	startApp(t, func(url string) http.Handler {
		var token string
		getenv, token = scriptEnv(url)
		return payapp.New(token, url)
	})
	script := filepath.Join(t.TempDir(), "run.yaml")
	os.WriteFile(script, []byte(`app: ${APP_URL}
timeout: 2
tests:
  - name: hears the balance
    call: {url: /voice}
    steps:
      - expect: balance
  - name: hears the wrong thing
    call: {url: /voice}
    steps:
      - expect: Thank you for calling Acme Pizza
  - name: hears the card prompt
    call: {url: /voice}
    steps:
      - expect: enter your card number
`), 0o600)
	tests := []struct {
		run     string
		code    int
		results []string // the ✓ and ✗ lines, without their times
		last    string   // the summary, or the error
	}{
		{"balance|card", 0, []string{"✓ " + script + ": hears the balance", "✓ " + script + ": hears the card prompt"}, "PASS: 2 tests passed"},
		{"^hears the balance$", 0, []string{"✓ " + script + ": hears the balance"}, "PASS: 1 test passed"},
		{"wrong", 1, []string{"✗ " + script + ": hears the wrong thing"}, "FAIL: 1 of 1 test failed"},
		{"pays", 2, nil, `tonepay: no test's name matches --run "pays" (of 3 tests): nothing to run`},
	}
	for _, tt := range tests {
		t.Run(tt.run, func(t *testing.T) {
			code, out, errOut := runTest(t, getenv, "--run", tt.run, script)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, out, errOut)
			}
			var results []string
			for _, l := range strings.Split(out, "\n") {
				if strings.HasPrefix(l, "✓ ") || strings.HasPrefix(l, "✗ ") {
					results = append(results, l[:strings.LastIndex(l, " (")])
				}
			}
			if d := cmp.Diff(tt.results, results); d != "" {
				t.Errorf("results (-want +got):\n%s\nstdout:\n%s", d, out)
			}
			if !strings.Contains(out+errOut, tt.last) {
				t.Errorf("output lacks %q\nstdout:\n%s\nstderr:\n%s", tt.last, out, errOut)
			}
		})
	}
}

// TestScriptTimelineAppURL: with an expect_request, tonepay calls the app
// through the run's recorder; a failure's timeline still shows the app's
// own URLs, not the recorder's loopback port.
func TestScriptTimelineAppURL(t *testing.T) {
	var getenv func(string) string
	appURL := startApp(t, func(url string) http.Handler {
		var token string
		getenv, token = scriptEnv(url)
		return payapp.New(token, url)
	})
	script := filepath.Join(t.TempDir(), "recorded.yaml")
	os.WriteFile(script, []byte(`app: ${APP_URL}
tests:
  - name: fetched through the recorder
    call: {url: /voice}
    steps:
      - expect_request: {path: /voice}
      - expect: {text: never said, timeout: 0.5}
`), 0o600)
	code, out, errOut := runTest(t, getenv, script)
	if code != 1 {
		t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "POST "+appURL+"/voice") {
		t.Errorf("the timeline lacks the app's URL %s/voice:\n%s", appURL, out)
	}
	for _, u := range regexp.MustCompile(`http://127\.0\.0\.1:\d+`).FindAllString(out, -1) {
		if u != appURL {
			t.Errorf("the output shows %s, not the app's %s:\n%s", u, appURL, out)
		}
	}
}

// TestScriptInvalid: an invalid file exits 2 before any call, each problem
// as FILE:LINE: what is wrong; a message that quotes what it refuses never
// shows a card number (DESIGN §13), in any output.
func TestScriptInvalid(t *testing.T) {
	const head = "app: http://127.0.0.1:1\ntests:\n  - name: bad\n    call: {url: /voice}\n    steps:\n      - expect: hello\n" // six lines
	tests := []struct {
		name, src string
		args      []string
		want      []string // in stderr, after the script's path
	}{
		{"several problems", head + "      - press: \"12x\"\n      - pay: discover\n", nil, []string{":7: press takes keys", ":8: pay takes a test card"}},
		{"a card number as pay's name", head + "      - pay: \"4242424242424242\"\n", nil, []string{`:7: pay takes a test card (visa, mastercard, amex, decline, ach) or {number, expiry, cvv, postal}, not "************4242"`}},
		{"a card number pressed with a bad key", head + "      - press: \"4242424242424242x\"\n", nil, []string{`:7: press takes keys 0-9, * and # (w waits half a second), at most 256, not "************4242x"`}},
		{"a card number in a bad regexp", head + "      - expect: /4242 4242 4242 4242(/\n", nil, []string{`:7: expect: "/**** **** **** 4242(/" is not a regular expression`}},
		{"a card number as call.number", "tests:\n  - name: a\n    call: {number: \"+4242424242424242\"}\n    steps: [hangup]\n", nil, []string{`:3: call.number must be a phone number such as +15551230002, not "+************4242"`}},
		{"a card number in a test's name, twice", "tests:\n  - {name: pays 4242424242424242, call: {twiml: x}, steps: [hangup]}\n  - {name: pays 4242424242424242, call: {twiml: x}, steps: [hangup]}\n", nil,
			[]string{`:3: test "pays ************4242" is also at line 2`}},
		{"a card number as --run", "tests:\n  - {name: a, call: {twiml: x}, steps: [hangup]}\n", []string{"--run", "4242424242424242"}, []string{`tonepay: no test's name matches --run "************4242" (of 1 test)`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			script, junit := filepath.Join(dir, "bad.yaml"), filepath.Join(dir, "junit.xml")
			os.WriteFile(script, []byte(tt.src), 0o600)
			outputs := map[string]string{}
			for _, format := range []string{"text", "json"} {
				args := append([]string{"--junit", junit}, tt.args...)
				if format == "json" {
					args = append(args, "--json")
				}
				code, out, errOut := runTest(t, func(string) string { return "" }, append(args, script)...)
				if code != 2 {
					t.Fatalf("%s: exit %d, want 2\nstdout:\n%s\nstderr:\n%s", format, code, out, errOut)
				}
				for _, want := range tt.want {
					if strings.HasPrefix(want, ":") {
						want = script + want // FILE:LINE: what is wrong
					}
					if !strings.Contains(errOut, want) {
						t.Errorf("%s: stderr lacks %q:\n%s", format, want, errOut)
					}
				}
				outputs[format+" stdout"], outputs[format+" stderr"] = out, errOut
			}
			if b, err := os.ReadFile(junit); err == nil {
				outputs["junit"] = string(b)
			}
			for name, s := range outputs {
				if strings.Contains(s, "42424242") {
					t.Errorf("%s shows the card number:\n%s", name, s)
				}
			}
		})
	}
	if code, out, _ := runTest(t, func(string) string { return "" }, "-h"); code != 0 || !strings.Contains(out, "Usage: tonepay test") {
		t.Errorf("-h: exit %d\n%s", code, out)
	}
}

// TestScriptSpeechAndDial: a script's say step answers a speech <Gather>
// (the app gets SpeechResult and Confidence), and call.dial makes each
// DialCallStatus branch of the app's <Dial> reachable, through the embedded
// server, against an app that checks every signature.
func TestScriptSpeechAndDial(t *testing.T) {
	var getenv func(string) string
	startApp(t, func(url string) http.Handler {
		var token string
		getenv, token = scriptEnv(url)
		app := map[string]string{
			"/voice":  `<Response><Gather input="speech" action="/heard" timeout="5"><Say>How can I help you today</Say></Gather></Response>`,
			"/heard":  `<Response><Say>Connecting you</Say><Dial action="/dialed" timeout="1"><Number>+15005550009</Number></Dial></Response>`,
			"/dialed": `<Response><Say>Goodbye</Say><Hangup/></Response>`,
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r.ParseForm()
			if !tonepay.ValidSignature(tonepay.NewSecret(token), url+r.URL.RequestURI(), r.PostForm, r.Header.Get("X-Twilio-Signature")) {
				http.Error(w, "bad signature", http.StatusForbidden)
				return
			}
			w.Header().Set("Content-Type", "text/xml")
			w.Write([]byte(app[r.URL.Path]))
		})
	})
	script := filepath.Join(t.TempDir(), "speech.yaml")
	var tests strings.Builder
	for _, dial := range []struct{ dial, status, say, confidence string }{
		{"busy", "busy", "I want an agent", "0.9"},
		{"no-answer", "no-answer", "I want an agent", "0.9"},
		{"failed", "failed", "{text: I want an agent, confidence: 0.5}", "0.5"}, // README's long form
		{"{status: answer, hangup_after: 1}", "completed", "I want an agent", "0.9"},
	} {
		tests.WriteString(`  - name: an agent, ` + dial.status + `
    call: {url: /voice, dial: ` + dial.dial + `}
    steps:
      - expect: how can I help
      - say: ` + dial.say + `
      - expect_request: {path: /heard, params: {SpeechResult: I want an agent, Confidence: "` + dial.confidence + `"}}
      - expect: Connecting you
      - expect_request: {path: /dialed, params: {DialCallStatus: ` + dial.status + `}}
      - expect: Goodbye
      - expect_status: completed
`)
	}
	os.WriteFile(script, []byte("app: ${APP_URL}\ntests:\n"+tests.String()), 0o600)
	code, out, errOut := runTest(t, getenv, "--parallel", "4", script)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if n := strings.Count(out, "✓"); n != 4 {
		t.Errorf("%d tests passed, want 4:\n%s", n, out)
	}
}

// TestScriptDialNoAnswer: a far end scripted no-answer rings in the
// embedded server's voice time (simulated: none), so a Dial with Twilio's
// default timeout (30 s) resolves well within a 3 s step timeout, and its
// action gets no-answer.
func TestScriptDialNoAnswer(t *testing.T) {
	var getenv func(string) string
	startApp(t, func(url string) http.Handler {
		getenv, _ = scriptEnv(url)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r.ParseForm()
			w.Header().Set("Content-Type", "text/xml")
			switch r.URL.Path {
			case "/voice":
				w.Write([]byte(`<Response><Say>Connecting you</Say><Dial action="/dialed"><Number>+15005550009</Number></Dial></Response>`))
			case "/dialed":
				w.Write([]byte(`<Response><Say>The agent line said ` + r.PostForm.Get("DialCallStatus") + `.</Say></Response>`))
			}
		})
	})
	script := filepath.Join(t.TempDir(), "noanswer.yaml")
	os.WriteFile(script, []byte(`app: ${APP_URL}
timeout: 3
tests:
  - name: nobody answers
    call: {url: /voice, dial: no-answer}
    steps:
      - expect: Connecting you
      - expect: The agent line said no-answer.
      - expect_status: completed
`), 0o600)
	code, out, errOut := runTest(t, getenv, script)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
}

// TestScriptNothingListening: a press or say step that nothing listens
// for (the server drops it: heard false, no key applied) fails, saying
// where the call was and what the caller heard last; a press of which a
// Gather takes some keys passes.
func TestScriptNothingListening(t *testing.T) {
	var getenv func(string) string
	startApp(t, func(url string) http.Handler {
		getenv, _ = scriptEnv(url)
		app := map[string]string{
			"/hold":   `<Response><Say>Please hold</Say><Pause length="600"/></Response>`,
			"/keys":   `<Response><Gather action="/got" numDigits="1"><Say>Press 1 for sales</Say></Gather></Response>`,
			"/speech": `<Response><Gather input="speech" action="/got"><Say>Say sales or support</Say></Gather></Response>`,
			"/dial":   `<Response><Say>Connecting you</Say><Dial>+15005550009</Dial></Response>`,
			"/got":    `<Response><Say>Got it</Say><Pause length="600"/></Response>`,
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/xml")
			w.Write([]byte(app[r.URL.Path]))
		})
	})
	tests := []struct {
		name, url, steps string
		step             int    // the failing one; 0: it passes
		message, heard   string // the failure's
	}{
		{"a key on hold", "/hold", `press: "1"`, 1, "nothing was listening: the call was in a <Pause> (600s)", "Please hold"},
		{"words to a keys Gather", "/keys", "say: sales", 1, "nothing was listening: the call was in a <Gather> that does not take speech", "Press 1 for sales"},
		{"a key to a speech Gather", "/speech", `press: "1"`, 1, "nothing was listening: the call was in a <Gather> that does not take keys", "Say sales or support"},
		{"a key in a Dial", "/dial", `press: "1"`, 1, "nothing was listening: the call was in a <Dial> (+15005550009)", "Connecting you"},
		{"a key after the Gather ended", "/keys", "press: \"1\"\n      - expect: Got it\n      - press: \"2\"", 3, "nothing was listening: the call was in a <Pause> (600s)", "Press 1 for sales Got it"},
		{"the Gather takes one key of two", "/keys", `press: "1#"`, 0, "", ""},
	}
	var src strings.Builder
	src.WriteString("app: ${APP_URL}\ntests:\n")
	for _, tt := range tests {
		fmt.Fprintf(&src, "  - name: %s\n    call: {url: %s}\n    steps:\n      - %s\n", tt.name, tt.url, tt.steps)
	}
	script := filepath.Join(t.TempDir(), "void.yaml")
	os.WriteFile(script, []byte(src.String()), 0o600)
	code, out, errOut := runTest(t, getenv, "--json", "--parallel", "4", script)
	var res callerscript.JSON
	if err := json.Unmarshal([]byte(out), &res); err != nil || code != 1 || len(res.Tests) != len(tests) {
		t.Fatalf("exit %d, %v\nstdout:\n%s\nstderr:\n%s", code, err, out, errOut)
	}
	for i, tt := range tests {
		got := res.Tests[i]
		if tt.step == 0 {
			if !got.Passed {
				t.Errorf("%s: failed: %+v", tt.name, got.Failure)
			}
			continue
		}
		if got.Passed || got.Failure.Step != tt.step || got.Failure.Message != tt.message || got.Failure.Heard != tt.heard {
			t.Errorf("%s: %+v\nwant step %d failing: %q, heard %q", tt.name, got.Failure, tt.step, tt.message, tt.heard)
		}
	}
}

// TestScriptAgentServer: `tonepay test --server` plays the caller on a
// running tonepay (its account from the environment, as `tonepay call`
// does) while an agent takes a payment on the call: the pay step types
// each field the agent's Capture asks for, and wait holds the line. pay
// answers a <Pay> too, by card (amex: its 4-digit security code) and by
// bank account (ach); a number a test calls is created for the run and
// gone after it.
func TestScriptAgentServer(t *testing.T) {
	sid, token := tonepay.NewSID(tonepay.PrefixAccount), tonepay.RandomHex(16)
	srv := startServer(t, "TONEPAY_DB="+filepath.Join(t.TempDir(), "agent.db"), "TONEPAY_ACCOUNT_SID="+sid, "TONEPAY_AUTH_TOKEN="+token)
	calls := make(chan string, 1)
	appURL := startApp(t, func(url string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r.ParseForm()
			if !tonepay.ValidSignature(tonepay.NewSecret(token), url+r.URL.RequestURI(), r.PostForm, r.Header.Get("X-Twilio-Signature")) {
				http.Error(w, "bad signature", http.StatusForbidden)
				return
			}
			w.Header().Set("Content-Type", "text/xml")
			switch r.URL.Path {
			case "/hold":
				select {
				case calls <- r.PostForm.Get("CallSid"):
				default:
				}
				w.Write([]byte(`<Response><Say>Please hold for an agent</Say><Pause length="600"/></Response>`))
			case "/pay-card":
				w.Write([]byte(`<Response><Pay action="/paid" chargeAmount="10.00"/></Response>`))
			case "/pay-ach": // Twilio refuses ACH without AVSName (64014)
				w.Write([]byte(`<Response><Pay paymentMethod="ach-debit" action="/paid" chargeAmount="10.00"><Parameter name="AVSName" value="Jane Doe"/></Pay></Response>`))
			case "/paid": // what the app got, read out (the card type only for a card)
				f := r.PostForm
				w.Write([]byte(`<Response><Say>Result ` + f.Get("Result") + `, card type ` + f.Get("PaymentCardType") + `.</Say><Hangup/></Response>`))
			default:
				http.NotFound(w, r)
			}
		})
	})
	rc := newReceiver(t, token)
	agentDone := make(chan error, 1)
	go func() { // the agent: a payment on the call, each field asked for in turn, then complete
		call := <-calls
		c := srv.Client(t, sid, token)
		ctx := context.Background()
		p, err := c.CreatePayment(ctx, call, client.PaymentParams{IdempotencyKey: "a", StatusCallback: rc.srv.URL, ChargeAmount: "12.00"})
		if err != nil {
			agentDone <- err
			return
		}
		for i, f := range []string{"payment-card-number", "expiration-date", "security-code", "postal-code"} {
			if _, err := c.UpdatePayment(ctx, call, p.Sid, client.PaymentUpdate{IdempotencyKey: f, StatusCallback: rc.srv.URL, Capture: f}); err != nil {
				agentDone <- err
				return
			}
			for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				v, err := c.PaymentView(ctx, call, p.Sid)
				if err == nil && v.Captured[f] != "" && v.Capture == "" {
					break
				}
				if time.Now().After(deadline) {
					agentDone <- fmt.Errorf("field %d (%s) never captured: %+v %v", i, f, v, err)
					return
				}
			}
		}
		_, err = c.UpdatePayment(ctx, call, p.Sid, client.PaymentUpdate{IdempotencyKey: "done", StatusCallback: rc.srv.URL, Status: "complete"})
		agentDone <- err
	}()
	script := filepath.Join(t.TempDir(), "agent.yaml")
	os.WriteFile(script, []byte(`app: ${APP_URL}
timeout: 20
tests:
  - name: pays an agent by card
    call: {url: /hold}
    steps:
      - expect: hold for an agent
      - pay: visa
      - wait: 0.5
      - expect_status: in-progress
      - hangup
      - expect_status: completed
  - name: pays a <Pay> by amex, calling a number the run creates
    call: {number: "+15551230077", voice_url: /pay-card}
    steps:
      - pay: amex
      - expect: Result success, card type amex.
      - expect_request: {path: /paid, params: {Result: success, PaymentCardType: amex, PaymentCardNumber: xxxxxxxxxxx0005}}
      - expect_status: completed
  - name: pays a <Pay> by bank account
    call: {url: /pay-ach}
    steps:
      - pay: ach
      - expect: Result success
      - expect_request: {path: /paid, params: {Result: success}}
      - expect_status: completed
`), 0o600)
	c := srv.Client(t, sid, token)
	if n, err := c.FindNumber(context.Background(), "+15551230077"); err != nil || n != nil {
		t.Fatalf("before the run: number %+v, %v; want none", n, err)
	}
	env := map[string]string{"TONEPAY_ACCOUNT_SID": sid, "TONEPAY_AUTH_TOKEN": token, "APP_URL": appURL}
	code, out, errOut := runTest(t, func(k string) string { return env[k] }, "--server", srv.URL, script)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if n := strings.Count(out, "✓"); n != 3 {
		t.Errorf("%d tests passed, want 3:\n%s", n, out)
	}
	if err := <-agentDone; err != nil {
		t.Fatalf("the agent: %v", err)
	}
	if strings.Contains(out, "4242424242424242") || strings.Contains(out, "378282246310005") {
		t.Errorf("a card number is in the output:\n%s", out)
	}
	// The run created the number, and deleted it at its end.
	if n, err := c.FindNumber(context.Background(), "+15551230077"); err != nil || n != nil {
		t.Errorf("after the run: number %+v, %v; want none", n, err)
	}
}
