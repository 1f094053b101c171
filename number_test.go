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
