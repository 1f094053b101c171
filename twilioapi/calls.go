package twilioapi

import (
	"errors"
	"net/http"

	"github.com/tonepay/tonepay"
)

func (s *server) handleCallList(w http.ResponseWriter, r *http.Request, acct *tonepay.Account) error {
	q, p, err := parseList(w, r)
	if err != nil {
		return err
	}
	list, err := s.store.FindCalls(r.Context(), tonepay.CallFilter{AccountSid: acct.Sid, To: q.Get("To"), From: q.Get("From"),
		Status: q.Get("Status"), Offset: p.offset(), Limit: p.limit()})
	if err != nil {
		return err
	}
	out := make([]callJSON, len(list))
	for i, c := range list {
		out[i] = encodeCall(c)
	}
	writePage(w, accountURI(acct.Sid)+"/Calls.json", "calls", filterOf(q, "To", "From", "Status"), p, out)
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
	if form.Get("Url") == "" && form.Get("Twiml") == "" && form.Get("ApplicationSid") == "" {
		return errMissing("Url")
	}
	c, err := s.svc.CreateCall(r.Context(), &tonepay.CreateCallRequest{AccountSid: acct.Sid, To: to, From: from, URL: form.Get("Url")})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, encodeCall(c))
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
// Url and Twiml redirect a live call; with no TwiML engine behind the
// simulator they are accepted and recorded nowhere.
func (s *server) handleCallUpdate(w http.ResponseWriter, r *http.Request, acct *tonepay.Account) error {
	form, err := parseForm(w, r)
	if err != nil {
		return err
	}
	p := params{v: form, bad: codeMalformed}
	status := p.enum("Status", "", tonepay.CallCompleted, tonepay.CallCanceled)
	if err := s.pathFirst(r, acct, p.err); err != nil {
		return err
	}
	c, err := s.svc.UpdateCall(r.Context(), &tonepay.UpdateCallRequest{AccountSid: acct.Sid, Sid: pathSid(r, "CallSid"),
		Status: status, Redirect: form.Get("Url") != "" || form.Get("Twiml") != ""})
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
