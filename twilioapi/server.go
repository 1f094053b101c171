// Package twilioapi is the Twilio wire format: routes, HTTP Basic auth's
// decoding and its failed-authentication limit, form decoding, SIDs in
// paths, RFC 2822 dates, Twilio's error JSON and paging, idempotent answers'
// keys, and server-sent events. It parses a request, calls a domain service
// (Services: who is asking, every read and every write) and encodes the
// answer: no rule of the domain lives here, and no store is reached.
package twilioapi

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/tonepay/tonepay"
)

// Options are the server's settings beyond its dependencies.
type Options struct {
	Now       func() time.Time // injected clock (rate limits); default time.Now
	RateLimit float64          // requests per second per account; 0 means no limit
	RateBurst int              // bucket size; default max(1, RateLimit)
	// AuthFailLimit is how many failed authentications (wrong token, secret
	// or SID) a client address may make per minute, and at once; past it
	// every request from there is 429 before its credentials are checked, so
	// that guessing is bounded. 0 means DefaultAuthFailLimit; negative, none.
	AuthFailLimit int
	// StreamRecheck is how often an event stream checks again that its
	// caller's credentials are still good (a key deleted, a token rotated,
	// an account suspended end it); default 5 s.
	StreamRecheck time.Duration
	// Closing, when closed, ends every event stream: the server is shutting
	// down. http.Server.Shutdown waits for streams, which never end by
	// themselves, so close it from Server.RegisterOnShutdown.
	Closing <-chan struct{}
}

// DefaultAuthFailLimit is Options.AuthFailLimit's default: enough for a
// person mistyping or a client retrying with an old token, far too few to
// guess a 128-bit secret.
const DefaultAuthFailLimit = 20

// Services are the domain operations behind the API: who is asking, every
// read of an account's resources, every write, and every rule that needs
// the store or the connectors. A tonepay.Services holding the accounts,
// calls and payments services implements them all.
type Services interface {
	tonepay.Authenticator
	tonepay.AccountService
	tonepay.APIKeyService
	tonepay.CallService
	tonepay.NumberService
	tonepay.SessionService
}

// server holds what the handlers share.
type server struct {
	log       *slog.Logger
	svc       Services
	now       func() time.Time
	limiter   *limiter // per account
	authFails *limiter // per client address
	recheck   time.Duration
	closing   <-chan struct{}
}

// Server is the HTTP handler of the Twilio-compatible API.
type Server struct {
	http.Handler
	s *server
}

// Guard serves another door of the same accounts (MCP at /mcp) behind the
// API's own checks, sharing their budgets: Basic auth within the
// failed-authentication limit, then the per-account rate limit; next gets
// the caller. Refusals are Twilio's error JSON (401 with its challenge, 429
// with Retry-After). A request held open (MCP's event stream) is checked
// again every StreamRecheck, as the console's event stream is: once its
// credentials no longer reach the account (a key deleted, a token rotated,
// an account suspended), its context is canceled and it ends.
func (a *Server) Guard(next func(w http.ResponseWriter, r *http.Request, c *tonepay.Caller)) http.Handler {
	s := a.s
	return s.authed(func(w http.ResponseWriter, r *http.Request, c *tonepay.Caller) error {
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		r = r.WithContext(ctx)
		go func() {
			t := time.NewTicker(s.recheck)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					if err := s.stillAuthorized(r, c.Account.Sid); err != nil {
						if ctx.Err() == nil {
							s.log.Info("a held request ended: its credentials no longer reach the account", "path", r.URL.Path, "account", c.Account.Sid, "code", tonepay.ErrorCode(err))
						}
						cancel()
						return
					}
				}
			}
		}()
		next(w, r, c)
		return nil
	})
}

// NewServer returns the HTTP handler of the Twilio-compatible API.
func NewServer(log *slog.Logger, svc Services, opt Options) *Server {
	s := &server{
		log:     log,
		svc:     svc,
		now:     opt.Now,
		recheck: opt.StreamRecheck,
		closing: opt.Closing,
	}
	if s.recheck <= 0 {
		s.recheck = 5 * time.Second
	}
	if s.now == nil {
		s.now = time.Now
	}
	if opt.RateLimit > 0 {
		s.limiter = newLimiter(opt.RateLimit, opt.RateBurst, s.now)
	}
	if n := cmp.Or(opt.AuthFailLimit, DefaultAuthFailLimit); n > 0 {
		s.authFails = newLimiter(float64(n)/60, n, s.now)
	}
	mux := http.NewServeMux()
	s.routes(mux)
	return &Server{Handler: s.twilioErrors(mux), s: s}
}

// apiFunc is a handler that returns its error instead of writing it, so that
// every error goes through writeError.
type apiFunc func(w http.ResponseWriter, r *http.Request) error

func (s *server) api(f apiFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := f(w, r); err != nil {
			writeError(w, r, s.log, err)
		}
	})
}

// accountFunc is a handler under /Accounts/{AccountSid}/: it gets the account
// in the path, already authorized for the caller.
type accountFunc func(w http.ResponseWriter, r *http.Request, acct *tonepay.Account) error

// authed authenticates and rate-limits a request.
func (s *server) authed(f func(w http.ResponseWriter, r *http.Request, c *tonepay.Caller) error) http.Handler {
	return s.api(func(w http.ResponseWriter, r *http.Request) error {
		c, err := s.limitedAuthenticate(r)
		if err != nil {
			return err
		}
		if s.limiter != nil {
			if ok, wait := s.limiter.take(c.Account.Sid); !ok {
				return tooMany(wait, "Too many requests for account %s", c.Account.Sid)
			}
		}
		return f(w, r, c)
	})
}

// limitedAuthenticate authenticates a request within its client address's
// failed-authentication limit: an address whose failures have spent its
// bucket is refused before its credentials are checked, and only a failure
// takes a token. Good credentials cost nothing, however many requests an
// address (a call centre behind one NAT) has under way at once; guesses
// already running when the bucket empties are bounded by the concurrency.
func (s *server) limitedAuthenticate(r *http.Request) (*tonepay.Caller, error) {
	if s.authFails == nil {
		return s.authenticate(r)
	}
	addr := clientAddr(r.RemoteAddr)
	if spent, wait := s.authFails.spent(addr); spent {
		return nil, tooMany(wait, "Too many failed authentications from this address; try again in %s seconds", retryAfter(wait))
	}
	c, err := s.authenticate(r)
	if errors.Is(err, tonepay.ErrBadCredentials) {
		s.authFails.take(addr)
	}
	return c, err
}

// inAccount serves a route under /Accounts/{AccountSid}/ for any credentials.
func (s *server) inAccount(f accountFunc) http.Handler { return s.scoped(tonepay.AccessUse, f) }

// accountOnly serves a route that manages the account (Accounts, Keys):
// API keys may not (tonepay.AccessManage).
func (s *server) accountOnly(f accountFunc) http.Handler { return s.scoped(tonepay.AccessManage, f) }

func (s *server) scoped(access tonepay.Access, f accountFunc) http.Handler {
	return s.authed(func(w http.ResponseWriter, r *http.Request, c *tonepay.Caller) error {
		acct, err := s.svc.Authorize(r.Context(), c, pathSid(r, "AccountSid"), access)
		if err != nil {
			return err
		}
		return f(w, r, acct)
	})
}

// pathSid returns a path segment with its optional ".json" suffix removed.
// ServeMux wildcards must be whole segments, so "{Sid}.json" cannot be a pattern.
func pathSid(r *http.Request, name string) string {
	v, _ := strings.CutSuffix(r.PathValue(name), ".json")
	return v
}

// twilioErrors replaces ServeMux's plain-text 404 and 405 answers with
// Twilio's error JSON, which every client expects on every 4xx. The request
// is routed once: ServeMux writes its own answers to a fallback writer, and
// every route hands its handler the real one (see routes).
func (s *server) twilioErrors(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !isText(r.URL.Path) {
			// No resource has such a name, and looking one up would reach a
			// store that cannot hold it (see storable).
			writeError(w, r, s.log, errNotFound(r))
			return
		}
		mux.ServeHTTP(&fallback{w: w, r: r, log: s.log, header: http.Header{}}, r)
	})
}

// fallback receives what ServeMux answers itself, when no route takes a
// request: 405 for a path with other methods (its Allow header is kept),
// and 404, or a redirect to a cleaned path, for anything else, which
// becomes a 404 as no API path needs cleaning.
type fallback struct {
	w       http.ResponseWriter
	r       *http.Request
	log     *slog.Logger
	header  http.Header // ServeMux's, apart from the client's: only Allow is kept
	written bool
}

func (f *fallback) Header() http.Header         { return f.header }
func (f *fallback) Write(b []byte) (int, error) { f.WriteHeader(http.StatusOK); return len(b), nil }

func (f *fallback) WriteHeader(status int) {
	if f.written {
		return
	}
	f.written = true
	if status == http.StatusMethodNotAllowed {
		f.w.Header().Set("Allow", f.header.Get("Allow"))
		writeError(f.w, f.r, f.log, tonepay.Errorf(tonepay.CodeMethodNotAllowed, "Method %s not allowed on %s", f.r.Method, f.r.URL.Path))
		return
	}
	writeError(f.w, f.r, f.log, errNotFound(f.r))
}

// routed gives a route's handler the real writer, not the fallback.
func routed(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f, ok := w.(*fallback); ok {
			w = f.w
		}
		h.ServeHTTP(w, r)
	})
}
