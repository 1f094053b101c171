package postgres_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/store/postgres"
	"github.com/tonepay/tonepay/store/storetest"
)

func TestTokens(t *testing.T) {
	storetest.RunTokens(t, func(t *testing.T) storetest.TokenDB {
		url := freshDB(t)
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
