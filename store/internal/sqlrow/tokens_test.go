package sqlrow_test

import (
	"strings"
	"testing"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/seal"
	"github.com/tonepay/tonepay/store/internal/sqlrow"
)

func box(t testing.TB, n byte) *seal.Box {
	b, err := seal.New([]byte(strings.Repeat(string(rune('a'+n)), 32)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestTokens(t *testing.T) {
	token := tonepay.NewSecret("0123456789abcdef0123456789abcdef")
	k := &sqlrow.Tokens{Sealer: box(t, 1)}
	stored := k.Seal("AC1", token)
	tests := []struct {
		name    string
		tokens  *sqlrow.Tokens
		sid     string
		stored  string
		want    string
		wantErr bool
	}{
		{"sealed", k, "AC1", stored, token.Reveal(), false},
		{"clear, from before sealing", k, "AC1", token.Reveal(), token.Reveal(), false},
		{"clear without a sealer", nil, "AC1", token.Reveal(), token.Reveal(), false},
		{"copied onto another account", k, "AC2", stored, "", true},
		{"another data key", &sqlrow.Tokens{Sealer: box(t, 2)}, "AC1", stored, "", true},
		{"sealed, without a sealer", nil, "AC1", stored, "", true},
		{"not base64", k, "AC1", "sealed:!!", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.tokens.Open(tt.sid, tt.stored)
			if (err != nil) != tt.wantErr || got.Reveal() != tt.want {
				t.Errorf("Open = %q, %v", got.Reveal(), err)
			}
		})
	}
	if strings.Contains(stored, token.Reveal()) || !sqlrow.IsSealed(stored) {
		t.Errorf("stored form %q", stored)
	}
	if again, changed, err := k.Reseal("AC1", stored); err != nil || changed || again != stored {
		t.Errorf("Reseal of a sealed token: %q, %v, %v", again, changed, err)
	}
	resealed, changed, err := k.Reseal("AC1", token.Reveal())
	if got, _ := k.Open("AC1", resealed); err != nil || !changed || !sqlrow.IsSealed(resealed) || got.Reveal() != token.Reveal() {
		t.Errorf("Reseal of a clear token: %q, %v, %v", resealed, changed, err)
	}
	if _, _, err := (&sqlrow.Tokens{Sealer: box(t, 2)}).Reseal("AC1", stored); err == nil {
		t.Error("Reseal with another data key succeeded")
	}
}

// BenchmarkOpenToken is what sealing adds to every account read that
// misses the SQLite row cache, and to every PostgreSQL one.
func BenchmarkOpenToken(b *testing.B) {
	k := &sqlrow.Tokens{Sealer: box(b, 1)}
	stored := k.Seal("AC1", tonepay.NewSecret("0123456789abcdef0123456789abcdef"))
	for b.Loop() {
		k.Open("AC1", stored)
	}
}
