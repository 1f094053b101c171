package webhook

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tonepay/tonepay"
)

// Overrides are Twilio's webhook connection overrides: a URL's fragment
// such as #ct=1000&rt=3000&tt=10000&rc=2&rp=5xx,ct. Twilio neither sends nor
// signs the fragment (newRequest cuts it), and reads it for the request's
// timeouts and retries. They are parsed here only (ParseOverrides), for the
// call's fetches (Fetcher) and status callbacks (Dispatcher) alike.
//
// tonepay honours them within its own limits: the whole of a call's fetch,
// retries and redirects included, ends within the Fetcher's timeout (15 s,
// Twilio's hard limit for call requests, which "beats any override"), and a
// status callback's attempt within its Client's timeout. A callback's
// retries are the outbox's (every failure is retried with backoff until it
// is delivered or gives up), so rc and rp do not apply to callbacks.
type Overrides struct {
	Connect time.Duration // ct: to establish the TCP connection, each attempt
	Read    time.Duration // rt: from the request written to the answer's first byte, each attempt (0: only Total)
	Total   time.Duration // tt: every attempt together
	Retries int           // rc: attempts after the first
	RetryOn RetryOn       // rp: which failures are retried
}

// RetryOn is a set of the failures an attempt may be retried for (rp).
type RetryOn uint8

// The failures rp names. Append only.
const (
	RetryConnect RetryOn = 1 << iota // ct: no connection (refused, connect timeout, unreachable)
	RetryRead                        // rt: connected, but no answer (read timeout, connection closed)
	Retry4xx                         // 4xx: an answer with a 4xx status
	Retry5xx                         // 5xx: an answer with a 5xx status
	RetryAll     = RetryConnect | RetryRead | Retry4xx | Retry5xx
)

// Twilio's documented defaults and ranges (DOC-OVR), in milliseconds.
const (
	defaultConnectMS = 5000
	defaultReadMS    = 15000
	defaultTotalMS   = 15000
	minTimeoutMS     = 100
	maxConnectMS     = 10000
	maxReadMS        = 15000
	maxRetries       = 5
)

// DefaultOverrides are Twilio's defaults: one retry when the connection
// cannot be made (11205 speaks of two connection attempts).
func DefaultOverrides() Overrides {
	return Overrides{Connect: defaultConnectMS * time.Millisecond, Read: defaultReadMS * time.Millisecond,
		Total: defaultTotalMS * time.Millisecond, Retries: 1, RetryOn: RetryConnect}
}

// ParseOverrides returns the overrides in rawURL's fragment, over
// DefaultOverrides, and a warning for each pair it ignored. A pair is
// ignored when its key is unknown or its value is not one Twilio documents:
// ct 100-10000 and rt 100-15000 (ms), tt 100 or more (ms; tonepay caps it,
// see Overrides), rc 0-5, rp a comma-separated list of 4xx, 5xx, ct, rt, all.
// e (the egress edge) and sni are accepted and ignored: tonepay has one
// egress, and Go's client always sends SNI. A URL without a fragment has
// the defaults and no warnings.
func ParseOverrides(rawURL string) (Overrides, []string) {
	o := DefaultOverrides()
	_, frag, ok := strings.Cut(rawURL, "#")
	if !ok || frag == "" {
		return o, nil
	}
	var warns []string
	for pair := range strings.SplitSeq(frag, "&") {
		if pair == "" {
			continue
		}
		key, raw, _ := strings.Cut(pair, "=")
		val, err := url.QueryUnescape(raw)
		if err != nil {
			val = raw
		}
		if err := o.set(key, val); err != nil {
			warns = append(warns, fmt.Sprintf("connection override %q ignored: %v", tonepay.Clip(pair, 40), err))
		}
	}
	return o, warns
}

func (o *Overrides) set(key, val string) error {
	// ms reads a timeout in milliseconds, from lo to hi (0: no most).
	ms := func(d *time.Duration, lo, hi int) error {
		n, err := strconv.Atoi(val)
		switch {
		case (err != nil || n < lo) && hi == 0:
			return fmt.Errorf("not a whole number of milliseconds from %d", lo)
		case err != nil || n < lo || hi > 0 && n > hi:
			return fmt.Errorf("not a whole number of milliseconds from %d to %d", lo, hi)
		}
		*d = time.Duration(n) * time.Millisecond
		return nil
	}
	switch key {
	case "ct":
		return ms(&o.Connect, minTimeoutMS, maxConnectMS)
	case "rt":
		return ms(&o.Read, minTimeoutMS, maxReadMS)
	case "tt":
		return ms(&o.Total, minTimeoutMS, 0)
	case "rc":
		n, e := strconv.Atoi(val)
		if e != nil || n < 0 || n > maxRetries {
			return fmt.Errorf("not a retry count from 0 to %d", maxRetries)
		}
		o.Retries = n
	case "rp":
		var on RetryOn
		for word := range strings.SplitSeq(val, ",") {
			switch strings.TrimSpace(word) {
			case "ct":
				on |= RetryConnect
			case "rt":
				on |= RetryRead
			case "4xx":
				on |= Retry4xx
			case "5xx":
				on |= Retry5xx
			case "all":
				on |= RetryAll
			default:
				return errors.New("not a list of 4xx, 5xx, ct, rt, all")
			}
		}
		o.RetryOn = on
	case "e", "sni":
		// Accepted: one egress here, and Go's TLS client always sends SNI.
	default:
		return errors.New("unknown key")
	}
	return nil
}

// Within returns o with every timeout at most limit (tonepay's own limit
// for the request: a fetch's 15 s, a callback Client's timeout; 0: none).
func (o Overrides) Within(limit time.Duration) Overrides {
	if limit > 0 {
		o.Total = min(o.Total, limit)
	}
	o.Connect = min(o.Connect, o.Total)
	if o.Read >= o.Total {
		o.Read = 0 // the total ends the wait first: no read timeout of its own
	}
	return o
}

// retries reports whether an attempt that failed with f may be repeated.
func (o Overrides) retries(f RetryOn) bool { return f != 0 && o.RetryOn&f != 0 }

// connectKey carries an attempt's connect timeout to the dialer (see
// newTransport). A context value survives where its deadline would not:
// the Transport dials on a context detached from the request's cancellation.
type connectKey struct{}

// errReadTimeout is the cause of an attempt cancelled for its read timeout.
var errReadTimeout = errors.New("read timed out")

// attempt is one request under Overrides: its context carries the connect
// timeout, and the read timeout is armed when the request has been written
// and stopped at the answer's first byte (httptrace), cancelling the
// attempt with errReadTimeout. End it once the answer's body is read.
type attempt struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	read   time.Duration
	mu     sync.Mutex
	timer  *time.Timer
	ended  bool
}

func startAttempt(ctx context.Context, o Overrides) *attempt {
	a := &attempt{read: o.Read}
	ctx = context.WithValue(ctx, connectKey{}, o.Connect)
	ctx, a.cancel = context.WithCancelCause(ctx)
	a.ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		// Again for a 401 challenge's repeat: each request gets its own rt.
		WroteRequest:         func(httptrace.WroteRequestInfo) { a.arm() },
		GotFirstResponseByte: a.stop,
	})
	return a
}

func (a *attempt) arm() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.ended || a.read <= 0 {
		return
	}
	if a.timer != nil {
		a.timer.Stop()
	}
	a.timer = time.AfterFunc(a.read, func() { a.cancel(errReadTimeout) })
}

func (a *attempt) stop() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.timer != nil {
		a.timer.Stop()
	}
}

// end releases the attempt; its context is done afterwards.
func (a *attempt) end() {
	a.mu.Lock()
	a.ended = true
	a.mu.Unlock()
	a.stop()
	a.cancel(nil)
}

// readTimedOut reports whether the attempt was cancelled for rt.
func (a *attempt) readTimedOut() bool { return errors.Is(context.Cause(a.ctx), errReadTimeout) }

// bodyEnds makes closing res's body end a: the body is read on the
// attempt's context, so the attempt lasts until then.
func bodyEnds(res *http.Response, a *attempt) {
	res.Body = &closer{ReadCloser: res.Body, a: a}
}

type closer struct {
	io.ReadCloser
	a *attempt
}

func (c *closer) Close() error {
	err := c.ReadCloser.Close()
	c.a.end()
	return err
}

// failure says which of rp's failures an attempt met: 0 for an answer below
// 400, and for failures no retry can mend or that leave no time for one:
// the destination refused by the Policy, a host name that does not resolve,
// a certificate not accepted, ctx (the whole request's) done.
func failure(ctx context.Context, a *attempt, res *http.Response, err error) RetryOn {
	if err == nil {
		switch {
		case res.StatusCode >= 500:
			return Retry5xx
		case res.StatusCode >= 400:
			return Retry4xx
		}
		return 0
	}
	var refused *RefusedError
	var dns *net.DNSError
	var cert *tls.CertificateVerificationError
	var op *net.OpError
	switch {
	case ctx.Err() != nil:
		return 0
	case a.readTimedOut():
		return RetryRead
	case errors.As(err, &refused), errors.As(err, &dns), errors.As(err, &cert):
		return 0
	case errors.As(err, &op) && op.Op == "dial":
		return RetryConnect
	}
	return RetryRead // connected, and no answer came: reset, closed
}

// connectTimedOut reports a connection not made within its connect timeout.
func connectTimedOut(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial" && op.Timeout()
}
