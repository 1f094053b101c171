package accounts

import (
	"context"
	"errors"

	"github.com/tonepay/tonepay"
)

// FindNumber implements tonepay.NumberService.
func (svc *Service) FindNumber(ctx context.Context, accountSid, sid string) (*tonepay.PhoneNumber, error) {
	return tonepay.NewTenant(svc.Store, accountSid).FindNumber(ctx, sid)
}

// FindNumbers implements tonepay.NumberService.
func (svc *Service) FindNumbers(ctx context.Context, accountSid string, f tonepay.NumberFilter) ([]*tonepay.PhoneNumber, error) {
	return tonepay.NewTenant(svc.Store, accountSid).FindNumbers(ctx, f)
}

// CreateNumber implements tonepay.NumberService. There is no carrier behind
// it: any E.164 number nobody on this server owns can be had.
func (svc *Service) CreateNumber(ctx context.Context, req *tonepay.CreateNumberRequest) (*tonepay.PhoneNumber, error) {
	if !tonepay.IsE164(req.PhoneNumber) {
		return nil, tonepay.Errorf(tonepay.CodePhoneNumberInvalid, "Phone Number is invalid: PhoneNumber must be an E.164 number (+ and 7 to 15 digits)")
	}
	now := svc.Now().UTC()
	n := &tonepay.PhoneNumber{
		Sid:         svc.NewSID(tonepay.PrefixPhoneNumber),
		AccountSid:  req.AccountSid,
		Number:      req.PhoneNumber,
		DateCreated: now,
		DateUpdated: now,
	}
	req.Apply(n)
	err := svc.Store.Update(ctx, func(tx tonepay.Tx) error { return tx.CreateNumber(ctx, n) })
	if errors.Is(err, tonepay.ErrConflict) {
		// Whoever owns it: another account's number is not named as such.
		return nil, tonepay.Errorf(tonepay.CodePhoneNumberUnavailable, "PhoneNumber %s is not available", req.PhoneNumber)
	}
	if err != nil {
		return nil, err
	}
	return n, nil
}

// UpdateNumber implements tonepay.NumberService.
func (svc *Service) UpdateNumber(ctx context.Context, req *tonepay.UpdateNumberRequest) (*tonepay.PhoneNumber, error) {
	var n *tonepay.PhoneNumber
	err := svc.Store.Update(ctx, func(tx tonepay.Tx) error {
		var err error
		if n, err = tonepay.NewTenant(tx, req.AccountSid).FindNumber(ctx, req.Sid); err != nil {
			return err
		}
		req.Apply(n)
		n.DateUpdated = svc.Now().UTC()
		return tx.UpdateNumber(ctx, n)
	})
	if err != nil {
		return nil, err
	}
	return n, nil
}

// DeleteNumber implements tonepay.NumberService.
func (svc *Service) DeleteNumber(ctx context.Context, accountSid, sid string) error {
	return svc.Store.Update(ctx, func(tx tonepay.Tx) error {
		n, err := tonepay.NewTenant(tx, accountSid).FindNumber(ctx, sid)
		if err != nil {
			return err
		}
		return tx.DeleteNumber(ctx, n.Sid)
	})
}
