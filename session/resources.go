package session

import (
	"context"
	"fmt"

	"github.com/tonepay/tonepay"
)

// The accounts, keys and calls: every write of the API goes through the
// Service, so that each rule has one home and the wire layer only parses and
// encodes.
var (
	_ tonepay.AccountService = (*Service)(nil)
	_ tonepay.KeyService     = (*Service)(nil)
	_ tonepay.CallService    = (*Service)(nil)
)

// CreateSubaccount implements tonepay.AccountService.
func (svc *Service) CreateSubaccount(ctx context.Context, owner *tonepay.Account, friendlyName string) (*tonepay.Account, error) {
	if !owner.IsMain() {
		return nil, tonepay.Errorf(tonepay.CodeAuthenticate, "Authenticate: a subaccount cannot create subaccounts")
	}
	now := svc.Now().UTC()
	a := &tonepay.Account{
		Sid:          svc.NewSID(tonepay.PrefixAccount),
		OwnerSid:     owner.Sid,
		FriendlyName: friendlyName,
		Status:       tonepay.AccountActive,
		AuthToken:    tonepay.NewSecret(tonepay.RandomHex(16)),
		DateCreated:  now,
		DateUpdated:  now,
	}
	if a.FriendlyName == "" {
		a.FriendlyName = "SubAccount Created at " + now.Format("2006-01-02 03:04 pm")
	}
	if err := svc.Store.Update(ctx, func(tx tonepay.Tx) error { return tx.CreateAccount(ctx, a) }); err != nil {
		return nil, err
	}
	return a, nil
}

// FindKey implements tonepay.KeyService.
func (svc *Service) FindKey(ctx context.Context, accountSid, sid string) (*tonepay.Key, error) {
	return findKey(ctx, svc.Store, accountSid, sid)
}

// CreateKey implements tonepay.KeyService. Only the secret's hash is stored.
func (svc *Service) CreateKey(ctx context.Context, accountSid, friendlyName string) (*tonepay.Key, string, error) {
	now := svc.Now().UTC()
	secret := tonepay.RandomHex(16)
	k := &tonepay.Key{
		Sid:          svc.NewSID(tonepay.PrefixKey),
		AccountSid:   accountSid,
		FriendlyName: friendlyName,
		SecretHash:   tonepay.HashSecret(secret),
		DateCreated:  now,
		DateUpdated:  now,
	}
	if err := svc.Store.Update(ctx, func(tx tonepay.Tx) error { return tx.CreateKey(ctx, k) }); err != nil {
		return nil, "", err
	}
	return k, secret, nil
}

// UpdateKey implements tonepay.KeyService.
func (svc *Service) UpdateKey(ctx context.Context, accountSid, sid string, friendlyName *string) (*tonepay.Key, error) {
	var k *tonepay.Key
	err := svc.Store.Update(ctx, func(tx tonepay.Tx) error {
		var err error
		if k, err = findKey(ctx, tx, accountSid, sid); err != nil {
			return err
		}
		if friendlyName != nil {
			k.FriendlyName = *friendlyName
		}
		k.DateUpdated = svc.Now().UTC()
		return tx.UpdateKey(ctx, k)
	})
	return k, err
}

// DeleteKey implements tonepay.KeyService; requests signed with the key fail
// from then on.
func (svc *Service) DeleteKey(ctx context.Context, accountSid, sid string) error {
	return svc.Store.Update(ctx, func(tx tonepay.Tx) error {
		k, err := findKey(ctx, tx, accountSid, sid)
		if err != nil {
			return err
		}
		return tx.DeleteKey(ctx, k.Sid)
	})
}

func findKey(ctx context.Context, rd tonepay.Reader, accountSid, sid string) (*tonepay.Key, error) {
	k, err := rd.FindKey(ctx, sid)
	if err == nil && k.AccountSid != accountSid {
		err = tonepay.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", sid, err)
	}
	return k, nil
}

// FindCall implements tonepay.CallService.
func (svc *Service) FindCall(ctx context.Context, accountSid, sid string) (*tonepay.Call, error) {
	return findCall(ctx, svc.Store, accountSid, sid)
}

// FindSessions implements tonepay.SessionService. The call is read first,
// so that another account's call is ErrNotFound whatever it holds.
func (svc *Service) FindSessions(ctx context.Context, accountSid string, f tonepay.SessionFilter) ([]*tonepay.Session, error) {
	if _, err := findCall(ctx, svc.Store, accountSid, f.CallSid); err != nil {
		return nil, err
	}
	return svc.Store.FindSessions(ctx, f)
}

// findCall returns the account's call, or ErrNotFound: to another account
// the call does not exist.
func findCall(ctx context.Context, rd tonepay.Reader, accountSid, sid string) (*tonepay.Call, error) {
	c, err := rd.FindCall(ctx, sid)
	if err == nil && c.AccountSid != accountSid {
		err = tonepay.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("call %s: %w", sid, err)
	}
	return c, nil
}
