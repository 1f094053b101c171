package tonepay

import (
	"crypto/rand"
	"encoding/hex"
)

// SID prefixes, as Twilio uses them.
const (
	PrefixAccount = "AC"
	PrefixAPIKey  = "SK"
	PrefixCall    = "CA"
	PrefixPayment = "PK"
)

// NewSID returns prefix + 32 random lowercase hex digits. Tests inject their own
// generator where they need fixed SIDs.
func NewSID(prefix string) string { return prefix + RandomHex(16) }

// RandomHex returns n random bytes as lowercase hex: alphanumeric, as twilio-go
// requires of credentials.
func RandomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand panics rather than return short)
	return hex.EncodeToString(b)
}

// IsSID reports whether s is prefix followed by 32 lowercase hex digits, the
// only form NewSID makes (DESIGN §3): an upper-case SID names nothing, so it
// is refused here rather than looked up.
func IsSID(s, prefix string) bool {
	if len(s) != 34 || s[:2] != prefix {
		return false
	}
	for i := 2; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
