package webhook

import (
	"context"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// SinkPath is tonepay's own discard endpoint for status callbacks: the
// console's payments post there, on tonepay's own listener, which the policy
// otherwise refuses.
const SinkPath = "/_tonepay/sink"

// connectTimeout is Twilio's default connect timeout for webhooks (ct=5000).
const connectTimeout = 5 * time.Second

// NewClient returns an HTTP client for requests to tenants' URLs (status
// callbacks; TwiML fetches later). It
//   - connects only where p allows (nil: DefaultPolicy), checking each
//     resolved address as it connects, and never through a proxy from the
//     environment, which would connect on its behalf;
//   - follows no redirect: a 3xx is the answer (following it would post
//     masked card data to a URL nobody configured);
//   - treats credentials in the URL as Twilio does: the request goes without
//     them, and is repeated with them (HTTP Basic) only if the receiver
//     answers 401 with a Basic WWW-Authenticate challenge; the repeat goes to
//     the same URL, so never to another host;
//   - lets a POST to exactly SinkPath, with no query and no credentials,
//     reach tonepay's own listeners, on connections of its own that carry
//     nothing else.
//
// timeout bounds each request, the challenge's repeat included (0: none).
func NewClient(p *Policy, timeout time.Duration) *http.Client {
	return newClient(p, timeout, 0)
}

func newClient(p *Policy, timeout time.Duration, idlePerHost int) *http.Client {
	if p == nil {
		p = DefaultPolicy()
	}
	if idlePerHost <= 0 {
		idlePerHost = 16
	}
	return &http.Client{
		Transport: &guard{main: newTransport(p, false, idlePerHost), sink: newTransport(p, true, 2)},
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

func newTransport(p *Policy, sink bool, idlePerHost int) *http.Transport {
	d := &net.Dialer{
		KeepAlive: 30 * time.Second,
		// Called with the resolved address, just before each connect: the
		// one place where DNS cannot answer differently than it was asked.
		Control: func(network, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return &RefusedError{Reason: "unparsable address"}
			}
			return p.check(ap, sink)
		},
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	// Each connection gets the connect timeout of the request it is dialled
	// for (an Overrides' ct), else Twilio's default.
	t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		ct := connectTimeout
		if v, ok := ctx.Value(connectKey{}).(time.Duration); ok && v > 0 {
			ct = v
		}
		ctx, cancel := context.WithTimeout(ctx, ct)
		defer cancel()
		return d.DialContext(ctx, network, addr)
	}
	t.MaxIdleConnsPerHost = idlePerHost
	return t
}

// guard is the client's RoundTripper: credentials and the sink's pool.
type guard struct {
	main, sink *http.Transport
}

func (g *guard) RoundTrip(req *http.Request) (*http.Response, error) {
	user := req.URL.User
	if user != nil {
		// http.Client has already turned the URL's userinfo into an
		// Authorization header: take it back off for the first request.
		r := req.Clone(req.Context())
		r.URL.User = nil
		if r.Header.Get("Authorization") == basicAuth(user) {
			r.Header.Del("Authorization")
		}
		req = r
	}
	t := g.main
	if user == nil && isSink(req) {
		// The sink's own pool: a connection to an own listener made for the
		// sink must never carry another request to that listener.
		t = g.sink
	}
	res, err := t.RoundTrip(req)
	if err != nil || user == nil || res.StatusCode != http.StatusUnauthorized || !basicChallenge(res.Header) {
		return res, err
	}
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		return res, nil // the body cannot be sent again: the 401 stands
	}
	again := req.Clone(req.Context())
	if req.GetBody != nil {
		if again.Body, err = req.GetBody(); err != nil {
			return res, nil
		}
	}
	io.Copy(io.Discard, io.LimitReader(res.Body, maxDrain))
	res.Body.Close()
	again.Header.Set("Authorization", basicAuth(user))
	return g.main.RoundTrip(again)
}

// CloseIdleConnections lets http.Client.CloseIdleConnections reach both pools.
func (g *guard) CloseIdleConnections() {
	g.main.CloseIdleConnections()
	g.sink.CloseIdleConnections()
}

// isSink reports whether req is a callback to tonepay's own sink: a POST to
// exactly SinkPath, nothing in the query, no credentials. Anything else to
// an own listener is refused, so that no other handler there (the API, pprof)
// can be reached.
func isSink(req *http.Request) bool {
	u := req.URL
	return req.Method == http.MethodPost && u.Path == SinkPath && u.RawPath == "" && u.RawQuery == "" && !u.ForceQuery &&
		u.User == nil && req.Header.Get("Authorization") == ""
}

func basicAuth(u *url.Userinfo) string {
	pw, _ := u.Password()
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(u.Username()+":"+pw))
}

// basicChallenge reports whether a WWW-Authenticate header offers Basic. One
// header may hold several challenges ("Digest realm=..., Basic realm=...").
func basicChallenge(h http.Header) bool {
	for _, v := range h.Values("WWW-Authenticate") {
		for part := range strings.SplitSeq(v, ",") {
			part = strings.TrimSpace(part)
			if len(part) >= 5 && strings.EqualFold(part[:5], "basic") && (len(part) == 5 || part[5] == ' ') {
				return true
			}
		}
	}
	return false
}
