package twilioapi

import (
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/tonepay/tonepay"
)

// httpStatus maps error codes to HTTP statuses. This table and writeError are
// the only places that know how an error looks on the wire; codes not listed
// are client errors (400), as Twilio's Pay errors are.
//
// Answers that no handler of ours chose (the console's file server, a header
// too large, anything plain-text that Errors replaces) take their code from
// the HTTP status by Twilio's own rule, 20000 + status: 20403, 20404, 20429,
// 20500 and 20503 are Twilio's, 20400, 20413, 20431 (request header fields too
// large, at most MaxHeaderBytes) and the rest are ours by the same rule.
// 401 and 405 keep Twilio's 20003 and 20004.
var httpStatus = map[int]int{
	tonepay.CodeAuthenticate:     http.StatusUnauthorized,
	tonepay.CodeMethodNotAllowed: http.StatusMethodNotAllowed,
	tonepay.CodeNotFound:         http.StatusNotFound,
	tonepay.CodeTooManyRequests:  http.StatusTooManyRequests,
	tonepay.CodeInternal:         http.StatusInternalServerError,
	codeHeaderTooLarge:           http.StatusRequestHeaderFieldsTooLarge,
}

// codeHeaderTooLarge is the code of a 431: Twilio has none, so it follows
// Twilio's 20000 + status rule.
const codeHeaderTooLarge = 20000 + http.StatusRequestHeaderFieldsTooLarge

// statusClientClosed is what a request whose client went away is recorded
// as (nginx's convention): nobody reads it, and it must not count as a 500.
const statusClientClosed = 499

// restError is Twilio's error body.
type restError struct {
	Code     int    `json:"code"`
	Message  string `json:"message"`
	MoreInfo string `json:"more_info"`
	Status   int    `json:"status"`
}

// retryError is an error whose answer tells the client when to try again
// (Retry-After), as a 429 must.
type retryError struct {
	err   error
	after time.Duration
}

func (e *retryError) Error() string { return e.err.Error() }
func (e *retryError) Unwrap() error { return e.err }

// tooMany is a 20429 that may be retried after d.
func tooMany(d time.Duration, format string, args ...any) error {
	return &retryError{tonepay.Errorf(tonepay.CodeTooManyRequests, format, args...), d}
}

// retryAfter is d in whole seconds, rounded up, for Retry-After.
func retryAfter(d time.Duration) string {
	return strconv.Itoa(max(1, int(math.Ceil(d.Seconds()))))
}

// writeError writes err as Twilio's error JSON. Internal errors are logged
// once with their cause and reach the client only as a generic 20500, unless
// the client has gone: then nothing failed on our side and nobody reads the
// answer, so it is a debug line and a 499, not an error and a 500.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	code := tonepay.ErrorCode(err)
	status, ok := httpStatus[code]
	if !ok {
		status = http.StatusBadRequest
	}
	if code == tonepay.CodeInternal {
		if r.Context().Err() != nil {
			log.Debug("request abandoned by its client", "method", r.Method, "path", r.URL.Path, "err", err)
			w.WriteHeader(statusClientClosed)
			return
		}
		log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	// The Basic challenge lets curl and browsers ask for credentials. A page's
	// script (the console marks its requests with X-Requested-With, as XHR
	// libraries do) shows its own error instead: with the challenge, the
	// browser would open its login prompt and hold the request. Twilio's SDKs
	// send credentials up front and never need it.
	if code == tonepay.CodeAuthenticate && r.Header.Get("X-Requested-With") == "" {
		w.Header().Set("WWW-Authenticate", `Basic realm="Twilio API"`)
	}
	var re *retryError
	if errors.As(err, &re) {
		w.Header().Set("Retry-After", retryAfter(re.after))
	}
	writeJSON(w, status, restError{
		Code:     code,
		Message:  tonepay.ErrorMessage(err),
		MoreInfo: moreInfo(code),
		Status:   status,
	})
}

func moreInfo(code int) string { return "https://www.twilio.com/docs/errors/" + strconv.Itoa(code) }

// writeStatus writes Twilio's error JSON for an HTTP status that no handler
// of ours chose (see httpStatus).
func writeStatus(w http.ResponseWriter, r *http.Request, status int) {
	var code int
	msg := http.StatusText(status)
	switch status {
	case http.StatusUnauthorized:
		code = tonepay.CodeAuthenticate
	case http.StatusMethodNotAllowed:
		code, msg = tonepay.CodeMethodNotAllowed, "Method "+r.Method+" not allowed on "+r.URL.Path
	case http.StatusNotFound:
		code, msg = tonepay.CodeNotFound, tonepay.ErrorMessage(errNotFound(r))
	case http.StatusRequestHeaderFieldsTooLarge:
		code, msg = codeHeaderTooLarge, "Request header fields too large: at most "+strconv.Itoa(MaxHeaderBytes)+" bytes"
	default:
		code = 20000 + status
	}
	if msg == "" {
		msg = "HTTP status " + strconv.Itoa(status)
	}
	writeJSON(w, status, restError{Code: code, Message: msg, MoreInfo: moreInfo(code), Status: status})
}

func errNotFound(r *http.Request) error {
	return tonepay.Errorf(tonepay.CodeNotFound, "The requested resource %s was not found", clip(r.URL.Path, 256))
}

// codeMalformed is the code of a malformed value outside the Payments
// routes (which use 64020, tonepay.CodeInvalidParameter, as Twilio's Pay
// errors do). It is 20001, the code of a missing parameter too: the tests
// and the attack suite pin it on every REST route, on both stores. Named
// apart so that a handler says which of the two it means.
const codeMalformed = tonepay.CodeMissingParameter

func errMissing(name string) error {
	return tonepay.Errorf(tonepay.CodeMissingParameter, "Missing required parameter %s in the post body", name)
}
