package twilioapi_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/connector/sandbox"
	"github.com/tonepay/tonepay/events"
	"github.com/tonepay/tonepay/internal/servicetest"
	"github.com/tonepay/tonepay/seal"
	"github.com/tonepay/tonepay/store/sqlite"
	"github.com/tonepay/tonepay/twilioapi"
)

// limited is a connector that supports only what its capabilities say.
type limited tonepay.Capabilities

func (l limited) Capabilities() tonepay.Capabilities { return tonepay.Capabilities(l) }

func (limited) Pay(context.Context, *tonepay.PayRequest) (*tonepay.PayResult, error) {
	return &tonepay.PayResult{ConfirmationCode: "ch_limited"}, nil
}

// elsewhere is a connector for another account only.
type elsewhere struct{ limited }

func (elsewhere) Allows(accountSid, ownerSid string) bool { return false }

type nopNotifier struct{}

func (nopNotifier) HandOver() time.Duration       { return 0 }
func (nopNotifier) Committed([]*tonepay.Callback) {}

// env is a server on a real SQLite store with a main account, a subaccount
// and one call in progress on each.
type env struct {
	t       *testing.T
	srv     *httptest.Server
	store   tonepay.Store
	main    *tonepay.Account
	sub     *tonepay.Account
	call    string // in progress on main
	subCall string // in progress on sub
}

func newEnv(t *testing.T, opt twilioapi.Options) *env {
	t.Helper()
	return newEnvWith(t, opt, envOptions{})
}

// envOptions change what newEnvWith builds; zero values are newEnv's.
type envOptions struct {
	store tonepay.Store                              // default: SQLite in t.TempDir()
	log   io.Writer                                  // the server's log, at debug level; default discarded
	sleep func(context.Context, time.Duration) error // the 'w' key; default real
	wrap  func(http.Handler) http.Handler            // around the server
	hub   *events.Hub                                // where the service publishes and its watchers subscribe
	// timeouts are the http.Server's read and write timeouts; default none.
	timeouts time.Duration
	// fetcher makes calls run their TwiML; default none (calls only wait).
	fetcher tonepay.Fetcher
}

func openSQLite(t *testing.T) tonepay.Store {
	t.Helper()
	store, err := sqlite.Open(t.TempDir() + "/api.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return store
}

func newEnvWith(t *testing.T, opt twilioapi.Options, o envOptions) *env {
	t.Helper()
	store := o.store
	if store == nil {
		store = openSQLite(t)
	}
	connectors := tonepay.Connectors{
		"Default":      sandbox.New(),
		"ChargeOnly":   limited{Charge: true},
		"TokensOnly":   limited{Tokenize: true},
		"ReusableOnly": limited{Tokenize: true, TokenTypes: []string{tonepay.TokenReusable}},
		"USDOnly":      limited{Charge: true, Tokenize: true, Currencies: []string{"USD"}},
		"CardsOnly":    limited{Charge: true, Tokenize: true, Methods: []string{tonepay.CreditCard}},
		"Elsewhere":    elsewhere{limited{Charge: true, Tokenize: true}},
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if o.log != nil {
		log = slog.New(slog.NewTextHandler(o.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	box, _ := seal.New(make([]byte, 32))
	svc := servicetest.New(store, nopNotifier{}, box, connectors, log)
	if o.sleep != nil {
		svc.Sleep = o.sleep
	}
	if o.hub != nil {
		svc.Payments.Publish = o.hub.Publish
		svc.Payments.Subscribe = o.hub.Subscribe
	}
	if o.fetcher != nil {
		svc.Fetcher = o.fetcher
		t.Cleanup(svc.StopCalls)
	}
	var h http.Handler = twilioapi.NewServer(log, svc.Services(), opt)
	if o.wrap != nil {
		h = o.wrap(h)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ReadTimeout, srv.Config.WriteTimeout = o.timeouts, o.timeouts
	srv.Start()
	e := &env{t: t, srv: srv, store: store}
	t.Cleanup(e.srv.Close)

	now := time.Now().UTC()
	e.main = &tonepay.Account{Sid: tonepay.NewSID("AC"), FriendlyName: "main", Status: "active", AuthToken: tonepay.NewSecret("maintoken"), DateCreated: now, DateUpdated: now}
	e.main.OwnerSid = e.main.Sid
	e.sub = &tonepay.Account{Sid: tonepay.NewSID("AC"), OwnerSid: e.main.Sid, FriendlyName: "sub", Status: "active", AuthToken: tonepay.NewSecret("subtoken"), DateCreated: now, DateUpdated: now}
	err := store.Update(context.Background(), func(tx tonepay.Tx) error {
		if err := tx.CreateAccount(context.Background(), e.main); err != nil {
			return err
		}
		return tx.CreateAccount(context.Background(), e.sub)
	})
	if err != nil {
		t.Fatal(err)
	}
	e.call = e.newCall(e.main)
	e.subCall = e.newCall(e.sub)
	return e
}

func (e *env) newCall(a *tonepay.Account) string {
	e.t.Helper()
	code, body := e.as(a).post("/2010-04-01/Accounts/"+a.Sid+"/Calls.json", url.Values{"To": {"+15005550006"}, "From": {"+15005550001"}, "Url": {"https://example.com/twiml"}})
	if code != 201 {
		e.t.Fatalf("create call: %d %v", code, body)
	}
	return body["sid"].(string)
}

// client sends requests with one set of credentials.
type client struct {
	e          *env
	user, pass string
}

func (e *env) as(a *tonepay.Account) client { return client{e, a.Sid, a.AuthToken.Reveal()} }

func (c client) do(method, path string, form url.Values) (int, map[string]any) {
	c.e.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, c.e.srv.URL+path, body)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if c.user != "" {
		req.SetBasicAuth(c.user, c.pass)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.e.t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	if res.StatusCode != http.StatusNoContent {
		if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
			c.e.t.Fatalf("%s %s: %d, body is not JSON: %v", method, path, res.StatusCode, err)
		}
		if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			c.e.t.Errorf("%s %s: Content-Type %q", method, path, ct)
		}
	}
	return res.StatusCode, out
}

func (c client) post(path string, form url.Values) (int, map[string]any) {
	return c.do("POST", path, form)
}

func (e *env) paymentsPath(call string) string {
	return "/2010-04-01/Accounts/" + e.main.Sid + "/Calls/" + call + "/Payments.json"
}

// createForm is a valid create, changed by kv pairs ("" deletes a key).
func createForm(kv ...string) url.Values {
	return override(url.Values{"IdempotencyKey": {"k1"}, "StatusCallback": {"https://example.com/cb"}}, kv...)
}

// override returns a copy of base with kv pairs set ("" deletes a key).
func override(base url.Values, kv ...string) url.Values {
	f := url.Values{}
	for k, v := range base {
		f[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			f.Del(kv[i])
		} else {
			f.Set(kv[i], kv[i+1])
		}
	}
	return f
}

func (e *env) createPayment(call string, kv ...string) string {
	e.t.Helper()
	code, body := e.as(e.main).post(e.paymentsPath(call), createForm(kv...))
	if code != 201 {
		e.t.Fatalf("create payment: %d %v", code, body)
	}
	return body["sid"].(string)
}

func checkError(t *testing.T, code int, body map[string]any, wantStatus, wantCode int) {
	t.Helper()
	if code != wantStatus || body["code"] != float64(wantCode) {
		t.Fatalf("got %d %v, want %d code %d", code, body, wantStatus, wantCode)
	}
	if body["status"] != float64(wantStatus) || body["message"] == "" ||
		body["more_info"] != "https://www.twilio.com/docs/errors/"+itoa(wantCode) {
		t.Errorf("error body not in Twilio's shape: %v", body)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestCreateErrors(t *testing.T) {
	e := newEnv(t, twilioapi.Options{})
	tests := []struct {
		name   string
		kv     []string
		status int
		code   int
	}{
		{"missing IdempotencyKey", []string{"IdempotencyKey", ""}, 400, 20001},
		{"missing StatusCallback", []string{"StatusCallback", ""}, 400, 20001},
		{"bad PaymentMethod", []string{"PaymentMethod", "cash"}, 400, 64020},
		{"bad TokenType", []string{"TokenType", "forever"}, 400, 64020},
		{"bad BankAccountType", []string{"PaymentMethod", "ach-debit", "BankAccountType", "piggy-bank"}, 400, 64020},
		{"Timeout zero", []string{"Timeout", "0"}, 400, 64020},
		{"Timeout over 600", []string{"Timeout", "601"}, 400, 64020},
		{"Timeout not a number", []string{"Timeout", "soon"}, 400, 64020},
		{"bad boolean PostalCode", []string{"PostalCode", "maybe"}, 400, 64020},
		{"bad boolean SecurityCode", []string{"SecurityCode", "1"}, 400, 64020},
		{"bad Confirmation", []string{"Confirmation", "yes"}, 400, 64020},
		{"bad Input", []string{"Input", "speech"}, 400, 64020},
		{"bad MinPostalCodeLength", []string{"MinPostalCodeLength", "-1"}, 400, 64020},
		{"MinPostalCodeLength over 19", []string{"MinPostalCodeLength", "20"}, 400, 64020},
		{"Parameter not JSON", []string{"Parameter", "{'name':'x'"}, 400, 64020},
		{"Parameter an array", []string{"Parameter", "[1,2]"}, 400, 64020},
		{"Parameter nested", []string{"Parameter", `{"a":{"b":1}}`}, 400, 64020},
		{"unknown card type", []string{"ValidCardTypes", "visa monopoly"}, 400, 64020},
		{"matching a bank field", []string{"RequireMatchingInputs", "bank-routing-number"}, 400, 64020},
		{"matching a field not collected", []string{"SecurityCode", "false", "RequireMatchingInputs", "security-code"}, 400, 64020},
		{"StatusCallback not a URL", []string{"StatusCallback", "ftp://example.com/x"}, 400, 64020},
		{"negative amount", []string{"ChargeAmount", "-1"}, 400, 64003},
		{"amount too large", []string{"ChargeAmount", "1000000"}, 400, 64003},
		{"too many decimals", []string{"ChargeAmount", "10.001"}, 400, 64003},
		{"decimals in JPY", []string{"ChargeAmount", "10.5", "Currency", "jpy"}, 400, 64003},
		{"amount not a number", []string{"ChargeAmount", "ten"}, 400, 64003},
		{"unknown connector", []string{"PaymentConnector", "Nope"}, 400, 64004},
		{"connector for other accounts", []string{"PaymentConnector", "Elsewhere"}, 400, 64004},
		{"connector cannot tokenize", []string{"PaymentConnector", "ChargeOnly"}, 400, 64005},
		{"connector cannot make token type", []string{"PaymentConnector", "ReusableOnly", "TokenType", "one-time"}, 400, 64006},
		{"connector cannot charge", []string{"PaymentConnector", "TokensOnly", "ChargeAmount", "1"}, 400, 64007},
		{"connector lacks currency", []string{"PaymentConnector", "USDOnly", "Currency", "EUR"}, 400, 64011},
		{"not a currency", []string{"Currency", "XYZ"}, 400, 64011},
		{"connector lacks method", []string{"PaymentConnector", "CardsOnly", "PaymentMethod", "ach-debit"}, 400, 64013},
		{"BankAccountType with a card", []string{"BankAccountType", "consumer-savings"}, 400, 64017},
		// The rules <Pay> shares (tonepay.ParseParams), where the two once
		// disagreed.
		{"an unknown BankAccountType with a card", []string{"BankAccountType", "piggy-bank"}, 400, 64017},
		{"Currency of two letters", []string{"Currency", "US"}, 400, 64020},
		{"Currency a word", []string{"Currency", "dollars"}, 400, 64020},
		{"amount 1,000,000.00", []string{"ChargeAmount", "1000000.00"}, 400, 64003},
		{"amount as twilio-go writes 1,000,000", []string{"ChargeAmount", "1e+06"}, 400, 64003},
		{"bad amount before an unknown connector", []string{"ChargeAmount", "-1", "PaymentConnector", "Nope"}, 400, 64003},
		{"bad decimals before an unknown connector", []string{"ChargeAmount", "1.001", "PaymentConnector", "Nope"}, 400, 64003},
		{"ValidCardTypes naming none", []string{"ValidCardTypes", "  "}, 400, 64020},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := e.as(e.main).post(e.paymentsPath(e.call), createForm(tt.kv...))
			checkError(t, code, body, tt.status, tt.code)
		})
	}
	// None of those left a session behind: a valid create still works.
	e.createPayment(e.call)
}

func TestCreateAccepts(t *testing.T) {
	e := newEnv(t, twilioapi.Options{})
	tests := []struct {
		name string
		kv   []string
	}{
		{"defaults", nil},
		{"amount 10", []string{"ChargeAmount", "10"}},
		{"amount 10.0", []string{"ChargeAmount", "10.0"}},
		{"amount 10.00 in lower-case usd", []string{"ChargeAmount", "10.00", "Currency", "usd"}},
		{"amount in KWD", []string{"ChargeAmount", "1.125", "Currency", "KWD"}},
		{"zero amount tokenizes", []string{"ChargeAmount", "0"}},
		{"Parameter object", []string{"Parameter", `{"name":"foo","n":1}`}},
		{"Parameter JSON string", []string{"Parameter", `"{\"name\":\"foo\"}"`}},
		{"ach", []string{"PaymentMethod", "ach-debit", "BankAccountType", "commercial-checking"}},
		{"every option", []string{"PostalCode", "false", "SecurityCode", "False", "Timeout", "600", "TokenType", "payment-method",
			"ValidCardTypes", "visa discover optima", "RequireMatchingInputs", "payment-card-number,expiration-date", "Confirmation", "true",
			"MinPostalCodeLength", "5", "Description", "pizza", "Input", "dtmf"}},
		// Twilio's spec sets no maximum; an entry then ends at that length.
		{"MinPostalCodeLength above 10", []string{"MinPostalCodeLength", "19"}},
		{"relative StatusCallback", []string{"StatusCallback", "/cb?x=1"}},
		{"ValidCardTypes in capitals, as <Pay> takes them", []string{"ValidCardTypes", "VISA Amex"}},
		{"amount 999,999.99", []string{"ChargeAmount", "999999.99"}},
		{"amount .5", []string{"ChargeAmount", ".5"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			call := e.newCall(e.main)
			code, body := e.as(e.main).post(e.paymentsPath(call), createForm(tt.kv...))
			if code != 201 || !tonepay.IsSID(body["sid"].(string), "PK") {
				t.Fatalf("got %d %v", code, body)
			}
		})
	}
}

// TestCreateParameter: Parameter as JSON, as a JSON string holding JSON
// (twilio-go), and as Twilio's own API example writes it, with single quotes
// ("{'name':'foobar'}", CreatePayments in Twilio's OpenAPI spec); what is none
// of these is 64020.
func TestCreateParameter(t *testing.T) {
	e := newEnv(t, twilioapi.Options{})
	tests := []struct {
		name  string
		value string
		want  map[string]string // nil: refused with 64020
	}{
		{"Twilio's example", `{'name':'foobar'}`, map[string]string{"name": "foobar"}},
		{"Twilio's example through twilio-go", `"{'name':'foobar'}"`, map[string]string{"name": "foobar"}},
		{"a Python dict", `{'n': 1, 'ok': True, 'no': False, 'none': None}`, map[string]string{"n": "1", "ok": "true", "no": "false", "none": ""}},
		{"escaped quotes", `{'name': 'O\'Brien', 'say': 'he said "hi"', 'path': 'a\\b'}`,
			map[string]string{"name": "O'Brien", "say": `he said "hi"`, "path": `a\b`}},
		{"both quotes", `{'name': "O'Brien"}`, map[string]string{"name": "O'Brien"}},
		{"JSON escapes", `{'e': '\u00e9\n'}`, map[string]string{"e": "é\n"}},
		{"JSON with an apostrophe", `{"name":"O'Brien"}`, map[string]string{"name": "O'Brien"}},
		{"JSON that looks like Python", `{"a":"True","b":"'x'"}`, map[string]string{"a": "True", "b": "'x'"}},
		{"unterminated object", `{'name':'x'`, nil},
		{"unterminated string", `{'name':'x}`, nil},
		{"a quote escaped at the end", `{'name':'x\`, nil},
		{"nested", `{'a':{'b':'c'}}`, nil},
		{"bare key", `{name:'x'}`, nil},
		{"a list", `['a','b']`, nil},
		{"a Python escape", `{'a':'\x41'}`, nil},
		{"a NUL", `{'a':'\u0000'}`, nil},
		{"a string", `'just text'`, nil},
		{"garbage", `{{'a'::'b'}}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := e.as(e.main).post(e.paymentsPath(e.newCall(e.main)), createForm("Parameter", tt.value))
			if tt.want == nil {
				checkError(t, code, body, 400, 64020)
				if !strings.Contains(body["message"].(string), "Parameter") {
					t.Errorf("message does not name Parameter: %v", body["message"])
				}
				return
			}
			if code != 201 {
				t.Fatalf("got %d %v", code, body)
			}
			s, err := e.store.FindSession(context.Background(), body["sid"].(string))
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(s.Params.Parameter, tt.want) {
				t.Errorf("stored %q, want %q", s.Params.Parameter, tt.want)
			}
		})
	}
}

// TestEndedCall: each request on an ended call is 21220, with Twilio's
// "Call is not in-progress. Cannot redirect." for a redirect and the same
// sentence naming what else was tried.
func TestEndedCall(t *testing.T) {
	e := newEnv(t, twilioapi.Options{})
	call := e.newCall(e.main)
	callPath := "/2010-04-01/Accounts/" + e.main.Sid + "/Calls/" + call + ".json"
	if code, body := e.as(e.main).post(callPath, url.Values{"Status": {"completed"}}); code != 200 {
		t.Fatalf("hang up: %d %v", code, body)
	}
	tests := []struct {
		name string
		path string
		form url.Values
		msg  string
	}{
		{"hang up", callPath, url.Values{"Status": {"completed"}}, "Call is not in-progress. Cannot hang up."},
		{"cancel", callPath, url.Values{"Status": {"canceled"}}, "Call is not in-progress. Cannot cancel."},
		{"redirect to a URL", callPath, url.Values{"Url": {"https://example.com/next"}}, "Call is not in-progress. Cannot redirect."},
		{"redirect to a document", callPath, url.Values{"Twiml": {"<Response/>"}}, "Call is not in-progress. Cannot redirect."},
		{"press keys", "/_tonepay/Accounts/" + e.main.Sid + "/Calls/" + call + "/Digits", url.Values{"Digits": {"1"}}, "Call is not in-progress. Cannot press keys."},
		{"start a payment", e.paymentsPath(call), createForm(), "Call is not in-progress. Cannot process a payment."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := e.as(e.main).post(tt.path, tt.form)
			checkError(t, code, body, 400, 21220)
			if body["message"] != tt.msg {
				t.Errorf("message %q, want %q", body["message"], tt.msg)
			}
		})
	}
}

func TestUpdateErrors(t *testing.T) {
	e := newEnv(t, twilioapi.Options{})
	pk := e.createPayment(e.call)
	path := "/2010-04-01/Accounts/" + e.main.Sid + "/Calls/" + e.call + "/Payments/" + pk + ".json"
	base := url.Values{"IdempotencyKey": {"u1"}, "StatusCallback": {"https://example.com/cb"}}
	with := func(kv ...string) url.Values { return override(base, kv...) }
	tests := []struct {
		name   string
		form   url.Values
		status int
		code   int
	}{
		{"missing IdempotencyKey", with("IdempotencyKey", "", "Capture", "payment-card-number"), 400, 20001},
		{"missing StatusCallback", with("StatusCallback", "", "Capture", "payment-card-number"), 400, 20001},
		{"neither Capture nor Status", with(), 400, 64018},
		{"both Capture and Status", with("Capture", "payment-card-number", "Status", "complete"), 400, 64018},
		{"bad Capture", with("Capture", "pin-number"), 400, 64020},
		{"bad Status", with("Status", "done"), 400, 64020},
		{"bank field on a card session", with("Capture", "bank-account-number"), 400, 64020},
		{"complete before capture", with("Status", "complete"), 400, 64019},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := e.as(e.main).post(path, tt.form)
			checkError(t, code, body, tt.status, tt.code)
		})
	}

	code, body := e.as(e.main).post(path, with("Status", "cancel"))
	if code != 202 {
		t.Fatalf("cancel: %d %v", code, body)
	}
	t.Run("capture after cancel", func(t *testing.T) {
		code, body := e.as(e.main).post(path, with("Capture", "payment-card-number"))
		checkError(t, code, body, 400, 64021)
	})
	t.Run("complete after cancel", func(t *testing.T) {
		code, body := e.as(e.main).post(path, with("IdempotencyKey", "other", "Status", "complete"))
		checkError(t, code, body, 400, 64021)
	})
	t.Run("cancel replayed", func(t *testing.T) {
		code, body := e.as(e.main).post(path, with("Status", "cancel"))
		if code != 202 || body["sid"] != pk {
			t.Fatalf("replay: %d %v", code, body)
		}
	})
}

func TestSessionRules(t *testing.T) {
	e := newEnv(t, twilioapi.Options{})
	t.Run("second open session on a call", func(t *testing.T) {
		e.createPayment(e.call)
		code, body := e.as(e.main).post(e.paymentsPath(e.call), createForm("IdempotencyKey", "k2"))
		checkError(t, code, body, 400, 64021)
	})
	t.Run("replay of a create", func(t *testing.T) {
		call := e.newCall(e.main)
		first := e.createPayment(call, "IdempotencyKey", "same")
		code, body := e.as(e.main).post(e.paymentsPath(call), createForm("IdempotencyKey", "same"))
		if code != 201 || body["sid"] != first {
			t.Fatalf("replay: %d %v, want 201 with %s", code, body, first)
		}
	})
	t.Run("call not in progress", func(t *testing.T) {
		call := e.newCall(e.main)
		code, _ := e.as(e.main).post("/2010-04-01/Accounts/"+e.main.Sid+"/Calls/"+call+".json", url.Values{"Status": {"completed"}})
		if code != 200 {
			t.Fatalf("hang up: %d", code)
		}
		code, body := e.as(e.main).post(e.paymentsPath(call), createForm())
		checkError(t, code, body, 400, 21220)
	})
	t.Run("hang-up ends the session", func(t *testing.T) {
		call := e.newCall(e.main)
		pk := e.createPayment(call)
		e.as(e.main).post("/2010-04-01/Accounts/"+e.main.Sid+"/Calls/"+call+".json", url.Values{"Status": {"completed"}})
		s, err := e.store.FindSession(context.Background(), pk)
		if err != nil || s.Status != tonepay.SessionEnded || s.State.Result != tonepay.ResultHungUp {
			t.Fatalf("session after hang-up: %+v %v", s, err)
		}
	})
	t.Run("new session after the first ended", func(t *testing.T) {
		call := e.newCall(e.main)
		pk := e.createPayment(call)
		path := "/2010-04-01/Accounts/" + e.main.Sid + "/Calls/" + call + "/Payments/" + pk + ".json"
		if code, body := e.as(e.main).post(path, url.Values{"IdempotencyKey": {"c"}, "StatusCallback": {"https://example.com/cb"}, "Status": {"cancel"}}); code != 202 {
			t.Fatalf("cancel: %d %v", code, body)
		}
		e.createPayment(call, "IdempotencyKey", "k3")
	})
}

// TestConcurrentReplays: identical creates racing each other make one
// session, and every one of them gets its answer.
func TestConcurrentReplays(t *testing.T) {
	e := newEnv(t, twilioapi.Options{})
	call := e.newCall(e.main)
	var wg sync.WaitGroup
	sids := make(chan string, 8)
	for range 8 {
		wg.Go(func() {
			code, body := e.as(e.main).post(e.paymentsPath(call), createForm("IdempotencyKey", "race"))
			if code != 201 {
				t.Errorf("got %d %v", code, body)
				return
			}
			sids <- body["sid"].(string)
		})
	}
	wg.Wait()
	close(sids)
	seen := map[string]bool{}
	for s := range sids {
		seen[s] = true
	}
	if len(seen) != 1 {
		t.Errorf("racing identical creates made %d sessions: %v", len(seen), seen)
	}
}

func TestAuthAndRouting(t *testing.T) {
	e := newEnv(t, twilioapi.Options{})
	anon := client{e: e}
	wrong := client{e, e.main.Sid, "nottoken"}
	acct := "/2010-04-01/Accounts/" + e.main.Sid
	tests := []struct {
		name   string
		c      client
		method string
		path   string
		status int
		code   int
	}{
		{"no credentials", anon, "GET", acct + ".json", 401, 20003},
		{"wrong token", wrong, "GET", acct + ".json", 401, 20003},
		{"unknown account", client{e, tonepay.NewSID("AC"), "maintoken"}, "GET", acct + ".json", 401, 20003},
		{"not a sid", client{e, "bob", "maintoken"}, "GET", acct + ".json", 401, 20003},
		{"subaccount on its parent", e.as(e.sub), "GET", acct + "/Calls.json", 401, 20003},
		{"main account on a stranger", e.as(e.main), "GET", "/2010-04-01/Accounts/" + tonepay.NewSID("AC") + "/Calls.json", 401, 20003},
		{"unknown call", e.as(e.main), "GET", acct + "/Calls/" + tonepay.NewSID("CA") + ".json", 404, 20404},
		{"call of another account", e.as(e.main), "GET", acct + "/Calls/" + e.subCall + ".json", 404, 20404},
		{"payments on unknown call", e.as(e.main), "POST", acct + "/Calls/" + tonepay.NewSID("CA") + "/Payments.json", 404, 20404},
		{"unknown payment", e.as(e.main), "POST", acct + "/Calls/" + e.call + "/Payments/" + tonepay.NewSID("PK") + ".json", 404, 20404},
		{"malformed payment sid", e.as(e.main), "POST", acct + "/Calls/" + e.call + "/Payments/PKnope.json", 404, 20404},
		{"unknown key", e.as(e.main), "GET", acct + "/Keys/" + tonepay.NewSID("SK") + ".json", 404, 20404},
		{"unknown route", e.as(e.main), "GET", "/2010-04-01/Nope.json", 404, 20404},
		{"unknown route without auth", anon, "GET", "/nope", 404, 20404},
		{"wrong method", e.as(e.main), "DELETE", acct + "/Calls.json", 405, 20004},
		{"wrong method on payments", e.as(e.main), "GET", acct + "/Calls/" + e.call + "/Payments.json", 405, 20004},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := tt.c.do(tt.method, tt.path, url.Values{"IdempotencyKey": {"x"}, "StatusCallback": {"https://example.com/cb"}, "Capture": {"payment-card-number"}})
			checkError(t, code, body, tt.status, tt.code)
		})
	}
	t.Run("main account acts on its subaccount", func(t *testing.T) {
		code, body := e.as(e.main).do("GET", "/2010-04-01/Accounts/"+e.sub.Sid+"/Calls/"+e.subCall+".json", nil)
		if code != 200 || body["sid"] != e.subCall {
			t.Fatalf("got %d %v", code, body)
		}
	})
}

func TestKeys(t *testing.T) {
	e := newEnv(t, twilioapi.Options{})
	keys := "/2010-04-01/Accounts/" + e.main.Sid + "/Keys"
	code, k := e.as(e.main).post(keys+".json", url.Values{"FriendlyName": {"ci"}})
	if code != 201 || k["secret"] == "" {
		t.Fatalf("create key: %d %v", code, k)
	}
	sk, secret := k["sid"].(string), k["secret"].(string)
	viaKey := client{e, sk, secret}

	// A key works for payments on its account, but not to manage keys.
	if code, body := viaKey.post(e.paymentsPath(e.call), createForm()); code != 201 {
		t.Fatalf("payment with API key: %d %v", code, body)
	}
	code, body := viaKey.do("GET", keys+".json", nil)
	checkError(t, code, body, 401, 20003)
	code, body = client{e, sk, "wrongsecret"}.do("GET", "/2010-04-01/Accounts/"+e.main.Sid+"/Calls.json", nil)
	checkError(t, code, body, 401, 20003)

	code, body = e.as(e.main).do("GET", keys+"/"+sk+".json", nil)
	if code != 200 || body["friendly_name"] != "ci" || body["secret"] != nil {
		t.Fatalf("fetch key: %d %v", code, body)
	}
	code, body = e.as(e.main).do("GET", keys+".json", nil)
	if code != 200 || len(body["keys"].([]any)) != 1 {
		t.Fatalf("list keys: %d %v", code, body)
	}
	if code, _ := e.as(e.main).do("DELETE", keys+"/"+sk+".json", nil); code != 204 {
		t.Fatalf("delete key: %d", code)
	}
	code, body = viaKey.do("GET", "/2010-04-01/Accounts/"+e.main.Sid+"/Calls.json", nil)
	checkError(t, code, body, 401, 20003)
}

func TestRateLimit(t *testing.T) {
	now := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	e := newEnv(t, twilioapi.Options{RateLimit: 1, RateBurst: 3, Now: func() time.Time { return now }})
	// newEnv made two calls on two accounts; the main account has 2 tokens left.
	path := "/2010-04-01/Accounts/" + e.main.Sid + "/Calls.json"
	for i := 0; i < 2; i++ {
		if code, body := e.as(e.main).do("GET", path, nil); code != 200 {
			t.Fatalf("request %d: %d %v", i, code, body)
		}
	}
	code, body := e.as(e.main).do("GET", path, nil)
	checkError(t, code, body, 429, 20429)
	// Other accounts have their own bucket.
	if code, _ := e.as(e.sub).do("GET", "/2010-04-01/Accounts/"+e.sub.Sid+"/Calls.json", nil); code != 200 {
		t.Fatalf("subaccount limited by the main account's traffic: %d", code)
	}
	now = now.Add(time.Second)
	if code, _ := e.as(e.main).do("GET", path, nil); code != 200 {
		t.Fatalf("after a second: %d", code)
	}
}

func TestPaging(t *testing.T) {
	e := newEnv(t, twilioapi.Options{})
	for i := 0; i < 4; i++ {
		e.newCall(e.main)
	}
	path := "/2010-04-01/Accounts/" + e.main.Sid + "/Calls.json"
	seen := map[string]bool{}
	next := path + "?PageSize=2"
	for pages := 0; next != ""; pages++ {
		if pages > 3 {
			t.Fatal("too many pages")
		}
		code, body := e.as(e.main).do("GET", next, nil)
		if code != 200 || body["page_size"] != float64(2) {
			t.Fatalf("page: %d %v", code, body)
		}
		for _, c := range body["calls"].([]any) {
			seen[c.(map[string]any)["sid"].(string)] = true
		}
		next, _ = body["next_page_uri"].(string)
	}
	if len(seen) != 5 {
		t.Errorf("saw %d calls over the pages, want 5", len(seen))
	}
	code, body := e.as(e.main).do("GET", path+"?Status=completed", nil)
	if code != 200 || len(body["calls"].([]any)) != 0 {
		t.Errorf("filter by status: %d %v", code, body)
	}
}

func TestHealth(t *testing.T) {
	e := newEnv(t, twilioapi.Options{})
	code, body := client{e: e}.do("GET", "/_tonepay/health", nil)
	if code != 200 || body["status"] != "ok" {
		t.Fatalf("health: %d %v", code, body)
	}
}
