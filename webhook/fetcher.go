package webhook

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/tonepay/tonepay"
)

var _ tonepay.Fetcher = (*Fetcher)(nil)

// CallTimeout is Twilio's hard limit for the requests of a call: no override
// makes one last longer (connection overrides, tt=15000).
const CallTimeout = 15 * time.Second

// maxRedirects is how many 3xx answers a fetch follows, as Twilio's client
// does; one more is 11215.
const maxRedirects = 10

// Fetcher makes the call runtime's requests (tonepay.Fetcher) as Twilio
// makes them: signed with the account's auth token, through a client that
// connects only where the Policy allows (see NewClient), with the timeouts
// and retries of the URL's connection overrides (Overrides) within its own
// timeout, carrying and keeping the call's cookies, following redirects,
// with a bounded body and a fixed, short text for each failure. It logs
// nothing: the runtime reports failures as the call's errors, and its
// warnings on the call's timeline.
type Fetcher struct {
	accounts tonepay.Reader
	client   *http.Client
	timeout  time.Duration
	jars     jars
}

var _ tonepay.CallEnder = (*Fetcher)(nil)

// NewFetcher returns a Fetcher that signs with the auth tokens accounts
// holds, connects where p allows (nil: DefaultPolicy) and gives each Fetch,
// redirects and retries included, timeout (0 or more than CallTimeout:
// CallTimeout); a URL's tt override may shorten it, never lengthen it.
func NewFetcher(accounts tonepay.Reader, p *Policy, timeout time.Duration) *Fetcher {
	if timeout <= 0 || timeout > CallTimeout {
		timeout = CallTimeout
	}
	// The deadline is the context's, which bounds the body's read too.
	return &Fetcher{accounts: accounts, client: newClient(p, 0, 0), timeout: timeout}
}

// CallEnded implements tonepay.CallEnder: the call's cookies are forgotten.
func (f *Fetcher) CallEnded(accountSid, callSid string) { f.jars.drop(accountSid, callSid) }

// Fetch implements tonepay.Fetcher. Any HTTP answer is a response, whatever
// its status; a 3xx with a Location is followed (a GET of that URL without
// the call's parameters, as Twilio does) up to maxRedirects times. The
// request's URL's connection overrides hold for the whole fetch, redirects
// included; those ignored are the response's (or error's) Warnings, with
// the cookies not kept.
func (f *Fetcher) Fetch(ctx context.Context, fr *tonepay.FetchRequest) (*tonepay.FetchResponse, error) {
	o, warns := ParseOverrides(fr.URL)
	o = o.Within(f.timeout)
	res, err := f.fetch(ctx, fr, o, &warns)
	if err != nil {
		var fe *tonepay.FetchError
		if errors.As(err, &fe) {
			fe.Warnings = warns
		}
		return nil, err
	}
	res.Warnings = warns
	return res, nil
}

func (f *Fetcher) fetch(ctx context.Context, fr *tonepay.FetchRequest, o Overrides, warns *[]string) (*tonepay.FetchResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, o.Total)
	defer cancel()
	// Looked up on every fetch: an account's token can change, and the
	// application checks against the current one.
	acct, err := f.accounts.FindAccount(ctx, fr.AccountSid)
	if err != nil {
		return nil, &tonepay.FetchError{Code: tonepay.CodeHTTPRetrieval, Message: "signing account not found"}
	}
	var jar *callJar
	if fr.CallSid != "" {
		// The real clock, not an injected one: it must be net/http/cookiejar's,
		// which counts cookies' expiry on it.
		jar = f.jars.get(fr.AccountSid, fr.CallSid, time.Now())
	}
	method, target, params := fr.Method, fr.URL, fr.Params
	if method == "" {
		method = http.MethodPost
	}
	res, err := follow(target, func(target string, hop int) (*http.Response, error) {
		if hop > 0 { // a redirect is a GET, without the call's parameters
			method, params = http.MethodGet, nil
		}
		return f.once(ctx, o, jar, warns, method, target, params, acct.AuthToken)
	})
	if err != nil {
		return nil, err
	}
	return read(res)
}

// follow requests target through do, and each Location a 3xx answer names,
// up to maxRedirects (11215 beyond), and returns the first answer that is
// not a redirect. A Location is resolved against the URL as written: a
// relative one keeps its credentials (the same host), an absolute one has
// its own; a fragment (connection overrides) is never sent on.
func follow(target string, do func(target string, hop int) (*http.Response, error)) (*http.Response, error) {
	for hop := 0; ; hop++ {
		res, err := do(target, hop)
		if err != nil {
			return nil, err
		}
		loc := res.Header.Get("Location")
		if !redirect(res.StatusCode) || loc == "" {
			return res, nil
		}
		io.Copy(io.Discard, io.LimitReader(res.Body, maxDrain))
		res.Body.Close()
		if hop == maxRedirects {
			return nil, &tonepay.FetchError{Code: tonepay.CodeHTTPTooManyRedirs, Message: "too many redirects"}
		}
		base, err := url.Parse(target)
		if err != nil {
			return nil, &tonepay.FetchError{Code: tonepay.CodeHTTPRetrieval, Message: "bad URL"}
		}
		next, err := base.Parse(loc)
		if err != nil {
			return nil, &tonepay.FetchError{Code: tonepay.CodeHTTPRetrieval, Message: "bad redirect location"}
		}
		next.Fragment, next.RawFragment = "", ""
		target = next.String()
	}
}

// once makes one request, and repeats it as o allows: up to o.Retries more
// times, for the failures o.RetryOn names, while the fetch has time. By
// default (rc=1, rp=ct) that is once more when no connection was made:
// 11205 speaks of two attempts. Every attempt carries the same idempotency
// token, as Twilio's retries do: the receiver can tell a repeat. Each
// carries the call's cookies and keeps those its answer sets (a 3xx's too,
// as a browser does).
func (f *Fetcher) once(ctx context.Context, o Overrides, jar *callJar, warns *[]string,
	method, target string, params url.Values, token tonepay.Secret) (*http.Response, error) {
	idem := tonepay.RandomHex(16)
	for try := 0; ; try++ {
		a := startAttempt(ctx, o)
		req, err := newRequest(a.ctx, method, target, params, token, idem)
		if err != nil {
			a.end()
			if errors.Is(err, errBadMethod) {
				return nil, &tonepay.FetchError{Code: tonepay.CodeHTTPRetrieval, Message: errBadMethod.Error()}
			}
			return nil, &tonepay.FetchError{Code: tonepay.CodeHTTPRetrieval, Message: "bad URL"}
		}
		if jar != nil {
			for _, c := range jar.cookies(req.URL) {
				req.AddCookie(c)
			}
		}
		res, err := f.client.Do(req)
		if err == nil && jar != nil {
			*warns = append(*warns, jar.set(req.URL, res.Cookies(), time.Now())...)
		}
		if failed := failure(ctx, a, res, err); try < o.Retries && o.retries(failed) && ctx.Err() == nil {
			if res != nil {
				io.Copy(io.Discard, io.LimitReader(res.Body, maxDrain))
				res.Body.Close()
			}
			a.end()
			continue
		}
		if err != nil {
			defer a.end()
			return nil, fetchError(ctx, a, err)
		}
		bodyEnds(res, a)
		return res, nil
	}
}

func redirect(status int) bool {
	switch status {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

// read takes at most MaxTwimlBody bytes of res's body; more is 11750.
func read(res *http.Response) (*tonepay.FetchResponse, error) {
	defer res.Body.Close()
	tooLarge := &tonepay.FetchError{Code: tonepay.CodeBodyTooLarge, Message: fmt.Sprintf("response body over %d bytes", tonepay.MaxTwimlBody)}
	if res.ContentLength > tonepay.MaxTwimlBody {
		return nil, tooLarge
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, tonepay.MaxTwimlBody+1))
	if err != nil {
		return nil, fetchError(res.Request.Context(), nil, err)
	}
	if len(body) > tonepay.MaxTwimlBody {
		return nil, tooLarge
	}
	return &tonepay.FetchResponse{Status: res.StatusCode, ContentType: res.Header.Get("Content-Type"), Body: body}, nil
}

// fetchError maps a failed request to Twilio's code, with describe's fixed
// words (never an address the tenant did not write). a is the attempt that
// failed; nil when its body failed to read.
func fetchError(ctx context.Context, a *attempt, err error) *tonepay.FetchError {
	var refused *RefusedError
	msg := describe(err)
	switch {
	case errors.As(err, &refused):
		return &tonepay.FetchError{Code: tonepay.CodeHTTPConnection, Message: "destination refused by callback-networks"}
	case a != nil && a.readTimedOut() && ctx.Err() == nil:
		// Twilio's table gives timeouts 11200 (the 15 s limit's too).
		return &tonepay.FetchError{Code: tonepay.CodeHTTPRetrieval, Message: "read timed out (rt)"}
	case connectTimedOut(err) && ctx.Err() == nil:
		// 11205's page: the connection could not be made in time.
		return &tonepay.FetchError{Code: tonepay.CodeHTTPConnection, Message: "connection timed out"}
	case msg == "host not found":
		return &tonepay.FetchError{Code: tonepay.CodeHTTPBadHost, Message: msg}
	case msg == "connection refused", msg == "host unreachable":
		return &tonepay.FetchError{Code: tonepay.CodeHTTPConnection, Message: msg}
	case errors.Is(ctx.Err(), context.Canceled):
		return &tonepay.FetchError{Code: tonepay.CodeHTTPRetrieval, Message: "request cancelled"}
	}
	return &tonepay.FetchError{Code: tonepay.CodeHTTPRetrieval, Message: msg}
}
