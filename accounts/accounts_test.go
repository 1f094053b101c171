package accounts_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/accounts"
	"github.com/tonepay/tonepay/store/sqlite"
	"github.com/tonepay/tonepay/store/storetest"
)

// fixture is an accounts service over a real SQLite store, with one account.
type fixture struct {
	store *sqlite.Store
	now   time.Time
	acct  *tonepay.Account
}

func newFixture(t testing.TB) *fixture {
	f := newEmptyFixture(t)
	f.acct = storetest.MustAccount(t, f.store, "", f.now)
	return f
}

// newEmptyFixture is a fixture with no account.
func newEmptyFixture(t testing.TB) *fixture {
	store, err := sqlite.Open(filepath.Join(t.TempDir(), "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return &fixture{store: store, now: time.Date(2026, 11, 23, 1, 0, 0, 0, time.UTC)}
}

func (f *fixture) service() *accounts.Service {
	svc := accounts.New(f.store)
	svc.Now = func() time.Time { return f.now }
	return svc
}
