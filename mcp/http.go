package mcp

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strings"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/tonepay/tonepay"
)

// Handler serves MCP over streamable HTTP (/mcp on serve): every request
// carries the account's Basic auth (its SID and auth token, or an API key),
// checked by the Authenticator as the REST API checks it; 401 without.
// Each MCP session is bound to the account that opened it: its ID starts
// with the account's SID, and a request naming another account's session is
// refused (404, as an unknown session) before the SDK sees it.
func Handler(svc tonepay.Services) http.Handler {
	h := sdk.NewStreamableHTTPHandler(func(r *http.Request) *sdk.Server {
		acct, _ := r.Context().Value(accountKey{}).(*tonepay.Account)
		if acct == nil {
			return nil
		}
		return NewServer(svc, acct)
	}, nil)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		var acct *tonepay.Account
		if ok {
			if c, err := svc.Authenticate(r.Context(), user, pass); err == nil {
				acct, _ = svc.Authorize(r.Context(), c, c.Account.Sid, tonepay.AccessUse)
			}
		}
		if acct == nil {
			w.Header().Set("WWW-Authenticate", `Basic realm="tonepay"`)
			http.Error(w, "authenticate with the account's SID and auth token, or an API key", http.StatusUnauthorized)
			return
		}
		if id := r.Header.Get("Mcp-Session-Id"); id != "" && !strings.HasPrefix(id, acct.Sid+"-") {
			http.Error(w, "session not found", http.StatusNotFound)
			return
		}
		h.ServeHTTP(w, r.WithContext(withAccount(r.Context(), acct)))
	})
}

// sessionID is a new MCP session's ID for acct: its SID and 128 random bits.
func sessionID(acct *tonepay.Account) string {
	b := make([]byte, 16)
	rand.Read(b)
	return acct.Sid + "-" + hex.EncodeToString(b)
}
