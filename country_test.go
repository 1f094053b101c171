package tonepay

import (
	"strings"
	"testing"
)

func TestCountryOf(t *testing.T) {
	tests := []struct{ number, want string }{
		{"+14155550100", "US"},
		{"+16135550100", "US"}, // Ottawa: NANP, shown as US (see callingCodes)
		{"+15005550006", "US"},
		{"+442071838750", "GB"},
		{"+33142685300", "FR"},
		{"+4930901820", "DE"},
		{"+34915550100", "ES"},
		{"+390612345678", "IT"},
		{"+61255550100", "AU"},
		{"+919876543210", "IN"},
		{"+525555550100", "MX"},
		{"+35315550100", "IE"},
		{"+85221234567", "HK"},
		{"+97145550100", "AE"},
		{"+6799991234", ""},   // Fiji: not in the table
		{"+2125550100", "MA"}, // three digits
		{"client:alice", ""},
		{"anonymous", ""},
		{"sip:alice@example.com", ""},
		{"14155550100", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := CountryOf(tt.number); got != tt.want {
			t.Errorf("CountryOf(%q) = %q, want %q", tt.number, got, tt.want)
		}
	}
}

// TestCallingCodesArePrefixFree: CountryOf takes the first code that
// matches, which is right only while no code begins another.
func TestCallingCodesArePrefixFree(t *testing.T) {
	for a, ca := range callingCodes {
		if len(a) < 1 || len(a) > 3 || strings.Trim(a, "0123456789") != "" || len(ca) != 2 || strings.ToUpper(ca) != ca {
			t.Errorf("entry %q: %q", a, ca)
		}
		for b := range callingCodes {
			if a != b && strings.HasPrefix(b, a) {
				t.Errorf("code %s begins code %s", a, b)
			}
		}
	}
}
