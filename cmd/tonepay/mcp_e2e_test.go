package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/client"
	"github.com/tonepay/tonepay/internal/e2e"
	"github.com/tonepay/tonepay/internal/suites"
	"github.com/tonepay/tonepay/mcp"
	api "github.com/twilio/twilio-go/rest/api/v2010"
)

// mcpServer starts serve and a simulated call that holds, for an agent.
func mcpServer(t *testing.T, env ...string) (srv *proc, sid, token, call string) {
	t.Helper()
	srv = startServer(t, append(env, "TONEPAY_DB="+filepath.Join(t.TempDir(), "mcp.db"), "TONEPAY_LOG_LEVEL=debug")...)
	sid, token = parseAccount(srv.Stdout())
	c, err := srv.Client(t, sid, token).CreateCall(context.Background(),
		client.CallParams{To: "+15005550006", From: "+15005550001", Twiml: `<Response><Pause length="3600"/></Response>`})
	if err != nil {
		t.Fatal(err)
	}
	return srv, sid, token, c.Sid
}

// mcpCall calls a tool; a protocol failure or a tool error fails the test.
func mcpCall(t *testing.T, cs *sdk.ClientSession, tool string, args map[string]any) map[string]any {
	t.Helper()
	res, err := cs.CallTool(context.Background(), &sdk.CallToolParams{Name: tool, Arguments: args})
	if err != nil {
		t.Fatalf("%s: %v", tool, err)
	}
	b, _ := json.Marshal(res)
	if res.IsError {
		t.Fatalf("%s: tool error %s", tool, b)
	}
	out := map[string]any{}
	bs, _ := json.Marshal(res.StructuredContent)
	json.Unmarshal(bs, &out)
	return out
}

// TestMCPOverHTTP: serve's /mcp takes the account's Basic auth, with the
// SDK's own client, and refuses a request without it as the API does,
// within the API's failed-authentication limit.
func TestMCPOverHTTP(t *testing.T) {
	srv, sid, token, call := mcpServer(t, "TONEPAY_AUTH_FAIL_LIMIT=2")
	cs, _ := connectMCP(t, &sdk.StreamableClientTransport{Endpoint: srv.URL + "/mcp", HTTPClient: &http.Client{Transport: basicAuth{sid, token}}})
	out := mcpCall(t, cs, mcp.ToolListCalls, map[string]any{})
	if b, _ := json.Marshal(out); !strings.Contains(string(b), call) {
		t.Fatalf("list_calls: %s, want %s", b, call)
	}

	init := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`
	// In order: two wrong tokens spend the address's failures, after which
	// even good credentials wait.
	for _, tt := range []struct {
		name, user, pass string
		status           int
		code             string
	}{
		{"no credentials", "", "", 401, "20003"},
		{"wrong token", sid, "nope", 401, "20003"},
		{"wrong token again", sid, "nope", 401, "20003"},
		{"past the failed-authentication limit", sid, token, 429, "20429"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/mcp", strings.NewReader(init))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json, text/event-stream")
			if tt.user != "" {
				req.SetBasicAuth(tt.user, tt.pass)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != tt.status || !strings.Contains(string(body), tt.code) {
				t.Fatalf("%d %s, want %d with Twilio's %s", res.StatusCode, body, tt.status, tt.code)
			}
		})
	}
}

// TestMCPOverStdio runs `tonepay mcp` as an MCP client starts it, against
// a served tonepay, drives a card payment through it, and scans every
// byte the client received (and both processes' logs) for the card.
func TestMCPOverStdio(t *testing.T) {
	const card, cvc = "4242424242424242", "739"
	srv, sid, token, call := mcpServer(t)
	cs, updated, received, stderr := startRelay(t, srv.URL, sid, token)

	// The relay passes on the server's prompt and resource template.
	p, err := cs.GetPrompt(context.Background(), &sdk.GetPromptParams{Name: mcp.PromptTakePayment, Arguments: map[string]string{"call_sid": call}})
	if err != nil || !strings.Contains(p.Messages[0].Content.(*sdk.TextContent).Text, call) {
		t.Fatalf("the prompt through the relay: %v %v", p, err)
	}
	start := mcpCall(t, cs, mcp.ToolStartPayment, map[string]any{"call_sid": call, "charge_amount": 12.5, "currency": "usd"})
	pk, _ := start["payment_sid"].(string)
	ref := map[string]any{"call_sid": call, "payment_sid": pk}
	// The agent waits on the payment's resource: subscribed through the
	// relay, notified by the server, read through the relay.
	uri := mcp.PaymentURI(call, pk)
	subscribe(t, cs, uri)
	waitNext := func(want string) {
		t.Helper()
		for deadline := time.After(15 * time.Second); ; {
			select {
			case got := <-updated:
				res, err := cs.ReadResource(context.Background(), &sdk.ReadResourceParams{URI: got})
				if err != nil || got != uri {
					t.Fatalf("notified of %s (subscribed to %s): %v", got, uri, err)
				}
				if strings.Contains(res.Contents[0].Text, want) {
					return
				}
			case <-deadline:
				t.Fatalf("no notification of a change whose next says %q", want)
			}
		}
	}
	steps := []struct{ field, keys, wantNext string }{
		{"payment-card-number", card + "#", "expiry date"},
		{"expiration-date", "1230#", "security code"},
		{"security-code", cvc + "#", "postal code"},
		{"postal-code", "94107#", "Everything is captured"},
	}
	for _, s := range steps {
		mcpCall(t, cs, mcp.ToolRequestField, map[string]any{"call_sid": call, "payment_sid": pk, "field": s.field})
		mcpCall(t, cs, mcp.ToolPressKeys, map[string]any{"call_sid": call, "keys": s.keys})
		waitNext(s.wantNext)
	}
	mcpCall(t, cs, mcp.ToolComplete, ref)
	waitNext("The payment succeeded")
	if st := mcpCall(t, cs, mcp.ToolStatus, ref); st["result"] != "success" {
		t.Fatalf("end: %v", st)
	}

	// SIDs, session IDs and times removed: their hex and digits are no card data.
	strip := cardScanStrip
	for what, got := range map[string]string{"the client": received.String(), "tonepay mcp's stderr": stderr.String(),
		"serve's log": srv.Stdout() + srv.Stderr()} {
		got = strip(got, "")
		for _, secret := range []string{card, card[:12], card[4:], cvc} {
			if i := strings.Index(got, secret); i >= 0 {
				t.Errorf("%s received %q: …%s…", what, secret, got[max(0, i-80):min(len(got), i+80)])
			}
		}
	}
	if !strings.Contains(received.String(), pk) {
		t.Fatalf("the client received no payment: %s", received.String())
	}
}

// cardScanStrip removes what holds digits but no card data before a scan:
// SIDs, session IDs and other hex, times, JSON-RPC ids, log durations.
var cardScanStrip = regexp.MustCompile(`[A-Z]{2}[0-9a-f]{32}|\d{4}-\d\d-\d\dT[\d:.]+Z?|"id":\d+|[0-9a-f]{32}|[0-9a-f]{24}|duration=\S+`).ReplaceAllString

// startRelay runs `tonepay mcp` against server as an MCP client starts it,
// and connects to it with the SDK's client: the session, the URIs of the
// resources it is notified of, every byte it received, and the relay's
// stderr. Both end with the test.
func startRelay(t *testing.T, server, sid, token string) (cs *sdk.ClientSession, updated chan string, received, stderr *lockedBuffer) {
	t.Helper()
	cmd := exec.Command(e2e.Binary(), "mcp")
	cmd.Env = []string{"TONEPAY_SERVER=" + server, "TONEPAY_ACCOUNT_SID=" + sid, "TONEPAY_AUTH_TOKEN=" + token}
	received, stderr = &lockedBuffer{}, &lockedBuffer{}
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close() // ends it
		cmd.Wait()
		if t.Failed() {
			t.Logf("tonepay mcp's stderr:\n%s", stderr.String())
		}
	})
	cs, updated = connectMCP(t, &sdk.IOTransport{Reader: io.NopCloser(io.TeeReader(stdout, received)), Writer: stdin})
	return cs, updated, received, stderr
}

// connectMCP connects the SDK's own client over tr, for the test: the
// session, and the URIs of the resources it is notified of.
func connectMCP(t *testing.T, tr sdk.Transport) (*sdk.ClientSession, chan string) {
	t.Helper()
	updated, acked := make(chan string, 100), make(chan []string, 100)
	c := sdk.NewClient(&sdk.Implementation{Name: "test", Version: "1"}, &sdk.ClientOptions{
		ResourceUpdatedHandler: func(_ context.Context, r *sdk.ResourceUpdatedNotificationRequest) { updated <- r.Params.URI },
	})
	c.AddReceivingMiddleware(func(next sdk.MethodHandler) sdk.MethodHandler {
		return func(ctx context.Context, method string, req sdk.Request) (sdk.Result, error) {
			if p, ok := req.GetParams().(*sdk.SubscriptionsAcknowledgedParams); ok && method == "notifications/subscriptions/acknowledged" {
				acked <- p.Notifications.ResourceSubscriptions
			}
			return next(ctx, method, req)
		}
	})
	cs, err := c.Connect(context.Background(), tr, nil)
	if err != nil {
		t.Fatal(err)
	}
	subscriptionAcks.Store(cs, acked)
	t.Cleanup(func() { cs.Close(); subscriptionAcks.Delete(cs) })
	return cs, updated
}

// subscriptionAcks: each connectMCP session's acknowledged subscriptions.
var subscriptionAcks sync.Map // *sdk.ClientSession → chan []string

// subscribe subscribes cs to uri and returns once the server has it. Under
// MCP 2026-07-28 (which `tonepay mcp` over stdio negotiates) the SDK's
// Subscribe returns before the server has subscribed; the server's
// acknowledgement says it has, and through the relay it follows the
// relay's own subscription upstream. A change made before that is not
// notified (TestMCPRelayRestart failed that way under CI's load).
func subscribe(t *testing.T, cs *sdk.ClientSession, uri string) {
	t.Helper()
	if err := cs.Subscribe(context.Background(), &sdk.SubscribeParams{URI: uri}); err != nil {
		t.Fatal(err)
	}
	if cs.InitializeResult().ProtocolVersion < "2026-07-28" {
		return // a request answered once subscribed
	}
	acked, _ := subscriptionAcks.Load(cs)
	deadline := time.After(30 * time.Second)
	for {
		select {
		case uris := <-acked.(chan []string):
			if slices.Contains(uris, uri) {
				return
			}
		case <-deadline:
			t.Fatalf("the subscription to %s was never acknowledged", uri)
		}
	}
}

// TestMCPCommandHints: `tonepay mcp` without a server or credentials says
// what to set, as `tonepay call` does.
func TestMCPCommandHints(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String() // nobody listens once closed
	ln.Close()
	tests := []struct {
		name string
		env  []string
		want string
	}{
		{"no server", []string{"TONEPAY_SERVER=" + closed, "TONEPAY_ACCOUNT_SID=AC1", "TONEPAY_AUTH_TOKEN=x"}, "is `tonepay serve` running?"},
		{"no credentials", []string{"TONEPAY_SERVER=" + closed}, "TONEPAY_ACCOUNT_SID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(e2e.Binary(), "mcp")
			cmd.Env = tt.env
			out, err := cmd.CombinedOutput()
			if err == nil || !strings.Contains(string(out), tt.want) {
				t.Fatalf("%v: %s, want %q", err, out, tt.want)
			}
		})
	}
}

// TestMCPShutdown: an MCP event stream open on /mcp (the GET a client
// keeps for the server's messages) does not hold shutdown for its grace
// period.
func TestMCPShutdown(t *testing.T) {
	srv, sid, token, _ := mcpServer(t)
	stream := openMCPStream(t, srv.URL, sid, token, "")
	defer stream.Body.Close()
	start := time.Now()
	if code := srv.stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("exit code %d with an MCP stream open\n%s", code, srv.Stderr())
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("shutdown took %s: it waited for the MCP stream", d)
	}
}

// openMCPStream initializes an MCP session on base's /mcp as user (with
// host as the Host header when given, as a proxy in front sends it) and
// opens its event stream: the GET an MCP client holds for the server's
// messages.
func openMCPStream(t *testing.T, base, user, pass, host string) *http.Response {
	t.Helper()
	send := func(method, body, session string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, base+"/mcp", strings.NewReader(body))
		req.SetBasicAuth(user, pass)
		if host != "" {
			req.Host = host
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("Mcp-Protocol-Version", "2025-06-18")
		if session != "" {
			req.Header.Set("Mcp-Session-Id", session)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	res := send(http.MethodPost, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`, "")
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	session := res.Header.Get("Mcp-Session-Id")
	if res.StatusCode != http.StatusOK || session == "" {
		t.Fatalf("initialize: %d %s", res.StatusCode, body)
	}
	res = send(http.MethodPost, `{"jsonrpc":"2.0","method":"notifications/initialized"}`, session)
	res.Body.Close()
	stream := send(http.MethodGet, "", session)
	if stream.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(stream.Body)
		stream.Body.Close()
		t.Fatalf("event stream: %d %s", stream.StatusCode, b)
	}
	return stream
}

// TestMCPAPIKey: an API key opens /mcp as its account (also through a
// proxy that sends the public Host), and deleting the key ends the event
// stream it holds open, within the server's re-check period.
func TestMCPAPIKey(t *testing.T) {
	srv, sid, token, call := mcpServer(t)
	tw, _ := e2e.NewTwilio(t, srv.URL, sid, token, sid, e2e.LoadSpec(t))
	key, err := tw.CreateNewKey(&api.CreateNewKeyParams{})
	if err != nil {
		t.Fatal(err)
	}
	const host = "pay.example.com" // the proxy's public name, over loopback
	cs, _ := connectMCP(t, &sdk.StreamableClientTransport{Endpoint: srv.URL + "/mcp", HTTPClient: &http.Client{Transport: proxied{basicAuth{*key.Sid, *key.Secret}, host}}})
	out := mcpCall(t, cs, mcp.ToolListCalls, map[string]any{})
	if b, _ := json.Marshal(out); !strings.Contains(string(b), call) {
		t.Fatalf("list_calls with an API key: %s, want %s", b, call)
	}

	stream := openMCPStream(t, srv.URL, *key.Sid, *key.Secret, host)
	defer stream.Body.Close()
	ended := make(chan struct{})
	go func() { io.Copy(io.Discard, stream.Body); close(ended) }()
	if err := tw.DeleteKey(*key.Sid, &api.DeleteKeyParams{}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ended:
	case <-time.After(30 * time.Second):
		t.Fatal("the event stream of a deleted key is still open")
	}
	if !strings.Contains(srv.Stderr(), "its credentials no longer reach the account") {
		t.Errorf("no log line for the ended stream:\n%s", srv.Stderr())
	}
}

// proxied sends every request with a proxy's Host header.
type proxied struct {
	next http.RoundTripper
	host string
}

func (p proxied) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Host = p.host
	return p.next.RoundTrip(r)
}

// TestMCPRelayRestart: `tonepay mcp` outlives the server it relays to. The
// server restarts (its MCP sessions gone) while an agent is mid-payment
// with a subscription: the agent's next tool call is answered, and the
// payment's changes are notified again, with no new MCP session on the
// agent's side.
func TestMCPRelayRestart(t *testing.T) {
	// The same store and main account's credentials, both times.
	sid, token := tonepay.NewSID("AC"), tonepay.NewSID("AC")[2:]
	env := []string{"TONEPAY_DB=" + filepath.Join(t.TempDir(), "mcp.db"), "TONEPAY_ACCOUNT_SID=" + sid, "TONEPAY_AUTH_TOKEN=" + token}
	srv := startServer(t, env...)
	c, err := srv.Client(t, sid, token).CreateCall(context.Background(),
		client.CallParams{To: "+15005550006", From: "+15005550001", Twiml: `<Response><Pause length="3600"/></Response>`})
	if err != nil {
		t.Fatal(err)
	}
	call := c.Sid
	addr := strings.TrimPrefix(srv.URL, "http://")
	cs, updated, _, stderr := startRelay(t, srv.URL, sid, token)
	start := mcpCall(t, cs, mcp.ToolStartPayment, map[string]any{"call_sid": call, "charge_amount": "3"})
	uri := mcp.PaymentURI(call, start["payment_sid"].(string))
	subscribe(t, cs, uri)
	notified := func(what string) {
		t.Helper()
		select {
		case got := <-updated:
			if got != uri {
				t.Fatalf("notified of %s, want %s", got, uri)
			}
		case <-time.After(15 * time.Second):
			t.Fatalf("no notification %s\n%s", what, stderr.String())
		}
	}
	mcpCall(t, cs, mcp.ToolRequestField, map[string]any{"call_sid": call, "field": "payment-card-number"})
	notified("before the restart")

	if code := srv.stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("serve exited %d", code)
	}
	// While the server is down, a tool call fails (a protocol error: no
	// server answered), and the relay's session with it breaks.
	if _, err := cs.CallTool(context.Background(), &sdk.CallToolParams{Name: mcp.ToolListCalls, Arguments: map[string]any{}}); err == nil {
		t.Fatal("a tool call answered with the server down")
	}
	startProcess(t, []string{"serve", "--addr", addr}, env...)
	waitFor(t, 15*time.Second, "the call resumed after the restart", func() bool {
		res, err := cs.CallTool(context.Background(), &sdk.CallToolParams{Name: mcp.ToolListCalls, Arguments: map[string]any{}})
		if err != nil || res.IsError {
			return false
		}
		b, _ := json.Marshal(res.StructuredContent)
		return strings.Contains(string(b), call)
	})
	mcpCall(t, cs, mcp.ToolPressKeys, map[string]any{"call_sid": call, "keys": "4242"})
	notified("after the restart")
}

// TestMCPStreamOutlivesTimeouts: the event stream an agent holds open for
// notifications lasts past the server's read and write timeouts (which
// bound requests, not streams): a change well after them is notified.
func TestMCPStreamOutlivesTimeouts(t *testing.T) {
	// 3 s: short, but no request of the test's (its tool calls are
	// requests too) comes near it on a loaded machine.
	srv, sid, token, call := mcpServer(t, "TONEPAY_READ_TIMEOUT=3s", "TONEPAY_WRITE_TIMEOUT=3s")
	cs, updated := connectMCP(t, &sdk.StreamableClientTransport{Endpoint: srv.URL + "/mcp", HTTPClient: &http.Client{Transport: basicAuth{sid, token}},
		MaxRetries: -1}) // a stream cut would not be reopened
	start := mcpCall(t, cs, mcp.ToolStartPayment, map[string]any{"call_sid": call, "charge_amount": "3"})
	uri := mcp.PaymentURI(call, start["payment_sid"].(string))
	subscribe(t, cs, uri)
	time.Sleep(4 * time.Second) // past both timeouts: the premise of the test
	mcpCall(t, cs, mcp.ToolRequestField, map[string]any{"call_sid": call, "field": "payment-card-number"})
	select {
	case got := <-updated:
		if got != uri {
			t.Fatalf("notified of %s", got)
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("no notification over a stream older than the server's timeouts\n%s", srv.Stderr())
	}
}

// TestMCPTypeScriptClient: an agent built on the official TypeScript SDK
// (mcp/e2e/agent.test.mjs, not the Go SDK tonepay is built on) takes a
// card payment over HTTP and another over stdio: tools, a tool error, the
// resource template, the prompt, a subscription and its notifications.
// Everything it received is scanned for the card number and security code.
func TestMCPTypeScriptClient(t *testing.T) {
	dir, _ := filepath.Abs("../../mcp/e2e")
	if how := suites.MCPClient(dir); how != "" {
		suites.Need(t, suites.MCPSuite, how)
	}
	srv, sid, token, call := mcpServer(t)
	cmd := exec.Command("node", "agent.test.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "TONEPAY_URL="+srv.URL, "TONEPAY_ACCOUNT_SID="+sid, "TONEPAY_AUTH_TOKEN="+token,
		"TONEPAY_BIN="+e2e.Binary(), "CALL_SID="+call)
	out, err := cmd.CombinedOutput()
	report, received, _ := strings.Cut(string(out), "RECEIVED\n")
	t.Logf("the TypeScript agent:\n%s", report)
	if err != nil || strings.Count(report, "paid, PK") != 2 {
		t.Fatalf("the TypeScript agent failed: %v", err)
	}
	if !strings.Contains(received, "xxxxxxxxxxxx4242") {
		t.Fatalf("the agent received no masked card: %.300s", received)
	}
	for what, got := range map[string]string{"the agent": received, "serve's log": srv.Stdout() + srv.Stderr()} {
		got = cardScanStrip(got, "")
		// Any 12 digits of the card (it is 4242 repeated), or the security
		// code standing alone.
		for _, secret := range []*regexp.Regexp{regexp.MustCompile(`424242424242`), regexp.MustCompile(`(^|[^0-9A-Za-z])739([^0-9A-Za-z]|$)`)} {
			if loc := secret.FindStringIndex(got); loc != nil {
				t.Errorf("%s received %q: …%s…", what, got[loc[0]:loc[1]], got[max(0, loc[0]-80):min(len(got), loc[1]+80)])
			}
		}
	}
}

// TestMCPClusterNotifications: two processes on one PostgreSQL database.
// The agent's MCP session is on B; the call runs on A, where the caller's
// keys are pressed. B notifies the agent of each change A commits, though
// the payment has no status callback (nothing queued in the outbox to
// announce it).
func TestMCPClusterNotifications(t *testing.T) {
	db := postgresDB(t)
	sid, token := tonepay.NewSID("AC"), "mcpclustertoken1"
	key := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	env := []string{"TONEPAY_DB=" + db, "TONEPAY_DATA_KEY=" + key, "TONEPAY_ACCOUNT_SID=" + sid, "TONEPAY_AUTH_TOKEN=" + token}
	a, b := startServer(t, env...), startServer(t, env...)
	c, err := a.Client(t, sid, token).CreateCall(context.Background(),
		client.CallParams{To: "+15005550006", From: "+15005550001", Twiml: `<Response><Pause length="3600"/></Response>`})
	if err != nil {
		t.Fatal(err)
	}
	cs, updated := connectMCP(t, &sdk.StreamableClientTransport{Endpoint: b.URL + "/mcp", HTTPClient: &http.Client{Transport: basicAuth{sid, token}}})
	start := mcpCall(t, cs, mcp.ToolStartPayment, map[string]any{"call_sid": c.Sid, "charge_amount": "4"})
	uri := mcp.PaymentURI(c.Sid, start["payment_sid"].(string))
	subscribe(t, cs, uri)
	mcpCall(t, cs, mcp.ToolRequestField, map[string]any{"call_sid": c.Sid, "field": "payment-card-number"})
	drain := time.After(10 * time.Second)
	for n := 0; n < 1; { // B's own change
		select {
		case <-updated:
			n++
		case <-drain:
			t.Fatal("no notification of B's own change")
		}
	}
	if _, err := a.Client(t, sid, token).Press(context.Background(), c.Sid, "4242"); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(15 * time.Second)
	for {
		select {
		case got := <-updated:
			res, err := cs.ReadResource(context.Background(), &sdk.ReadResourceParams{URI: got})
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(res.Contents[0].Text, `"typed":4`) {
				return
			}
		case <-deadline:
			t.Fatal("B did not notify the agent of the keys A took")
		}
	}
}
