package sqlite_test

import (
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/store/sqlite"
	"github.com/tonepay/tonepay/store/storetest"
)

func TestTokens(t *testing.T) {
	storetest.RunTokens(t, func(t *testing.T) storetest.TokenDB {
		path := filepath.Join(t.TempDir(), "s.db")
		return storetest.TokenDB{
			Open: func(sealer tonepay.Sealer) (tonepay.Store, error) {
				s, err := sqlite.Open(path)
				if err == nil && sealer != nil {
					if err = s.SealTokens(ctx, sealer); err != nil {
						s.Close()
					}
				}
				return s, err
			},
			Stored: func(t *testing.T, sid string) string {
				db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
				if err != nil {
					t.Fatal(err)
				}
				defer db.Close()
				var v string
				if err := db.QueryRow(`SELECT auth_token FROM accounts WHERE sid = ?`, sid).Scan(&v); err != nil {
					t.Fatal(err)
				}
				return v
			},
		}
	})
}
