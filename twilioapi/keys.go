package twilioapi

import (
	"net/http"

	"github.com/tonepay/tonepay"
)

func (s *server) handleKeyList(w http.ResponseWriter, r *http.Request, acct *tonepay.Account) error {
	_, p, err := parseList(w, r)
	if err != nil {
		return err
	}
	list, err := s.svc.FindAPIKeys(r.Context(), acct.Sid, tonepay.APIKeyFilter{Offset: p.offset(), Limit: p.limit()})
	if err != nil {
		return err
	}
	out := make([]keyJSON, len(list))
	for i, k := range list {
		out[i] = encodeKey(k)
	}
	writePage(w, accountURI(acct.Sid)+"/Keys.json", "keys", nil, p, out)
	return nil
}

// handleKeyCreate makes an API key. Its secret is in this answer and nowhere
// else: only its hash is stored.
func (s *server) handleKeyCreate(w http.ResponseWriter, r *http.Request, acct *tonepay.Account) error {
	form, err := parseForm(w, r)
	if err != nil {
		return err
	}
	k, secret, err := s.svc.CreateAPIKey(r.Context(), acct.Sid, form.Get("FriendlyName"))
	if err != nil {
		return err
	}
	out := encodeKey(k)
	out.Secret = secret
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (s *server) handleKeyFetch(w http.ResponseWriter, r *http.Request, acct *tonepay.Account) error {
	k, err := s.svc.FindAPIKey(r.Context(), acct.Sid, pathSid(r, "KeySid"))
	if err != nil {
		return inPath(r, err)
	}
	writeJSON(w, http.StatusOK, encodeKey(k))
	return nil
}

func (s *server) handleKeyUpdate(w http.ResponseWriter, r *http.Request, acct *tonepay.Account) error {
	form, err := parseForm(w, r)
	if err != nil {
		return err
	}
	var name *string
	if v, ok := form["FriendlyName"]; ok {
		name = &v[0]
	}
	k, err := s.svc.UpdateAPIKey(r.Context(), acct.Sid, pathSid(r, "KeySid"), name)
	if err != nil {
		return inPath(r, err)
	}
	writeJSON(w, http.StatusOK, encodeKey(k))
	return nil
}

// handleKeyDelete deletes a key; requests signed with it fail from now on.
func (s *server) handleKeyDelete(w http.ResponseWriter, r *http.Request, acct *tonepay.Account) error {
	if err := s.svc.DeleteAPIKey(r.Context(), acct.Sid, pathSid(r, "KeySid")); err != nil {
		return inPath(r, err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
