package twilioapi

import (
	"net/http"

	"github.com/tonepay/tonepay"
)

// handleAccountList lists the caller's account and, for a main account, its
// subaccounts.
func (s *server) handleAccountList(w http.ResponseWriter, r *http.Request, c *caller) error {
	if c.key != nil {
		return errKeyNotAllowed
	}
	q, p, err := parseList(w, r)
	if err != nil {
		return err
	}
	f := tonepay.AccountFilter{OwnerSid: c.account.OwnerSid, FriendlyName: q.Get("FriendlyName"), Status: q.Get("Status"),
		Offset: p.offset(), Limit: p.limit()}
	var list []*tonepay.Account
	if c.account.IsMain() {
		if list, err = s.store.FindAccounts(r.Context(), f); err != nil {
			return err
		}
	} else if p.Page == 0 && matches(c.account, f) {
		list = []*tonepay.Account{c.account} // a subaccount sees only itself
	}
	out := make([]accountJSON, len(list))
	for i, a := range list {
		out[i] = encodeAccount(a)
	}
	writePage(w, "/2010-04-01/Accounts.json", "accounts", filterOf(q, "FriendlyName", "Status"), p, out)
	return nil
}

func matches(a *tonepay.Account, f tonepay.AccountFilter) bool {
	return (f.FriendlyName == "" || f.FriendlyName == a.FriendlyName) && (f.Status == "" || f.Status == a.Status)
}

// handleAccountCreate creates a subaccount of the caller's main account.
func (s *server) handleAccountCreate(w http.ResponseWriter, r *http.Request, c *caller) error {
	if c.key != nil {
		return errKeyNotAllowed
	}
	form, err := parseForm(w, r)
	if err != nil {
		return err
	}
	a, err := s.svc.CreateSubaccount(r.Context(), c.account, form.Get("FriendlyName"))
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
