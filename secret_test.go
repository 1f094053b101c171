package tonepay

import (
	"fmt"
	"strings"
	"testing"
)

func TestSecretNeverPrints(t *testing.T) {
	s := NewSecret("hunter2")
	for _, out := range []string{s.String(), fmt.Sprint(s), fmt.Sprintf("%v %+v %#v %s %q", s, s, s, s, s)} {
		if strings.Contains(out, "hunter2") {
			t.Errorf("secret leaked: %s", out)
		}
	}
	if b, _ := s.MarshalJSON(); strings.Contains(string(b), "hunter2") {
		t.Error("secret leaked through JSON")
	}
	if !s.Equal("hunter2") || s.Equal("hunter3") || s.Reveal() != "hunter2" {
		t.Error("Equal/Reveal")
	}
}
