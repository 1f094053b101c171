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

// handleCallCreate creates a simulated call. There is no telephone network
// behind it: the call is answered at once and stays in progress until it is
// hung up through the API.
func (s *server) handleCallCreate(w http.ResponseWriter, r *http.Request, acct *tonepay.Account) error {
	form, err := parseForm(w, r)
	if err != nil {
		return err
	}
	p := params{v: form, bad: tonepay.CodeMissingParameter}
	to, from := p.required("To"), p.required("From")
	if p.err != nil {
		return p.err
	}
	if form.Get("Url") == "" && form.Get("Twiml") == "" && form.Get("ApplicationSid") == "" {
		return errMissing("Url")
	}
	now := s.now().UTC()
	c := &tonepay.Call{
		Sid:         s.newSID(tonepay.PrefixCall),
		AccountSid:  acct.Sid,
		To:          to,
		From:        from,
		URL:         form.Get("Url"),
		Status:      tonepay.CallInProgress,
		Direction:   "outbound-api",
		StartTime:   now,
		DateCreated: now,
		DateUpdated: now,
	}
	if err := s.store.Update(r.Context(), func(tx tonepay.Tx) error { return tx.CreateCall(r.Context(), c) }); err != nil {
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

// handleCallUpdate hangs up with Status=completed. Status=canceled, as on
// Twilio, only affects calls not yet answered, so on a simulated call (always
// answered) it changes nothing. Url and Twiml redirect a live call; with no
// TwiML engine behind the simulator they are accepted and recorded only.
func (s *server) handleCallUpdate(w http.ResponseWriter, r *http.Request, acct *tonepay.Account) error {
	form, err := parseForm(w, r)
	if err != nil {
		return err
	}
	c, err := s.findCall(r, acct)
	if err != nil {
		return err
	}
	p := params{v: form, bad: tonepay.CodeMissingParameter}
	status := p.enum("Status", "", tonepay.CallCompleted, tonepay.CallCanceled)
	if p.err != nil {
		return p.err
	}
	if c.Status != tonepay.CallInProgress && (status != "" || form.Get("Url") != "" || form.Get("Twiml") != "") {
		return tonepay.Errorf(tonepay.CodeCallNotInProgress, "Call is not in-progress. Cannot redirect.")
	}
	if status == tonepay.CallCompleted {
		if c, err = s.sessions.HangUp(r.Context(), acct.Sid, c.Sid); err != nil {
			return err
		}
	}
	writeJSON(w, http.StatusOK, encodeCall(c))
	return nil
}

// findCall returns the call in the path if it belongs to acct, else 20404.
func (s *server) findCall(r *http.Request, acct *tonepay.Account) (*tonepay.Call, error) {
	c, err := s.store.FindCall(r.Context(), pathSid(r, "CallSid"))
	if errors.Is(err, tonepay.ErrNotFound) || err == nil && c.AccountSid != acct.Sid {
		return nil, errNotFound(r)
	}
	return c, err
}
