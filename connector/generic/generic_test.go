package generic

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tonepay/tonepay"
)

func newConnector(t *testing.T, url, mode string, kv ...string) *Connector {
	t.Helper()
	set := map[string]string{"url": url, "username": "twilio", "password": "s3cret", "timeout": "300ms", "retries": "2"}
	for i := 0; i+1 < len(kv); i += 2 {
		set[kv[i]] = kv[i+1]
	}
	c, err := New(tonepay.ConnectorConfig{Name: "gpc", Type: "generic", Mode: mode, Settings: set})
	if err != nil {
		t.Fatal(err)
	}
	c.(*Connector).pause = time.Millisecond
	return c.(*Connector)
}

func charge(txid, number string) *tonepay.PayRequest {
	return &tonepay.PayRequest{TransactionID: txid, CardNumber: tonepay.NewSecret(number), ExpMonth: "08", ExpYear: "27",
		SecurityCode: tonepay.NewSecret("123"), PostalCode: "94111",
		Params: tonepay.Params{PaymentMethod: tonepay.CreditCard, ChargeAmount: "10.00", Currency: "USD", Description: "pizza",
			Parameter: map[string]string{"k": "v"}}}
}

func tokenize(txid, number string) *tonepay.PayRequest {
	r := charge(txid, number)
	r.Params.ChargeAmount, r.Params.TokenType = "", tonepay.TokenReusable
	return r
}

func processor(t *testing.T, delay time.Duration) (*Processor, *httptest.Server) {
	p := &Processor{Username: "twilio", Password: tonepay.NewSecret("s3cret"), DelayFirst: delay}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return p, srv
}

func TestAgainstProcessor(t *testing.T) {
	p, srv := processor(t, 0)
	tests := []struct {
		name  string
		req   *tonepay.PayRequest
		check func(r *tonepay.PayResult) bool
	}{
		{"charge", charge("tx1", "4242424242424242"), func(r *tonepay.PayResult) bool {
			return strings.HasPrefix(r.ConfirmationCode, "ch_") && r.ErrorCode == 0
		}},
		{"tokenize", tokenize("tx2", "4111111111111111"), func(r *tonepay.PayResult) bool { return strings.HasPrefix(r.Token, "tok_") }},
		{"ach", &tonepay.PayRequest{TransactionID: "tx3", RoutingNumber: "121000358", AccountNumber: tonepay.NewSecret("123456789"),
			Params: tonepay.Params{PaymentMethod: tonepay.ACHDebit, ChargeAmount: "5.00", Currency: "USD"}},
			func(r *tonepay.PayResult) bool { return strings.HasPrefix(r.ConfirmationCode, "ch_") }},
		{"declined", charge("tx4", "4000000000000002"), func(r *tonepay.PayResult) bool {
			return r.ErrorCode == tonepay.CodeCardRejected && r.ConnectorError == "card_declined" && r.Message == "Your card was declined."
		}},
		{"insufficient funds", charge("tx5", "4000000000009995"), func(r *tonepay.PayResult) bool {
			return r.ErrorCode == tonepay.CodeCardRejected && r.ConnectorError == "insufficient_funds"
		}},
		{"processing error", charge("tx6", "4000000000000119"), func(r *tonepay.PayResult) bool {
			return r.ErrorCode == tonepay.CodeChargeRejected && r.ConnectorError == "processing_error"
		}},
		{"declined tokenize", tokenize("tx7", "4000000000000002"), func(r *tonepay.PayResult) bool { return r.ErrorCode == tonepay.CodeCardRejected }},
		{"test mode refuses other cards", charge("tx8", "4012888888881881"), func(r *tonepay.PayResult) bool { return r.ErrorCode == tonepay.CodeInvalidTestCard }},
		{"test mode refuses other accounts", &tonepay.PayRequest{TransactionID: "tx9", RoutingNumber: "121000358", AccountNumber: tonepay.NewSecret("987654321"),
			Params: tonepay.Params{PaymentMethod: tonepay.ACHDebit}}, func(r *tonepay.PayResult) bool { return r.ErrorCode == tonepay.CodeInvalidTestAccount }},
	}
	c := newConnector(t, srv.URL, tonepay.ModeTest)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := c.Pay(context.Background(), tt.req)
			if err != nil || !tt.check(r) {
				t.Errorf("Pay = %+v, %v", r, err)
			}
		})
	}
	if n := len(p.Records()); n != 7 {
		t.Errorf("processor saw %d transactions, want 7 (TEST mode stops the other two)", n)
	}
	live := newConnector(t, srv.URL, tonepay.ModeLive)
	if r, err := live.Pay(context.Background(), charge("tx10", "4012888888881881")); err != nil || r.ConfirmationCode == "" {
		t.Errorf("live mode forwards any card: %+v %v", r, err)
	}
}

// TestRequestShape checks what reaches the processor.
func TestRequestShape(t *testing.T) {
	var got map[string]any
	var hdr http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hdr = r.Header
		json.NewDecoder(r.Body).Decode(&got)
		io.WriteString(w, `{"charge_id":"ch_1","error_code":null,"error_message":null}`)
	}))
	defer srv.Close()
	if _, err := newConnector(t, srv.URL, tonepay.ModeTest).Pay(context.Background(), charge("tx-shape", "4242424242424242")); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"method": "charge", "transaction_id": "tx-shape", "cardnumber": "4242424242424242", "cvv": "123",
		"expiry_month": "08", "expiry_year": "27", "postal_code": "94111", "amount": "10.00", "currency_code": "USD",
		"description": "pizza", "parameters": map[string]any{"k": "v"}}
	for k, v := range want {
		if b1, _ := json.Marshal(got[k]); string(b1) != mustJSON(v) {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	if user, pass, ok := (&http.Request{Header: hdr}).BasicAuth(); !ok || user != "twilio" || pass != "s3cret" {
		t.Errorf("Basic auth %q %q %v", user, pass, ok)
	}
	if hdr.Get("Content-Type") != "application/json" {
		t.Errorf("Content-Type %q", hdr.Get("Content-Type"))
	}
}

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

func TestAnswers(t *testing.T) {
	tests := []struct {
		name     string
		tokenize bool
		status   int
		body     string
		code     int
		conn     string
	}{
		{"not JSON", false, 200, `<html>`, tonepay.CodeChargeRejected, "malformed response"},
		{"no charge_id key", false, 200, `{"error_code":null}`, tonepay.CodeChargeRejected, "malformed response"},
		{"null charge_id, no error", false, 200, `{"charge_id":null,"error_code":null}`, tonepay.CodeChargeRejected, "malformed response"},
		{"no token_id key", true, 200, `{"charge_id":"ch_1"}`, tonepay.CodeTokenRejected, "malformed response"},
		{"numeric error code", false, 200, `{"charge_id":null,"error_code":1042,"error_message":"limit"}`, tonepay.CodeChargeRejected, "1042"},
		{"token refused", true, 200, `{"token_id":null,"error_code":"bad_account","error_message":"no"}`, tonepay.CodeTokenRejected, "bad_account"},
		{"expired card", false, 200, `{"charge_id":null,"error_code":"expired_card","error_message":"expired"}`, tonepay.CodeCardRejected, "expired_card"},
		{"bad credentials", false, 401, ``, tonepay.CodePayConfig, "HTTP 401"},
		{"4xx", false, 422, `{}`, tonepay.CodeChargeRejected, "HTTP 422"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			req := charge("tx", "4242424242424242")
			if tt.tokenize {
				req = tokenize("tx", "4242424242424242")
			}
			r, err := newConnector(t, srv.URL, tonepay.ModeTest).Pay(context.Background(), req)
			if err != nil || r.ErrorCode != tt.code || r.ConnectorError != tt.conn || r.Message == "" {
				t.Errorf("Pay = %+v, %v; want code %d, connector error %q", r, err, tt.code, tt.conn)
			}
		})
	}
}

// TestRetries: timeouts and 5xx are retried with the same transaction id;
// the processor answers the retry with the first answer and charges once.
func TestRetries(t *testing.T) {
	t.Run("slow first answer", func(t *testing.T) {
		p, srv := processor(t, 500*time.Millisecond) // the connector waits 300ms
		r, err := newConnector(t, srv.URL, tonepay.ModeTest).Pay(context.Background(), charge("tx-slow", "4242424242424242"))
		if err != nil || r.ConfirmationCode == "" {
			t.Fatalf("Pay = %+v, %v", r, err)
		}
		recs := p.Records()
		if len(recs) != 1 || recs[0].Requests < 2 || recs[0].ChargeID != r.ConfirmationCode || recs[0].Last4 != "4242" {
			t.Errorf("processor records %+v", recs)
		}
	})
	t.Run("5xx then success", func(t *testing.T) {
		var mu sync.Mutex
		var ids []string
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var req request
			json.NewDecoder(r.Body).Decode(&req)
			mu.Lock()
			ids = append(ids, req.TransactionID)
			n := len(ids)
			mu.Unlock()
			if n < 3 {
				w.WriteHeader(503)
				return
			}
			io.WriteString(w, `{"charge_id":"ch_ok","error_code":null}`)
		}))
		defer srv.Close()
		r, err := newConnector(t, srv.URL, tonepay.ModeTest).Pay(context.Background(), charge("tx-5xx", "4242424242424242"))
		if err != nil || r.ConfirmationCode != "ch_ok" || len(ids) != 3 || ids[0] != ids[2] {
			t.Errorf("Pay = %+v, %v after %v", r, err, ids)
		}
	})
	t.Run("always 5xx: outcome unknown", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(502) }))
		defer srv.Close()
		if r, err := newConnector(t, srv.URL, tonepay.ModeTest).Pay(context.Background(), charge("tx", "4242424242424242")); err == nil {
			t.Errorf("Pay = %+v, want an error", r)
		}
	})
	t.Run("nothing listens: not charged", func(t *testing.T) {
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		url := "http://" + ln.Addr().String()
		ln.Close()
		r, err := newConnector(t, url, tonepay.ModeTest).Pay(context.Background(), charge("tx", "4242424242424242"))
		if err != nil || r.ErrorCode != tonepay.CodePayUnavailable {
			t.Errorf("Pay = %+v, %v; want a 64002 refusal", r, err)
		}
	})
}

func TestProcessorAuth(t *testing.T) {
	_, srv := processor(t, 0)
	c := newConnector(t, srv.URL, tonepay.ModeTest, "password", "wrong")
	if r, err := c.Pay(context.Background(), charge("tx", "4242424242424242")); err != nil || r.ErrorCode != tonepay.CodePayConfig {
		t.Errorf("Pay with a wrong password = %+v, %v", r, err)
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name string
		mode string
		set  map[string]string
		want string
	}{
		{"no url", "test", map[string]string{"username": "u", "password": "p"}, "settings.url"},
		{"ftp url", "test", map[string]string{"url": "ftp://x", "username": "u", "password": "p"}, "settings.url"},
		{"http in live mode", "live", map[string]string{"url": "http://pay.example.com", "username": "u", "password": "p"}, "https"},
		{"no password", "test", map[string]string{"url": "https://x", "username": "u"}, "password"},
		{"bad timeout", "test", map[string]string{"url": "https://x", "username": "u", "password": "p", "timeout": "soon"}, "settings.timeout"},
		{"bad retries", "test", map[string]string{"url": "https://x", "username": "u", "password": "p", "retries": "99"}, "settings.retries"},
		{"bad currency", "test", map[string]string{"url": "https://x", "username": "u", "password": "p", "currencies": "USD XYZ"}, "XYZ"},
		{"ok", "live", map[string]string{"url": "https://x", "username": "u", "password": "p", "currencies": "usd eur"}, ""},
		{"http on loopback in live mode", "live", map[string]string{"url": "http://127.0.0.1:9", "username": "u", "password": "p"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tonepay.ConnectorConfig{Mode: tt.mode, Settings: tt.set})
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Errorf("New: %v, want %q", err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), "p\"") {
				t.Errorf("the error shows the password: %v", err)
			}
		})
	}
}

// TestParameters: the processor's "parameters" reach PayResult.Parameters
// (<Pay>'s PayConnector_<key>) on charges and tokenizations, refused or not,
// from the reference processor and from answers of other shapes.
func TestParameters(t *testing.T) {
	p, srv := processor(t, 0)
	p.Parameters = map[string]string{"risk": "low", "auth": "A1"}
	c := newConnector(t, srv.URL, tonepay.ModeTest)
	want := map[string]string{"risk": "low", "auth": "A1"}
	for _, req := range []*tonepay.PayRequest{charge("txp1", "4242424242424242"), tokenize("txp2", "4242424242424242"),
		charge("txp3", "4000000000000002"), tokenize("txp4", "4000000000000002")} {
		r, err := c.Pay(context.Background(), req)
		if err != nil || !reflect.DeepEqual(r.Parameters, want) {
			t.Errorf("%s: Pay = %+v, %v; want parameters %v", req.TransactionID, r, err, want)
		}
	}

	tests := []struct {
		name     string
		tokenize bool
		body     string
		want     map[string]string
	}{
		{"none", false, `{"charge_id":"ch_1","error_code":null,"error_message":null}`, nil},
		{"empty", false, `{"charge_id":"ch_1","error_code":null,"parameters":{}}`, nil},
		{"numbers and null as text", true, `{"token_id":"tok_1","error_code":null,"parameters":{"n":42,"z":null,"s":"x"}}`,
			map[string]string{"n": "42", "z": "", "s": "x"}},
		{"not an object: dropped, the answer kept", false, `{"charge_id":"ch_1","error_code":null,"parameters":"oops"}`, nil},
		{"refused", false, `{"charge_id":null,"error_code":"expired_card","error_message":"expired","parameters":{"why":"exp"}}`,
			map[string]string{"why": "exp"}},
		{"malformed keeps none", false, `{"error_code":null,"parameters":{"a":"b"}}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, tt.body) }))
			defer srv.Close()
			req := charge("tx", "4242424242424242")
			if tt.tokenize {
				req = tokenize("tx", "4242424242424242")
			}
			r, err := newConnector(t, srv.URL, tonepay.ModeTest).Pay(context.Background(), req)
			if err != nil || !reflect.DeepEqual(r.Parameters, tt.want) {
				t.Errorf("Pay = %+v, %v; want parameters %v", r, err, tt.want)
			}
			if tt.name == "not an object: dropped, the answer kept" && r.ConfirmationCode != "ch_1" {
				t.Errorf("answer lost: %+v", r)
			}
		})
	}
}
