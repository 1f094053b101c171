package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/tonepay/tonepay"
	api "github.com/twilio/twilio-go/rest/api/v2010"
)

// fakeStripe answers the few Stripe endpoints the connector uses, the way
// Stripe does for a good test card, and records each request.
type fakeStripe struct {
	mu       sync.Mutex
	requests []string // "POST /v1/payment_intents amount=2500&…"
	keys     []string // Idempotency-Key headers
	expired  bool     // the key was rolled: Stripe's 401 api_key_expired
}

func (f *fakeStripe) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	f.mu.Lock()
	f.requests = append(f.requests, r.Method+" "+r.URL.Path+" "+r.PostForm.Encode())
	f.keys = append(f.keys, r.Header.Get("Idempotency-Key"))
	n, expired := len(f.requests), f.expired
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if expired {
		w.WriteHeader(401)
		fmt.Fprint(w, `{"error":{"type":"invalid_request_error","code":"api_key_expired","message":"Expired API Key provided: sk_test_****fake"}}`)
		return
	}
	if r.Header.Get("Authorization") != "Bearer sk_test_fake" {
		w.WriteHeader(401)
		fmt.Fprint(w, `{"error":{"type":"invalid_request_error","message":"Invalid API Key provided"}}`)
		return
	}
	switch {
	case strings.HasPrefix(r.URL.Path, "/v1/payment_methods") && strings.HasSuffix(r.URL.Path, "/attach"):
		fmt.Fprintf(w, `{"id":"%s","object":"payment_method","type":"card","customer":"cus_fake%d"}`, strings.Split(r.URL.Path, "/")[3], n)
	case r.URL.Path == "/v1/payment_methods":
		fmt.Fprintf(w, `{"id":"pm_fake%d","object":"payment_method","type":"card"}`, n)
	case r.URL.Path == "/v1/payment_intents":
		fmt.Fprintf(w, `{"id":"pi_fake%d","object":"payment_intent","status":"succeeded","amount":%s,"currency":"%s"}`, n, r.PostForm.Get("amount"), r.PostForm.Get("currency"))
	case r.URL.Path == "/v1/customers":
		fmt.Fprintf(w, `{"id":"cus_fake%d","object":"customer"}`, n)
	case r.URL.Path == "/v1/tokens":
		fmt.Fprintf(w, `{"id":"tok_fake%d","object":"token","type":"card"}`, n)
	default:
		w.WriteHeader(404)
		fmt.Fprintf(w, `{"error":{"type":"invalid_request_error","message":"Unrecognized request URL (%s %s)"}}`, r.Method, r.URL.Path)
	}
}

// TestStripeConnector charges and tokenizes through a stripe connector from
// the config file, against a fake Stripe.
func TestStripeConnector(t *testing.T) {
	fake := &fakeStripe{}
	stripeSrv := httptest.NewServer(fake)
	defer stripeSrv.Close()
	dir := t.TempDir()
	config := filepath.Join(dir, "tonepay.toml")
	os.WriteFile(config, []byte(`
[[connector]]
name = "Stripe"
type = "stripe"
mode = "test"
[connector.settings]
secret_key_env = "STRIPE_SECRET_KEY"
api_url = "`+stripeSrv.URL+`"
`), 0o600)
	sid, token := tonepay.NewSID("AC"), "stripetoken1"
	srv := startServer(t, "TONEPAY_DB="+filepath.Join(dir, "stripe.db"), "TONEPAY_ACCOUNT_SID="+sid, "TONEPAY_AUTH_TOKEN="+token,
		"TONEPAY_CONFIG="+config, "STRIPE_SECRET_KEY=sk_test_fake")
	tw, _ := newTwilio(t, srv.URL, sid, token, sid, loadSpec(t))
	rc := newReceiver(t, token)
	pay := func(p *api.CreatePaymentsParams) url.Values {
		fl := &flow{t: t, srv: srv, tw: tw, sid: sid, token: token, rc: rc, cbURL: rc.srv.URL + "/cb"}
		fl.start(p.SetPaymentConnector("Stripe").SetPostalCode(false))
		fl.enter("payment-card-number", "4242424242424242#")
		fl.enter("expiration-date", "1230")
		fl.enter("security-code", "123")
		fl.waitFor("Required", "", "Capture", "security-code", "PartialResult", "false")
		if err := fl.update((&api.UpdatePaymentsParams{}).SetStatus("complete")); err != nil {
			t.Fatal(err)
		}
		return fl.waitFor("Result", "*")
	}

	charged := pay((&api.CreatePaymentsParams{}).SetChargeAmount(19.99).SetCurrency("usd"))
	if charged.Get("Result") != "success" || !strings.HasPrefix(charged.Get("PaymentConfirmationCode"), "pi_") {
		t.Fatalf("charge result: %v", charged)
	}
	reusable := pay((&api.CreatePaymentsParams{}).SetTokenType("reusable"))
	if reusable.Get("Result") != "success" || !strings.HasPrefix(reusable.Get("PaymentToken"), "pm_") || !strings.HasPrefix(reusable.Get("ProfileId"), "cus_") {
		t.Fatalf("reusable token result: %v", reusable)
	}
	oneTime := pay((&api.CreatePaymentsParams{}).SetTokenType("one-time"))
	if oneTime.Get("Result") != "success" || !strings.HasPrefix(oneTime.Get("PaymentToken"), "tok_") {
		t.Fatalf("one-time token result: %v", oneTime)
	}
	fake.mu.Lock()
	var intent string
	for i, r := range fake.requests {
		if strings.HasPrefix(r, "POST /v1/payment_intents ") {
			intent = r
			if fake.keys[i] == "" {
				t.Error("the PaymentIntent was created without an idempotency key")
			}
		}
	}
	fake.mu.Unlock()
	if !strings.Contains(intent, "amount=1999") || !strings.Contains(intent, "currency=usd") || !strings.Contains(intent, "confirm=true") {
		t.Errorf("PaymentIntent request: %s", intent)
	}

	// The key is rolled in Stripe's dashboard: Twilio's 64009, "no longer
	// authorized to initiate transactions on your behalf".
	fake.mu.Lock()
	fake.expired = true
	fake.mu.Unlock()
	revoked := pay((&api.CreatePaymentsParams{}).SetChargeAmount(5))
	if revoked.Get("Result") != "payment-connector-error" || revoked.Get("PayErrorCode") != "64009" ||
		revoked.Get("ConnectorError") != "api_key_expired" || strings.Contains(revoked.Get("PaymentError"), "sk_test") {
		t.Errorf("expired key result: %v", revoked)
	}
}
