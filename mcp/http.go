package mcp

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/tonepay/tonepay"
)

// Handler serves MCP over streamable HTTP with its own plain Basic check:
// every request carries the account's Basic auth (its SID and auth token,
// or an API key), checked by the Authenticator as the REST API checks it;
// 401 without. serve mounts Serve behind the API's checks instead, which
// add its limits.
func Handler(svc tonepay.Services, opt Options) http.Handler {
	serve := Serve(svc, opt)
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

// Options bound what an account holds open.
type Options struct {
	// MaxSessions is how many MCP sessions one account may have open at
	// once (DefaultMaxSessions when 0); an initialize beyond it is 429.
	MaxSessions int
}

// DefaultMaxSessions is Options.MaxSessions' default: agents open one
// session each, and a session holds memory until closed or idle.
const DefaultMaxSessions = 100

// Serve serves MCP over streamable HTTP for a caller already authenticated.
// Each MCP session is bound to the account that opened it: its ID starts
// with the account's SID, and a request naming another account's session is
// refused (404, as an unknown session) before the SDK sees it. An account
// has at most opt.MaxSessions open.
func Serve(svc tonepay.Services, opt Options) func(w http.ResponseWriter, r *http.Request, c *tonepay.Caller) {
	open := &openSessions{max: cmp.Or(opt.MaxSessions, DefaultMaxSessions), n: map[string]int{}}
	h := sdk.NewStreamableHTTPHandler(func(r *http.Request) *sdk.Server {
		acct, _ := r.Context().Value(accountKey{}).(*tonepay.Account)
		if acct == nil {
			return nil
		}
		ns, _ := r.Context().Value(newSessionKey{}).(*newSession)
		return newServer(svc, acct, func(srv *sdk.Server) {
			if ns != nil {
				ns.srv = srv
			}
		})
	}, &sdk.StreamableHTTPOptions{
		SessionTimeout:      IdleSession,
		MaxRequestBodyBytes: maxBody,
		// Kept for replay: a notification sent while the client's event
		// stream is not (yet, or for a moment no longer) connected would
		// otherwise be dropped, and an agent waiting on it would wait for
		// ever. Replayed when the stream connects (or resumes with
		// Last-Event-ID); a session's events go with it.
		EventStore: sdk.NewMemoryEventStore(nil),
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
		id := r.Header.Get("Mcp-Session-Id")
		if id != "" && !strings.HasPrefix(id, acct.Sid+"-") {
			http.Error(w, "session not found", http.StatusNotFound)
			return
		}
		ctx := withAccount(r.Context(), acct)
		if id == "" && r.Method == http.MethodPost && opens(w, r) {
			if !open.take(acct.Sid) {
				w.Header().Set("Retry-After", "60")
				http.Error(w, fmt.Sprintf("this account has %d MCP sessions open, the most it may: close one (DELETE /mcp with its Mcp-Session-Id), or wait for an idle one to end", open.max), http.StatusTooManyRequests)
				return
			}
			ns := &newSession{}
			h.ServeHTTP(w, r.WithContext(context.WithValue(ctx, newSessionKey{}, ns)))
			open.hold(acct.Sid, ns.srv)
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
		h.ServeHTTP(w, r.WithContext(ctx))
	}
}

// maxBody bounds a request's JSON: tool arguments are small.
const maxBody = 1 << 20

// opens reports whether r, a POST with no session, asks for one: an
// initialize (or what cannot be read as another method, to be safe). The
// SDK's clients first send server/discover, whose session the SDK closes
// at once: counted, it would hold a place for a moment and refuse the
// initialize that follows. r's body is read and put back.
func opens(w http.ResponseWriter, r *http.Request) bool {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	r.Body = io.NopCloser(bytes.NewReader(b))
	if err != nil {
		return true // the SDK refuses it, and the place is given back
	}
	var m struct {
		Method string `json:"method"`
	}
	return json.Unmarshal(b, &m) != nil || m.Method == "initialize"
}

// newSession learns, during a request with no session, the server the SDK
// gave a new session to (nil: it opened none).
type newSession struct{ srv *sdk.Server }

type newSessionKey struct{}

// openSessions counts each account's open MCP sessions.
type openSessions struct {
	max int
	mu  sync.Mutex
	n   map[string]int
}

// take reserves a session for account, false when it has max open.
func (o *openSessions) take(account string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.n[account] >= o.max {
		return false
	}
	o.n[account]++
	return true
}

// hold keeps the reservation while srv's session lasts (closed by its
// client, or idle past IdleSession), and gives it back at once when the
// request opened none.
func (o *openSessions) hold(account string, srv *sdk.Server) {
	if srv != nil {
		for ss := range srv.Sessions() {
			go func() {
				ss.Wait()
				o.release(account)
			}()
			return
		}
	}
	o.release(account)
}

func (o *openSessions) release(account string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.n[account]--; o.n[account] <= 0 {
		delete(o.n, account)
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
