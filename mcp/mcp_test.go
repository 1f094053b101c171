package mcp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/connector/sandbox"
	"github.com/tonepay/tonepay/internal/servicetest"
	"github.com/tonepay/tonepay/mcp"
	"github.com/tonepay/tonepay/seal"
	"github.com/tonepay/tonepay/store/sqlite"
	"github.com/tonepay/tonepay/store/storetest"
)

// The card the caller types, and its parts: none may reach the client.
const (
	card   = "4242424242424242"
	expiry = "1230" // shown as Twilio shows it
	cvc    = "739"
)

type env struct {
	t         *testing.T
	url       string
	a, b      *tonepay.Account
	call      *tonepay.Call // a's simulated call
	realCall  *tonepay.Call // a's call from a media stream
	otherCall *tonepay.Call // b's
	mu        sync.Mutex
	received  bytes.Buffer // every byte the server sent any client
}

// tee keeps what the server answers.
type tee struct {
	http.ResponseWriter
	e *env
}

func (w tee) Write(b []byte) (int, error) {
	w.e.mu.Lock()
	w.e.received.Write(b)
	w.e.mu.Unlock()
	return w.ResponseWriter.Write(b)
}

func (w tee) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func newEnv(t *testing.T) *env {
	store, err := sqlite.Open(t.TempDir() + "/mcp.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	box, _ := seal.New(make([]byte, 32))
	svc := servicetest.New(store, servicetest.Nop{}, box, tonepay.Connectors{"Default": sandbox.New()}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	now := time.Now().UTC()
	e := &env{t: t}
	e.a = storetest.MustAccount(t, store, "", now)
	e.b = storetest.MustAccount(t, store, "", now)
	e.call = storetest.MustCall(t, store, e.a.Sid, now)
	e.otherCall = storetest.MustCall(t, store, e.b.Sid, now)
	real := *e.call
	real.Sid, real.Leg = tonepay.NewSID("CA"), tonepay.LegStream
	if err := store.Update(context.Background(), func(tx tonepay.Tx) error { return tx.CreateCall(context.Background(), &real) }); err != nil {
		t.Fatal(err)
	}
	e.realCall = &real
	h := mcp.Handler(svc.Services())
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(tee{w, e}, r) }))
	t.Cleanup(srv.Close)
	e.url = srv.URL
	return e
}

// basic adds Basic auth to each request.
type basic struct{ user, pass string }

func (b basic) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.SetBasicAuth(b.user, b.pass)
	return http.DefaultTransport.RoundTrip(r)
}

// connect opens an MCP session as acct with the SDK's own client.
func (e *env) connect(acct *tonepay.Account) *sdk.ClientSession {
	e.t.Helper()
	c := sdk.NewClient(&sdk.Implementation{Name: "test", Version: "1"}, nil)
	cs, err := c.Connect(context.Background(), &sdk.StreamableClientTransport{Endpoint: e.url,
		HTTPClient: &http.Client{Transport: basic{acct.Sid, acct.AuthToken.Reveal()}}}, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { cs.Close() })
	return cs
}

// call calls a tool; a transport or protocol failure fails the test.
func call(t *testing.T, cs *sdk.ClientSession, tool string, args map[string]any) (*sdk.CallToolResult, map[string]any) {
	t.Helper()
	res, err := cs.CallTool(context.Background(), &sdk.CallToolParams{Name: tool, Arguments: args})
	if err != nil {
		t.Fatalf("%s: protocol error %v", tool, err)
	}
	out := map[string]any{}
	if res.StructuredContent != nil {
		b, _ := json.Marshal(res.StructuredContent)
		json.Unmarshal(b, &out)
	}
	return res, out
}

func textOf(res *sdk.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*sdk.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

func mustOK(t *testing.T, tool string, res *sdk.CallToolResult) {
	t.Helper()
	if res.IsError {
		t.Fatalf("%s: tool error %s", tool, textOf(res))
	}
}

// TestAgentPaymentFlow drives a whole agent-assisted payment through MCP
// over HTTP, and scans every byte the client received for the card.
func TestAgentPaymentFlow(t *testing.T) {
	e := newEnv(t)
	cs := e.connect(e.a)

	res, out := call(t, cs, mcp.ToolListCalls, map[string]any{})
	mustOK(t, mcp.ToolListCalls, res)
	if calls, _ := out["calls"].([]any); len(calls) != 2 {
		t.Fatalf("list_calls: %d calls, want a's 2: %v", len(calls), out)
	}

	start := map[string]any{"call_sid": e.call.Sid, "charge_amount": 12.5, "currency": "usd", "description": "bill"}
	res, out = call(t, cs, mcp.ToolStartPayment, start)
	mustOK(t, mcp.ToolStartPayment, res)
	pk, _ := out["payment_sid"].(string)
	if !strings.HasPrefix(pk, "PK") {
		t.Fatalf("start_payment: %v", out)
	}
	// The same arguments again: the same payment (idempotent), not 64021.
	res, again := call(t, cs, mcp.ToolStartPayment, start)
	mustOK(t, mcp.ToolStartPayment+" again", res)
	if again["payment_sid"] != pk {
		t.Fatalf("start_payment again: %v, want %s", again, pk)
	}

	ref := map[string]any{"call_sid": e.call.Sid, "payment_sid": pk}
	status := func() map[string]any {
		t.Helper()
		res, out := call(t, cs, mcp.ToolStatus, ref)
		mustOK(t, mcp.ToolStatus, res)
		return out
	}
	if st := status(); !strings.Contains(st["next"].(string), "card number") {
		t.Fatalf("status before: %v", st)
	}
	steps := []struct {
		field, keys string
		wantNext    string // in status's next afterwards
	}{
		{"payment-card-number", "4242424242424241#", "card number failed the check; ask the caller to enter it again"},
		{"payment-card-number", card + "#", "expiry date"},
		{"expiration-date", expiry + "#", "security code"},
		{"security-code", cvc + "#", "postal code"},
		{"postal-code", "94107#", "Everything is captured"},
	}
	for _, s := range steps {
		if s.field != "" {
			res, _ := call(t, cs, mcp.ToolRequestField, map[string]any{"call_sid": e.call.Sid, "payment_sid": pk, "field": s.field})
			mustOK(t, mcp.ToolRequestField, res)
		}
		res, _ := call(t, cs, mcp.ToolPressKeys, map[string]any{"call_sid": e.call.Sid, "keys": s.keys})
		mustOK(t, mcp.ToolPressKeys, res)
		if st := status(); !strings.Contains(st["next"].(string), s.wantNext) {
			t.Fatalf("after %q: next %q, want %q (%v)", s.field, st["next"], s.wantNext, st)
		}
	}
	res, _ = call(t, cs, mcp.ToolComplete, ref)
	mustOK(t, mcp.ToolComplete, res)
	deadline := time.Now().Add(10 * time.Second)
	for st := status(); st["status"] != "ended"; st = status() {
		if time.Now().After(deadline) {
			t.Fatalf("payment did not end: %v", st)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if st := status(); st["result"] != "success" || st["captured"].(map[string]any)["payment-card-number"] == "" {
		t.Fatalf("end: %v", st)
	}

	// Nothing the client received holds the card or the security code
	// (SIDs and times removed: their hex and digits are no card data). The
	// expiry is shown as Twilio shows it (DESIGN §12), so it is not scanned.
	e.mu.Lock()
	got := e.received.String()
	e.mu.Unlock()
	got = regexp.MustCompile(`[A-Z]{2}[0-9a-f]{32}|\d{4}-\d\d-\d\dT[\d:.]+Z?|"id":\d+|[0-9a-f]{32}`).ReplaceAllString(got, "")
	for _, secret := range []string{card, card[:12], card[4:], cvc} {
		if strings.Contains(got, secret) {
			i := strings.Index(got, secret)
			t.Errorf("the client received %q: …%s…", secret, got[max(0, i-80):min(len(got), i+80)])
		}
	}
}

// TestToolErrors: refusals are tool errors with Twilio's code and the
// argument at fault, never protocol errors.
func TestToolErrors(t *testing.T) {
	e := newEnv(t)
	cs := e.connect(e.a)
	tests := []struct {
		name string
		tool string
		args map[string]any
		want []string // in the error's text
	}{
		{"bad amount", mcp.ToolStartPayment, map[string]any{"call_sid": e.call.Sid, "charge_amount": "12.3.4"}, []string{"64003", "charge_amount"}},
		{"bad currency", mcp.ToolStartPayment, map[string]any{"call_sid": e.call.Sid, "charge_amount": "1", "currency": "dollars"}, []string{"currency"}},
		{"no call", mcp.ToolStartPayment, map[string]any{"charge_amount": "1"}, []string{"call_sid"}},
		{"bad field", mcp.ToolRequestField, map[string]any{"call_sid": e.call.Sid, "field": "pin"}, []string{"20404"}},
		{"another account's call", mcp.ToolStartPayment, map[string]any{"call_sid": e.otherCall.Sid, "charge_amount": "1"}, []string{"20404"}},
		{"another account's call, keys", mcp.ToolPressKeys, map[string]any{"call_sid": e.otherCall.Sid, "keys": "1"}, []string{"20404"}},
		{"another account's call, status", mcp.ToolStatus, map[string]any{"call_sid": e.otherCall.Sid}, []string{"20404"}},
		{"keypad on a real call", mcp.ToolPressKeys, map[string]any{"call_sid": e.realCall.Sid, "keys": "1"}, []string{"64020"}},
		{"words on a real call", mcp.ToolSayWords, map[string]any{"call_sid": e.realCall.Sid, "text": "hello"}, []string{"64020"}},
		{"bad keys", mcp.ToolPressKeys, map[string]any{"call_sid": e.call.Sid, "keys": "12x"}, []string{"64020"}},
		{"wrong type", mcp.ToolPressKeys, map[string]any{"call_sid": e.call.Sid, "keys": 12}, []string{"keys"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, _ := call(t, cs, tt.tool, tt.args)
			if !res.IsError {
				t.Fatalf("not a tool error: %s", textOf(res))
			}
			for _, w := range tt.want {
				if !strings.Contains(textOf(res), w) {
					t.Errorf("error %q lacks %q", textOf(res), w)
				}
			}
		})
	}
}

// TestHTTPAuth: /mcp wants the account's credentials, and a session is its
// account's alone.
func TestHTTPAuth(t *testing.T) {
	e := newEnv(t)
	init := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`
	post := func(user, pass, session string) *http.Response {
		req, _ := http.NewRequest(http.MethodPost, e.url, strings.NewReader(init))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		if session != "" {
			req.Header.Set("Mcp-Session-Id", session)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res
	}
	ok := post(e.a.Sid, e.a.AuthToken.Reveal(), "")
	aSession := ok.Header.Get("Mcp-Session-Id")
	tests := []struct {
		name, user, pass, session string
		want                      int
	}{
		{"no credentials", "", "", "", http.StatusUnauthorized},
		{"wrong token", e.a.Sid, "nope", "", http.StatusUnauthorized},
		{"another account's session", e.b.Sid, e.b.AuthToken.Reveal(), aSession, http.StatusNotFound},
	}
	if ok.StatusCode != http.StatusOK || !strings.HasPrefix(aSession, e.a.Sid+"-") {
		t.Fatalf("initialize: %d, session %q", ok.StatusCode, aSession)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if res := post(tt.user, tt.pass, tt.session); res.StatusCode != tt.want {
				t.Errorf("status %d, want %d", res.StatusCode, tt.want)
			}
		})
	}
}
