package sqlite

import (
	"context"
	"errors"
	"fmt"

	"github.com/tonepay/tonepay"
)

// SealTokens makes the store seal account auth tokens at rest with sealer
// (the data key's seal.Box; see store/internal/sqlrow, Tokens). Call it once,
// right after Open and before serving. It seals the tokens stored in clear
// before, and fails if a sealed one does not open: a wrong data key stops
// start-up rather than failing every request. Without it, tokens are stored
// in clear and sealed ones cannot be read.
func (s *Store) SealTokens(ctx context.Context, sealer tonepay.Sealer) error {
	s.tokens.Sealer = sealer
	err := s.Update(ctx, func(tx tonepay.Tx) error {
		t := tx.(*txn)
		rows, err := t.tx.QueryContext(ctx, `SELECT sid, auth_token FROM accounts`)
		if err != nil {
			return err
		}
		type reseal struct{ sid, clear, sealed string }
		var todo []reseal
		for rows.Next() {
			var r reseal
			if err = rows.Scan(&r.sid, &r.clear); err != nil {
				break
			}
			var changed bool
			if r.sealed, changed, err = s.tokens.Reseal(r.sid, r.clear); err != nil {
				break
			}
			if changed {
				todo = append(todo, r)
			}
		}
		rows.Close()
		if err = errors.Join(err, rows.Err()); err != nil {
			return err
		}
		for _, r := range todo {
			t.changed.accounts = append(t.changed.accounts, r.sid)
			if _, err := t.tx.ExecContext(ctx, `UPDATE accounts SET auth_token = ? WHERE sid = ?`, r.sealed, r.sid); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite.SealTokens: %w", err)
	}
	return nil
}
