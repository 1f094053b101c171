package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/internal/pgtest"
	"github.com/tonepay/tonepay/seal"
	"github.com/tonepay/tonepay/store/postgres"
	"github.com/tonepay/tonepay/store/storetest"
)

func TestTokens(t *testing.T) {
	storetest.RunTokens(t, func(t *testing.T) storetest.TokenDB {
		url := pgtest.FreshDB(t)
		return storetest.TokenDB{
			Open: func(sealer tonepay.Sealer) (tonepay.Store, error) {
				return postgres.OpenWith(context.Background(), url, postgres.Options{Tokens: sealer})
			},
			Stored: func(t *testing.T, sid string) string {
				conn, err := pgx.Connect(context.Background(), url)
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close(context.Background())
				var v string
				if err := conn.QueryRow(context.Background(), `SELECT auth_token FROM accounts WHERE sid = $1`, sid).Scan(&v); err != nil {
					t.Fatal(err)
				}
				return v
			},
		}
	})
}

// TestTokensResealedAway: once start-up seals a token stored in clear, the
// clear one is in no file of the database EraseWithin later (its old row
// version is rewritten away), though it was before.
func TestTokensResealedAway(t *testing.T) {
	url := pgtest.FreshDB(t)
	ctx := context.Background()
	s, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	a := storetest.MustAccount(t, s, "", time.Now())
	s.Close()
	conn, _, dbDir := files(t, url)
	token := [][]byte{[]byte(a.AuthToken.Reveal())}
	conn.Exec(ctx, `CHECKPOINT`)
	if len(holding(t, dbDir, token)) == 0 {
		t.Fatal("the clear token is in no file: the scan proves nothing")
	}
	box, err := seal.New(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	const within = time.Second
	s, err = postgres.OpenWith(ctx, url, postgres.Options{Tokens: box, EraseWithin: within})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	time.Sleep(within)
	conn.Exec(ctx, `CHECKPOINT`)
	if got := holding(t, dbDir, token); len(got) > 0 {
		t.Errorf("%v after start-up, the clear token is still in %v", within, got)

	}
}
