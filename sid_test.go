package tonepay

import (
	"strings"
	"testing"
)

func TestIsSID(t *testing.T) {
	hex := strings.Repeat("0123456789abcdef", 2)
	for _, c := range []struct {
		s, prefix string
		want      bool
	}{
		{"AC" + hex, PrefixAccount, true},
		{NewSID(PrefixPayment), PrefixPayment, true},
		{"AC" + strings.ToUpper(hex), PrefixAccount, false}, // SIDs are lowercase (DESIGN §3)
		{"AC" + hex[:31] + "F", PrefixAccount, false},
		{"CA" + hex, PrefixAccount, false},
		{"AC" + hex[:31], PrefixAccount, false},
		{"AC" + hex + "0", PrefixAccount, false},
		{"AC" + hex[:31] + "g", PrefixAccount, false},
		{"", PrefixAccount, false},
	} {
		if got := IsSID(c.s, c.prefix); got != c.want {
			t.Errorf("IsSID(%q, %q) = %v", c.s, c.prefix, got)
		}
	}
}
