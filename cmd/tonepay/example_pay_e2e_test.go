package main

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tonepay/tonepay/examples/pay/payapp"
	api "github.com/twilio/twilio-go/rest/api/v2010"
)

// payExampleApp serves examples/pay's app on loopback and records every
// request it gets and whether its X-Twilio-Signature was valid.
type payExampleApp struct {
	URL string
	mu  sync.Mutex
	got []exampleRequest
}

func startPayExampleApp(t *testing.T, token string) *payExampleApp {
	ea := &payExampleApp{}
	var app *payapp.App
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		rec := &recordStatus{ResponseWriter: w, code: 200}
		app.ServeHTTP(rec, r)
		ea.mu.Lock()
		ea.got = append(ea.got, exampleRequest{r.URL.RequestURI(), r.PostForm, app.Valid(r), rec.code})
		ea.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	app = payapp.New(token, srv.URL)
	ea.URL = srv.URL
	return ea
}

func (ea *payExampleApp) requests(callSid string) []exampleRequest {
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

// TestExamplePay drives examples/pay, the README's <Pay> app, through whole
// calls on a real tonepay: a payment, a decline and its one retry, a
// mistyped card number and its retry prompt, a second failure that ends
// the call; every webhook the app got was signed and answered, and none
// held a clear card number.
func TestExamplePay(t *testing.T) {
	srv := startServer(t, "TONEPAY_DB="+filepath.Join(t.TempDir(), "examplepay.db"))
	sid, token := parseAccount(srv.Stdout())
	tw, _ := newTwilio(t, srv.URL, sid, token, sid, nil)
	ext := srv.URL + "/_tonepay/Accounts/" + sid + "/Calls/"
	do := extCaller(t, ext, sid, token)
	press := func(call, keys string) { t.Helper(); do("POST", call+"/Digits", url.Values{"Digits": {keys}}, nil) }
	said := func(call string) []string {
		var tl struct{ Entries []struct{ Kind, Text string } }
		do("GET", call+"/Timeline?PageSize=1000", nil, &tl)
		var words []string
		for _, e := range tl.Entries {
			if e.Kind == "say" {
				words = append(words, e.Text)
			}
		}
		return words
	}
	app := startPayExampleApp(t, token)
	place := func() string {
		t.Helper()
		c, err := tw.CreateCall((&api.CreateCallParams{}).SetTo("+15005550006").SetFrom("+15005550001").SetUrl(app.URL + "/voice"))
		if err != nil {
			t.Fatal(err)
		}
		return *c.Sid
	}
	// ended waits for the hang-up and the last statusCallback (the outbox
	// sends them after the action), then returns the app's requests.
	ended := func(call string, statusCallbacks int) []exampleRequest {
		t.Helper()
		waitFor(t, 10*time.Second, "the call to end", func() bool {
			c, err := tw.FetchCall(call, nil)
			n := 0
			for _, r := range app.requests(call) {
				if strings.HasPrefix(r.Path, "/pay-status") {
					n++
				}
			}
			return err == nil && *c.Status == "completed" && n >= statusCallbacks
		})
		return app.requests(call)
	}
	// routes lists the paths asked, the statusCallbacks as For#Attempt[:ErrorType].
	routes := func(rs []exampleRequest) (paths, status []string) {
		for _, r := range rs {
			if r.Path == "/pay-status" {
				s := r.Form.Get("For") + "#" + r.Form.Get("Attempt")
				if e := r.Form.Get("ErrorType"); e != "" {
					s += ":" + e
				}
				status = append(status, s)
				continue
			}
			paths = append(paths, r.Path)
		}
		return paths, status
	}
	action := func(rs []exampleRequest) url.Values {
		var last url.Values
		for _, r := range rs {
			if strings.HasPrefix(r.Path, "/paid") {
				last = r.Form
			}
		}
		return last
	}

	t.Run("success", func(t *testing.T) {
		call := place()
		if w := said(call); !slices.Equal(w, []string{"Welcome to Acme Utilities. Your balance is 42 dollars and 50 cents.",
			"To pay by card, please enter your card number, then press pound."}) {
			t.Errorf("before a key: %q", w)
		}
		press(call, "4242424242424242#")
		press(call, "1230")
		press(call, "123")
		rs := ended(call, 4)
		a := action(rs)
		if a.Get("Result") != "success" || a.Get("PaymentCardNumber") != "xxxxxxxxxxxx4242" || a.Get("PaymentConfirmationCode") == "" {
			t.Fatalf("action %v", a)
		}
		words := said(call)
		want := "Thank you, your payment of 42 dollars and 50 cents was received. Your confirmation code is " + payapp.Spell(a.Get("PaymentConfirmationCode")) + "."
		if !slices.Contains(words, "Please enter the expiry date: two digits for the month, then two for the year.") ||
			!slices.Contains(words, "Please enter the security code on the back of your card.") || words[len(words)-1] != "Goodbye." || !slices.Contains(words, want) {
			t.Errorf("said %q", words)
		}
		paths, status := routes(rs)
		if !slices.Equal(paths, []string{"/voice", "/paid"}) || !slices.Equal(status, []string{"payment-card-number#1", "expiration-date#1", "security-code#1", "payment-processing#1"}) {
			t.Errorf("requests %q, statusCallbacks %q", paths, status)
		}
	})

	t.Run("a decline, then the one retry pays", func(t *testing.T) {
		call := place()
		press(call, "4000000000000002#")
		press(call, "1230")
		press(call, "123")
		waitFor(t, 10*time.Second, "the retry", func() bool { return slices.Contains(said(call), "Let's try that again.") })
		if w := said(call); !slices.Contains(w, "Sorry, your card was declined.") {
			t.Errorf("said %q", w)
		}
		press(call, "4242424242424242#")
		press(call, "1230")
		press(call, "123")
		rs := ended(call, 8)
		if a := action(rs); a.Get("Result") != "success" {
			t.Fatalf("after the retry %v", a)
		}
		if paths, _ := routes(rs); !slices.Equal(paths, []string{"/voice", "/paid", "/voice?retry=1", "/paid?retry=1"}) {
			t.Errorf("requests %q", paths)
		}
	})

	t.Run("a mistyped card number, then a second failure ends the call", func(t *testing.T) {
		call := place()
		press(call, "4242424242424241#") // fails the Luhn check
		if w := said(call); w[len(w)-1] != "That card number is not valid. Please enter it again, then press pound." {
			t.Errorf("retry prompt: %q", w)
		}
		press(call, "1234#") // too short: the second and last attempt
		waitFor(t, 10*time.Second, "the retry", func() bool { return slices.Contains(said(call), "Let's try that again.") })
		if w := said(call); !slices.Contains(w, "Sorry, we could not read your card details.") {
			t.Errorf("said %q", w)
		}
		press(call, "*") // the caller gives up on the retry
		rs := ended(call, 3)
		if a := action(rs); a.Get("Result") != "caller-interrupted-with-star" {
			t.Fatalf("star %v", a)
		}
		if w := said(call); w[len(w)-1] != "You cancelled the payment. Please call us again later. Goodbye." {
			t.Errorf("said %q", w)
		}
		_, status := routes(rs)
		if len(status) < 2 || status[1] != "payment-card-number#2:invalid-card-number" {
			t.Errorf("statusCallbacks %q", status)
		}
	})

	// Every webhook the app got was signed, answered, and free of card numbers.
	app.mu.Lock()
	for _, r := range app.got {
		if !r.Valid || (r.Status != 200 && r.Status != 204) {
			t.Errorf("%s: valid=%v, answered %d", r.Path, r.Valid, r.Status)
		}
		for _, pan := range []string{"4242424242424242", "4000000000000002", "4242424242424241"} {
			if strings.Contains(r.Form.Encode()+r.Path, pan) {
				t.Errorf("%s carried a clear card number", r.Path)
			}
		}
	}
	app.mu.Unlock()

	// The app refuses what tonepay did not sign with this account's token.
	for name, sig := range map[string]string{"unsigned": "", "signed with another token": "bm90IGEgc2lnbmF0dXJl"} {
		req, _ := http.NewRequest("POST", app.URL+"/paid", strings.NewReader("CallSid=CA1&Result=success"))
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
