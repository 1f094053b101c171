package webhook

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"syscall"
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
// connects only where the Policy allows (see NewClient), following
// redirects, with a bounded body and a fixed, short text for each failure.
// It logs nothing: the runtime reports failures as the call's errors.
type Fetcher struct {
	accounts tonepay.Reader
	client   *http.Client
	timeout  time.Duration
}

// NewFetcher returns a Fetcher that signs with the auth tokens accounts
// holds, connects where p allows (nil: DefaultPolicy) and gives each Fetch,
// redirects and the retry included, timeout (0 or more than CallTimeout:
// CallTimeout).
func NewFetcher(accounts tonepay.Reader, p *Policy, timeout time.Duration) *Fetcher {
	if timeout <= 0 || timeout > CallTimeout {
		timeout = CallTimeout
	}
	// The deadline is the context's, which bounds the body's read too.
	return &Fetcher{accounts: accounts, client: newClient(p, 0, 0), timeout: timeout}
}

// Fetch implements tonepay.Fetcher. Any HTTP answer is a response, whatever
// its status; a 3xx with a Location is followed (a GET of that URL without
// the call's parameters, as Twilio does) up to maxRedirects times.
func (f *Fetcher) Fetch(ctx context.Context, fr *tonepay.FetchRequest) (*tonepay.FetchResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	// Looked up on every fetch: an account's token can change, and the
	// application checks against the current one.
	acct, err := f.accounts.FindAccount(ctx, fr.AccountSid)
	if err != nil {
		return nil, &tonepay.FetchError{Code: tonepay.CodeHTTPRetrieval, Message: "signing account not found"}
	}
	method, target, params := fr.Method, fr.URL, fr.Params
	if method == "" {
		method = http.MethodPost
	}
	for hops := 0; ; hops++ {
		res, err := f.once(ctx, method, target, params, acct.AuthToken)
		if err != nil {
			return nil, err
		}
		loc := res.Header.Get("Location")
		if !redirect(res.StatusCode) || loc == "" {
			return read(res)
		}
		io.Copy(io.Discard, io.LimitReader(res.Body, maxDrain))
		res.Body.Close()
		if hops == maxRedirects {
			return nil, &tonepay.FetchError{Code: tonepay.CodeHTTPTooManyRedirs, Message: "too many redirects"}
		}
		// Resolved against the URL as written: a relative Location keeps
		// its credentials (the same host), an absolute one has its own.
		base, err := url.Parse(target)
		if err != nil {
			return nil, &tonepay.FetchError{Code: tonepay.CodeHTTPRetrieval, Message: "bad URL"}
		}
		next, err := base.Parse(loc)
		if err != nil {
			return nil, &tonepay.FetchError{Code: tonepay.CodeHTTPRetrieval, Message: "bad redirect location"}
		}
		next.Fragment, next.RawFragment = "", ""
		method, target, params = http.MethodGet, next.String(), nil
	}
}

// once makes one request, and makes it once more if the connection was
// refused (Twilio's default rc=1: 11205 speaks of two attempts). The repeat
// carries the same idempotency token: the first reached nobody.
func (f *Fetcher) once(ctx context.Context, method, target string, params url.Values, token tonepay.Secret) (*http.Response, error) {
	idem := tonepay.RandomHex(16)
	for try := 0; ; try++ {
		req, err := newRequest(ctx, method, target, params, token, idem)
		if errors.Is(err, errBadMethod) {
			return nil, &tonepay.FetchError{Code: tonepay.CodeHTTPRetrieval, Message: errBadMethod.Error()}
		} else if err != nil {
			return nil, &tonepay.FetchError{Code: tonepay.CodeHTTPRetrieval, Message: "bad URL"}
		}
		res, err := f.client.Do(req)
		if err == nil {
			return res, nil
		}
		if try == 0 && errors.Is(err, syscall.ECONNREFUSED) && ctx.Err() == nil {
			continue
		}
		return nil, fetchError(ctx, err)
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
		return nil, fetchError(res.Request.Context(), err)
	}
	if len(body) > tonepay.MaxTwimlBody {
		return nil, tooLarge
	}
	return &tonepay.FetchResponse{Status: res.StatusCode, ContentType: res.Header.Get("Content-Type"), Body: body}, nil
}

// fetchError maps a failed request to Twilio's code, with describe's fixed
// words (never an address the tenant did not write).
func fetchError(ctx context.Context, err error) *tonepay.FetchError {
	var refused *RefusedError
	msg := describe(err)
	switch {
	case errors.As(err, &refused):
		return &tonepay.FetchError{Code: tonepay.CodeHTTPConnection, Message: "destination refused by callback-networks"}
	case msg == "host not found":
		return &tonepay.FetchError{Code: tonepay.CodeHTTPBadHost, Message: msg}
	case msg == "connection refused", msg == "host unreachable":
		return &tonepay.FetchError{Code: tonepay.CodeHTTPConnection, Message: msg}
	case errors.Is(ctx.Err(), context.Canceled):
		return &tonepay.FetchError{Code: tonepay.CodeHTTPRetrieval, Message: "request cancelled"}
	}
	return &tonepay.FetchError{Code: tonepay.CodeHTTPRetrieval, Message: msg}
}
