package twilioapi

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tonepay/tonepay"
)

func (s *server) handleCallList(w http.ResponseWriter, r *http.Request, acct *tonepay.Account) error {
	q, p, err := parseList(w, r)
	if err != nil {
		return err
	}
	list, err := s.svc.FindCalls(r.Context(), acct.Sid, tonepay.CallFilter{To: q.Get("To"), From: q.Get("From"),
		Status: q.Get("Status"), Parent: q.Get("ParentCallSid"), Offset: p.offset(), Limit: p.limit()})
	if err != nil {
		return err
	}
	out := make([]callJSON, len(list))
	for i, c := range list {
		out[i] = encodeCall(c)
	}
	writePage(w, accountURI(acct.Sid)+"/Calls.json", "calls", filterOf(q, "To", "From", "Status", "ParentCallSid"), p, out)
	return nil
}

// handleCallCreate creates a simulated call (see tonepay.CallService).
func (s *server) handleCallCreate(w http.ResponseWriter, r *http.Request, acct *tonepay.Account) error {
	form, err := parseForm(w, r)
	if err != nil {
		return err
	}
	p := params{v: form, bad: codeMalformed}
	to, from := p.required("To"), p.required("From")
	if p.err != nil {
		return p.err
	}
	if err := checkParties(to, from); err != nil {
		return err
	}
	if form.Get("Url") == "" && form.Get("Twiml") == "" && form.Get("ApplicationSid") == "" {
		return errMissing("Url")
	}
	req := &tonepay.CreateCallRequest{AccountSid: acct.Sid, To: to, From: from, URL: callURL(&p, "Url")}
	req.Method = callMethod(&p, "Method")
	req.Twiml = twiml(&p)
	if req.URL != "" {
		req.Twiml = "" // Url wins, as on Twilio (its warning 32019)
	}
	req.FallbackURL, req.FallbackMethod = callURL(&p, "FallbackUrl"), callMethod(&p, "FallbackMethod")
	req.StatusCallback, req.StatusCallbackMethod = callURL(&p, "StatusCallback"), callMethod(&p, "StatusCallbackMethod")
	req.StatusCallbackEvents = callbackEvents(&p)
	req.Timeout = callTimeout(&p)
	req.SendDigits = sendDigits(&p)
	req.FarEnd = farEnd(&p, "TonepayDial")
	if p.err != nil {
		return p.err
	}
	c, err := s.svc.CreateCall(r.Context(), req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, encodeCall(c))
	return nil
}

// checkParties answers a To or From that is no party a call can have
// (tonepay.IsEndpoint) with Twilio's 21211 or 21212, rather than storing it;
// so is a From that is not a number when To is one (Twilio's spec: "If the
// to parameter is a phone number, From must also be a phone number").
func checkParties(to, from string) error {
	const hint = "an E.164 number such as +15005550006 (send + encoded: %%2B), client:<identity> or sip:<address>"
	switch {
	case !tonepay.IsEndpoint(to):
		return tonepay.Errorf(tonepay.CodeInvalidTo, "Invalid 'To' Phone Number %q: must be "+hint, clip(to, 64))
	case !tonepay.IsEndpoint(from):
		return tonepay.Errorf(tonepay.CodeInvalidFrom, "Invalid 'From' Number %q: must be "+hint, clip(from, 64))
	case tonepay.IsE164(to) && !tonepay.IsE164(from):
		return tonepay.Errorf(tonepay.CodeInvalidFrom, "Invalid 'From' Number %q: when To is a phone number, From must be one too", clip(from, 64))
	}
	return nil
}

func (s *server) handleCallFetch(w http.ResponseWriter, r *http.Request, acct *tonepay.Account) error {
	c, err := s.findCall(r, acct)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, encodeCall(c))
	return nil
}

// handleCallUpdate hangs up with Status=completed (see tonepay.CallService).
// Url and Twiml redirect a live call, and StatusCallback(Method) changes
// where its progress goes: stored for the call runtime, which runs them.
func (s *server) handleCallUpdate(w http.ResponseWriter, r *http.Request, acct *tonepay.Account) error {
	form, err := parseForm(w, r)
	if err != nil {
		return err
	}
	p := params{v: form, bad: codeMalformed}
	req := &tonepay.UpdateCallRequest{AccountSid: acct.Sid, Sid: pathSid(r, "CallSid")}
	req.Status = p.enum("Status", "", tonepay.CallCompleted, tonepay.CallCanceled)
	given := func(name string, v string) *string {
		if form.Get(name) == "" {
			return nil
		}
		return &v
	}
	req.URL, req.Method = given("Url", callURL(&p, "Url")), given("Method", callMethod(&p, "Method"))
	req.Twiml = given("Twiml", twiml(&p))
	if req.URL != nil && req.Twiml != nil {
		p.fail(tonepay.Errorf(codeMalformed, "Url and Twiml are mutually exclusive: give one"))
	}
	req.StatusCallback = given("StatusCallback", callURL(&p, "StatusCallback"))
	req.StatusCallbackMethod = given("StatusCallbackMethod", callMethod(&p, "StatusCallbackMethod"))
	if err := s.pathFirst(r, acct, p.err); err != nil {
		return err
	}
	c, err := s.svc.UpdateCall(r.Context(), req)
	if err != nil {
		return inPath(r, err)
	}
	writeJSON(w, http.StatusOK, encodeCall(c))
	return nil
}

// findCall returns the call in the path if it belongs to acct, else 20404.
func (s *server) findCall(r *http.Request, acct *tonepay.Account) (*tonepay.Call, error) {
	c, err := s.svc.FindCall(r.Context(), acct.Sid, pathSid(r, "CallSid"))
	return c, inPath(r, err)
}

// pathFirst answers a request that does not parse as Twilio does: 20404 when
// the call in its path is not the account's, else its parse error. Only a
// request that fails to parse pays for this read; a good one has its call
// read once, in the service's transaction.
func (s *server) pathFirst(r *http.Request, acct *tonepay.Account, err error) error {
	if err == nil {
		return nil
	}
	if _, ferr := s.findCall(r, acct); ferr != nil {
		return ferr
	}
	return err
}

// inPath reports a resource of the path that the service did not find (or
// found in another account) as 20404 naming the path.
func inPath(r *http.Request, err error) error {
	if errors.Is(err, tonepay.ErrNotFound) {
		return errNotFound(r)
	}
	return err
}

// callURL reads an absolute http(s) URL, "" when absent, else 21205.
func callURL(p *params, name string) string {
	v := p.str(name)
	if !absoluteHTTP(v) {
		p.fail(tonepay.Errorf(tonepay.CodeCallInvalidURL, "Invalid Url for parameter %s: must be an absolute http or https URL", name))
		return ""
	}
	return v
}

// callMethod reads GET or POST in any case, POST when absent, else 21209.
func callMethod(p *params, name string) string {
	switch m := strings.ToUpper(p.str(name)); m {
	case "":
		return http.MethodPost
	case http.MethodGet, http.MethodPost:
		return m
	}
	p.fail(tonepay.Errorf(tonepay.CodeCallInvalidMethod, "Invalid Method for parameter %s: must be GET or POST", name))
	return http.MethodPost
}

// twiml reads a TwiML document of at most Twilio's 4000 characters. What it
// says is the runtime's to judge, when it runs it.
func twiml(p *params) string {
	v := p.str("Twiml")
	if n := utf8.RuneCountInString(v); n > tonepay.MaxTwiml {
		p.fail(tonepay.Errorf(codeMalformed, "Invalid value for parameter Twiml: at most %d characters, not %d", tonepay.MaxTwiml, n))
		return ""
	}
	return v
}

// callbackEvents reads StatusCallbackEvent as twilio-go sends it (repeated)
// or as the docs write it (space or comma separated), or both; the events
// come back in Twilio's order without repeats. None given is Twilio's
// default, completed only; an unknown event is 21626.
func callbackEvents(p *params) []string {
	asked := map[string]bool{}
	for _, v := range p.v["StatusCallbackEvent"] {
		for _, e := range strings.FieldsFunc(v, func(r rune) bool { return r == ' ' || r == ',' }) {
			switch e {
			case tonepay.EventInitiated, tonepay.EventRinging, tonepay.EventAnswered, tonepay.EventCompleted:
				asked[e] = true
			default:
				p.fail(tonepay.Errorf(tonepay.CodeInvalidCallbackEvent, "Invalid StatusCallbackEvent %q: must be initiated, ringing, answered or completed", clip(e, 32)))
				return nil
			}
		}
	}
	if len(asked) == 0 {
		return []string{tonepay.EventCompleted}
	}
	var out []string
	for _, e := range []string{tonepay.EventInitiated, tonepay.EventRinging, tonepay.EventAnswered, tonepay.EventCompleted} {
		if asked[e] {
			out = append(out, e)
		}
	}
	return out
}

// callTimeout reads Timeout: 1 to 600 seconds, 60 when absent, else 21208.
func callTimeout(p *params) int {
	v := p.str("Timeout")
	if v == "" {
		return tonepay.DefaultCallTimeout
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > tonepay.MaxCallTimeout {
		p.fail(tonepay.Errorf(tonepay.CodeCallInvalidTimeout, "Invalid Timeout %q: must be a whole number of seconds from 1 to %d", clip(v, 16), tonepay.MaxCallTimeout))
		return tonepay.DefaultCallTimeout
	}
	return n
}

// farEnd reads tonepay's parameter name (TonepayDial on Calls create, Dial
// on the extension's Inbound): how the simulated far end of the call's
// <Dial>s behaves (tonepay.ParseFarEnd); answer when absent.
func farEnd(p *params, name string) tonepay.FarEnd {
	v := p.str(name)
	fe, ok := tonepay.ParseFarEnd(v)
	if !ok {
		p.invalid(name, clip(v, 32), "must be answer, busy, no-answer, failed or answer:N (it answers and hangs up after N seconds, 1 to "+strconv.Itoa(tonepay.MaxHangUpAfter)+")")
	}
	return fe
}

// sendDigits reads SendDigits: at most 32 of 0-9 A-D * # and the waits w
// (half a second) and W (a second).
func sendDigits(p *params) string {
	v := p.str("SendDigits")
	ok := len(v) <= tonepay.MaxSendDigits
	for i := 0; ok && i < len(v); i++ {
		ok = strings.IndexByte("0123456789ABCD*#wW", v[i]) >= 0
	}
	if !ok {
		p.fail(tonepay.Errorf(codeMalformed, "Invalid value for parameter SendDigits: at most %d of 0-9, A-D, *, #, w and W", tonepay.MaxSendDigits))
		return ""
	}
	return v
}
