package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/store/sqlite"
	api "github.com/twilio/twilio-go/rest/api/v2010"
)

// flow is one payment session driven as an agent (twilio-go) and a caller
// (the Digits API) would.
type flow struct {
	t     *testing.T
	srv   *proc
	tw    *api.ApiService
	sid   string
	token string
	rc    *receiver
	cbURL string
	call  string
	pk    string
	n     int // idempotency keys
}

func (fl *flow) key() string { fl.n++; return "key-" + strings.Repeat("x", fl.n) }

func (fl *flow) start(p *api.CreatePaymentsParams) {
	fl.t.Helper()
	call, err := fl.tw.CreateCall((&api.CreateCallParams{}).SetTo("+15005550006").SetFrom("+15005550001").SetUrl("https://example.com/twiml"))
	if err != nil {
		fl.t.Fatal(err)
	}
	fl.call = *call.Sid
	pay, err := fl.tw.CreatePayments(fl.call, p.SetIdempotencyKey(fl.key()).SetStatusCallback(fl.cbURL))
	if err != nil {
		fl.t.Fatal(err)
	}
	fl.pk = *pay.Sid
}

func (fl *flow) update(p *api.UpdatePaymentsParams) error {
	_, err := fl.tw.UpdatePayments(fl.call, fl.pk, p.SetIdempotencyKey(fl.key()).SetStatusCallback(fl.cbURL))
	return err
}

func (fl *flow) capture(field string) {
	fl.t.Helper()
	if err := fl.update((&api.UpdatePaymentsParams{}).SetCapture(field)); err != nil {
		fl.t.Fatalf("capture %s: %v", field, err)
	}
}

// press plays keys on the caller's phone.
func (fl *flow) press(keys string) {
	fl.t.Helper()
	u := fl.srv.URL + "/_tonepay/Accounts/" + fl.sid + "/Calls/" + fl.call + "/Digits"
	req, _ := http.NewRequest("POST", u, strings.NewReader(url.Values{"Digits": {keys}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(fl.sid, fl.token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		fl.t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		fl.t.Fatalf("press %q: HTTP %d", keys, res.StatusCode)
	}
}

func (fl *flow) enter(field, keys string) {
	fl.t.Helper()
	fl.capture(field)
	fl.press(keys)
}

// waitFor waits for a callback of this session matching every key=value
// (value "*" means present) and returns it.
func (fl *flow) waitFor(kv ...string) url.Values {
	fl.t.Helper()
	var found url.Values
	waitFor(fl.t, 10*time.Second, "callback "+strings.Join(kv, " "), func() bool {
		for _, d := range fl.rc.forSession(fl.pk) {
			ok := true
			for i := 0; i+1 < len(kv); i += 2 {
				if v := d.Form.Get(kv[i]); !d.Form.Has(kv[i]) || kv[i+1] != "*" && v != kv[i+1] {
					ok = false
				}
			}
			if ok {
				found = d.Form
				return true
			}
		}
		return false
	})
	return found
}

// get fetches a tonepay extension resource of this session.
func (fl *flow) get(suffix string, v any) {
	fl.t.Helper()
	u := fl.srv.URL + "/_tonepay/Accounts/" + fl.sid + "/Calls/" + fl.call + "/Payments/" + fl.pk + suffix
	req, _ := http.NewRequest("GET", u, nil)
	req.SetBasicAuth(fl.sid, fl.token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		fl.t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		fl.t.Fatalf("GET %s: %d", u, res.StatusCode)
	}
	json.NewDecoder(res.Body).Decode(v)
}

// checkDelivery checks that every callback of the session was delivered
// once, signed, in the order the server queued them.
func (fl *flow) checkDelivery() {
	fl.t.Helper()
	var view struct {
		Callbacks []struct {
			Token  string `json:"idempotency_token"`
			Status string `json:"status"`
		} `json:"callbacks"`
	}
	waitFor(fl.t, 10*time.Second, "every callback delivered", func() bool {
		fl.get("/Callbacks", &view)
		for _, c := range view.Callbacks {
			if c.Status != "delivered" {
				return false
			}
		}
		return len(view.Callbacks) > 0
	})
	got := fl.rc.forSession(fl.pk)
	if len(got) != len(view.Callbacks) {
		fl.t.Fatalf("received %d callbacks, server queued %d", len(got), len(view.Callbacks))
	}
	for i, d := range got {
		if !d.Valid {
			fl.t.Errorf("callback %d: bad signature", i)
		}
		if d.Token != view.Callbacks[i].Token {
			fl.t.Errorf("callback %d arrived out of order", i)
		}
	}
}

var (
	card4242 = "4242424242424242"
	cvv      = "737"
	account  = "123456789"
)

func TestPaymentFlows(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "flows.db")
	sid, token := tonepay.NewSID("AC"), "flowstoken1"
	// The first-digit wait is the default 30 s: a slow machine never times
	// a field out between a capture and its keys. "timeout" has a server of
	// its own, with 1 s.
	srv := startServer(t, "TONEPAY_DB="+db, "TONEPAY_ACCOUNT_SID="+sid, "TONEPAY_AUTH_TOKEN="+token, "TONEPAY_LOG_LEVEL=debug")
	tw, _ := newTwilio(t, srv.URL, sid, token, sid, loadSpec(t))
	rc := newReceiver(t, token)
	newFlow := func(t *testing.T) *flow {
		return &flow{t: t, srv: srv, tw: tw, sid: sid, token: token, rc: rc, cbURL: rc.srv.URL + "/cb?flow=" + url.QueryEscape(t.Name())}
	}
	card := func(fl *flow, number string) {
		fl.enter("payment-card-number", number+"#")
		fl.waitFor("Capture", "payment-card-number", "PartialResult", "false", "PaymentCardNumber", "*")
		fl.enter("expiration-date", "1230")
		fl.enter("security-code", cvv)
		fl.enter("postal-code", "94109#")
		fl.waitFor("Capture", "postal-code", "PartialResult", "false", "Required", "")
	}

	t.Run("card charge", func(t *testing.T) {
		fl := newFlow(t)
		fl.start((&api.CreatePaymentsParams{}).SetChargeAmount(19.99))
		fl.capture("payment-card-number")
		fl.press("4242")
		fl.waitFor("PartialResult", "true", "PaymentCardNumber", "xxxx")
		fl.press("424242424242#")
		fl.waitFor("PaymentCardNumber", "xxxxxxxxxxxx4242", "PaymentCardType", "visa", "Required", "expiration-date,security-code,postal-code")
		fl.enter("expiration-date", "1230")
		fl.enter("security-code", cvv)
		fl.enter("postal-code", "94109#")
		fl.waitFor("Required", "", "PaymentCardPostalCode", "94109")
		if err := fl.update((&api.UpdatePaymentsParams{}).SetStatus("complete")); err != nil {
			t.Fatal(err)
		}
		f := fl.waitFor("Result", "success")
		if !strings.HasPrefix(f.Get("PaymentConfirmationCode"), "ch_") || f.Get("PaymentCardNumber") != "xxxxxxxxxxxx4242" ||
			f.Get("SecurityCode") != "xxx" || f.Get("ExpirationDate") != "1230" || f.Get("ChargeAmount") != "19.99" {
			t.Errorf("result callback: %v", f)
		}
		var view map[string]any
		fl.get("", &view)
		if view["status"] != "ended" || view["result"] != "success" || view["captured"].(map[string]any)["payment-card-number"] != "xxxxxxxxxxxx4242" {
			t.Errorf("session view: %v", view)
		}
		fl.checkDelivery()
	})

	t.Run("ach tokenize", func(t *testing.T) {
		fl := newFlow(t)
		fl.start((&api.CreatePaymentsParams{}).SetPaymentMethod("ach-debit").SetBankAccountType("consumer-savings").SetTokenType("reusable"))
		fl.enter("bank-routing-number", "121000358")
		fl.waitFor("BankRoutingNumber", "121000358")
		fl.enter("bank-account-number", account+"#")
		fl.waitFor("BankAccountNumber", "*******89", "Required", "")
		if err := fl.update((&api.UpdatePaymentsParams{}).SetStatus("complete")); err != nil {
			t.Fatal(err)
		}
		f := fl.waitFor("Result", "success")
		if !strings.HasPrefix(f.Get("PaymentToken"), "pm_") || !strings.HasPrefix(f.Get("ProfileId"), "cus_") || f.Get("BankAccountType") != "consumer-savings" {
			t.Errorf("result callback: %v", f)
		}
		fl.checkDelivery()
	})

	t.Run("invalid card then re-capture", func(t *testing.T) {
		fl := newFlow(t)
		fl.start((&api.CreatePaymentsParams{}).SetChargeAmount(5))
		fl.enter("payment-card-number", "4242424242424241#")
		fl.waitFor("ErrorType", "invalid-card-number")
		card(fl, "4111111111111111")
		if err := fl.update((&api.UpdatePaymentsParams{}).SetStatus("complete")); err != nil {
			t.Fatal(err)
		}
		fl.waitFor("Result", "success", "PaymentCardNumber", "xxxxxxxxxxxx1111")
		fl.checkDelivery()
	})

	t.Run("security code before the card number", func(t *testing.T) {
		fl := newFlow(t)
		fl.start(&api.CreatePaymentsParams{})
		fl.enter("security-code", cvv)
		fl.waitFor("Capture", "security-code", "ErrorType", "invalid-card-number-security-code-capture-sequence")
		fl.checkDelivery()
	})

	t.Run("expired date", func(t *testing.T) {
		fl := newFlow(t)
		fl.start(&api.CreatePaymentsParams{})
		fl.enter("expiration-date", "1020")
		fl.waitFor("Capture", "expiration-date", "ErrorType", "invalid-date")
		fl.checkDelivery()
	})

	t.Run("timeout", func(t *testing.T) {
		quick := startServer(t, "TONEPAY_DB="+filepath.Join(dir, "timeout.db"), "TONEPAY_ACCOUNT_SID="+sid, "TONEPAY_AUTH_TOKEN="+token,
			"TONEPAY_FIRST_DIGIT_TIMEOUT=1s")
		qtw, _ := newTwilio(t, quick.URL, sid, token, sid, loadSpec(t))
		fl := &flow{t: t, srv: quick, tw: qtw, sid: sid, token: token, rc: rc, cbURL: rc.srv.URL + "/cb?flow=" + url.QueryEscape(t.Name())}
		fl.start(&api.CreatePaymentsParams{})
		fl.capture("payment-card-number") // and the caller types nothing
		fl.waitFor("Capture", "payment-card-number", "ErrorType", "input-timeout")
		fl.checkDelivery()
	})

	t.Run("matcher mismatch", func(t *testing.T) {
		fl := newFlow(t)
		fl.start((&api.CreatePaymentsParams{}).SetRequireMatchingInputs("payment-card-number"))
		fl.enter("payment-card-number", card4242+"#")
		fl.enter("payment-card-number-matcher", "4111111111111111#")
		f := fl.waitFor("ErrorType", "input-matching-failed")
		if !strings.HasPrefix(f.Get("Required"), "payment-card-number,payment-card-number-matcher,") {
			t.Errorf("both entries are not required again: %v", f)
		}
		fl.checkDelivery()
	})

	t.Run("star", func(t *testing.T) {
		fl := newFlow(t)
		fl.start(&api.CreatePaymentsParams{})
		fl.enter("payment-card-number", "42*")
		fl.waitFor("Result", "caller-interrupted-with-star")
		fl.checkDelivery()
	})

	t.Run("hang-up", func(t *testing.T) {
		fl := newFlow(t)
		fl.start(&api.CreatePaymentsParams{})
		fl.enter("payment-card-number", "4242")
		if _, err := tw.UpdateCall(fl.call, (&api.UpdateCallParams{}).SetStatus("completed")); err != nil {
			t.Fatal(err)
		}
		fl.waitFor("Result", "caller-hung-up")
		fl.checkDelivery()
	})

	t.Run("cancel", func(t *testing.T) {
		fl := newFlow(t)
		fl.start(&api.CreatePaymentsParams{})
		fl.enter("payment-card-number", card4242+"#")
		if err := fl.update((&api.UpdatePaymentsParams{}).SetStatus("cancel")); err != nil {
			t.Fatal(err)
		}
		fl.waitFor("Result", "payment-cancelled", "PaymentCardNumber", "xxxxxxxxxxxx4242")
		fl.checkDelivery()
	})

	t.Run("decline", func(t *testing.T) {
		fl := newFlow(t)
		fl.start((&api.CreatePaymentsParams{}).SetChargeAmount(10))
		card(fl, "4000000000000002")
		if err := fl.update((&api.UpdatePaymentsParams{}).SetStatus("complete")); err != nil {
			t.Fatal(err)
		}
		fl.waitFor("Result", "payment-connector-error", "PayErrorCode", "64012", "ConnectorError", "card_declined", "PaymentError", "*")
		fl.checkDelivery()
	})

	// Wire points settled from Twilio's spec (docs/twilio-compat.md).
	var paramPK string
	t.Run("Parameter as Twilio's example writes it", func(t *testing.T) {
		fl := newFlow(t)
		// CreatePayments' example in Twilio's spec, single quotes and all;
		// twilio-go sends the string JSON-encoded.
		fl.start((&api.CreatePaymentsParams{}).SetParameter("{'name':'foobar'}"))
		paramPK = fl.pk
		_, err := tw.CreatePayments(fl.call, (&api.CreatePaymentsParams{}).SetIdempotencyKey(fl.key()).SetStatusCallback(fl.cbURL).
			SetParameter("{'name':'foobar'"))
		wantTwilioError(t, "a Parameter that does not close", err, 64020, 400)
	})

	t.Run("postal code longer than 10", func(t *testing.T) {
		fl := newFlow(t)
		fl.start((&api.CreatePaymentsParams{}).SetMinPostalCodeLength(12))
		fl.enter("postal-code", "555012345678")
		fl.waitFor("Capture", "postal-code", "PartialResult", "false", "PaymentCardPostalCode", "555012345678")
		fl.checkDelivery()
	})

	t.Run("confirmation declined", func(t *testing.T) {
		fl := newFlow(t)
		fl.start((&api.CreatePaymentsParams{}).SetChargeAmount(10).SetConfirmation("true"))
		card(fl, card4242)
		if err := fl.update((&api.UpdatePaymentsParams{}).SetStatus("complete")); err != nil {
			t.Fatal(err)
		}
		var view map[string]any
		waitFor(t, 10*time.Second, "the session waits for the caller's 1 or 2", func() bool {
			fl.get("", &view)
			return view["status"] == "confirming"
		})
		fl.press("2")
		f := fl.waitFor("Result", "payment-cancelled")
		if !strings.Contains(f.Get("PaymentError"), "pressed 2") {
			t.Errorf("result callback: %v", f)
		}
		fl.checkDelivery()
		// Only fields Twilio documents: none named Confirmation.
		for _, d := range fl.rc.forSession(fl.pk) {
			if d.Form.Has("Confirmation") {
				t.Errorf("a callback has Confirmation=%s: %v", d.Form.Get("Confirmation"), d.Form)
			}
		}
	})

	// Card data safety: nothing typed in clear reached the debug log or the
	// database files, and no session keeps sealed values after its end.
	if code := srv.stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("exit %d", code)
	}
	log := srv.Stderr()
	if !strings.Contains(log, "level=DEBUG") {
		t.Fatal("the server did not log at debug level")
	}
	secrets := []string{card4242, "4111111111111111", "4000000000000002", "4242424242424241", account}
	for _, s := range secrets {
		if strings.Contains(log, s) {
			t.Errorf("the log contains %s", s)
		}
	}
	// A security code stands alone, not inside a time, a duration or a SID.
	if m := regexp.MustCompile(`(^|[^0-9A-Za-z.:])` + cvv + `([^0-9A-Za-z.]|$)`).FindString(log); m != "" {
		t.Errorf("the log contains the security code: %q", m)
	}
	files, _ := filepath.Glob(db + "*")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range append(secrets, `"`+cvv+`"`, "="+cvv) {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s contains %s", filepath.Base(name), s)
			}
		}
	}
	if n := countSealedEnded(t, db); n != 0 {
		t.Errorf("%d ended sessions still hold sealed values", n)
	}
	if paramPK != "" {
		store, err := sqlite.Open(db)
		if err != nil {
			t.Fatal(err)
		}
		defer store.Close()
		s, err := store.FindSession(t.Context(), paramPK)
		if err != nil {
			t.Fatal(err)
		}
		if len(s.Params.Parameter) != 1 || s.Params.Parameter["name"] != "foobar" {
			t.Errorf("Parameter stored as %v, want name=foobar", s.Params.Parameter)
		}
	}
}

// countSealedEnded counts ended sessions whose sealed values were not erased.
func countSealedEnded(t *testing.T, db string) int {
	store, err := sqlite.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	var n int
	if err := store.QueryRow(`SELECT count(*) FROM sessions WHERE status = 'ended' AND sealed IS NOT NULL`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	var ended int
	store.QueryRow(`SELECT count(*) FROM sessions WHERE status = 'ended'`).Scan(&ended)
	if ended < 7 {
		t.Errorf("only %d sessions ended", ended)
	}
	return n
}
