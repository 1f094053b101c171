package twilioapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/internal/pgtest"
	"github.com/tonepay/tonepay/store/postgres"
	"github.com/tonepay/tonepay/twilioapi"
)

// Tests of DESIGN §8 at the wire: values no store can hold, bounded paging
// and Digits, failed-authentication limits, clients that go away.

// stores are the stores a wire test must behave the same on: SQLite always,
// PostgreSQL when TONEPAY_TEST_POSTGRES_URL is set (skipped without it,
// except under CI, where it fails, as in the store tests).
var stores = []struct {
	name string
	open func(t *testing.T) tonepay.Store
}{
	{"sqlite", openSQLite},
	{"postgres", openPostgres},
}

func openPostgres(t *testing.T) tonepay.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), pgtest.FreshDB(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// raw sends a request with a ready-made body and headers, and returns the
// answer with its body decoded as JSON.
func (c client) raw(method, path, body string, hdr http.Header) (*http.Response, map[string]any) {
	c.e.t.Helper()
	req, _ := http.NewRequest(method, c.e.srv.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range hdr {
		req.Header[k] = v
	}
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
		b := new(bytes.Buffer)
		b.ReadFrom(res.Body)
		if err := json.Unmarshal(b.Bytes(), &out); err != nil {
			c.e.t.Fatalf("%s %s: %d, body is not JSON: %q", method, path, res.StatusCode, b)
		}
	}
	return res, out
}

// TestUnstorableValues: NUL and invalid UTF-8 in any parameter name or value
// of any route, body or query, are 400 naming the parameter, the same on
// every store, and leave the server working.
func TestUnstorableValues(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			e := newEnvWith(t, twilioapi.Options{}, envOptions{store: st.open(t)})
			pk := e.createPayment(e.call)
			keyCode, key := e.as(e.main).post("/2010-04-01/Accounts/"+e.main.Sid+"/Keys.json", url.Values{"FriendlyName": {"k"}})
			if keyCode != 201 {
				t.Fatalf("key: %d %v", keyCode, key)
			}
			acct := "/2010-04-01/Accounts/" + e.main.Sid
			ext := "/_tonepay/Accounts/" + e.main.Sid + "/Calls/" + e.call
			call := url.Values{"To": {"+15005550006"}, "From": {"+15005550001"}, "Url": {"https://example.com/twiml"}, "StatusCallback": {"https://example.com/s"}}
			pay := createForm("Description", "pizza", "ChargeAmount", "10", "Currency", "USD", "PaymentConnector", "Default",
				"Parameter", `{"a":"b"}`, "ValidCardTypes", "visa", "TokenType", "reusable", "PostalCode", "true")
			update := url.Values{"IdempotencyKey": {"u"}, "StatusCallback": {"https://example.com/cb"}, "Capture": {"payment-card-number"}}
			routes := []struct {
				name, method, path string
				form               url.Values
				code               int
			}{
				{"create account", "POST", "/2010-04-01/Accounts.json", url.Values{"FriendlyName": {"x"}}, 20001},
				{"list accounts", "GET", "/2010-04-01/Accounts.json", url.Values{"FriendlyName": {"x"}, "Status": {"active"}, "Page": {"0"}, "PageSize": {"5"}}, 20001},
				{"create key", "POST", acct + "/Keys.json", url.Values{"FriendlyName": {"x"}}, 20001},
				{"update key", "POST", acct + "/Keys/" + key["sid"].(string) + ".json", url.Values{"FriendlyName": {"x"}}, 20001},
				{"create call", "POST", acct + "/Calls.json", call, 20001},
				{"list calls", "GET", acct + "/Calls.json", url.Values{"To": {"+1"}, "From": {"+1"}, "Status": {"completed"}}, 20001},
				{"update call", "POST", acct + "/Calls/" + e.call + ".json", url.Values{"Url": {"https://example.com/x"}, "Twiml": {"<Response/>"}}, 20001},
				{"create payment", "POST", e.paymentsPath(e.call), pay, 64020},
				{"update payment", "POST", acct + "/Calls/" + e.call + "/Payments/" + pk + ".json", update, 64020},
				{"digits", "POST", ext + "/Digits", url.Values{"Digits": {"1"}}, 64020},
				{"inbound call", "POST", "/_tonepay/Accounts/" + e.main.Sid + "/Calls/Inbound", url.Values{"From": {"+15005550001"}, "To": {"+14155550100"}}, 20001},
				{"timeline", "GET", ext + "/Timeline", url.Values{"After": {"0"}, "PageSize": {"10"}}, 20001},
				{"list payments", "GET", ext + "/Payments", url.Values{"Page": {"0"}, "PageSize": {"10"}}, 20001},
			}
			bad := map[string]string{"NUL": "a\x00b", "invalid UTF-8": "a\xffb", "lone surrogate": "\xed\xa0\x80"}
			tried := 0
			for _, rt := range routes {
				for name := range rt.form {
					for what, v := range bad {
						t.Run(rt.name+"/"+name+"/"+what, func(t *testing.T) {
							tried++
							code, body := e.send(rt.method, rt.path, override(rt.form, name, v))
							checkError(t, code, body, 400, rt.code)
							if msg, _ := body["message"].(string); !strings.Contains(msg, name) {
								t.Errorf("message %q does not name %s", msg, name)
							}
						})
					}
				}
				for what, v := range bad {
					t.Run(rt.name+"/name with "+what, func(t *testing.T) {
						tried++
						f := override(rt.form)
						f.Set("X"+v, "1")
						code, body := e.send(rt.method, rt.path, f)
						checkError(t, code, body, 400, rt.code)
					})
				}
				if rt.method == "POST" {
					t.Run(rt.name+"/in the query of a POST", func(t *testing.T) {
						tried++
						code, body := e.as(e.main).do("POST", rt.path+"?"+url.Values{"Extra": {"\xff"}}.Encode(), rt.form)
						checkError(t, code, body, 400, rt.code)
					})
				}
			}
			t.Run("NUL spelled in Parameter's JSON", func(t *testing.T) {
				for _, v := range []string{`{"a":"x\u0000y"}`, `{"a\u0000":"y"}`, `"{\"a\":\"\\u0000\"}"`} {
					code, body := e.send("POST", e.paymentsPath(e.call), createForm("IdempotencyKey", "nul"+v, "Parameter", v))
					checkError(t, code, body, 400, 64020)
				}
			})
			t.Run("NUL in a path SID", func(t *testing.T) {
				code, body := e.as(e.main).do("GET", acct+"/Calls/CA%00.json", nil)
				checkError(t, code, body, 404, 20404)
				code, body = e.as(e.main).do("GET", acct+"/Keys/%FF.json", nil)
				checkError(t, code, body, 404, 20404)
			})
			// Nothing above was stored, and the server still works.
			code, body := e.as(e.main).do("GET", acct+"/Calls.json?PageSize=1000", nil)
			if code != 200 || len(body["calls"].([]any)) != 1 {
				t.Fatalf("calls after the sweep: %d %v", code, body)
			}
			e.createPayment(e.newCall(e.main))
			t.Logf("%s: %d unstorable requests tried, all refused with 400", st.name, tried)
		})
	}
}

// send posts form (or for GET, puts it in the query) as the main account.
func (e *env) send(method, path string, form url.Values) (int, map[string]any) {
	e.t.Helper()
	if method == "GET" {
		return e.as(e.main).do("GET", path+"?"+form.Encode(), nil)
	}
	return e.as(e.main).do(method, path, form)
}

// TestPagingBounds: Page and PageSize out of bounds are 400 on every store,
// never an overflowed offset or a 500; the deepest page allowed works.
func TestPagingBounds(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			e := newEnvWith(t, twilioapi.Options{}, envOptions{store: st.open(t)})
			lists := map[string]string{
				"calls":    "/2010-04-01/Accounts/" + e.main.Sid + "/Calls.json",
				"accounts": "/2010-04-01/Accounts.json",
				"keys":     "/2010-04-01/Accounts/" + e.main.Sid + "/Keys.json",
				"payments": "/_tonepay/Accounts/" + e.main.Sid + "/Calls/" + e.call + "/Payments",
			}
			refused := []string{
				"Page=9223372036854775807&PageSize=1000",
				"Page=9223372036854775807",
				"Page=99999999999999999999",
				"Page=1001&PageSize=1000",
				"Page=1000001&PageSize=1",
				"Page=20001",
				"Page=-1",
				"Page=x",
				"PageSize=0",
				"PageSize=-5",
				"PageSize=1001",
				"PageSize=9223372036854775807",
				"PageSize=ten",
			}
			for key, path := range lists {
				for _, q := range refused {
					t.Run(key+"/"+q, func(t *testing.T) {
						code, body := e.as(e.main).do("GET", path+"?"+q, nil)
						checkError(t, code, body, 400, 20001)
						msg, _ := body["message"].(string)
						if !strings.Contains(msg, strings.SplitN(q, "=", 2)[0]) && !strings.Contains(msg, "Page") {
							t.Errorf("message %q does not name the parameter", msg)
						}
					})
				}
				for _, q := range []string{"Page=1000&PageSize=1000", "Page=20000", "Page=1000000&PageSize=1", "PageSize=1000", "PageSize=1"} {
					t.Run(key+"/"+q, func(t *testing.T) {
						code, body := e.as(e.main).do("GET", path+"?"+q, nil)
						if code != 200 {
							t.Fatalf("got %d %v", code, body)
						}
						v, _ := url.ParseQuery(q)
						pg, _ := strconv.Atoi(v.Get("Page"))
						size, _ := strconv.Atoi(cmpOr(v.Get("PageSize"), "50"))
						if body["page"] != float64(pg) || body["page_size"] != float64(size) || body["start"] != float64(pg*size) {
							t.Errorf("page %v size %v start %v, want %d %d %d", body["page"], body["page_size"], body["start"], pg, size, pg*size)
						}
					})
				}
			}
		})
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// TestDigitsBounds: a Digits value too long, or waiting too long, is refused
// before anything is played; the longest allowed plays.
func TestDigitsBounds(t *testing.T) {
	var waits int
	var mu sync.Mutex
	e := newEnvWith(t, twilioapi.Options{}, envOptions{sleep: func(context.Context, time.Duration) error {
		mu.Lock()
		waits++
		mu.Unlock()
		return nil
	}})
	path := "/_tonepay/Accounts/" + e.main.Sid + "/Calls/" + e.call + "/Digits"
	tests := []struct {
		name   string
		digits string
		status int
	}{
		{"256 keys", strings.Repeat("1", 256), 200},
		{"a minute of waits", strings.Repeat("w", 120), 200},
		{"257 keys", strings.Repeat("1", 257), 400},
		{"60000 waits", strings.Repeat("w", 60000), 400},
		{"121 waits among keys", strings.Repeat("1w", 121), 400},
		{"not a key", "12a", 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := e.as(e.main).post(path, url.Values{"Digits": {tt.digits}})
			if tt.status == 200 {
				if code != 200 {
					t.Fatalf("got %d %v", code, body)
				}
				return
			}
			checkError(t, code, body, 400, 64020)
			if msg, _ := body["message"].(string); !strings.Contains(msg, "Digits") {
				t.Errorf("message %q does not name Digits", msg)
			}
		})
	}
	if waits != 120 {
		t.Errorf("%d waits played, want 120 (refused requests must play none)", waits)
	}
}
