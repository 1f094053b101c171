package postgres

import (
	"context"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/store/internal/sqlrow"
)

func (r reader) FindNumber(ctx context.Context, sid string) (*tonepay.PhoneNumber, error) {
	return one(ctx, r.q, "FindNumber", sqlrow.ScanNumber, `SELECT `+sqlrow.NumberCols+` FROM incoming_numbers WHERE sid = $1`+r.forUpdate(), sid)
}

func (r reader) FindNumbers(ctx context.Context, f tonepay.NumberFilter) ([]*tonepay.PhoneNumber, error) {
	return many(ctx, r.q, "FindNumbers", sqlrow.ScanNumber, `SELECT `+sqlrow.NumberCols+` FROM incoming_numbers
		WHERE account_sid = $1 AND ($2 = '' OR phone_number = $2) AND ($3 = '' OR friendly_name = $3)
		ORDER BY date_created, sid LIMIT $4 OFFSET $5`, f.AccountSid, f.PhoneNumber, f.FriendlyName, limit(f.Limit), f.Offset)
}

// CreateNumber: the unique index on phone_number is the one-owner rule.
func (t *txn) CreateNumber(ctx context.Context, n *tonepay.PhoneNumber) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO incoming_numbers (`+sqlrow.NumberCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		sqlrow.NumberArgs(n)...)
	if isUniqueViolation(err) {
		return tonepay.ErrConflict
	}
	return wrap("CreateNumber", err)
}

func (t *txn) UpdateNumber(ctx context.Context, n *tonepay.PhoneNumber) error {
	return t.execOne(ctx, "UpdateNumber", `UPDATE incoming_numbers SET friendly_name = $1, voice_url = $2, voice_method = $3,
		voice_fallback_url = $4, voice_fallback_method = $5, status_callback = $6, status_callback_method = $7, date_updated = $8 WHERE sid = $9`,
		n.FriendlyName, n.VoiceURL, n.VoiceMethod, n.VoiceFallbackURL, n.VoiceFallbackMethod, n.StatusCallback, n.StatusCallbackMethod,
		sqlrow.Ts(n.DateUpdated), n.Sid)
}

func (t *txn) DeleteNumber(ctx context.Context, sid string) error {
	return t.execOne(ctx, "DeleteNumber", `DELETE FROM incoming_numbers WHERE sid = $1`, sid)
}
