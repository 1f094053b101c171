package sqlite

import (
	"context"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/store/internal/sqlrow"
)

func (r reader) FindNumber(ctx context.Context, sid string) (*tonepay.PhoneNumber, error) {
	return one(ctx, r.q, "FindNumber", sqlrow.ScanNumber, `SELECT `+sqlrow.NumberCols+` FROM incoming_numbers WHERE sid = ?`, sid)
}

func (r reader) FindNumbers(ctx context.Context, f tonepay.NumberFilter) ([]*tonepay.PhoneNumber, error) {
	return many(ctx, r.q, "FindNumbers", sqlrow.ScanNumber, `SELECT `+sqlrow.NumberCols+` FROM incoming_numbers
		WHERE account_sid = ?1 AND (?2 = '' OR phone_number = ?2) AND (?3 = '' OR friendly_name = ?3)
		ORDER BY date_created, sid LIMIT ?4 OFFSET ?5`, f.AccountSid, f.PhoneNumber, f.FriendlyName, limit(f.Limit), f.Offset)
}

// CreateNumber: the unique index on phone_number is the one-owner rule.
func (t *txn) CreateNumber(ctx context.Context, n *tonepay.PhoneNumber) error {
	_, err := t.tx.ExecContext(ctx, `INSERT INTO incoming_numbers (`+sqlrow.NumberCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		sqlrow.NumberArgs(n)...)
	if isUniqueViolation(err) {
		return tonepay.ErrConflict
	}
	return wrap("CreateNumber", err)
}

func (t *txn) UpdateNumber(ctx context.Context, n *tonepay.PhoneNumber) error {
	return t.execOne(ctx, "UpdateNumber", `UPDATE incoming_numbers SET friendly_name = ?, voice_url = ?, voice_method = ?,
		voice_fallback_url = ?, voice_fallback_method = ?, status_callback = ?, status_callback_method = ?, date_updated = ? WHERE sid = ?`,
		n.FriendlyName, n.VoiceURL, n.VoiceMethod, n.VoiceFallbackURL, n.VoiceFallbackMethod, n.StatusCallback, n.StatusCallbackMethod,
		sqlrow.Ts(n.DateUpdated), n.Sid)
}

func (t *txn) DeleteNumber(ctx context.Context, sid string) error {
	return t.execOne(ctx, "DeleteNumber", `DELETE FROM incoming_numbers WHERE sid = ?`, sid)
}
