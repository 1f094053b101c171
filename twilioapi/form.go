package twilioapi

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tonepay/tonepay"
)

// maxBody bounds a request body; Twilio's requests are a few hundred bytes.
const maxBody = 64 << 10

// parseForm reads a form-encoded POST body (or a GET query) into url.Values,
// refusing with 20001 (codeMalformed) what no store can hold (see readForm).
func parseForm(w http.ResponseWriter, r *http.Request) (url.Values, error) {
	return readForm(w, r, codeMalformed)
}

// readForm is parseForm with the code of the route's malformed-value error:
// 64020 on the Payments routes, as Twilio's Pay errors are.
//
// It is the one place every parameter passes, so it is where values that a
// store cannot hold are refused: PostgreSQL text cannot hold NUL and its
// UTF-8 databases refuse invalid UTF-8, while SQLite would store both. Without
// this the same request would succeed on one store and fail with a 500 on the
// other. Names are checked as well as values, and the query string of a POST
// as well as its body, since handlers may read either.
func readForm(w http.ResponseWriter, r *http.Request, bad int) (url.Values, error) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if err := r.ParseForm(); err != nil {
		var big *http.MaxBytesError
		if errors.As(err, &big) {
			return nil, tonepay.Errorf(bad, "The request body is too large: at most %d bytes", maxBody)
		}
		return nil, tonepay.Errorf(bad, "Could not read the request's query or body as a form")
	}
	if err := storable(r.Form, bad); err != nil {
		return nil, err
	}
	if r.Method == http.MethodGet {
		return r.URL.Query(), nil
	}
	return r.PostForm, nil
}

// storable refuses a form with a name or value that is not valid UTF-8 text
// without NUL. The error names the parameter, quoted so that the message
// itself is valid text.
func storable(form url.Values, bad int) error {
	for name, values := range form {
		if !isText(name) {
			return tonepay.Errorf(bad, "Invalid parameter name %s: must be UTF-8 text without NUL characters", strconv.Quote(clip(name, 64)))
		}
		for _, v := range values {
			if !isText(v) {
				return tonepay.Errorf(bad, "Invalid value for parameter %s: must be UTF-8 text without NUL characters", clip(name, 64))
			}
		}
	}
	return nil
}

// clip shortens what an error message repeats back to the client.
func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// isText reports whether s is valid UTF-8 without NUL: what every store can hold.
func isText(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}

// params reads typed parameters from a form, keeping the first error: a
// handler reads everything, then checks err once.
type params struct {
	v   url.Values
	bad int // the error code for a malformed value
	err error
}

func (p *params) fail(err error) {
	if p.err == nil {
		p.err = err
	}
}

func (p *params) invalid(name, value, want string) {
	p.fail(tonepay.Errorf(p.bad, "Invalid value %q for parameter %s: %s", value, name, want))
}

// str returns the parameter's value, "" when absent.
func (p *params) str(name string) string { return p.v.Get(name) }

// required returns the parameter, failing with 20001 when it is absent or empty.
func (p *params) required(name string) string {
	v := p.v.Get(name)
	if v == "" {
		p.fail(errMissing(name))
	}
	return v
}

// integer reads a whole number within [lo, hi], or def when absent.
func (p *params) integer(name string, def, lo, hi int) int {
	v := p.v.Get(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		p.invalid(name, v, "must be a whole number from "+strconv.Itoa(lo)+" to "+strconv.Itoa(hi))
		return def
	}
	return n
}

// enum reads one of allowed, or def when absent.
func (p *params) enum(name, def string, allowed ...string) string {
	v := p.v.Get(name)
	if v == "" {
		return def
	}
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	p.invalid(name, v, "must be one of "+strings.Join(allowed, ", "))
	return def
}
