package accounts

import (
	"context"
	"errors"

	"github.com/tonepay/tonepay"
)

var _ tonepay.Authenticator = (*Service)(nil)

var errAPIKeyCannotManage = tonepay.Errorf(tonepay.CodeAuthenticate, "Authenticate: API keys cannot manage Accounts or Keys; use the account's auth token")

// Authenticate implements tonepay.Authenticator. It costs a primary-key
// read or two and one SHA-256 (API key secrets are random, not passwords),
// cheap enough for every request and every stream's re-check.
func (svc *Service) Authenticate(ctx context.Context, user, password string) (*tonepay.Caller, error) {
	var c tonepay.Caller
	switch {
	case tonepay.IsSID(user, tonepay.PrefixAccount):
		a, err := svc.Store.FindAccount(ctx, user)
		if err != nil {
			return nil, credentialError(err)
		}
		if !a.AuthToken.Equal(password) {
			return nil, tonepay.ErrBadCredentials
		}
		c.Account = a
	case tonepay.IsSID(user, tonepay.PrefixAPIKey):
		k, err := svc.Store.FindAPIKey(ctx, user)
		if err != nil {
			return nil, credentialError(err)
		}
		if !k.Verify(password) {
			return nil, tonepay.ErrBadCredentials
		}
		a, err := svc.Store.FindAccount(ctx, k.AccountSid)
		if err != nil {
			return nil, credentialError(err)
		}
		c.Account, c.APIKey = a, k
	default:
		return nil, tonepay.ErrBadCredentials
	}
	if err := active(c.Account); err != nil {
		return nil, err
	}
	return &c, nil
}

// credentialError answers a SID that names nothing as a wrong password
// does; a failed read stays what it is (an internal error, not a guess).
func credentialError(err error) error {
	if errors.Is(err, tonepay.ErrNotFound) {
		return tonepay.ErrBadCredentials
	}
	return err
}

func active(a *tonepay.Account) error {
	if a.Status != tonepay.AccountActive {
		return tonepay.Errorf(tonepay.CodeAuthenticate, "Authenticate: account %s is %s", a.Sid, a.Status)
	}
	return nil
}

// Authorize implements tonepay.Authenticator. Another account, existing or
// not, is 20003 as with Twilio (the credentials do not reach it), not the
// 20404 of a resource within a reachable account.
func (svc *Service) Authorize(ctx context.Context, c *tonepay.Caller, sid string, access tonepay.Access) (*tonepay.Account, error) {
	if access == tonepay.AccessManage && c.APIKey != nil {
		return nil, errAPIKeyCannotManage
	}
	if sid == c.Account.Sid {
		return c.Account, nil
	}
	deny := tonepay.Errorf(tonepay.CodeAuthenticate, "Authenticate: these credentials cannot act on account %s", sid)
	if !c.Account.IsMain() || !tonepay.IsSID(sid, tonepay.PrefixAccount) {
		return nil, deny
	}
	a, err := svc.Store.FindAccount(ctx, sid)
	if errors.Is(err, tonepay.ErrNotFound) {
		return nil, deny
	} else if err != nil {
		return nil, err
	}
	if !c.Account.CanActOn(a.Sid, a.OwnerSid) {
		return nil, deny
	}
	return a, nil
}

// Recheck implements tonepay.Authenticator.
func (svc *Service) Recheck(ctx context.Context, user, password, sid string) error {
	c, err := svc.Authenticate(ctx, user, password)
	if err != nil {
		return err
	}
	a, err := svc.Authorize(ctx, c, sid, tonepay.AccessUse)
	if err != nil {
		return err
	}
	return active(a)
}
