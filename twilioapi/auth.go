package twilioapi

import (
	"context"
	"errors"
	"net/http"

	"github.com/tonepay/tonepay"
)

var errBadCredentials = tonepay.Errorf(tonepay.CodeAuthenticate, "Authenticate: the username or password is incorrect")

// authenticate checks HTTP Basic credentials: an Account SID with its auth
// token, or an API key SID with its secret. Unknown user and wrong password
// give the same answer, so that the API does not reveal which SIDs exist.
func (s *server) authenticate(ctx context.Context, r *http.Request) (*caller, error) {
	user, pass, ok := r.BasicAuth()
	if !ok {
		return nil, tonepay.Errorf(tonepay.CodeAuthenticate, "Authenticate: no credentials were provided")
	}
	var c caller
	switch {
	case tonepay.IsSID(user, tonepay.PrefixAccount):
		a, err := s.store.FindAccount(ctx, user)
		if err != nil {
			return nil, credentialError(err)
		}
		if !a.AuthToken.Equal(pass) {
			return nil, errBadCredentials
		}
		c.account = a
	case tonepay.IsSID(user, tonepay.PrefixAPIKey):
		k, err := s.store.FindAPIKey(ctx, user)
		if err != nil {
			return nil, credentialError(err)
		}
		if !k.Verify(pass) {
			return nil, errBadCredentials
		}
		a, err := s.store.FindAccount(ctx, k.AccountSid)
		if err != nil {
			return nil, credentialError(err)
		}
		c.account, c.key = a, k
	default:
		return nil, errBadCredentials
	}
	if c.account.Status != tonepay.AccountActive {
		return nil, tonepay.Errorf(tonepay.CodeAuthenticate, "Authenticate: account %s is %s", c.account.Sid, c.account.Status)
	}
	return &c, nil
}

func credentialError(err error) error {
	if errors.Is(err, tonepay.ErrNotFound) {
		return errBadCredentials
	}
	return err
}

// authorize returns the account named in the path if the caller may act on
// it: its own account, or, for a main account, one of its subaccounts. Any
// other account, existing or not, is 20003 as with Twilio: credentials do not
// reach it.
func (s *server) authorize(ctx context.Context, c *caller, sid string) (*tonepay.Account, error) {
	if sid == c.account.Sid {
		return c.account, nil
	}
	deny := tonepay.Errorf(tonepay.CodeAuthenticate, "Authenticate: these credentials cannot act on account %s", sid)
	if !c.account.IsMain() || !tonepay.IsSID(sid, tonepay.PrefixAccount) {
		return nil, deny
	}
	a, err := s.store.FindAccount(ctx, sid)
	if errors.Is(err, tonepay.ErrNotFound) {
		return nil, deny
	} else if err != nil {
		return nil, err
	}
	if !c.account.CanActOn(a.Sid, a.OwnerSid) {
		return nil, deny
	}
	return a, nil
}
