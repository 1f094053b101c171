package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tonepay/tonepay"
)

// The attack tests speak raw HTTP, not twilio-go: they send what no SDK
// would, and read every answer as bytes.

// attackEnv is the environment every attack server gets: failed
// authentications are part of every sweep, and a low default per-address
// limit (tested on its own in attack_auth_test.go) must not turn them into 429s.
var attackEnv = []string{"TONEPAY_AUTH_FAIL_LIMIT=1000000"}

// rawReq is one request as an attacker writes it.
type rawReq struct {
	Method string
	Path   string // may hold a raw query after '?', sent as is
	Body   string
	CType  string // Content-Type; form-encoded when a body is set and this is empty
	Header map[string]string
	User   string // Basic auth; none when empty and NoAuth
	Pass   string
	NoAuth bool
}

// rawRes is what came back.
type rawRes struct {
	Status int
	Header http.Header
	Body   []byte
	Err    error
}

// attackClient sends rawReqs to one server with default credentials.
type attackClient struct {
	base       string
	user, pass string
	http       *http.Client
}

func newAttackClient(base, user, pass string) *attackClient {
	return &attackClient{base: base, user: user, pass: pass, http: &http.Client{
		Timeout:       20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport:     &http.Transport{MaxIdleConnsPerHost: 16},
	}}
}

func (c *attackClient) do(r rawReq) rawRes {
	method := r.Method
	if method == "" {
		method = http.MethodGet
	}
	path, query, _ := strings.Cut(r.Path, "?")
	var body io.Reader
	if r.Body != "" {
		body = strings.NewReader(r.Body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, c.base+"/", body)
	if err != nil {
		return rawRes{Err: err}
	}
	// Opaque sends the path exactly as written: %00, %FF and friends reach
	// the server as the attacker typed them.
	req.URL.Opaque, req.URL.RawQuery = path, query
	if r.Body != "" {
		ct := r.CType
		if ct == "" {
			ct = "application/x-www-form-urlencoded"
		}
		req.Header.Set("Content-Type", ct)
	}
	for k, v := range r.Header {
		req.Header.Set(k, v)
	}
	switch {
	case r.User != "":
		req.SetBasicAuth(r.User, r.Pass)
	case !r.NoAuth && c.user != "":
		req.SetBasicAuth(c.user, c.pass)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return rawRes{Err: err}
	}
	defer res.Body.Close()
	out := rawRes{Status: res.StatusCode, Header: res.Header}
	if strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		return out // a live stream: its answer is the status line
	}
	out.Body, out.Err = io.ReadAll(io.LimitReader(res.Body, 4<<20))
	return out
}

// mustDo sends r and fails the test unless it got status want; it returns the body.
func (c *attackClient) mustDo(t *testing.T, want int, r rawReq) []byte {
	t.Helper()
	res := c.do(r)
	if res.Err != nil || res.Status != want {
		t.Fatalf("%s %s: got %d %v, want %d\n%s", r.Method, r.Path, res.Status, res.Err, want, res.Body)
	}
	return res.Body
}

// twilioError is Twilio's error body.
type twilioError struct {
	Code     int    `json:"code"`
	Message  string `json:"message"`
	MoreInfo string `json:"more_info"`
	Status   int    `json:"status"`
}

// checkTwilioError says what is wrong with res as a Twilio error answer, ""
// when nothing is: JSON with exactly code, message, more_info and status,
// the status matching the HTTP one.
func checkTwilioError(res rawRes) (twilioError, string) {
	var e twilioError
	if res.Err != nil {
		return e, "no answer: " + res.Err.Error()
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return e, fmt.Sprintf("Content-Type %q, not JSON: %.200q", ct, res.Body)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(res.Body, &fields); err != nil {
		return e, fmt.Sprintf("body is not a JSON object: %.200q", res.Body)
	}
	for _, k := range []string{"code", "message", "more_info", "status"} {
		if _, ok := fields[k]; !ok {
			return e, fmt.Sprintf("no %q in %.200s", k, res.Body)
		}
	}
	if err := json.Unmarshal(res.Body, &e); err != nil {
		return e, fmt.Sprintf("wrong field types: %v: %.200s", err, res.Body)
	}
	switch {
	case e.Status != res.Status:
		return e, fmt.Sprintf("status %d in the body, %d on the wire", e.Status, res.Status)
	case e.Code <= 0 || e.Message == "":
		return e, fmt.Sprintf("empty code or message: %.200s", res.Body)
	case e.MoreInfo != "https://www.twilio.com/docs/errors/"+strconv.Itoa(e.Code):
		return e, fmt.Sprintf("more_info %q", e.MoreInfo)
	}
	return e, ""
}

// freePort returns a loopback port nothing listens on right now.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// fixedAccount returns a main account's SID and token for TONEPAY_ACCOUNT_SID.
func fixedAccount() (sid, token string) {
	return tonepay.NewSID("AC"), tonepay.RandomHex(16)
}

// storeDB returns the TONEPAY_DB of a fresh store of the named kind, and the
// environment it needs. Postgres skips or fails as postgresDB does.
func storeDB(t *testing.T, kind string) []string {
	if kind == "postgres" {
		key := "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" // 32 bytes, base64
		return []string{"TONEPAY_DB=" + postgresDB(t), "TONEPAY_DATA_KEY=" + key}
	}
	return []string{"TONEPAY_DB=" + filepath.Join(t.TempDir(), kind+".db")}
}

// jsonField reads one string field of a JSON object body.
func jsonField(t *testing.T, body []byte, name string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("not JSON: %v: %.300s", err, body)
	}
	s, _ := m[name].(string)
	return s
}

// form encodes name/value pairs in order, repeats kept.
func form(kv ...string) string {
	var b strings.Builder
	for i := 0; i+1 < len(kv); i += 2 {
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(kv[i]) + "=" + url.QueryEscape(kv[i+1]))
	}
	return b.String()
}

// fixture is what the attack tests act on in one account: a call with an
// open payment session, and an API key.
type fixture struct {
	Account, Token string
	Call, Payment  string
	Key, Secret    string
	To             string // the call's distinctive To number
	Number         string // an IncomingPhoneNumber's SID
	PhoneNumber    string // its number, distinct on the server
}

var numberSeq atomic.Int64

// newPhoneNumber is an E.164 number no other fixture of this test binary has.
func newPhoneNumber() string { return fmt.Sprintf("+1666%07d", numberSeq.Add(1)) }

// makeFixture creates a call, a payment session on it, and an API key in
// account sid, acting as user/pass (the account or its main account).
func makeFixture(t *testing.T, c *attackClient, sid, token, user, pass, callback, tag string) fixture {
	t.Helper()
	f := fixture{Account: sid, Token: token, To: "+1555" + tag}
	base := "/2010-04-01/Accounts/" + sid
	call := c.mustDo(t, 201, rawReq{Method: "POST", Path: base + "/Calls.json", User: user, Pass: pass,
		Body: form("To", f.To, "From", "+15005550001", "Url", "https://example.com/twiml/"+tag)})
	f.Call = jsonField(t, call, "sid")
	pay := c.mustDo(t, 201, rawReq{Method: "POST", Path: base + "/Calls/" + f.Call + "/Payments.json", User: user, Pass: pass,
		Body: form("IdempotencyKey", "fx-"+tag, "StatusCallback", callback, "Description", "desc-"+tag)})
	f.Payment = jsonField(t, pay, "sid")
	key := c.mustDo(t, 201, rawReq{Method: "POST", Path: base + "/Keys.json", User: user, Pass: pass, Body: form("FriendlyName", "key-"+tag)})
	f.Key, f.Secret = jsonField(t, key, "sid"), jsonField(t, key, "secret")
	f.PhoneNumber = newPhoneNumber()
	pn := c.mustDo(t, 201, rawReq{Method: "POST", Path: base + "/IncomingPhoneNumbers.json", User: user, Pass: pass, Body: form("PhoneNumber", f.PhoneNumber)})
	f.Number = jsonField(t, pn, "sid")
	return f
}

// stderrHas reports whether the server's log holds s (with TONEPAY_LOG_LEVEL=debug
// every request's path is there).
func stderrHas(p *proc, s string) bool { return bytes.Contains([]byte(p.Stderr()), []byte(s)) }
