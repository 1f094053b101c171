package tonepay

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"time"
)

// Account is a Twilio account: a main account, or a subaccount owned by one.
type Account struct {
	Sid          string
	OwnerSid     string // the main account; equal to Sid for a main account
	FriendlyName string
	Status       string // AccountActive, "suspended" or "closed"
	AuthToken    Secret // the HMAC key of its status callbacks, and a password
	DateCreated  time.Time
	DateUpdated  time.Time
}

// AccountActive is the status of a usable account.
const AccountActive = "active"

// IsMain reports whether a is a main account (not a subaccount).
func (a *Account) IsMain() bool { return a.OwnerSid == a.Sid }

// CanActOn reports whether a's credentials reach the resources of account sid:
// its own, and a main account's subaccounts. ownerOfSid is that account's owner.
func (a *Account) CanActOn(sid, ownerOfSid string) bool {
	return sid == a.Sid || (a.IsMain() && ownerOfSid == a.Sid)
}

// APIKey is an API key: a second credential for an account. Only a hash of its
// secret is kept; the secret is shown once, when the key is created.
type APIKey struct {
	Sid          string
	AccountSid   string
	FriendlyName string
	SecretHash   string // hex SHA-256 of the secret (HashSecret)
	DateCreated  time.Time
	DateUpdated  time.Time
}

// HashSecret returns the stored form of an API key secret. Secrets are 128
// random bits, so a fast hash is enough: no password hashing on the request path.
func HashSecret(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// Verify reports, in constant time, whether secret is this key's.
func (k *APIKey) Verify(secret string) bool {
	return subtle.ConstantTimeCompare([]byte(HashSecret(secret)), []byte(k.SecretHash)) == 1
}

// AccountService keeps accounts.
type AccountService interface {
	// FindAccounts lists what the account sees of accounts, oldest first:
	// a main account, itself and its subaccounts; a subaccount, itself
	// alone (Tenant.FindAccounts). f.OwnerSid and f.Main are not used.
	FindAccounts(ctx context.Context, accountSid string, f AccountFilter) ([]*Account, error)
	// CreateSubaccount creates a subaccount of owner, which must be a main
	// account (20003). An empty name gets Twilio's default, with the date.
	CreateSubaccount(ctx context.Context, owner *Account, friendlyName string) (*Account, error)
}

// APIKeyService keeps an account's API keys. A key of another account is
// ErrNotFound, as a missing one is.
type APIKeyService interface {
	FindAPIKey(ctx context.Context, accountSid, sid string) (*APIKey, error)
	// FindAPIKeys lists the account's keys, oldest first (f.AccountSid is
	// accountSid's).
	FindAPIKeys(ctx context.Context, accountSid string, f APIKeyFilter) ([]*APIKey, error)
	// CreateAPIKey returns the key and its secret, which is stored nowhere.
	CreateAPIKey(ctx context.Context, accountSid, friendlyName string) (*APIKey, string, error)
	// UpdateAPIKey renames the key when friendlyName is not nil.
	UpdateAPIKey(ctx context.Context, accountSid, sid string, friendlyName *string) (*APIKey, error)
	DeleteAPIKey(ctx context.Context, accountSid, sid string) error
}
