package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	twclient "github.com/twilio/twilio-go/client"
	api "github.com/twilio/twilio-go/rest/api/v2010"
)

// Spec validates response bodies against Twilio's OpenAPI description of
// API v2010 (vendored in cmd/tonepay/testdata, MIT licence).
type Spec struct {
	router routers.Router
}

var (
	specOnce sync.Once
	specVal  *Spec
	specErr  error
)

// SpecFile is the path of Twilio's OpenAPI description in the source tree.
func SpecFile() string {
	_, here, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(here), "..", "..", "cmd", "tonepay", "testdata", "twilio-oai", "twilio_api_v2010.json")
}

// LoadSpec reads the spec once per test binary.
func LoadSpec(t testing.TB) *Spec {
	t.Helper()
	specOnce.Do(func() {
		openapi3.DefineStringFormatValidator("date-time-rfc-2822", openapi3.NewCallbackValidator(func(s string) error {
			_, err := time.Parse(time.RFC1123Z, s)
			return err
		}))
		doc, err := openapi3.NewLoader().LoadFromFile(SpecFile())
		if err != nil {
			specErr = err
			return
		}
		// gorillamux matches {Sid}.json segments; it also matches the host, which is
		// api.twilio.com in the requests twilio-go builds, as the spec says.
		r, err := gorillamux.NewRouter(doc)
		specVal, specErr = &Spec{router: r}, err
	})
	if specErr != nil {
		t.Fatal(specErr)
	}
	return specVal
}

// Check validates a response to req, which must carry twilio-go's original
// https://api.twilio.com URL (the spec's server).
func (s *Spec) Check(req *http.Request, res *http.Response, body []byte) error {
	route, params, err := s.router.FindRoute(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", req.Method, req.URL, err)
	}
	opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, IncludeResponseStatus: true}
	return openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts},
		Status:                 res.StatusCode,
		Header:                 res.Header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                opts,
	})
}

// Rewrite sends what twilio-go builds for https://api.twilio.com to the
// test server instead, and validates every 2xx answer against the spec
// (when it has one).
type Rewrite struct {
	t       testing.TB
	target  *url.URL
	spec    *Spec
	mu      sync.Mutex
	checked int
}

// RoundTrip implements http.RoundTripper.
func (rw *Rewrite) RoundTrip(r *http.Request) (*http.Response, error) {
	orig := r.Clone(r.Context())
	r = r.Clone(r.Context())
	r.URL.Scheme, r.URL.Host, r.Host = rw.target.Scheme, rw.target.Host, rw.target.Host
	res, err := http.DefaultTransport.RoundTrip(r)
	if err != nil || res.StatusCode < 200 || res.StatusCode > 299 || rw.spec == nil {
		return res, err
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return nil, err
	}
	res.Body = io.NopCloser(bytes.NewReader(body))
	if res.StatusCode != http.StatusNoContent {
		if err := rw.spec.Check(orig, res, body); err != nil {
			rw.t.Errorf("response does not match Twilio's OpenAPI spec: %v\nbody: %s", err, body)
		}
	}
	rw.mu.Lock()
	rw.checked++
	rw.mu.Unlock()
	return res, nil
}

// Checked is how many 2xx answers were checked against the spec.
func (rw *Rewrite) Checked() int { rw.mu.Lock(); defer rw.mu.Unlock(); return rw.checked }

// NewTwilio returns twilio-go's v2010 API service pointed at baseURL,
// signing in as user/pass (an account or an API key) on accountSid; with a
// spec, every 2xx answer is checked against it.
func NewTwilio(t testing.TB, baseURL, user, pass, accountSid string, sp *Spec) (*api.ApiService, *Rewrite) {
	u, err := url.Parse(baseURL)
	if err != nil {
		t.Fatal(err)
	}
	rw := &Rewrite{t: t, target: u, spec: sp}
	c := &twclient.Client{
		Credentials: twclient.NewCredentials(user, pass),
		HTTPClient: &http.Client{
			Transport:     rw,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	c.SetAccountSid(accountSid)
	return api.NewApiServiceWithClient(c), rw
}
