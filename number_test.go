package tonepay

import "testing"

func TestIsE164AndFormatNumber(t *testing.T) {
	tests := []struct {
		in     string
		valid  bool
		format string
	}{
		{"+14155550100", true, "(415) 555-0100"},
		{"+15005550006", true, "(500) 555-0006"},
		{"+442071838750", true, "+442071838750"},
		{"+1415555010", true, "+1415555010"}, // +1 but nine digits: not NANP-shaped, shown as given
		{"+1234567", true, "+1234567"},
		{"+123456789012345", true, "+123456789012345"},
		{"+1234567890123456", false, "+1234567890123456"},
		{"+123456", false, "+123456"},
		{"14155550100", false, "14155550100"},
		{"+04155550100", false, "+04155550100"},
		{"+1415555010a", false, "+1415555010a"},
		{"+1 415 555 0100", false, "+1 415 555 0100"},
		{"", false, ""},
	}
	for _, tt := range tests {
		if got := IsE164(tt.in); got != tt.valid {
			t.Errorf("IsE164(%q) = %v, want %v", tt.in, got, tt.valid)
		}
		if got := FormatNumber(tt.in); got != tt.format {
			t.Errorf("FormatNumber(%q) = %q, want %q", tt.in, got, tt.format)
		}
	}
}

// TestIsEndpoint: Calls create's To and From (21211, 21212) and an inbound
// caller's From.
func TestIsEndpoint(t *testing.T) {
	tests := []struct {
		in               string
		endpoint, caller bool
	}{
		{"+15005550006", true, true},
		{"client:alice", true, true},
		{"Client:alice_1", true, true},
		{"sip:alice@example.com", true, true},
		{"sip:+15005550006@trunk.example.com;transport=tls", true, true},
		{"anonymous", false, true},
		{"Restricted", false, true},
		{" 15005550006", false, false}, // "+15005550006" sent unencoded in a form
		{"15005550006", false, false},
		{"+15005550006 ", false, false},
		{"", false, false},
		{"client:", false, false},
		{"client:al ice", false, false},
		{"client:a\tb", false, false},
		{"sip:", false, false},
		{"alice bob", false, false},
		{"anonymous1", false, false},
		{"client:" + string(make([]byte, 10)), false, false},
	}
	for _, tt := range tests {
		if got := IsEndpoint(tt.in); got != tt.endpoint {
			t.Errorf("IsEndpoint(%q) = %v, want %v", tt.in, got, tt.endpoint)
		}
		if got := IsCallerID(tt.in); got != tt.caller {
			t.Errorf("IsCallerID(%q) = %v, want %v", tt.in, got, tt.caller)
		}
	}
}
