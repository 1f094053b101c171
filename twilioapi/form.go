package twilioapi

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/tonepay/tonepay"
)

// maxBody bounds a request body; Twilio's requests are a few hundred bytes.
const maxBody = 64 << 10

// parseForm reads a form-encoded POST body (or a GET query) into url.Values.
func parseForm(w http.ResponseWriter, r *http.Request) (url.Values, error) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if err := r.ParseForm(); err != nil {
		return nil, tonepay.Errorf(tonepay.CodeMissingParameter, "Could not read the request body as a form")
	}
	if r.Method == http.MethodGet {
		return r.URL.Query(), nil
	}
	return r.PostForm, nil
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

// boolean reads "true" or "false" (any case), or def when absent.
func (p *params) boolean(name string, def bool) bool {
	v := p.v.Get(name)
	switch strings.ToLower(v) {
	case "":
		return def
	case "true":
		return true
	case "false":
		return false
	}
	p.invalid(name, v, "must be true or false")
	return def
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
