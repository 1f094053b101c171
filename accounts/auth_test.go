package accounts_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/store/storetest"
)

// authFixture is an Authenticator over a real store with two main accounts,
// subaccounts, API keys (one deleted) and a suspended account of each kind.
type authFixture struct {
	*fixture
	main, sub, sibling, other, otherSub *tonepay.Account
	suspended, suspendedSub             *tonepay.Account
	key, subKey, deleted, suspendedKey  *tonepay.APIKey
	secrets                             map[string]string // key SID -> secret
}

func newAuthFixture(t *testing.T) *authFixture {
	f := &authFixture{fixture: newEmptyFixture(t), secrets: map[string]string{}}
	svc := f.service()
	f.main = storetest.MustAccount(t, f.store, "", f.now)
	f.sub = storetest.MustAccount(t, f.store, f.main.Sid, f.now)
	f.sibling = storetest.MustAccount(t, f.store, f.main.Sid, f.now)
	f.other = storetest.MustAccount(t, f.store, "", f.now)
	f.otherSub = storetest.MustAccount(t, f.store, f.other.Sid, f.now)
	f.suspended = storetest.MustAccount(t, f.store, "", f.now)
	f.suspendedSub = storetest.MustAccount(t, f.store, f.main.Sid, f.now)
	newKey := func(account string) *tonepay.APIKey {
		k, secret, err := svc.CreateAPIKey(context.Background(), account, "k")
		if err != nil {
			t.Fatal(err)
		}
		f.secrets[k.Sid] = secret
		return k
	}
	f.key, f.subKey, f.deleted, f.suspendedKey = newKey(f.main.Sid), newKey(f.sub.Sid), newKey(f.main.Sid), newKey(f.suspended.Sid)
	if err := svc.DeleteAPIKey(context.Background(), f.main.Sid, f.deleted.Sid); err != nil {
		t.Fatal(err)
	}
	f.suspend(t, f.suspended)
	f.suspend(t, f.suspendedSub)
	return f
}

func (f *authFixture) suspend(t *testing.T, a *tonepay.Account) {
	t.Helper()
	err := f.store.Update(context.Background(), func(tx tonepay.Tx) error {
		a.Status = "suspended"
		return tx.UpdateAccount(context.Background(), a)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// checkAuthError reports whether err is what want names: "" no error,
// "bad" ErrBadCredentials itself (what the failed-auth limit counts), else
// a 20003 that is not ErrBadCredentials and whose message holds want.
func checkAuthError(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "":
		if err != nil {
			t.Errorf("got %v, want no error", err)
		}
	case want == "bad":
		if !errors.Is(err, tonepay.ErrBadCredentials) {
			t.Errorf("got %v, want ErrBadCredentials", err)
		}
	case errors.Is(err, tonepay.ErrBadCredentials) || tonepay.ErrorCode(err) != tonepay.CodeAuthenticate || !strings.Contains(tonepay.ErrorMessage(err), want):
		t.Errorf("got %v, want 20003 saying %q (and not a bad password)", err, want)
	}
}

// TestAuthenticate: credentials to a caller; whatever does not match is the
// one ErrBadCredentials, so that the API tells no SID that exists from one
// that does not; good credentials of an account that is not active are
// refused for what they are.
func TestAuthenticate(t *testing.T) {
	f := newAuthFixture(t)
	svc := f.service()
	tests := []struct {
		name       string
		user, pass string
		want       string // checkAuthError's
		account    *tonepay.Account
		key        *tonepay.APIKey
	}{
		{"auth token", f.main.Sid, f.main.AuthToken.Reveal(), "", f.main, nil},
		{"subaccount's auth token", f.sub.Sid, f.sub.AuthToken.Reveal(), "", f.sub, nil},
		{"API key", f.key.Sid, f.secrets[f.key.Sid], "", f.main, f.key},
		{"subaccount's API key", f.subKey.Sid, f.secrets[f.subKey.Sid], "", f.sub, f.subKey},
		{"wrong token", f.main.Sid, "nope", "bad", nil, nil},
		{"another account's token", f.main.Sid, f.sub.AuthToken.Reveal(), "bad", nil, nil},
		{"wrong secret", f.key.Sid, "nope", "bad", nil, nil},
		{"another key's secret", f.key.Sid, f.secrets[f.subKey.Sid], "bad", nil, nil},
		{"key secret as the account's token", f.main.Sid, f.secrets[f.key.Sid], "bad", nil, nil},
		{"deleted key", f.deleted.Sid, f.secrets[f.deleted.Sid], "bad", nil, nil},
		{"unknown account", tonepay.NewSID(tonepay.PrefixAccount), "x", "bad", nil, nil},
		{"unknown key", tonepay.NewSID(tonepay.PrefixAPIKey), "x", "bad", nil, nil},
		{"not a SID", "admin", "admin", "bad", nil, nil},
		{"SID with a lower-case prefix", "ac" + f.main.Sid[2:], f.main.AuthToken.Reveal(), "bad", nil, nil},
		{"no user", "", "", "bad", nil, nil},
		{"suspended account", f.suspended.Sid, f.suspended.AuthToken.Reveal(), "account " + f.suspended.Sid + " is suspended", nil, nil},
		{"suspended account's key", f.suspendedKey.Sid, f.secrets[f.suspendedKey.Sid], "account " + f.suspended.Sid + " is suspended", nil, nil},
		{"suspended account, wrong token", f.suspended.Sid, "nope", "bad", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := svc.Authenticate(context.Background(), tt.user, tt.pass)
			checkAuthError(t, err, tt.want)
			if tt.want != "" {
				if c != nil {
					t.Errorf("a caller with an error: %+v", c)
				}
				return
			}
			if c == nil || c.Account.Sid != tt.account.Sid || (c.APIKey == nil) != (tt.key == nil) || c.APIKey != nil && c.APIKey.Sid != tt.key.Sid {
				t.Errorf("caller %+v, want account %s, key %v", c, tt.account.Sid, tt.key)
			}
		})
	}
}

// TestAuthorize: a main account acts on itself and its subaccounts, a
// subaccount on itself only; any other account, existing or not, is 20003;
// an API key may use its account but not manage it.
func TestAuthorize(t *testing.T) {
	f := newAuthFixture(t)
	svc := f.service()
	token := func(a *tonepay.Account) *tonepay.Caller { return &tonepay.Caller{Account: a} }
	withKey := func(a *tonepay.Account, k *tonepay.APIKey) *tonepay.Caller {
		return &tonepay.Caller{Account: a, APIKey: k}
	}
	const cannot, noKeys = "cannot act on account", "API keys cannot manage Accounts or Keys"
	tests := []struct {
		name   string
		caller *tonepay.Caller
		sid    string
		access tonepay.Access
		want   string // checkAuthError's
	}{
		{"main on itself", token(f.main), f.main.Sid, tonepay.AccessUse, ""},
		{"main manages itself", token(f.main), f.main.Sid, tonepay.AccessManage, ""},
		{"main on its subaccount", token(f.main), f.sub.Sid, tonepay.AccessUse, ""},
		{"main manages its subaccount", token(f.main), f.sub.Sid, tonepay.AccessManage, ""},
		{"main on its suspended subaccount", token(f.main), f.suspendedSub.Sid, tonepay.AccessUse, ""},
		{"subaccount on itself", token(f.sub), f.sub.Sid, tonepay.AccessUse, ""},
		{"subaccount on its main", token(f.sub), f.main.Sid, tonepay.AccessUse, cannot},
		{"subaccount on its sibling", token(f.sub), f.sibling.Sid, tonepay.AccessUse, cannot},
		{"main on another main", token(f.main), f.other.Sid, tonepay.AccessUse, cannot},
		{"main on another main's subaccount", token(f.main), f.otherSub.Sid, tonepay.AccessUse, cannot},
		{"main on an unknown account", token(f.main), tonepay.NewSID(tonepay.PrefixAccount), tonepay.AccessUse, cannot},
		{"main on no SID", token(f.main), "nope", tonepay.AccessUse, cannot},
		{"key uses its account", withKey(f.main, f.key), f.main.Sid, tonepay.AccessUse, ""},
		{"main's key uses a subaccount", withKey(f.main, f.key), f.sub.Sid, tonepay.AccessUse, ""},
		{"key manages its account", withKey(f.main, f.key), f.main.Sid, tonepay.AccessManage, noKeys},
		{"key manages a subaccount", withKey(f.main, f.key), f.sub.Sid, tonepay.AccessManage, noKeys},
		{"key manages another account: keys first", withKey(f.main, f.key), f.other.Sid, tonepay.AccessManage, noKeys},
		{"subaccount's key on the main", withKey(f.sub, f.subKey), f.main.Sid, tonepay.AccessUse, cannot},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := svc.Authorize(context.Background(), tt.caller, tt.sid, tt.access)
			checkAuthError(t, err, tt.want)
			if tt.want == "" && (a == nil || a.Sid != tt.sid) {
				t.Errorf("account %+v, want %s", a, tt.sid)
			}
		})
	}
}

// TestRecheck: a stream's credentials checked again end it when the key is
// deleted, the token rotated, or the watched account (the caller's own or a
// subaccount it watches) suspended.
func TestRecheck(t *testing.T) {
	f := newAuthFixture(t)
	svc := f.service()
	ctx := context.Background()
	tests := []struct {
		name       string
		user, pass string
		sid        string
		want       string // checkAuthError's
	}{
		{"good token", f.main.Sid, f.main.AuthToken.Reveal(), f.main.Sid, ""},
		{"good key", f.key.Sid, f.secrets[f.key.Sid], f.main.Sid, ""},
		{"main watching a subaccount", f.main.Sid, f.main.AuthToken.Reveal(), f.sub.Sid, ""},
		{"main watching a suspended subaccount", f.main.Sid, f.main.AuthToken.Reveal(), f.suspendedSub.Sid, "account " + f.suspendedSub.Sid + " is suspended"},
		{"suspended account", f.suspended.Sid, f.suspended.AuthToken.Reveal(), f.suspended.Sid, "is suspended"},
		{"deleted key", f.deleted.Sid, f.secrets[f.deleted.Sid], f.main.Sid, "bad"},
		{"rotated token", f.main.Sid, "old", f.main.Sid, "bad"},
		{"subaccount watching its main", f.sub.Sid, f.sub.AuthToken.Reveal(), f.main.Sid, "cannot act on account"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkAuthError(t, svc.Recheck(ctx, tt.user, tt.pass, tt.sid), tt.want)
		})
	}
}
