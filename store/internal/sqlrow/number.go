package sqlrow

import "github.com/tonepay/tonepay"

// NumberCols are the columns ScanNumber reads, in the order NumberArgs gives.
const NumberCols = `sid, account_sid, phone_number, friendly_name, voice_url, voice_method, voice_fallback_url,
	voice_fallback_method, status_callback, status_callback_method, date_created, date_updated`

// ScanNumber reads one row.
func ScanNumber(s Scanner) (*tonepay.PhoneNumber, error) {
	var n tonepay.PhoneNumber
	var created, updated int64
	if err := s.Scan(&n.Sid, &n.AccountSid, &n.Number, &n.FriendlyName, &n.VoiceURL, &n.VoiceMethod, &n.VoiceFallbackURL,
		&n.VoiceFallbackMethod, &n.StatusCallback, &n.StatusCallbackMethod, &created, &updated); err != nil {
		return nil, err
	}
	n.DateCreated, n.DateUpdated = Tm(created), Tm(updated)
	return &n, nil
}

// NumberArgs are n's values in NumberCols' order.
func NumberArgs(n *tonepay.PhoneNumber) []any {
	return []any{n.Sid, n.AccountSid, n.Number, n.FriendlyName, n.VoiceURL, n.VoiceMethod, n.VoiceFallbackURL,
		n.VoiceFallbackMethod, n.StatusCallback, n.StatusCallbackMethod, Ts(n.DateCreated), Ts(n.DateUpdated)}
}
