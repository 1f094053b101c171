package payments

import (
	"slices"

	"github.com/tonepay/tonepay"
)

// LimitTo returns c for the given accounts only: a connector configured
// with `accounts` serves those accounts and their subaccounts, and to any
// other it does not exist (64004, as an unknown name).
func LimitTo(c tonepay.Connector, accounts []string) tonepay.Connector {
	return &limited{Connector: c, accounts: accounts}
}

// limited is a connector only some accounts (and their subaccounts) may use.
type limited struct {
	tonepay.Connector
	accounts []string
}

var _ tonepay.AccountLimiter = (*limited)(nil)

// Allows implements tonepay.AccountLimiter.
func (l *limited) Allows(accountSid, ownerSid string) bool {
	return slices.Contains(l.accounts, accountSid) || slices.Contains(l.accounts, ownerSid)
}
