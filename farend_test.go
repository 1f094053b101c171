package tonepay

import "testing"

func TestParseFarEnd(t *testing.T) {
	tests := []struct {
		in   string
		want FarEnd
		ok   bool
	}{
		{"", FarEnd{}, true},
		{"answer", FarEnd{}, true},
		{"busy", FarEnd{Status: CallBusy}, true},
		{"no-answer", FarEnd{Status: CallNoAnswer}, true},
		{"failed", FarEnd{Status: CallFailed}, true},
		{"answer:1", FarEnd{HangUpAfter: 1}, true},
		{"answer:14400", FarEnd{HangUpAfter: 14400}, true},
		{"answer:0", FarEnd{}, false},
		{"answer:14401", FarEnd{}, false},
		{"answer:-1", FarEnd{}, false},
		{"answer:+5", FarEnd{}, false},
		{"answer:", FarEnd{}, false},
		{"answer:99999999999999999999", FarEnd{}, false},
		{"Busy", FarEnd{}, false},
		{"completed", FarEnd{}, false},
		{"in-progress", FarEnd{}, false},
		{"canceled", FarEnd{}, false},
	}
	for _, tt := range tests {
		got, ok := ParseFarEnd(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ParseFarEnd(%q) = %+v, %v; want %+v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
		if ok && tt.in != "" {
			if back, _ := ParseFarEnd(got.String()); back != got || (tt.in != "answer" && got.String() != tt.in) {
				t.Errorf("%q: String() %q does not read back", tt.in, got.String())
			}
		}
	}
}
