package calls_test

import (
	"testing"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/internal/servicetest"
)

// nop is the shared Courier that takes nothing over.
type nop = servicetest.Nop

// fixture is the shared one; this package's tests add methods of their own.
type fixture struct{ *servicetest.Fixture }

func newFixture(t testing.TB) *fixture { return &fixture{servicetest.NewFixture(t)} }

func waitEnded(t *testing.T, f *fixture, sid string) *tonepay.Session { return f.WaitEnded(t, sid) }

func ptr(s string) *string { return &s }
