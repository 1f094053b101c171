package accounts

import (
	"context"
	"errors"

	"github.com/tonepay/tonepay"
)

// MainName is the FriendlyName of a main account the server creates.
const MainName = "Main account"

// ErrSubaccount: the account named as the main one is a subaccount.
var ErrSubaccount = errors.New("a subaccount is not a main account")

// Main is what EnsureMain did.
type Main struct {
	// Account is the main account named, or the one created; nil when the
	// store had accounts already and none was named.
	Account  *tonepay.Account
	Created  bool // Account was created now: nobody has seen its token yet
	Found    bool // the store had it (named), or had accounts (unnamed)
	TokenSet bool // the named account's token was changed to the one given
}

// EnsureMain makes sure there is a main account to sign in with, in one
// transaction. With sid, the main account sid with token: created if
// missing, its token replaced if different (ErrSubaccount if sid is a
// subaccount). Without, on an empty store, a new main account with a
// random token; a store with accounts is left as it is. Processes starting
// together on one database may race to create it: the loser gets the
// store's conflict, and finds the account when it tries again.
func (svc *Service) EnsureMain(ctx context.Context, sid, token string) (*Main, error) {
	now := svc.Now().UTC()
	var m *Main
	err := svc.Store.Update(ctx, func(tx tonepay.Tx) error {
		m = &Main{}
		if sid == "" {
			n, err := tx.CountAccounts(ctx)
			if err != nil || n > 0 {
				m.Found = n > 0
				return err
			}
			sid, token = svc.NewSID(tonepay.PrefixAccount), tonepay.RandomHex(16)
		} else {
			a, err := tx.FindAccount(ctx, sid)
			if err == nil {
				m.Account, m.Found = a, true
				if !a.IsMain() {
					return ErrSubaccount
				}
				if !a.AuthToken.Equal(token) {
					a.AuthToken, a.DateUpdated, m.TokenSet = tonepay.NewSecret(token), now, true
					return tx.UpdateAccount(ctx, a)
				}
				return nil
			} else if !errors.Is(err, tonepay.ErrNotFound) {
				return err
			}
		}
		m.Account = &tonepay.Account{Sid: sid, OwnerSid: sid, FriendlyName: MainName, Status: tonepay.AccountActive,
			AuthToken: tonepay.NewSecret(token), DateCreated: now, DateUpdated: now}
		m.Created = true
		return tx.CreateAccount(ctx, m.Account)
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// MainAccounts lists the main accounts, oldest first: whom an operator
// signs in as (`tonepay account show`).
func (svc *Service) MainAccounts(ctx context.Context) ([]*tonepay.Account, error) {
	return svc.Store.FindAccounts(ctx, tonepay.AccountFilter{Main: true})
}
