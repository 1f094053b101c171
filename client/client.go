// Package client is a Go client of tonepay's own API, for programs that
// drive a tonepay server: the `tonepay call`, `demo` and `bench` commands,
// tests, and anything that plays the caller. It covers the Twilio-compatible
// routes an agent's software uses (Calls, Payments) and tonepay's extension
// under /_tonepay (the caller's keys, inbound calls, a call's timeline, the
// masked views of a payment and of its callbacks).
//
// An application written for Twilio needs none of this: the official Twilio
// SDKs work against tonepay unchanged. This client is for what Twilio has no
// API for (a simulated caller), and for tonepay's own tools, which should not
// each write their own HTTP.
//
// Every error answer of the server is an *Error carrying Twilio's code and
// message. A request that reaches no server returns net/http's error
// unchanged (errors.Is(err, syscall.ECONNREFUSED) holds for a refused
// connection), so that a command can say what that means to its user.
package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tonepay/tonepay"
)

// DefaultServer is where a server started with `tonepay serve` listens
// unless told otherwise.
const DefaultServer = "http://127.0.0.1:8080"

// maxBody bounds an answer read into memory: a full timeline page (1,000
// entries) is well under it.
const maxBody = 16 << 20

// Client sends requests to one tonepay server as one account, signed in with
// its SID and auth token. It is safe for concurrent use.
type Client struct {
	// HTTPClient sends the requests. New sets one with a five-minute
	// timeout: a press answers only once the TwiML its keys caused has run.
	HTTPClient *http.Client

	base    string
	account string
	token   tonepay.Secret
}

// Server returns the server's base URL from TONEPAY_SERVER, or DefaultServer.
func Server(getenv func(string) string) string {
	if s := getenv("TONEPAY_SERVER"); s != "" {
		return s
	}
	return DefaultServer
}

// FromEnv returns a client configured as tonepay's commands are: the server
// from TONEPAY_SERVER (default DefaultServer), the account from
// TONEPAY_ACCOUNT_SID and TONEPAY_AUTH_TOKEN.
func FromEnv(getenv func(string) string) (*Client, error) {
	return New(Server(getenv), getenv("TONEPAY_ACCOUNT_SID"), getenv("TONEPAY_AUTH_TOKEN"))
}

// ErrNoCredentials is New's error for an empty account SID or auth token.
var ErrNoCredentials = errors.New("set TONEPAY_ACCOUNT_SID and TONEPAY_AUTH_TOKEN to the account's credentials")

// New returns a client of the server at base (http or https, with a host;
// a trailing / is ignored) that signs in as the account with its auth token.
// It fails when base is not such a URL (the error quotes it, credentials
// removed), or with ErrNoCredentials when a credential is empty.
func New(base, accountSid, authToken string) (*Client, error) {
	if u, err := url.Parse(base); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%q is not a URL such as %s", tonepay.RedactURL(base), DefaultServer)
	}
	if accountSid == "" || authToken == "" {
		return nil, ErrNoCredentials
	}
	return &Client{HTTPClient: &http.Client{Timeout: 5 * time.Minute}, base: strings.TrimRight(base, "/"),
		account: accountSid, token: tonepay.NewSecret(authToken)}, nil
}

// BaseURL is the server's base URL, as given to New without a trailing /.
func (c *Client) BaseURL() string { return c.base }

// AccountSid is the account the client acts on.
func (c *Client) AccountSid() string { return c.account }

// Error is an error answer of the server, in Twilio's format.
type Error struct {
	Method, Path string // the request; Path with its query
	Status       int    // HTTP status
	Code         int    // Twilio's error code (20404, 21220, 64021, ...); 0 if the body had none
	Message      string // Twilio's message
	MoreInfo     string // Twilio's more_info link
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s %s: HTTP %d, error %d: %s", e.Method, e.Path, e.Status, e.Code, e.Message)
}

// ErrorCode is the Twilio code of err if it is (or wraps) an *Error, else 0.
func ErrorCode(err error) int {
	if e := (*Error)(nil); errors.As(err, &e) {
		return e.Code
	}
	return 0
}

// do sends a request: a form POST when form is not nil, else a GET; path is
// under the server's base and may carry a query. A 2xx answer is decoded
// into out when out is not nil.
func (c *Client) do(ctx context.Context, path string, form url.Values, out any) error {
	method, body := http.MethodGet, io.Reader(nil)
	if form != nil {
		method, body = http.MethodPost, strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.SetBasicAuth(c.account, c.token.Reveal())
	res, err := c.HTTPClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, maxBody))
	if err != nil {
		return err
	}
	if res.StatusCode >= 400 {
		var e struct {
			Code     int    `json:"code"`
			Message  string `json:"message"`
			MoreInfo string `json:"more_info"`
		}
		json.Unmarshal(b, &e) // a body that is not Twilio's leaves code 0
		return &Error{Method: method, Path: path, Status: res.StatusCode, Code: e.Code, Message: e.Message, MoreInfo: e.MoreInfo}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	return nil
}

// twilio is the path of a resource of the account under Twilio's API.
func (c *Client) twilio(path string) string {
	return "/2010-04-01/Accounts/" + url.PathEscape(c.account) + path
}

// ext is the path of a resource of the account under tonepay's extension.
func (c *Client) ext(path string) string {
	return "/_tonepay/Accounts/" + url.PathEscape(c.account) + path
}

// calls is the path of one call's resource or subresource, under either.
func calls(sid string) string { return "/Calls/" + url.PathEscape(sid) }

// Health checks that the server answers GET /_tonepay/health with 200.
func (c *Client) Health(ctx context.Context) error {
	return c.do(ctx, "/_tonepay/health", nil, nil)
}

// set adds name=value to f when value is not empty.
func set(f url.Values, name, value string) {
	if value != "" {
		f.Set(name, value)
	}
}

// merge adds every value of other to f.
func merge(f, other url.Values) {
	for k, vs := range other {
		for _, v := range vs {
			f.Add(k, v)
		}
	}
}
