package twilioapi

import (
	"errors"
	"net/http"

	"github.com/tonepay/tonepay"
)

func (s *server) handleKeyList(w http.ResponseWriter, r *http.Request, acct *tonepay.Account) error {
	_, p, err := parseList(w, r)
	if err != nil {
		return err
	}
	list, err := s.store.FindKeys(r.Context(), tonepay.KeyFilter{AccountSid: acct.Sid, Offset: p.offset(), Limit: p.limit()})
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
	now := s.now().UTC()
	secret := tonepay.RandomHex(16)
	k := &tonepay.Key{
		Sid:          s.newSID(tonepay.PrefixKey),
		AccountSid:   acct.Sid,
		FriendlyName: form.Get("FriendlyName"),
		SecretHash:   tonepay.HashSecret(secret),
		DateCreated:  now,
		DateUpdated:  now,
	}
	if err := s.store.Update(r.Context(), func(tx tonepay.Tx) error { return tx.CreateKey(r.Context(), k) }); err != nil {
		return err
	}
	out := encodeKey(k)
	out.Secret = secret
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (s *server) handleKeyFetch(w http.ResponseWriter, r *http.Request, acct *tonepay.Account) error {
	k, err := s.findKey(r, acct)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, encodeKey(k))
	return nil
}

func (s *server) handleKeyUpdate(w http.ResponseWriter, r *http.Request, acct *tonepay.Account) error {
	form, err := parseForm(w, r)
	if err != nil {
		return err
	}
	var k *tonepay.Key
	err = s.store.Update(r.Context(), func(tx tonepay.Tx) error {
		if k, err = s.findKeyIn(r, tx, acct); err != nil {
			return err
		}
		if name, ok := form["FriendlyName"]; ok {
			k.FriendlyName = name[0]
		}
		k.DateUpdated = s.now().UTC()
		return tx.UpdateKey(r.Context(), k)
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, encodeKey(k))
	return nil
}

// handleKeyDelete deletes a key; requests signed with it fail from now on.
func (s *server) handleKeyDelete(w http.ResponseWriter, r *http.Request, acct *tonepay.Account) error {
	err := s.store.Update(r.Context(), func(tx tonepay.Tx) error {
		k, err := s.findKeyIn(r, tx, acct)
		if err != nil {
			return err
		}
		return tx.DeleteKey(r.Context(), k.Sid)
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *server) findKey(r *http.Request, acct *tonepay.Account) (*tonepay.Key, error) {
	return s.findKeyIn(r, s.store, acct)
}

// findKeyIn returns the key in the path if it belongs to acct, else 20404.
func (s *server) findKeyIn(r *http.Request, rd tonepay.Reader, acct *tonepay.Account) (*tonepay.Key, error) {
	k, err := rd.FindKey(r.Context(), pathSid(r, "KeySid"))
	if errors.Is(err, tonepay.ErrNotFound) || err == nil && k.AccountSid != acct.Sid {
		return nil, errNotFound(r)
	}
	return k, err
}
