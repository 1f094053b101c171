package tonepay

import (
	"context"
	"net/url"
)

// Fetcher makes the call runtime's requests to the application: a call's
// TwiML documents, action URLs and redirects. It is the runtime's only way
// out: the adapter decides destinations (the callback policy), signing
// (X-Twilio-Signature with the account's auth token), timeouts and retries
// (Twilio's connection overrides, #ct=...&rt=..., within its own limits),
// redirects, body limits and the call's cookies, and reports every failure
// as a *FetchError with Twilio's code.
type Fetcher interface {
	Fetch(ctx context.Context, req *FetchRequest) (*FetchResponse, error)
}

// CallEnder is implemented by a Fetcher that keeps state for each call (its
// cookies, as Twilio's client keeps them for the length of a call). The
// runner tells it once a call has ended and made its last request; a
// Fetcher must not rely on it alone (another process may end the call), so
// it also forgets a call unused for long.
type CallEnder interface {
	CallEnded(accountSid, callSid string)
}

// FetchRequest is one request for a call: Params go in the body of a POST,
// or are appended to the query of a GET (keeping the query already there).
type FetchRequest struct {
	AccountSid string // whose auth token signs the request
	CallSid    string // whose cookies the request carries and keeps ("": none)
	URL        string // absolute http(s); credentials in it are sent only after a 401 challenge
	Method     string // GET or POST
	Params     url.Values
}

// FetchResponse is an HTTP answer (any status: the runtime decides what a
// 4xx or a 3xx means). Body is at most MaxTwimlBody bytes.
type FetchResponse struct {
	Status      int
	ContentType string
	Body        []byte
	// Warnings are for the call's timeline: a connection override ignored,
	// a cookie not kept. A few fixed words each, never a cookie's value.
	Warnings []string
}

// MaxTwimlBody is the largest document a fetch reads; a larger one is 11750.
// Twilio does not document its limit; 64 KiB holds any real IVR document.
const MaxTwimlBody = 64 << 10

// FetchError is a request that got no usable answer.
type FetchError struct {
	Code     int      // Twilio's: 11200 retrieval failure (timeout, ...), 11205 connection failure (refused, connect timeout), 11210 bad host name, 11215 too many redirects, 11750 body too large
	Message  string   // a few fixed words, safe to show the tenant (never an address they did not write)
	Warnings []string // as FetchResponse.Warnings: the request failed, but these still stand
}

func (e *FetchError) Error() string { return e.Message }

// Twilio's error codes for the fetches of a call.
const (
	CodeHTTPRetrieval     = 11200
	CodeHTTPConnection    = 11205
	CodeHTTPBadHost       = 11210
	CodeHTTPTooManyRedirs = 11215
	CodeBodyTooLarge      = 11750
)
