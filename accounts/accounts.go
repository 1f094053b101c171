// Package accounts keeps accounts, their API keys and their phone numbers
// (IncomingPhoneNumbers): the tenants of a tonepay server and what they
// own. Every write of the API to them goes through the Service, so that
// each rule has one home and the wire layer only parses and encodes.
package accounts

import (
	"context"
	"fmt"
	"time"

	"github.com/tonepay/tonepay"
)

var (
	_ tonepay.AccountService = (*Service)(nil)
	_ tonepay.KeyService     = (*Service)(nil)
	_ tonepay.NumberService  = (*Service)(nil)
)

// Service implements tonepay.AccountService, KeyService and NumberService.
type Service struct {
	Store  tonepay.Store
	Now    func() time.Time           // injected clock
	NewSID func(prefix string) string // injected ids
}

// New returns a Service with the real clock and random SIDs.
func New(store tonepay.Store) *Service {
	return &Service{Store: store, Now: time.Now, NewSID: tonepay.NewSID}
}

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
