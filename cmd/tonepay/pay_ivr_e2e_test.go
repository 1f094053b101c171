package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	api "github.com/twilio/twilio-go/rest/api/v2010"
)

// payApp is a self-service payment IVR: /pay holds a <Pay> whose attributes
// the test chooses; /paid is its action.
func payApp(t *testing.T, token string, pay string) *voiceApp {
	return newVoiceApp(t, token, map[string]string{
		"/pay":        `<Response><Say>Welcome to Acme billing</Say>` + pay + `<Say>After pay</Say></Response>`,
		"/paid":       `<Response><Say>Thank you, goodbye</Say><Hangup/></Response>`,
		"/pay-status": `<Response/>`,
	})
}

// ivrCall places a call to the app's /pay and returns its SID.
func ivrCall(t *testing.T, fs *faultServer, app *voiceApp) string {
	t.Helper()
	code, body, err := fs.do("POST", fs.api("/Calls.json"), url.Values{"To": {"+15005550006"}, "From": {"+15005550001"}, "Url": {app.url("/pay")}})
	if err != nil || code != 201 {
		t.Fatalf("create: %d %v %s", code, err, body)
	}
	return sidOf(body)
}

func press(t *testing.T, fs *faultServer, call, keys string) {
	t.Helper()
	if code, body, err := fs.do("POST", fs.ext("/Calls/"+call+"/Digits"), url.Values{"Digits": {keys}}); err != nil || code != 200 {
		t.Fatalf("press %s: %d %v %s", keys, code, err, body)
	}
}

// actionOf returns the last request to /paid about call, or fails. The
// action is fetched before the request that caused it is answered; the
// filter keeps an earlier call of a shared app out of it all the same.
func actionOf(t *testing.T, app *voiceApp, call string) appRequest {
	t.Helper()
	var got *appRequest
	for _, r := range app.requests() {
		if r.Path == "/paid" && r.Params.Get("CallSid") == call {
			got = &r
		}
	}
	if got == nil {
		t.Fatalf("no action request; requests %+v", app.requests())
	}
	return *got
}

// statusFor lists For (and Attempt, ErrorType) of the <Pay> statusCallbacks
// about call received. They come through the outbox, after the request
// that caused them was answered: a call's may arrive while the next call
// runs, so a test that shares its app among calls must look at one call's.
func statusFor(app *voiceApp, call string) []string {
	var out []string
	for _, r := range app.requests() {
		if r.Path == "/pay-status" && r.Params.Get("CallSid") == call {
			s := r.Params.Get("For") + "#" + r.Params.Get("Attempt")
			if e := r.Params.Get("ErrorType"); e != "" {
				s += ":" + e
			}
			out = append(out, s)
		}
	}
	return out
}

const card = "4242424242424242"

// TestPayIVR: card payments taken by <Pay> from a real TwiML app, every
// request signature-checked: success, a decline, retries to the limit with
// the <Prompt> chosen by attempt and error, *, a hang-up in a field, a bad
// attribute, and that no clear card data reaches the app, the timeline, the
// log or the store.
func TestPayIVR(t *testing.T) {
	db := filepath.Join(t.TempDir(), "pay.db")
	fs := newFaultServer(t, db)
	// The caller has 30 s for each key: a slow machine never times a field
	// out between two presses. "input timeout" has its own app.
	const pay = `<Pay action="/paid" statusCallback="/pay-status" chargeAmount="10.00" maxAttempts="2" timeout="30">` +
		`<Prompt for="payment-card-number" attempt="1"><Say>Please type your card number, then hash</Say></Prompt>` +
		`<Prompt for="payment-card-number" errorType="invalid-card-number"><Say>That card number was not valid, try again</Say></Prompt>` +
		`<Prompt for="expiration-date"><Say>Expiry, four digits</Say></Prompt></Pay>`
	app := payApp(t, fs.token, pay)

	t.Run("success", func(t *testing.T) {
		call := ivrCall(t, fs, app)
		_, es := fs.timeline(t, call)
		if !slices.Contains(heard(es), "say:Please type your card number, then hash") {
			t.Fatalf("heard %q", heard(es))
		}
		press(t, fs, call, card+"#")
		press(t, fs, call, "1230")
		press(t, fs, call, "123")
		press(t, fs, call, "94105#")
		waitFor(t, 10*time.Second, "the action", func() bool {
			st, _ := fs.timeline(t, call)
			return st == "completed"
		})
		a := actionOf(t, app, call)
		if a.Params.Get("Result") != "success" || a.Params.Get("PaymentConfirmationCode") == "" || a.Params.Get("PaymentCardNumber") != "xxxxxxxxxxxx4242" ||
			a.Params.Get("PaymentCardType") != "visa" || a.Params.Get("CallSid") != call || a.Params.Get("CallStatus") != "in-progress" {
			t.Fatalf("action %v", a.Params)
		}
		waitFor(t, 10*time.Second, "the statusCallbacks", func() bool { return len(statusFor(app, call)) >= 5 })
		if got := statusFor(app, call); !slices.Equal(got, []string{"payment-card-number#1", "expiration-date#1", "security-code#1", "postal-code#1", "payment-processing#1"}) {
			t.Errorf("statusCallbacks %q", got)
		}
		waitFor(t, 10*time.Second, "the statusCallbacks on the timeline", func() bool {
			_, es := fs.timeline(t, call)
			n := 0
			for _, e := range es {
				if e.Kind == "webhook" && e.Status == 200 && strings.HasPrefix(e.Text, "<Pay> statusCallback: For=") {
					n++
				}
			}
			return n == 5
		})
		if _, es := fs.timeline(t, call); !slices.Contains(heard(es), "say:Expiry, four digits") || !slices.Contains(heard(es), "say:Thank you, goodbye") ||
			slices.Contains(heard(es), "say:After pay") {
			t.Errorf("heard %q", heard(es))
		}
	})

	t.Run("decline", func(t *testing.T) {
		call := ivrCall(t, fs, app)
		press(t, fs, call, "4000000000000002#1230123")
		press(t, fs, call, "94105#")
		waitFor(t, 10*time.Second, "the action", func() bool { st, _ := fs.timeline(t, call); return st == "completed" })
		if a := actionOf(t, app, call); a.Params.Get("Result") != "payment-connector-error" || a.Params.Get("PaymentError") == "" || a.Params.Get("PayErrorCode") == "" {
			t.Fatalf("decline %v", a.Params)
		}
	})

	t.Run("retries to the limit", func(t *testing.T) {
		call := ivrCall(t, fs, app)
		press(t, fs, call, "4242424242424241#") // fails Luhn
		_, es := fs.timeline(t, call)
		if !slices.Contains(heard(es), "say:That card number was not valid, try again") {
			t.Fatalf("retry prompt: %q", heard(es))
		}
		press(t, fs, call, "1234#")
		if a := actionOf(t, app, call); a.Params.Get("Result") != "too-many-failed-attempts" {
			t.Fatalf("limit %v", a.Params)
		}
		// The failure that ends it is a step the app hears about too.
		waitFor(t, 10*time.Second, "the statusCallbacks", func() bool { return len(statusFor(app, call)) >= 3 })
		if got := statusFor(app, call); !slices.Equal(got, []string{"payment-card-number#1", "payment-card-number#2:invalid-card-number", "payment-card-number#2:invalid-card-number"}) {
			t.Errorf("statusCallbacks %q", got)
		}
	})

	t.Run("star", func(t *testing.T) {
		call := ivrCall(t, fs, app)
		press(t, fs, call, "42*")
		if a := actionOf(t, app, call); a.Params.Get("Result") != "caller-interrupted-with-star" {
			t.Fatalf("star %v", a.Params)
		}
	})

	t.Run("input timeout", func(t *testing.T) {
		silent := payApp(t, fs.token, strings.Replace(pay, `timeout="30"`, `timeout="2"`, 1))
		call := ivrCall(t, fs, silent)
		// timeout=2, maxAttempts=2: two silent attempts end it.
		waitFor(t, 15*time.Second, "two timeouts", func() bool { st, _ := fs.timeline(t, call); return st == "completed" })
		silent.checkSigned()
		if a := actionOf(t, silent, call); a.Params.Get("Result") != "too-many-failed-attempts" {
			t.Fatalf("timeouts %v", a.Params)
		}
	})

	t.Run("hang-up mid-field", func(t *testing.T) {
		call := ivrCall(t, fs, app)
		press(t, fs, call, "4242")
		if code, _, _ := fs.do("POST", fs.api("/Calls/"+call+".json"), url.Values{"Status": {"completed"}}); code != 200 {
			t.Fatal("hang-up")
		}
		if a := actionOf(t, app, call); a.Params.Get("Result") != "caller-hung-up" || a.Params.Get("CallSid") != call {
			t.Fatalf("hang-up %v", a.Params)
		}
	})

	t.Run("agent create while <Pay> runs", func(t *testing.T) {
		call := ivrCall(t, fs, app)
		code, body, _ := fs.do("POST", fs.api("/Calls/"+call+"/Payments.json"), url.Values{"IdempotencyKey": {"a1"}, "StatusCallback": {app.url("/agent")}})
		if code != 400 || !strings.Contains(string(body), "64021") {
			t.Fatalf("agent create: %d %s", code, body)
		}
		press(t, fs, call, "*")
	})

	t.Run("validation error", func(t *testing.T) {
		bad := payApp(t, fs.token, `<Pay action="/paid" chargeAmount="-0.5"/>`)
		call := ivrCall(t, fs, bad)
		a := actionOf(t, bad, call)
		if a.Params.Get("Result") != "validation-error" || !strings.Contains(a.Params.Get("PaymentError"), "chargeAmount") {
			t.Fatalf("validation %v", a.Params)
		}
	})

	t.Run("no action: the verb after <Pay>", func(t *testing.T) {
		next := payApp(t, fs.token, `<Pay chargeAmount="5" securityCode="false" postalCode="94105"/>`)
		call := ivrCall(t, fs, next)
		press(t, fs, call, card+"#1230")
		waitFor(t, 10*time.Second, "the verb after", func() bool { st, _ := fs.timeline(t, call); return st == "completed" })
		if _, es := fs.timeline(t, call); !slices.Contains(heard(es), "say:After pay") {
			t.Fatalf("heard %q", heard(es))
		}
	})

	app.checkSigned()
	// No clear card data in any request the app got, the timeline, the log
	// or the store's files.
	pan := []byte(card)
	for _, r := range app.requests() {
		if strings.Contains(r.Params.Encode(), card) {
			t.Errorf("the app got the card number on %s", r.Path)
		}
	}
	code, body, _ := fs.do("GET", fs.api("/Calls.json")+"?PageSize=100", nil)
	if code != 200 {
		t.Fatal("calls")
	}
	for _, sid := range callSids(body) {
		_, es := fs.timeline(t, sid)
		for _, e := range es {
			if strings.Contains(e.Text, "4242424242") {
				t.Errorf("timeline shows card digits: %+v", e)
			}
		}
	}
	for _, p := range fs.all {
		if bytes.Contains([]byte(p.Stderr()), pan) || bytes.Contains([]byte(p.Stdout()), pan) {
			t.Error("the log holds the card number")
		}
	}
	// Ended sessions' data leaves the files within --erase-within (the
	// suite's 2 s); how soon is TestFaultCardScan's to measure. Here: it
	// goes, however slow the machine.
	var held []string
	clean := func() bool {
		held = nil
		for name, b := range storeFiles(t, db) {
			if n, ok := containsAny(b, [][]byte{pan}); ok {
				held = append(held, fmt.Sprintf("%s holds %s", name, n))
			}
		}
		return len(held) == 0
	}
	for deadline := time.Now().Add(30 * time.Second); !clean() && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
	}
	for _, h := range held {
		t.Error(h)
	}
}

// callSids reads the sids of a Calls list.
func callSids(body []byte) []string {
	var out []string
	for _, part := range strings.Split(string(body), `"sid":"`)[1:] {
		if i := strings.IndexByte(part, '"'); i > 0 && strings.HasPrefix(part, "CA") {
			out = append(out, part[:i])
		}
	}
	return out
}

// TestPayIVRACH: an ACH debit through <Pay>: AVSName is required (64014
// semantics), the routing and account numbers are asked in order, the
// account number is masked on the action.
func TestPayIVRACH(t *testing.T) {
	fs := newVoiceServer(t)
	app := payApp(t, fs.token, `<Pay action="/paid" paymentMethod="ach-debit" chargeAmount="20.00" language="es-MX"><Parameter name="AVSName" value="Ana Diaz"/></Pay>`)
	call := ivrCall(t, fs, app)
	_, es := fs.timeline(t, call)
	spanish := false
	for _, e := range es {
		if e.Kind == "say" && e.Lang == "es-MX" {
			spanish = true
		}
	}
	if !spanish {
		t.Errorf("no es-MX prompt in %+v", es)
	}
	press(t, fs, call, "121000358")
	press(t, fs, call, "12345678#")
	waitFor(t, 10*time.Second, "the action", func() bool { st, _ := fs.timeline(t, call); return st == "completed" })
	a := actionOf(t, app, call)
	if a.Params.Get("Result") != "success" || a.Params.Get("BankAccountNumber") != "******78" || a.Params.Get("BankRoutingNumber") != "121000358" ||
		a.Params.Get("PaymentMethod") != "ach-debit" {
		t.Fatalf("ach action %v", a.Params)
	}
	noName := payApp(t, fs.token, `<Pay action="/paid" paymentMethod="ach-debit" chargeAmount="20.00"/>`)
	if a := actionOf(t, noName, ivrCall(t, fs, noName)); a.Params.Get("Result") != "validation-error" || a.Params.Get("PayErrorCode") != "64014" {
		t.Fatalf("no AVSName %v", a.Params)
	}
	app.checkSigned()
}

// TestPayIVRRestart: the server is killed in the middle of a <Pay>; the
// next process takes the rest of the card and charges once.
func TestPayIVRRestart(t *testing.T) {
	fs := newVoiceServer(t)
	app := payApp(t, fs.token, `<Pay action="/paid" chargeAmount="7.00" timeout="30"/>`)
	call := ivrCall(t, fs, app)
	press(t, fs, call, card+"#")
	fs.restart()
	fs.retry("POST", fs.ext("/Calls/"+call+"/Digits"), url.Values{"Digits": {"1230"}})
	press(t, fs, call, "123")
	press(t, fs, call, "94105#")
	waitFor(t, 15*time.Second, "the action", func() bool { st, _ := fs.timeline(t, call); return st == "completed" })
	if a := actionOf(t, app, call); a.Params.Get("Result") != "success" {
		t.Fatalf("after restart %v", a.Params)
	}
	app.checkSigned()
	tw, _ := newTwilio(t, *fs.url.Load(), fs.sid, fs.token, fs.sid, nil)
	if c, err := tw.FetchCall(call, &api.FetchCallParams{}); err != nil || *c.Status != "completed" {
		t.Fatalf("call %v %+v", err, c)
	}
}

// TestPayIVRConnectors: <Parameter>s reach a Generic Pay Connector, whose
// response parameters come back as PayConnector_<key> on the action; an
// unknown connector is a validation-error with 64004; statusCallbackMethod
// GET; a <Pay> on a call with an agent's session open ends with
// ErrorType=session-in-progress; with --require-https-webhooks an http
// action is 64016.
func TestPayIVRConnectors(t *testing.T) {
	var mu sync.Mutex
	var got []map[string]any
	proc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "twilio" || p != "gpcsecret1" {
			w.WriteHeader(401)
			return
		}
		var req map[string]any
		json.NewDecoder(r.Body).Decode(&req)
		mu.Lock()
		got = append(got, req)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"charge_id": "ch_777", "error_code": nil, "error_message": nil,
			"parameters": req["parameters"]}) // echoes what it was sent
	}))
	t.Cleanup(proc.Close)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "tonepay.toml")
	os.WriteFile(cfgPath, []byte(`
[[connector]]
name = "Default"
type = "generic"
[connector.settings]
url = "`+proc.URL+`/"
username = "twilio"
password_env = "GPC_PASSWORD"
timeout = "3s"
`), 0o600)
	fs := newFaultServer(t, filepath.Join(dir, "gpc.db"), "TONEPAY_CONFIG="+cfgPath, "GPC_PASSWORD=gpcsecret1")

	app := payApp(t, fs.token, `<Pay action="/paid" statusCallback="/pay-status" statusCallbackMethod="GET" chargeAmount="15.00" securityCode="false" postalCode="false">`+
		`<Parameter name="order" value="A-17"/><Parameter name="channel" value="ivr"/></Pay>`)
	call := ivrCall(t, fs, app)
	press(t, fs, call, card+"#1230")
	waitFor(t, 10*time.Second, "the action", func() bool { st, _ := fs.timeline(t, call); return st == "completed" })
	a := actionOf(t, app, call)
	if a.Params.Get("Result") != "success" || a.Params.Get("PaymentConfirmationCode") != "ch_777" ||
		a.Params.Get("PayConnector_order") != "A-17" || a.Params.Get("PayConnector_channel") != "ivr" {
		t.Fatalf("action %v", a.Params)
	}
	mu.Lock()
	if len(got) != 1 || fmt.Sprint(got[0]["parameters"]) != "map[channel:ivr order:A-17]" {
		t.Errorf("processor got %v", got)
	}
	mu.Unlock()
	waitFor(t, 10*time.Second, "GET statusCallbacks", func() bool { return len(statusFor(app, call)) >= 3 })
	for _, r := range app.requests() {
		if r.Path == "/pay-status" && (r.Method != "GET" || r.Params.Get("For") == "") {
			t.Errorf("statusCallback %s %v", r.Method, r.Params)
		}
	}

	unknown := payApp(t, fs.token, `<Pay action="/paid" paymentConnector="Nope" chargeAmount="1"/>`)
	if a := actionOf(t, unknown, ivrCall(t, fs, unknown)); a.Params.Get("Result") != "validation-error" || a.Params.Get("PayErrorCode") != "64004" {
		t.Fatalf("unknown connector %v", a.Params)
	}

	// An agent's session is open on a held call; the call is redirected to
	// a <Pay>, which cannot start a second one.
	busy := payApp(t, fs.token, `<Pay action="/paid" chargeAmount="1"/>`)
	code, body, _ := fs.do("POST", fs.api("/Calls.json"), url.Values{"To": {"+15005550006"}, "From": {"+15005550001"}, "Twiml": {"<Response/>"}})
	if code != 201 {
		t.Fatalf("held call: %d %s", code, body)
	}
	held := sidOf(body)
	if code, body, _ = fs.do("POST", fs.api("/Calls/"+held+"/Payments.json"), url.Values{"IdempotencyKey": {"k"}, "StatusCallback": {busy.url("/agent")}}); code != 201 {
		t.Fatalf("agent session: %d %s", code, body)
	}
	if code, body, _ = fs.do("POST", fs.api("/Calls/"+held+".json"), url.Values{"Url": {busy.url("/pay")}}); code != 200 {
		t.Fatalf("redirect: %d %s", code, body)
	}
	if a := actionOf(t, busy, held); a.Params.Get("Result") != "validation-error" || a.Params.Get("ErrorType") != "session-in-progress" {
		t.Fatalf("session in progress %v", a.Params)
	}
	app.checkSigned()
	unknown.checkSigned()
	busy.checkSigned()

	strict := newFaultServer(t, filepath.Join(dir, "strict.db"), "TONEPAY_REQUIRE_HTTPS_WEBHOOKS=true")
	plain := payApp(t, strict.token, `<Pay action="/paid" chargeAmount="1"/>`)
	if a := actionOf(t, plain, ivrCall(t, strict, plain)); a.Params.Get("Result") != "validation-error" || a.Params.Get("PayErrorCode") != "64016" {
		t.Fatalf("http action with --require-https-webhooks %v", a.Params)
	}
}

// TestPayIVRErrorTypes: each ErrorType the IVR can produce reaches the
// statusCallback of the retry it causes, and a token comes back when the
// <Pay> tokenizes.
func TestPayIVRErrorTypes(t *testing.T) {
	fs := newVoiceServer(t)
	const amex = "378282246310005"
	tests := []struct {
		name, pay string
		keys      []string
		want      string // "For#Attempt:ErrorType" of the last statusCallback
	}{
		{"invalid-card-type", `validCardTypes="visa"`, []string{"5555555555554444#"}, "payment-card-number#2:invalid-card-type"},
		{"invalid-date", ``, []string{card + "#", "0120"}, "expiration-date#2:invalid-date"},
		{"invalid-security-code", ``, []string{amex + "#", "1230", "123#"}, "security-code#2:invalid-security-code"},
		{"invalid-postal-code", `minPostalCodeLength="5"`, []string{card + "#", "1230", "123", "12#"}, "postal-code#2:invalid-postal-code"},
		{"invalid-bank-routing-number", `paymentMethod="ach-debit"`, []string{"123456789"}, "bank-routing-number#2:invalid-bank-routing-number"},
		{"invalid-bank-account-number", `paymentMethod="ach-debit"`, []string{"121000358", "12#"}, "bank-account-number#2:invalid-bank-account-number"},
		{"input-matching-failed", ``, []string{card + "#", "4111111111111111#"}, "payment-card-number#2:input-matching-failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nouns := `<Parameter name="AVSName" value="Ana"/>`
			if tt.name == "input-matching-failed" {
				nouns += `<Prompt for="payment-card-number" requireMatchingInputs="true"><Say>Again please</Say></Prompt>`
			}
			app := payApp(t, fs.token, `<Pay action="/paid" statusCallback="/pay-status" chargeAmount="3.00" maxAttempts="2" `+tt.pay+`>`+nouns+`</Pay>`)
			call := ivrCall(t, fs, app)
			for _, k := range tt.keys {
				press(t, fs, call, k)
			}
			waitFor(t, 10*time.Second, tt.want, func() bool { return slices.Contains(statusFor(app, call), tt.want) })
			press(t, fs, call, "*")
			app.checkSigned()
		})
	}
	t.Run("tokenize", func(t *testing.T) {
		app := payApp(t, fs.token, `<Pay action="/paid" tokenType="one-time" securityCode="false" postalCode="false"/>`)
		call := ivrCall(t, fs, app)
		press(t, fs, call, card+"#1230")
		waitFor(t, 10*time.Second, "the action", func() bool { st, _ := fs.timeline(t, call); return st == "completed" })
		if a := actionOf(t, app, call); a.Params.Get("Result") != "success" || a.Params.Get("PaymentToken") == "" || a.Params.Get("PaymentConfirmationCode") != "" {
			t.Fatalf("tokenize %v", a.Params)
		}
	})
}
