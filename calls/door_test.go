package calls_test

import (
	"context"
	"testing"

	"github.com/tonepay/tonepay"
)

func TestPressWithoutSession(t *testing.T) {
	f := newFixture(t)
	p, err := f.service().Keypad(context.Background(), f.acct.Sid, f.call.Sid, "12w3#")
	if err != nil || p.Dropped != 4 || p.Applied != 0 {
		t.Fatalf("Press = %+v, %v", p, err)
	}
	_, err = f.service().Keypad(context.Background(), f.acct.Sid, f.call.Sid, "12a")
	if tonepay.ErrorCode(err) != tonepay.CodeInvalidParameter {
		t.Errorf("a key not on a keypad: %v", err)
	}
}
