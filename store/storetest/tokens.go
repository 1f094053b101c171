package storetest

import (
	"errors"
	"strings"
	"testing"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/seal"
)

// TokenDB is one database of RunTokens, opened again and again.
type TokenDB struct {
	// Open opens the database, sealing auth tokens with sealer (nil: in
	// clear, as a store without a data key does). The suite closes each
	// store before it opens the next.
	Open func(sealer tonepay.Sealer) (tonepay.Store, error)
	// Stored returns the auth_token column of account sid, as stored.
	Stored func(t *testing.T, sid string) string
}

// RunTokens is the suite of auth tokens sealed at rest (docs/deployment.md,
// "Card data and auth tokens on PostgreSQL"). newDB returns a new, empty
// database for each subtest.
func RunTokens(t *testing.T, newDB func(t *testing.T) TokenDB) {
	tests := []struct {
		name string
		fn   func(t *testing.T, db TokenDB)
	}{
		{"Sealed", testTokensSealed},
		{"LegacyClear", testTokensLegacy},
		{"WrongKey", testTokensWrongKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, newDB(t)) })
	}
}

// box returns a data key's Box; n picks the key.
func box(t *testing.T, n byte) tonepay.Sealer {
	key := make([]byte, 32)
	for i := range key {
		key[i] = n
	}
	b, err := seal.New(key)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustOpen(t *testing.T, db TokenDB, sealer tonepay.Sealer) tonepay.Store {
	t.Helper()
	s, err := db.Open(sealer)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// checkToken reads account a through every read path and compares tokens.
func checkToken(t *testing.T, s tonepay.Store, a *tonepay.Account) {
	t.Helper()
	got, err := s.FindAccount(ctx, a.Sid)
	if err != nil || !got.AuthToken.Equal(a.AuthToken.Reveal()) {
		t.Errorf("FindAccount: token %q, %v; want %q", got.AuthToken.Reveal(), err, a.AuthToken.Reveal())
	}
	list, err := s.FindAccounts(ctx, tonepay.AccountFilter{OwnerSid: a.OwnerSid})
	if err != nil || len(list) != 1 || !list[0].AuthToken.Equal(a.AuthToken.Reveal()) {
		t.Errorf("FindAccounts: %v, %v", list, err)
	}
	update(t, s, func(tx tonepay.Tx) error {
		got, err := tx.FindAccount(ctx, a.Sid)
		if err != nil || !got.AuthToken.Equal(a.AuthToken.Reveal()) {
			t.Errorf("Tx.FindAccount: token %q, %v", got.AuthToken.Reveal(), err)
		}
		return nil
	})
}

// clearIn reports whether the stored form shows the token.
func clearIn(stored string, a *tonepay.Account) bool {
	return strings.Contains(stored, a.AuthToken.Reveal())
}

func testTokensSealed(t *testing.T, db TokenDB) {
	s := mustOpen(t, db, box(t, 1))
	defer s.Close()
	a := MustAccount(t, s, "", t0)
	if st := db.Stored(t, a.Sid); clearIn(st, a) {
		t.Errorf("the stored token shows it: %q", st)
	}
	checkToken(t, s, a)
	// A rotated token is sealed too.
	a.AuthToken, a.DateUpdated = tonepay.NewSecret("rotated"+tonepay.RandomHex(16)), t0.Add(1)
	update(t, s, func(tx tonepay.Tx) error { return tx.UpdateAccount(ctx, a) })
	if st := db.Stored(t, a.Sid); clearIn(st, a) {
		t.Errorf("the stored rotated token shows it: %q", st)
	}
	checkToken(t, s, a)
}

// testTokensLegacy: a token written in clear (before sealing, or by a store
// without a data key) still authenticates once the store seals, and is
// sealed at that start-up, not at its account's next write.
func testTokensLegacy(t *testing.T, db TokenDB) {
	s := mustOpen(t, db, nil)
	a := MustAccount(t, s, "", t0)
	s.Close()
	if st := db.Stored(t, a.Sid); st != a.AuthToken.Reveal() {
		t.Fatalf("without a sealer the token is stored as %q, not in clear", st)
	}
	s = mustOpen(t, db, box(t, 1))
	defer s.Close()
	if st := db.Stored(t, a.Sid); clearIn(st, a) {
		t.Errorf("after start-up with a sealer the token is still stored in clear: %q", st)
	}
	checkToken(t, s, a)
}

// testTokensWrongKey: sealed tokens under another data key stop start-up,
// and a store without a sealer fails to read them rather than hand out what
// is stored.
func testTokensWrongKey(t *testing.T, db TokenDB) {
	s := mustOpen(t, db, box(t, 1))
	a := MustAccount(t, s, "", t0)
	s.Close()
	if s, err := db.Open(box(t, 2)); err == nil {
		s.Close()
		t.Fatal("a store opened with the wrong data key")
	}
	s = mustOpen(t, db, nil)
	defer s.Close()
	got, err := s.FindAccount(ctx, a.Sid)
	if err == nil || errors.Is(err, tonepay.ErrNotFound) {
		t.Errorf("FindAccount of a sealed token without a sealer: %v, %v", got, err)
	}
}
