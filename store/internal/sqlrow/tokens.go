package sqlrow

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/tonepay/tonepay"
)

// Account auth tokens are sealed at rest (docs/deployment.md, "Card data
// and auth tokens on PostgreSQL"): a token is both the account's API
// credential and the HMAC key of its callbacks' signatures, and the data key
// lives beside the database (SQLite's .key file) or only in the processes'
// environment (PostgreSQL), so a copy of the database alone, a dump or a
// backup, hands out no account.

// sealedPrefix marks a sealed token in the auth_token column. A row without
// it was written before tokens were sealed, in clear; Tokens.Reseal seals
// it. (Tokens tonepay makes are hex; an operator's token with this prefix
// would fail to open at start-up, loudly.)
const sealedPrefix = "sealed:"

// Tokens is the stored form of auth tokens. With a Sealer, tokens are sealed
// with the data key, the account SID as additional data (a sealed token
// copied onto another account does not open; session SIDs, the additional
// data of captured values, never equal an account's). Without one, they are
// stored and read in clear, as before; a sealed row then fails to read. A
// nil *Tokens is one without a Sealer.
type Tokens struct {
	Sealer tonepay.Sealer
}

// Seal returns the stored form of account sid's token.
func (k *Tokens) Seal(sid string, token tonepay.Secret) string {
	if k == nil || k.Sealer == nil {
		return token.Reveal()
	}
	return sealedPrefix + base64.RawStdEncoding.EncodeToString(k.Sealer.Seal(sid, []byte(token.Reveal())))
}

// Open reads a stored token back: sealed, or clear from before sealing.
func (k *Tokens) Open(sid, stored string) (tonepay.Secret, error) {
	rest, sealed := strings.CutPrefix(stored, sealedPrefix)
	if !sealed {
		return tonepay.NewSecret(stored), nil
	}
	if k == nil || k.Sealer == nil {
		return tonepay.Secret{}, fmt.Errorf("the auth token of %s is sealed, and this store has no data key", sid)
	}
	b, err := base64.RawStdEncoding.DecodeString(rest)
	if err == nil {
		b, err = k.Sealer.Open(sid, b)
	}
	if err != nil {
		return tonepay.Secret{}, fmt.Errorf("the auth token of %s does not open with this data key: %w", sid, err)
	}
	return tonepay.NewSecret(string(b)), nil
}

// ScanAccount is the package's ScanAccount with the token opened.
func (k *Tokens) ScanAccount(s Scanner) (*tonepay.Account, error) {
	a, err := ScanAccount(s)
	if err != nil {
		return nil, err
	}
	if a.AuthToken, err = k.Open(a.Sid, a.AuthToken.Reveal()); err != nil {
		return nil, err
	}
	return a, nil
}

// Reseal checks one stored token at start-up, once the Sealer is known: a
// sealed token must open, so that a wrong data key stops the process there
// and not at every request; a clear one comes back sealed (changed), to be
// written over it.
func (k *Tokens) Reseal(sid, stored string) (sealed string, changed bool, err error) {
	if k == nil || k.Sealer == nil {
		return "", false, errors.New("sqlrow.Reseal: no sealer")
	}
	token, err := k.Open(sid, stored)
	if err != nil || strings.HasPrefix(stored, sealedPrefix) {
		return stored, false, err
	}
	return k.Seal(sid, token), true, nil
}

// IsSealed reports whether a stored token is in its sealed form.
func IsSealed(stored string) bool { return strings.HasPrefix(stored, sealedPrefix) }
