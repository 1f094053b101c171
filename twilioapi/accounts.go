package twilioapi

import (
	"net/http"

	"github.com/tonepay/tonepay"
)

// handleAccountList lists the caller's account and, for a main account, its
// subaccounts.
func (s *server) handleAccountList(w http.ResponseWriter, r *http.Request, c *tonepay.Caller) error {
	acct, err := s.svc.Authorize(r.Context(), c, c.Account.Sid, tonepay.AccessManage)
	if err != nil {
		return err
	}
	q, p, err := parseList(w, r)
	if err != nil {
		return err
	}
	list, err := s.svc.FindAccounts(r.Context(), acct.Sid, tonepay.AccountFilter{FriendlyName: q.Get("FriendlyName"), Status: q.Get("Status"),
		Offset: p.offset(), Limit: p.limit()})
	if err != nil {
		return err
	}
	out := make([]accountJSON, len(list))
	for i, a := range list {
		out[i] = encodeAccount(a)
	}
	writePage(w, "/2010-04-01/Accounts.json", "accounts", filterOf(q, "FriendlyName", "Status"), p, out)
	return nil
}

// handleAccountCreate creates a subaccount of the caller's main account.
func (s *server) handleAccountCreate(w http.ResponseWriter, r *http.Request, c *tonepay.Caller) error {
	owner, err := s.svc.Authorize(r.Context(), c, c.Account.Sid, tonepay.AccessManage)
	if err != nil {
		return err
	}
	form, err := parseForm(w, r)
	if err != nil {
		return err
	}
	a, err := s.svc.CreateSubaccount(r.Context(), owner, form.Get("FriendlyName"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, encodeAccount(a))
	return nil
}

func (s *server) handleAccountFetch(w http.ResponseWriter, r *http.Request, acct *tonepay.Account) error {
	writeJSON(w, http.StatusOK, encodeAccount(acct))
	return nil
}

// filterOf returns the named query parameters that are set, to carry them
// into page URIs.
func filterOf(q map[string][]string, names ...string) map[string][]string {
	f := make(map[string][]string)
	for _, n := range names {
		if v, ok := q[n]; ok && len(v) > 0 && v[0] != "" {
			f[n] = v[:1]
		}
	}
	return f
}
