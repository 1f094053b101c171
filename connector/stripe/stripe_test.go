package stripe

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	stripego "github.com/stripe/stripe-go/v85"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/internal/suites"
)

const testCard = "4242424242424242"

// payRequest is a card request; amount "" tokenizes.
func payRequest(tx, amount, currency, tokenType string) *tonepay.PayRequest {
	return &tonepay.PayRequest{
		TransactionID: tx,
		Params: tonepay.Params{
			PaymentMethod: tonepay.CreditCard,
			ChargeAmount:  amount,
			Currency:      currency,
			Description:   "pizza",
			Parameter:     map[string]string{"order": "42"},
			TokenType:     tokenType,
		},
		CardNumber:   tonepay.NewSecret(testCard),
		ExpMonth:     "08",
		ExpYear:      "27",
		SecurityCode: tonepay.NewSecret("123"),
		PostalCode:   "94111",
	}
}

func mustNew(t *testing.T, settings map[string]string) tonepay.Connector {
	t.Helper()
	if settings["secret_key"] == "" {
		settings["secret_key"] = "sk_test_123"
	}
	c, err := New(tonepay.ConnectorConfig{Name: "Default", Type: "stripe", Mode: tonepay.ModeTest, Settings: settings})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

// noCardData fails if the card number or its security code appear in what
// Pay returned: refusals and errors reach logs and status callbacks.
func noCardData(t *testing.T, res *tonepay.PayResult, err error) {
	t.Helper()
	text := fmt.Sprint(err)
	if res != nil {
		text += " " + res.Message + " " + res.ConnectorError
	}
	if strings.Contains(text, testCard) || strings.Contains(text, "4242 4242") {
		t.Errorf("card number in result: %q", text)
	}
}

// recorded is one request the fake Stripe received.
type recorded struct {
	Path           string
	Form           url.Values
	IdempotencyKey string
}

// fakeStripe answers like Stripe for the four endpoints the connector uses
// and records what it got. answer overrides the reply for a path.
type fakeStripe struct {
	mu     sync.Mutex
	reqs   []recorded
	answer map[string]http.HandlerFunc
}

func newFakeStripe(t *testing.T, answer map[string]http.HandlerFunc) (*fakeStripe, *httptest.Server) {
	f := &fakeStripe{answer: answer}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fakeStripe) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.reqs = append(f.reqs, recorded{Path: r.URL.Path, Form: r.PostForm, IdempotencyKey: r.Header.Get("Idempotency-Key")})
	f.mu.Unlock()
	if h := f.answer[r.URL.Path]; h != nil {
		h(w, r)
		return
	}
	body := map[string]string{
		"/v1/payment_methods": `{"id":"pm_fake1","object":"payment_method","type":"card"}`,
		"/v1/payment_intents": `{"id":"pi_fake1","object":"payment_intent","status":"succeeded"}`,
		"/v1/customers":       `{"id":"cus_fake1","object":"customer"}`,
		"/v1/tokens":          `{"id":"tok_fake1","object":"token","type":"card"}`,
	}[r.URL.Path]
	if body == "" {
		reply(http.StatusNotFound, `{"error":{"type":"invalid_request_error","message":"Unrecognized request URL"}}`)(w, r)
		return
	}
	reply(http.StatusOK, body)(w, r)
}

// find returns the last request to path.
func (f *fakeStripe) find(path string) (recorded, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := len(f.reqs) - 1; i >= 0; i-- {
		if f.reqs[i].Path == path {
			return f.reqs[i], true
		}
	}
	return recorded{}, false
}

func reply(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Request-Id", "req_fake")
		w.WriteHeader(status)
		w.Write([]byte(body))
	}
}

func stripeError(typ, code, decline, msg, param string) string {
	return fmt.Sprintf(`{"error":{"type":%q,"code":%q,"decline_code":%q,"message":%q,"param":%q}}`, typ, code, decline, msg, param)
}

// slow answers after the client has given up, or when the server closes.
func slow(w http.ResponseWriter, r *http.Request) {
	select {
	case <-time.After(5 * time.Second):
	case <-r.Context().Done():
	}
}

// wantForm checks fields of a recorded form.
func wantForm(t *testing.T, got recorded, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if g := got.Form.Get(k); g != v {
			t.Errorf("%s: form %s = %q, want %q", got.Path, k, g, v)
		}
	}
}

func TestChargeFake(t *testing.T) {
	tests := []struct {
		name       string
		amount     string
		currency   string
		pi         http.HandlerFunc // answer to POST /v1/payment_intents; nil: succeeded
		want       *tonepay.PayResult
		wantErr    bool
		wantAmount string // amount sent to Stripe; "" skips the request checks
	}{
		{name: "usd succeeded", amount: "19.99", currency: "USD",
			want: &tonepay.PayResult{ConfirmationCode: "pi_fake1"}, wantAmount: "1999"},
		{name: "zero-decimal currency", amount: "500", currency: "JPY",
			want: &tonepay.PayResult{ConfirmationCode: "pi_fake1"}, wantAmount: "500"},
		{name: "three-decimal currency", amount: "1.500", currency: "KWD",
			want: &tonepay.PayResult{ConfirmationCode: "pi_fake1"}, wantAmount: "1500"},
		{name: "requires action is a refusal", amount: "10.00", currency: "USD",
			pi: reply(200, `{"id":"pi_3ds","object":"payment_intent","status":"requires_action"}`),
			want: &tonepay.PayResult{ErrorCode: tonepay.CodeChargeRejected, ConnectorError: "requires_action",
				Message: "The card requires authentication, which cannot be completed on a call"}},
		{name: "insufficient funds", amount: "10.00", currency: "USD",
			pi: reply(402, stripeError("card_error", "card_declined", "insufficient_funds", "Your card has insufficient funds.", "")),
			want: &tonepay.PayResult{ErrorCode: tonepay.CodeCardRejected, ConnectorError: "insufficient_funds",
				Message: "Your card has insufficient funds."}},
		{name: "card error without decline code", amount: "10.00", currency: "USD",
			pi: reply(402, stripeError("card_error", "expired_card", "", "Your card has expired.", "exp_year")),
			want: &tonepay.PayResult{ErrorCode: tonepay.CodeCardRejected, ConnectorError: "expired_card",
				Message: "Your card has expired."}},
		{name: "card number echoed by Stripe is scrubbed", amount: "10.00", currency: "USD",
			pi: reply(402, stripeError("card_error", "incorrect_number", "", "Card 4242 4242 4242 4242 is wrong.", "number")),
			want: &tonepay.PayResult{ErrorCode: tonepay.CodeCardRejected, ConnectorError: "incorrect_number",
				Message: "Card [redacted] is wrong."}},
		{name: "invalid request", amount: "10.00", currency: "USD",
			pi: reply(400, stripeError("invalid_request_error", "parameter_invalid_string", "", "Invalid string.", "description")),
			want: &tonepay.PayResult{ErrorCode: tonepay.CodeChargeRejected, ConnectorError: "parameter_invalid_string",
				Message: "Invalid string."}},
		{name: "unsupported currency", amount: "10.00", currency: "XCG",
			pi: reply(400, stripeError("invalid_request_error", "", "", "Invalid currency: xcg.", "currency")),
			want: &tonepay.PayResult{ErrorCode: tonepay.CodeNoCurrency, ConnectorError: "invalid_request_error",
				Message: "Invalid currency: xcg."}},
		{name: "amount below the currency minimum", amount: "0.10", currency: "USD",
			pi: reply(400, stripeError("invalid_request_error", "amount_too_small", "", "Amount must be at least $0.50 usd", "amount")),
			want: &tonepay.PayResult{ErrorCode: tonepay.CodeChargeAmount, ConnectorError: "amount_too_small",
				Message: "Amount must be at least $0.50 usd"}},
		{name: "raw card data not enabled", amount: "10.00", currency: "USD",
			pi: reply(400, stripeError("invalid_request_error", "", "", "Sending credit card numbers directly to the Stripe API is generally unsafe.", "")),
			want: &tonepay.PayResult{ErrorCode: tonepay.CodePayConfig, ConnectorError: "invalid_request_error",
				Message: "Sending credit card numbers directly to the Stripe API is generally unsafe."}},
		{name: "bad key", amount: "10.00", currency: "USD",
			pi: reply(401, stripeError("invalid_request_error", "", "", "Invalid API Key provided: sk_test_****0000", "")),
			want: &tonepay.PayResult{ErrorCode: tonepay.CodePayConfig, ConnectorError: "invalid_request_error",
				Message: "Stripe refused the connector's secret_key"}},
		{name: "expired key", amount: "10.00", currency: "USD",
			pi: reply(401, stripeError("invalid_request_error", "api_key_expired", "", "Expired API Key provided: sk_test_****0000", "")),
			want: &tonepay.PayResult{ErrorCode: tonepay.CodeNotAuthorized, ConnectorError: "api_key_expired",
				Message: "Stripe no longer accepts the connector's secret_key (expired or revoked)"}},
		{name: "restricted key without the permission", amount: "10.00", currency: "USD",
			pi: reply(403, stripeError("invalid_request_error", "", "", "The provided key 'rk_test_****0000' does not have the required permissions.", "")),
			want: &tonepay.PayResult{ErrorCode: tonepay.CodePayConfig, ConnectorError: "invalid_request_error",
				Message: "Stripe refused the connector's secret_key"}},
		{name: "server error", amount: "10.00", currency: "USD",
			pi: reply(500, stripeError("api_error", "", "", "Something went wrong.", "")), wantErr: true},
		{name: "server error without json", amount: "10.00", currency: "USD",
			pi: reply(502, `<html>bad gateway</html>`), wantErr: true},
		{name: "rate limited", amount: "10.00", currency: "USD",
			pi: reply(429, stripeError("invalid_request_error", "rate_limit", "", "Too many requests.", "")), wantErr: true},
		{name: "idempotency key in use", amount: "10.00", currency: "USD",
			pi: reply(409, stripeError("idempotency_error", "", "", "A request with this key is in progress.", "")), wantErr: true},
		{name: "timeout", amount: "10.00", currency: "USD", pi: slow, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, srv := newFakeStripe(t, map[string]http.HandlerFunc{"/v1/payment_intents": tt.pi})
			c := mustNew(t, map[string]string{"api_url": srv.URL, "timeout": "200ms"})
			tx := "tx-" + strings.ReplaceAll(tt.name, " ", "-")
			res, err := c.Pay(context.Background(), payRequest(tx, tt.amount, tt.currency, ""))
			noCardData(t, res, err)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("Pay = %+v, want an error (unknown outcome)", res)
				}
				t.Logf("error: %v", err)
				return
			}
			if err != nil {
				t.Fatalf("Pay: %v", err)
			}
			if diff := cmp.Diff(tt.want, res); diff != "" {
				t.Errorf("Pay (-want +got):\n%s", diff)
			}
			if tt.wantAmount == "" {
				return
			}
			pm, ok := f.find("/v1/payment_methods")
			if !ok {
				t.Fatal("no payment method created")
			}
			if pm.IdempotencyKey != tx+"-pm" {
				t.Errorf("payment method Idempotency-Key = %q, want %q", pm.IdempotencyKey, tx+"-pm")
			}
			wantForm(t, pm, map[string]string{
				"type": "card", "card[number]": testCard, "card[exp_month]": "8", "card[exp_year]": "2027",
				"card[cvc]": "123", "billing_details[address][postal_code]": "94111",
			})
			pi, ok := f.find("/v1/payment_intents")
			if !ok {
				t.Fatal("no payment intent created")
			}
			if pi.IdempotencyKey != tx {
				t.Errorf("payment intent Idempotency-Key = %q, want the transaction id %q", pi.IdempotencyKey, tx)
			}
			wantForm(t, pi, map[string]string{
				"amount": tt.wantAmount, "currency": strings.ToLower(tt.currency), "confirm": "true",
				"payment_method": "pm_fake1", "payment_method_types[0]": "card", "description": "pizza",
				"metadata[transaction_id]": tx, "metadata[order]": "42",
			})
		})
	}
}

// TestChargeRetry checks that a retry after an unknown outcome sends the
// same idempotency keys, which is what makes Stripe return the first
// PaymentIntent instead of charging twice.
func TestChargeRetry(t *testing.T) {
	var mu sync.Mutex
	calls := 0
	f, srv := newFakeStripe(t, map[string]http.HandlerFunc{"/v1/payment_intents": func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		first := calls == 1
		mu.Unlock()
		if first {
			slow(w, r)
			return
		}
		reply(200, `{"id":"pi_first","object":"payment_intent","status":"succeeded"}`)(w, r)
	}})
	c := mustNew(t, map[string]string{"api_url": srv.URL, "timeout": "100ms"})
	req := payRequest("tx-retry", "10.00", "USD", "")
	if _, err := c.Pay(context.Background(), req); err == nil {
		t.Fatal("first Pay: want a timeout error")
	}
	res, err := c.Pay(context.Background(), req)
	if err != nil {
		t.Fatalf("retry: %v", err)
	}
	if res.ConfirmationCode != "pi_first" {
		t.Errorf("ConfirmationCode = %q, want pi_first", res.ConfirmationCode)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var keys []string
	for _, r := range f.reqs {
		keys = append(keys, r.Path+" "+r.IdempotencyKey)
	}
	want := []string{
		"/v1/payment_methods tx-retry-pm", "/v1/payment_intents tx-retry",
		"/v1/payment_methods tx-retry-pm", "/v1/payment_intents tx-retry",
	}
	if diff := cmp.Diff(want, keys); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
}

func TestChargeContextDeadline(t *testing.T) {
	_, srv := newFakeStripe(t, map[string]http.HandlerFunc{"/v1/payment_intents": slow})
	c := mustNew(t, map[string]string{"api_url": srv.URL}) // default 10 s timeout
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if res, err := c.Pay(ctx, payRequest("tx-ctx", "10.00", "USD", "")); err == nil {
		t.Fatalf("Pay = %+v, want an error", res)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Pay took %v: the context deadline was not honoured", d)
	}
}

func TestTokenizeFake(t *testing.T) {
	tests := []struct {
		name      string
		tokenType string
		answer    map[string]http.HandlerFunc
		want      *tonepay.PayResult
		wantErr   bool
		wantReqs  map[string]map[string]string // path -> form fields; Idempotency-Key under "key"
	}{
		{name: "reusable", tokenType: tonepay.TokenReusable,
			want: &tonepay.PayResult{Token: "pm_fake1", ProfileID: "cus_fake1"},
			wantReqs: map[string]map[string]string{
				"/v1/payment_methods": {"key": "tx-reusable-pm", "card[number]": testCard, "card[exp_year]": "2027"},
				"/v1/customers": {"key": "tx-reusable-cus", "payment_method": "pm_fake1",
					"invoice_settings[default_payment_method]": "pm_fake1", "metadata[transaction_id]": "tx-reusable"},
			}},
		{name: "one-time", tokenType: tonepay.TokenOneTime,
			want: &tonepay.PayResult{Token: "tok_fake1"},
			wantReqs: map[string]map[string]string{
				"/v1/tokens": {"key": "tx-one-time-tok", "card[number]": testCard, "card[exp_month]": "8",
					"card[exp_year]": "2027", "card[cvc]": "123", "card[address_zip]": "94111"},
			}},
		{name: "payment-method", tokenType: tonepay.TokenPaymentMethod,
			want: &tonepay.PayResult{Token: "pm_fake1"},
			wantReqs: map[string]map[string]string{
				"/v1/payment_methods": {"key": "tx-payment-method-pm", "type": "card", "card[cvc]": "123"},
			}},
		{name: "declined", tokenType: tonepay.TokenOneTime,
			answer: map[string]http.HandlerFunc{"/v1/tokens": reply(402, stripeError("card_error", "card_declined", "generic_decline", "Your card was declined.", ""))},
			want:   &tonepay.PayResult{ErrorCode: tonepay.CodeCardRejected, ConnectorError: "generic_decline", Message: "Your card was declined."}},
		{name: "customer refused", tokenType: tonepay.TokenReusable,
			answer: map[string]http.HandlerFunc{"/v1/customers": reply(400, stripeError("invalid_request_error", "parameter_unknown", "", "Received unknown parameter.", "x"))},
			want:   &tonepay.PayResult{ErrorCode: tonepay.CodeTokenRejected, ConnectorError: "parameter_unknown", Message: "Received unknown parameter."}},
		{name: "unavailable", tokenType: tonepay.TokenPaymentMethod,
			answer:  map[string]http.HandlerFunc{"/v1/payment_methods": reply(503, stripeError("api_error", "", "", "Unavailable.", ""))},
			wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, srv := newFakeStripe(t, tt.answer)
			c := mustNew(t, map[string]string{"api_url": srv.URL})
			res, err := c.Pay(context.Background(), payRequest("tx-"+tt.name, "", "USD", tt.tokenType))
			noCardData(t, res, err)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("Pay = %+v, want an error", res)
				}
				return
			}
			if err != nil {
				t.Fatalf("Pay: %v", err)
			}
			if diff := cmp.Diff(tt.want, res); diff != "" {
				t.Errorf("Pay (-want +got):\n%s", diff)
			}
			if _, ok := f.find("/v1/payment_intents"); ok {
				t.Error("tokenize created a payment intent")
			}
			for path, want := range tt.wantReqs {
				got, ok := f.find(path)
				if !ok {
					t.Errorf("no request to %s", path)
					continue
				}
				if got.IdempotencyKey != want["key"] {
					t.Errorf("%s Idempotency-Key = %q, want %q", path, got.IdempotencyKey, want["key"])
				}
				delete(want, "key")
				wantForm(t, got, want)
			}
		})
	}
}

func TestPayRefusesBeforeCallingStripe(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*tonepay.PayRequest)
		want   int
	}{
		{"ach", func(r *tonepay.PayRequest) { r.Params.PaymentMethod = tonepay.ACHDebit }, tonepay.CodeNoPaymentMethod},
		{"bad month", func(r *tonepay.PayRequest) { r.ExpMonth = "13" }, tonepay.CodeCardRejected},
		{"bad year", func(r *tonepay.PayRequest) { r.ExpYear = "2x" }, tonepay.CodeCardRejected},
		{"not a currency", func(r *tonepay.PayRequest) { r.Params.Currency = "ABC" }, tonepay.CodeNoCurrency},
		{"token type", func(r *tonepay.PayRequest) { r.Params.ChargeAmount = ""; r.Params.TokenType = "forever" }, tonepay.CodeNoTokenType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, srv := newFakeStripe(t, nil)
			c := mustNew(t, map[string]string{"api_url": srv.URL})
			req := payRequest("tx", "10.00", "USD", "")
			tt.modify(req)
			res, err := c.Pay(context.Background(), req)
			if err != nil {
				t.Fatalf("Pay: %v", err)
			}
			if res.ErrorCode != tt.want {
				t.Errorf("ErrorCode = %d, want %d (%+v)", res.ErrorCode, tt.want, res)
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			if len(f.reqs) != 0 {
				t.Errorf("Stripe was called: %s", f.reqs[0].Path)
			}
		})
	}
}

func TestExpiry(t *testing.T) {
	tests := []struct {
		m, y        string
		month, year int64
		ok          bool
	}{
		{"08", "27", 8, 2027, true},
		{"12", "2031", 12, 2031, true},
		{"1", "00", 1, 2000, true},
		{"00", "27", 0, 0, false},
		{"08", "", 0, 0, false},
		{"08", "202", 0, 0, false},
		{"ab", "27", 0, 0, false},
	}
	for _, tt := range tests {
		month, year, ok := expiry(tt.m, tt.y)
		if month != tt.month || year != tt.year || ok != tt.ok {
			t.Errorf("expiry(%q, %q) = %d, %d, %v; want %d, %d, %v", tt.m, tt.y, month, year, ok, tt.month, tt.year, tt.ok)
		}
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name     string
		mode     string
		settings map[string]string
		wantErr  string // a substring of the error; "" for success
	}{
		{"test key", tonepay.ModeTest, map[string]string{"secret_key": "sk_test_abc"}, ""},
		{"restricted test key", tonepay.ModeTest, map[string]string{"secret_key": "rk_test_abc"}, ""},
		{"live key", tonepay.ModeLive, map[string]string{"secret_key": "sk_live_abc"}, ""},
		{"restricted live key", tonepay.ModeLive, map[string]string{"secret_key": "rk_live_abc"}, ""},
		{"stripe-mock url", tonepay.ModeTest, map[string]string{"secret_key": "sk_test_abc", "api_url": "http://127.0.0.1:12111/"}, ""},
		{"timeout", tonepay.ModeTest, map[string]string{"secret_key": "sk_test_abc", "timeout": "3s"}, ""},
		{"missing key", tonepay.ModeTest, map[string]string{}, "secret_key"},
		{"test key in live mode", tonepay.ModeLive, map[string]string{"secret_key": "sk_test_abc"}, "secret_key"},
		{"live key in test mode", tonepay.ModeTest, map[string]string{"secret_key": "sk_live_abc"}, "secret_key"},
		{"publishable key", tonepay.ModeTest, map[string]string{"secret_key": "pk_test_abc"}, "secret_key"},
		{"bad mode", "prod", map[string]string{"secret_key": "sk_live_abc"}, "mode"},
		{"api_url not a url", tonepay.ModeTest, map[string]string{"secret_key": "sk_test_abc", "api_url": "::nope"}, "api_url"},
		{"api_url without host", tonepay.ModeTest, map[string]string{"secret_key": "sk_test_abc", "api_url": "http://"}, "api_url"},
		{"api_url ftp", tonepay.ModeTest, map[string]string{"secret_key": "sk_test_abc", "api_url": "ftp://example.com"}, "api_url"},
		{"api_url http in live mode", tonepay.ModeLive, map[string]string{"secret_key": "sk_live_abc", "api_url": "http://example.com"}, "api_url"},
		{"bad timeout", tonepay.ModeTest, map[string]string{"secret_key": "sk_test_abc", "timeout": "10"}, "timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(tonepay.ConnectorConfig{Name: "Default", Type: "stripe", Mode: tt.mode, Settings: tt.settings})
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				if got := c.Capabilities().Mode; got != tt.mode {
					t.Errorf("Mode = %q, want %q", got, tt.mode)
				}
				return
			}
			if err == nil {
				t.Fatalf("New succeeded, want an error naming %s", tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not name %s", err, tt.wantErr)
			}
			if k := tt.settings["secret_key"]; k != "" && strings.Contains(err.Error(), k) {
				t.Errorf("error %q contains the key", err)
			}
		})
	}
}

func TestCapabilities(t *testing.T) {
	got := mustNew(t, map[string]string{}).Capabilities()
	want := tonepay.Capabilities{
		Mode: tonepay.ModeTest, Charge: true, Tokenize: true,
		TokenTypes: []string{tonepay.TokenOneTime, tonepay.TokenReusable, tonepay.TokenPaymentMethod},
		Methods:    []string{tonepay.CreditCard},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Capabilities (-want +got):\n%s", diff)
	}
}

// TestStripeMock sends each operation to stripe-mock, which validates every
// request against Stripe's OpenAPI spec: a parameter Stripe does not know, or
// a value of the wrong shape, comes back as an invalid_request_error.
func TestStripeMock(t *testing.T) {
	// A refusal for one of these statuses came from a PaymentIntent that
	// stripe-mock created; a refused request carries a Stripe error code.
	piStatuses := map[stripego.PaymentIntentStatus]bool{
		stripego.PaymentIntentStatusRequiresPaymentMethod: true, stripego.PaymentIntentStatusRequiresConfirmation: true,
		stripego.PaymentIntentStatusRequiresAction: true, stripego.PaymentIntentStatusProcessing: true,
		stripego.PaymentIntentStatusRequiresCapture: true, stripego.PaymentIntentStatusCanceled: true,
	}
	base := startStripeMock(t)
	c := mustNew(t, map[string]string{"api_url": base})
	t.Run("charge", func(t *testing.T) {
		res, err := c.Pay(context.Background(), payRequest("tx-mock-charge", "19.99", "USD", ""))
		if err != nil {
			t.Fatalf("Pay: %v", err)
		}
		// stripe-mock is stateless and answers with a fixture whose status
		// is not what confirm=true would give (requires_payment_method), so
		// the connector's refusal of a non-succeeded PaymentIntent is as good
		// as a success here: either means Stripe accepted the request.
		switch {
		case res.ConfirmationCode != "":
			if !strings.HasPrefix(res.ConfirmationCode, "pi_") {
				t.Errorf("ConfirmationCode = %q, want pi_…", res.ConfirmationCode)
			}
		case res.ErrorCode == tonepay.CodeChargeRejected && piStatuses[stripego.PaymentIntentStatus(res.ConnectorError)]:
			t.Logf("stripe-mock fixture: PaymentIntent %s", res.ConnectorError)
		default:
			t.Errorf("Pay = %+v: stripe-mock refused the request", res)
		}
	})
	tests := []struct {
		tokenType   string
		tokenPrefix string
		wantProfile bool
	}{
		{tonepay.TokenOneTime, "tok_", false},
		{tonepay.TokenPaymentMethod, "pm_", false},
		{tonepay.TokenReusable, "pm_", true},
	}
	for _, tt := range tests {
		t.Run(tt.tokenType, func(t *testing.T) {
			res, err := c.Pay(context.Background(), payRequest("tx-mock-"+tt.tokenType, "", "USD", tt.tokenType))
			if err != nil {
				t.Fatalf("Pay: %v", err)
			}
			if res.ErrorCode != 0 {
				t.Fatalf("Pay = %+v: stripe-mock refused the request", res)
			}
			if !strings.HasPrefix(res.Token, tt.tokenPrefix) {
				t.Errorf("Token = %q, want %s…", res.Token, tt.tokenPrefix)
			}
			if tt.wantProfile != strings.HasPrefix(res.ProfileID, "cus_") {
				t.Errorf("ProfileID = %q", res.ProfileID)
			}
		})
	}
}

// startStripeMock runs stripe-mock on free loopback ports and returns its
// HTTP base URL; it is killed when the test ends. Without the binary the
// test is skipped, except in CI, which must run it.
func startStripeMock(t *testing.T) string {
	t.Helper()
	bin, how := suites.FindStripeMock()
	if bin == "" {
		suites.Need(t, suites.StripeSuite, how)
	}
	// Both addresses are given: with -http-addr alone stripe-mock also
	// opens HTTPS on all interfaces.
	httpAddr, httpsAddr := freeAddr(t), freeAddr(t)
	var out bytes.Buffer
	cmd := exec.Command(bin, "-http-addr", httpAddr, "-https-addr", httpsAddr)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start stripe-mock: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("stripe-mock output:\n%s", out.String())
		}
	})
	base := "http://" + httpAddr
	deadline := time.Now().Add(15 * time.Second)
	for {
		req, _ := http.NewRequest(http.MethodGet, base+"/v1/customers", nil)
		req.Header.Set("Authorization", "Bearer sk_test_123")
		if res, err := http.DefaultClient.Do(req); err == nil {
			res.Body.Close()
			return base
		}
		select {
		case <-exited:
			t.Fatalf("stripe-mock exited:\n%s", out.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("stripe-mock did not answer on %s:\n%s", base, out.String())
		}
	}
}

// freeAddr returns a loopback address with a port nobody listens on now.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
