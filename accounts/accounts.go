// Package accounts keeps accounts, their API keys and their phone numbers
// (IncomingPhoneNumbers): the tenants of a tonepay server and what they
// own, and who may act on them (the Authenticator). Every write of the API
// to them and every read goes through the Service, so that each rule has
// one home and the wire layer only parses and encodes.
package accounts

import (
	"context"
	"time"

	"github.com/tonepay/tonepay"
)

var (
	_ tonepay.AccountService = (*Service)(nil)
	_ tonepay.APIKeyService  = (*Service)(nil)
	_ tonepay.NumberService  = (*Service)(nil)
)

// Service implements tonepay.Authenticator, AccountService, APIKeyService
// and NumberService.
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

// FindAccounts implements tonepay.AccountService.
func (svc *Service) FindAccounts(ctx context.Context, accountSid string, f tonepay.AccountFilter) ([]*tonepay.Account, error) {
	return tonepay.NewTenant(svc.Store, accountSid).FindAccounts(ctx, f)
}

// FindAPIKey implements tonepay.APIKeyService.
func (svc *Service) FindAPIKey(ctx context.Context, accountSid, sid string) (*tonepay.APIKey, error) {
	return tonepay.NewTenant(svc.Store, accountSid).FindAPIKey(ctx, sid)
}

// FindAPIKeys implements tonepay.APIKeyService.
func (svc *Service) FindAPIKeys(ctx context.Context, accountSid string, f tonepay.APIKeyFilter) ([]*tonepay.APIKey, error) {
	return tonepay.NewTenant(svc.Store, accountSid).FindAPIKeys(ctx, f)
}

// CreateAPIKey implements tonepay.APIKeyService. Only the secret's hash is stored.
func (svc *Service) CreateAPIKey(ctx context.Context, accountSid, friendlyName string) (*tonepay.APIKey, string, error) {
	now := svc.Now().UTC()
	secret := tonepay.RandomHex(16)
	k := &tonepay.APIKey{
		Sid:          svc.NewSID(tonepay.PrefixAPIKey),
		AccountSid:   accountSid,
		FriendlyName: friendlyName,
		SecretHash:   tonepay.HashSecret(secret),
		DateCreated:  now,
		DateUpdated:  now,
	}
	if err := svc.Store.Update(ctx, func(tx tonepay.Tx) error { return tx.CreateAPIKey(ctx, k) }); err != nil {
		return nil, "", err
	}
	return k, secret, nil
}

// UpdateAPIKey implements tonepay.APIKeyService.
func (svc *Service) UpdateAPIKey(ctx context.Context, accountSid, sid string, friendlyName *string) (*tonepay.APIKey, error) {
	var k *tonepay.APIKey
	err := svc.Store.Update(ctx, func(tx tonepay.Tx) error {
		var err error
		if k, err = tonepay.NewTenant(tx, accountSid).FindAPIKey(ctx, sid); err != nil {
			return err
		}
		if friendlyName != nil {
			k.FriendlyName = *friendlyName
		}
		k.DateUpdated = svc.Now().UTC()
		return tx.UpdateAPIKey(ctx, k)
	})
	return k, err
}

// DeleteAPIKey implements tonepay.APIKeyService; requests signed with the key fail
// from then on.
func (svc *Service) DeleteAPIKey(ctx context.Context, accountSid, sid string) error {
	return svc.Store.Update(ctx, func(tx tonepay.Tx) error {
		k, err := tonepay.NewTenant(tx, accountSid).FindAPIKey(ctx, sid)
		if err != nil {
			return err
		}
		return tx.DeleteAPIKey(ctx, k.Sid)
	})
}
