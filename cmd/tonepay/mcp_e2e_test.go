package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/tonepay/tonepay/client"
	"github.com/tonepay/tonepay/internal/e2e"
	"github.com/tonepay/tonepay/mcp"
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
	cs, err := sdk.NewClient(&sdk.Implementation{Name: "test", Version: "1"}, nil).Connect(context.Background(),
		&sdk.StreamableClientTransport{Endpoint: srv.URL + "/mcp", HTTPClient: &http.Client{Transport: basicAuth{sid, token}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
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
	cmd := exec.Command(e2e.Binary(), "mcp")
	cmd.Env = []string{"TONEPAY_SERVER=" + srv.URL, "TONEPAY_ACCOUNT_SID=" + sid, "TONEPAY_AUTH_TOKEN=" + token}
	var stderr lockedBuffer
	cmd.Stderr = &stderr
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
	t.Cleanup(func() { stdin.Close(); cmd.Wait() }) // closing stdin ends it
	var received lockedBuffer
	cs, err := sdk.NewClient(&sdk.Implementation{Name: "test", Version: "1"}, nil).Connect(context.Background(),
		&sdk.IOTransport{Reader: io.NopCloser(io.TeeReader(stdout, &received)), Writer: stdin}, nil)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	defer cs.Close()

	start := mcpCall(t, cs, mcp.ToolStartPayment, map[string]any{"call_sid": call, "charge_amount": 12.5, "currency": "usd"})
	pk, _ := start["payment_sid"].(string)
	ref := map[string]any{"call_sid": call, "payment_sid": pk}
	steps := []struct{ field, keys, wantNext string }{
		{"payment-card-number", card + "#", "expiry date"},
		{"expiration-date", "1230#", "security code"},
		{"security-code", cvc + "#", "postal code"},
		{"postal-code", "94107#", "Everything is captured"},
	}
	for _, s := range steps {
		mcpCall(t, cs, mcp.ToolRequestField, map[string]any{"call_sid": call, "payment_sid": pk, "field": s.field})
		mcpCall(t, cs, mcp.ToolPressKeys, map[string]any{"call_sid": call, "keys": s.keys})
		if st := mcpCall(t, cs, mcp.ToolStatus, ref); !strings.Contains(st["next"].(string), s.wantNext) {
			t.Fatalf("after %s: %v, want %q", s.field, st, s.wantNext)
		}
	}
	mcpCall(t, cs, mcp.ToolComplete, ref)
	waitFor(t, 10*time.Second, "the payment to end", func() bool { return mcpCall(t, cs, mcp.ToolStatus, ref)["status"] == "ended" })
	if st := mcpCall(t, cs, mcp.ToolStatus, ref); st["result"] != "success" {
		t.Fatalf("end: %v", st)
	}

	// SIDs, session IDs and times removed: their hex and digits are no card data.
	strip := regexp.MustCompile(`[A-Z]{2}[0-9a-f]{32}|\d{4}-\d\d-\d\dT[\d:.]+Z?|"id":\d+|[0-9a-f]{32}`).ReplaceAllString
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
	send := func(method, body, session string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+"/mcp", strings.NewReader(body))
		req.SetBasicAuth(sid, token)
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
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	session := res.Header.Get("Mcp-Session-Id")
	res = send(http.MethodPost, `{"jsonrpc":"2.0","method":"notifications/initialized"}`, session)
	res.Body.Close()
	stream := send(http.MethodGet, "", session)
	defer stream.Body.Close()
	if stream.StatusCode != http.StatusOK {
		t.Fatalf("event stream: %d", stream.StatusCode)
	}
	start := time.Now()
	if code := srv.stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("exit code %d with an MCP stream open\n%s", code, srv.Stderr())
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("shutdown took %s: it waited for the MCP stream", d)
	}
}
