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
	"github.com/tonepay/tonepay/events"
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
	hub := events.New() // session changes, for the resources' notifications
	svc.Payments.Publish, svc.Payments.Subscribe = hub.Publish, hub.Subscribe
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
	h := mcp.Handler(svc.Services(), mcp.Options{MaxSessions: 3})
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
	return e.connectWith(acct, nil)
}

// connectWith opens an MCP session as acct with the client's options.
func (e *env) connectWith(acct *tonepay.Account, opt *sdk.ClientOptions) *sdk.ClientSession {
	e.t.Helper()
	c := sdk.NewClient(&sdk.Implementation{Name: "test", Version: "1"}, opt)
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
	updated := make(chan string, 100)
	cs := e.connectWith(e.a, &sdk.ClientOptions{ResourceUpdatedHandler: func(_ context.Context, r *sdk.ResourceUpdatedNotificationRequest) {
		updated <- r.Params.URI
	}})

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
	// The agent subscribes to the payment and waits for its changes
	// instead of polling.
	uri := mcp.PaymentURI(e.call.Sid, pk)
	if err := cs.Subscribe(context.Background(), &sdk.SubscribeParams{URI: uri}); err != nil {
		t.Fatal(err)
	}
	notified := 0
	waitNext := func(want string) map[string]any {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for {
			select {
			case got := <-updated:
				if got != uri {
					t.Fatalf("notified of %s, subscribed to %s", got, uri)
				}
				notified++
				st := readPayment(t, cs, uri)
				if strings.Contains(st["next"].(string), want) {
					return st
				}
			case <-deadline:
				t.Fatalf("no notification of a change whose next says %q; the resource: %v", want, readPayment(t, cs, uri))
			}
		}
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
		waitNext(s.wantNext)
		if st := status(); !strings.Contains(st["next"].(string), s.wantNext) {
			t.Fatalf("after %q: next %q, want %q (%v)", s.field, st["next"], s.wantNext, st)
		}
	}
	res, _ = call(t, cs, mcp.ToolComplete, ref)
	mustOK(t, mcp.ToolComplete, res)
	if st := waitNext("The payment succeeded"); st["status"] != "ended" || st["result"] != "success" || st["captured"].(map[string]any)["payment-card-number"] != "xxxxxxxxxxxx4242" {
		t.Fatalf("end: %v", st)
	}
	if notified < len(steps)+1 {
		t.Errorf("%d notifications for %d changes", notified, len(steps)+1)
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

// readPayment reads a payment resource: its JSON, as a map.
func readPayment(t *testing.T, cs *sdk.ClientSession, uri string) map[string]any {
	t.Helper()
	res, err := cs.ReadResource(context.Background(), &sdk.ReadResourceParams{URI: uri})
	if err != nil {
		t.Fatalf("reading %s: %v", uri, err)
	}
	if len(res.Contents) != 1 || res.Contents[0].URI != uri || res.Contents[0].MIMEType != "application/json" {
		t.Fatalf("reading %s: %+v", uri, res.Contents)
	}
	out := map[string]any{}
	if err := json.Unmarshal([]byte(res.Contents[0].Text), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestResources: the payment template is listed; an account reads and
// subscribes to its own payments only (another's, an unknown one and a
// malformed URI are not found, and notify nothing); the prompt guides.
func TestResources(t *testing.T) {
	e := newEnv(t)
	updated := make(chan string, 100)
	cs := e.connectWith(e.a, &sdk.ClientOptions{ResourceUpdatedHandler: func(_ context.Context, r *sdk.ResourceUpdatedNotificationRequest) {
		updated <- r.Params.URI
	}})
	csB := e.connect(e.b)
	var templates []string
	for rt, err := range cs.ResourceTemplates(context.Background(), nil) {
		if err != nil {
			t.Fatal(err)
		}
		templates = append(templates, rt.URITemplate)
	}
	if len(templates) != 1 || templates[0] != mcp.PaymentURITemplate {
		t.Fatalf("templates %v", templates)
	}
	start := func(cs *sdk.ClientSession, callSid string) string {
		res, out := call(t, cs, mcp.ToolStartPayment, map[string]any{"call_sid": callSid, "charge_amount": "5"})
		mustOK(t, mcp.ToolStartPayment, res)
		return out["payment_sid"].(string)
	}
	pa, pb := start(cs, e.call.Sid), start(csB, e.otherCall.Sid)
	bURI := mcp.PaymentURI(e.otherCall.Sid, pb)
	for _, uri := range []string{
		bURI,                           // another account's
		mcp.PaymentURI(e.call.Sid, pb), // another's payment under a's call
		mcp.PaymentURI(e.call.Sid, tonepay.NewSID("PK")), // unknown
		"payment://" + e.call.Sid,                        // malformed
		"payment://" + e.call.Sid + "/" + pa + "/x",
	} {
		if _, err := cs.ReadResource(context.Background(), &sdk.ReadResourceParams{URI: uri}); err == nil {
			t.Errorf("read %s: no error", uri)
		}
		if err := cs.Subscribe(context.Background(), &sdk.SubscribeParams{URI: uri}); err == nil {
			t.Errorf("subscribe %s: no error", uri)
		}
	}
	aURI := mcp.PaymentURI(e.call.Sid, pa)
	if err := cs.Subscribe(context.Background(), &sdk.SubscribeParams{URI: aURI}); err != nil {
		t.Fatal(err)
	}
	// b's payment changes, then a's: a hears of its own only.
	for _, p := range []struct {
		cs      *sdk.ClientSession
		callSid string
	}{{csB, e.otherCall.Sid}, {cs, e.call.Sid}} {
		res, _ := call(t, p.cs, mcp.ToolRequestField, map[string]any{"call_sid": p.callSid, "field": "payment-card-number"})
		mustOK(t, mcp.ToolRequestField, res)
	}
	select {
	case got := <-updated:
		if got != aURI {
			t.Fatalf("a was notified of %s", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no notification of a's change")
	}
	if st := readPayment(t, cs, aURI); st["capturing"] != "payment-card-number" {
		t.Errorf("a's payment: %v", st)
	}
	// Unsubscribed: no more notifications. a's payment ends (a change),
	// then a payment a still watches changes: its notification is the next.
	other := start(cs, e.realCall.Sid)
	otherURI := mcp.PaymentURI(e.realCall.Sid, other)
	if err := cs.Subscribe(context.Background(), &sdk.SubscribeParams{URI: otherURI}); err != nil {
		t.Fatal(err)
	}
	if err := cs.Unsubscribe(context.Background(), &sdk.UnsubscribeParams{URI: aURI}); err != nil {
		t.Fatal(err)
	}
	res, _ := call(t, cs, mcp.ToolCancel, map[string]any{"call_sid": e.call.Sid})
	mustOK(t, mcp.ToolCancel, res)
	if st := readPayment(t, cs, aURI); st["status"] != "ended" {
		t.Fatalf("after cancel: %v", st)
	}
	res, _ = call(t, cs, mcp.ToolRequestField, map[string]any{"call_sid": e.realCall.Sid, "field": "payment-card-number"})
	mustOK(t, mcp.ToolRequestField, res)
	select {
	case got := <-updated:
		if got != otherURI {
			t.Errorf("notified of %s, want %s (unsubscribed from %s)", got, otherURI, aURI)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no notification of the other payment's change")
	}

	p, err := cs.GetPrompt(context.Background(), &sdk.GetPromptParams{Name: mcp.PromptTakePayment, Arguments: map[string]string{"call_sid": e.call.Sid, "amount": "12.50"}})
	if err != nil {
		t.Fatal(err)
	}
	text := p.Messages[0].Content.(*sdk.TextContent).Text
	for _, want := range []string{e.call.Sid, "12.50 USD", "request_field", "complete_payment", "payment://"} {
		if !strings.Contains(text, want) {
			t.Errorf("the prompt lacks %q:\n%s", want, text)
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

// TestSessionLimit: an account holds at most MaxSessions MCP sessions (3
// here); one more is 429, another account is not affected, and closing
// one makes room.
func TestSessionLimit(t *testing.T) {
	e := newEnv(t)
	var open []*sdk.ClientSession
	for range 3 {
		open = append(open, e.connect(e.a))
	}
	initialize := func(acct *tonepay.Account) int {
		req, _ := http.NewRequest(http.MethodPost, e.url, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.SetBasicAuth(acct.Sid, acct.AuthToken.Reveal())
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if id := res.Header.Get("Mcp-Session-Id"); id != "" {
			// Close it again (DELETE), so that it holds nothing.
			del, _ := http.NewRequest(http.MethodDelete, e.url, nil)
			del.Header.Set("Mcp-Session-Id", id)
			del.SetBasicAuth(acct.Sid, acct.AuthToken.Reveal())
			if res, err := http.DefaultClient.Do(del); err == nil {
				res.Body.Close()
			}
		}
		return res.StatusCode
	}
	if got := initialize(e.a); got != http.StatusTooManyRequests {
		t.Fatalf("a fourth session: %d, want 429", got)
	}
	if got := initialize(e.b); got != http.StatusOK {
		t.Fatalf("another account's session: %d, want 200", got)
	}
	// Requests within the open sessions go on.
	res, _ := call(t, open[0], mcp.ToolListCalls, map[string]any{})
	mustOK(t, mcp.ToolListCalls, res)
	open[2].Close()
	deadline := time.Now().Add(10 * time.Second)
	for initialize(e.a) != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("closing a session made no room for another")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestNotificationBeforeStream: a change notified before the client has
// opened its event stream (the SDK's clients open it after initialize, on
// their own time) is kept and sent once the stream opens, not dropped.
func TestNotificationBeforeStream(t *testing.T) {
	e := newEnv(t)
	session := ""
	post := func(body string) string {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, e.url, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("Mcp-Protocol-Version", "2025-06-18")
		req.SetBasicAuth(e.a.Sid, e.a.AuthToken.Reveal())
		if session != "" {
			req.Header.Set("Mcp-Session-Id", session)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode >= 300 {
			t.Fatalf("%s: %d %s", body, res.StatusCode, b)
		}
		if session == "" {
			session = res.Header.Get("Mcp-Session-Id")
		}
		return string(b)
	}
	post(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`)
	post(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	out := post(`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"start_payment","arguments":{"call_sid":"` + e.call.Sid + `","charge_amount":"2"}}}`)
	pk := regexp.MustCompile(`PK[0-9a-f]{32}`).FindString(out)
	uri := mcp.PaymentURI(e.call.Sid, pk)
	post(`{"jsonrpc":"2.0","id":3,"method":"resources/subscribe","params":{"uri":"` + uri + `"}}`)
	post(`{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"request_field","arguments":{"call_sid":"` + e.call.Sid + `","field":"payment-card-number"}}}`)

	// Only now the event stream.
	req, _ := http.NewRequest(http.MethodGet, e.url, nil)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Mcp-Protocol-Version", "2025-06-18")
	req.Header.Set("Mcp-Session-Id", session)
	req.SetBasicAuth(e.a.Sid, e.a.AuthToken.Reveal())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var got strings.Builder
	buf := make([]byte, 4096)
	for !strings.Contains(got.String(), "notifications/resources/updated") {
		n, err := res.Body.Read(buf)
		got.Write(buf[:n])
		if err != nil {
			t.Fatalf("the stream ended (%v) without the notification: %q", err, got.String())
		}
	}
	if !strings.Contains(got.String(), uri) {
		t.Errorf("notified %q, want %s", got.String(), uri)
	}
}
