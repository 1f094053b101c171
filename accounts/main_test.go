package accounts_test

import (
	"context"
	"errors"
	"testing"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/accounts"
	"github.com/tonepay/tonepay/store/storetest"
)

// TestEnsureMain: start-up's main account, in each case serve meets.
func TestEnsureMain(t *testing.T) {
	ctx := context.Background()
	named := tonepay.NewSID("AC")
	tests := []struct {
		name       string
		existing   func(f *fixture) // accounts before (the fixture's one is removed first: an empty store)
		sid, token string
		want       accounts.Main // Account: only whether it is set
		err        error
	}{
		{"empty store: one is created", nil, "", "", accounts.Main{Created: true}, nil},
		{"a store with accounts is left as it is", func(f *fixture) { storetest.MustAccount(t, f.store, "", f.now) }, "", "", accounts.Main{Found: true}, nil},
		{"named, missing: created with its token", nil, named, "tok1", accounts.Main{Created: true}, nil},
		{"named, present: its token set", func(f *fixture) { mustMain(t, f, named, "old") }, named, "tok1", accounts.Main{Found: true, TokenSet: true}, nil},
		{"named, present, same token", func(f *fixture) { mustMain(t, f, named, "tok1") }, named, "tok1", accounts.Main{Found: true}, nil},
		{"named, a subaccount", func(f *fixture) {
			o := mustMain(t, f, tonepay.NewSID("AC"), "x")
			sub := &tonepay.Account{Sid: named, OwnerSid: o.Sid, FriendlyName: "sub", Status: tonepay.AccountActive, AuthToken: tonepay.NewSecret("y"), DateCreated: f.now, DateUpdated: f.now}
			if err := f.store.Update(ctx, func(tx tonepay.Tx) error { return tx.CreateAccount(ctx, sub) }); err != nil {
				t.Fatal(err)
			}
		}, named, "tok1", accounts.Main{}, accounts.ErrSubaccount},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newEmptyFixture(t)
			if tt.existing != nil {
				tt.existing(f)
			}
			m, err := f.service().EnsureMain(ctx, tt.sid, tt.token)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err %v, want %v", err, tt.err)
			}
			if err != nil {
				return
			}
			if m.Created != tt.want.Created || m.Found != tt.want.Found || m.TokenSet != tt.want.TokenSet || (m.Account == nil) != (tt.sid == "" && tt.want.Found) {
				t.Fatalf("got %+v, want %+v", m, tt.want)
			}
			if m.Account == nil {
				return
			}
			a, err := f.store.FindAccount(ctx, m.Account.Sid)
			if err != nil || !a.IsMain() || tt.token != "" && !a.AuthToken.Equal(tt.token) || tt.sid != "" && a.Sid != tt.sid {
				t.Errorf("stored %+v, %v", a, err)
			}
			mains, err := f.service().MainAccounts(ctx)
			if err != nil || len(mains) == 0 || mains[len(mains)-1].Sid != a.Sid && mains[0].Sid != a.Sid {
				t.Errorf("MainAccounts = %v, %v", mains, err)
			}
		})
	}
}

func mustMain(t *testing.T, f *fixture, sid, token string) *tonepay.Account {
	t.Helper()
	a := &tonepay.Account{Sid: sid, OwnerSid: sid, FriendlyName: accounts.MainName, Status: tonepay.AccountActive, AuthToken: tonepay.NewSecret(token), DateCreated: f.now, DateUpdated: f.now}
	if err := f.store.Update(context.Background(), func(tx tonepay.Tx) error { return tx.CreateAccount(context.Background(), a) }); err != nil {
		t.Fatal(err)
	}
	return a
}
