package webhook

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/tonepay/tonepay"
)

// newRequest builds a request to a tenant's URL as Twilio makes it, for
// status callbacks and the call's fetches alike, so that both are signed by
// the same rule:
//   - POST: the form is the x-www-form-urlencoded body, and the signature
//     covers the URL and the form;
//   - GET: the form is appended to the URL's query (after any query already
//     there), and the signature covers that final URL and nothing else.
//
// The fragment is never sent (it holds Twilio's connection overrides), nor
// signed. Credentials in the URL are left for the client's guard, which
// sends them only after a 401 challenge; they are never signed.
func newRequest(ctx context.Context, method, rawURL string, form url.Values, token tonepay.Secret, idem string) (*http.Request, error) {
	if i := strings.IndexByte(rawURL, '#'); i >= 0 {
		rawURL = rawURL[:i]
	}
	var body *strings.Reader
	signed := form
	switch method {
	case http.MethodGet:
		if len(form) > 0 {
			sep := "?"
			if strings.Contains(rawURL, "?") {
				sep = "&"
				if strings.HasSuffix(rawURL, "?") || strings.HasSuffix(rawURL, "&") {
					sep = ""
				}
			}
			rawURL += sep + form.Encode()
		}
		signed = nil
	case http.MethodPost:
		body = strings.NewReader(form.Encode())
	default:
		return nil, errBadMethod
	}
	var req *http.Request
	var err error
	if body != nil {
		req, err = http.NewRequestWithContext(ctx, method, rawURL, body)
	} else {
		req, err = http.NewRequestWithContext(ctx, method, rawURL, nil)
	}
	if err != nil {
		return nil, err
	}
	if req.URL.Scheme != "http" && req.URL.Scheme != "https" || req.URL.Host == "" {
		return nil, errBadURL
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("X-Twilio-Signature", Sign(token, SignedURL(rawURL), signed))
	req.Header.Set("I-Twilio-Idempotency-Token", idem)
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set("Accept", "*/*")
	return req, nil
}

type requestError string

func (e requestError) Error() string { return string(e) }

const (
	errBadMethod = requestError("method is neither GET nor POST")
	errBadURL    = requestError("bad URL")
)

// callbackMethod is a Callback's method: "" is POST.
func callbackMethod(m string) string {
	if m == "" {
		return http.MethodPost
	}
	return strings.ToUpper(m)
}
