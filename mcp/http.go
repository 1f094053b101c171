package mcp

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strings"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/tonepay/tonepay"
)

// Handler serves MCP over streamable HTTP with its own plain Basic check:
// every request carries the account's Basic auth (its SID and auth token,
// or an API key), checked by the Authenticator as the REST API checks it;
// 401 without. serve mounts Serve behind the API's checks instead, which
// add its limits.
func Handler(svc tonepay.Services) http.Handler {
	serve := Serve(svc)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		if ok {
			if c, err := svc.Authenticate(r.Context(), user, pass); err == nil {
				serve(w, r, c)
				return
			}
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="tonepay"`)
		http.Error(w, "authenticate with the account's SID and auth token, or an API key", http.StatusUnauthorized)
	})
}

// Serve serves MCP over streamable HTTP for a caller already authenticated.
// Each MCP session is bound to the account that opened it: its ID starts
// with the account's SID, and a request naming another account's session is
// refused (404, as an unknown session) before the SDK sees it.
func Serve(svc tonepay.Services) func(w http.ResponseWriter, r *http.Request, c *tonepay.Caller) {
	h := sdk.NewStreamableHTTPHandler(func(r *http.Request) *sdk.Server {
		acct, _ := r.Context().Value(accountKey{}).(*tonepay.Account)
		if acct == nil {
			return nil
		}
		return NewServer(svc, acct)
	}, &sdk.StreamableHTTPOptions{
		SessionTimeout: IdleSession,
		// The SDK refuses a loopback request whose Host is not loopback
		// (DNS rebinding, against servers that ask no credentials). Every
		// request here is authenticated, and tonepay behind a TLS proxy on
		// the same host gets exactly such requests (Host: the public name).
		DisableLocalhostProtection: true,
	})
	return func(w http.ResponseWriter, r *http.Request, c *tonepay.Caller) {
		acct, err := svc.Authorize(r.Context(), c, c.Account.Sid, tonepay.AccessUse)
		if err != nil {
			http.Error(w, "these credentials may not use the account", http.StatusForbidden)
			return
		}
		if id := r.Header.Get("Mcp-Session-Id"); id != "" && !strings.HasPrefix(id, acct.Sid+"-") {
			http.Error(w, "session not found", http.StatusNotFound)
			return
		}
		if r.Method == http.MethodGet {
			// The stream of the server's messages (resource notifications)
			// lasts as long as the agent: the server's read and write
			// timeouts are for requests. The guard's re-checks of the
			// credentials and the server's shutdown bound it instead.
			rc := http.NewResponseController(w)
			rc.SetReadDeadline(time.Time{})
			rc.SetWriteDeadline(time.Time{})
		}
		h.ServeHTTP(w, r.WithContext(withAccount(r.Context(), acct)))
	}
}

// IdleSession is how long an MCP session lives without a request from its
// client; then it is closed (its subscriptions with it), and the client
// initializes a new one.
const IdleSession = 2 * time.Hour

// sessionID is a new MCP session's ID for acct: its SID and 128 random bits.
func sessionID(acct *tonepay.Account) string {
	b := make([]byte, 16)
	rand.Read(b)
	return acct.Sid + "-" + hex.EncodeToString(b)
}
