package payments_test

import (
	"testing"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/internal/servicetest"
)

// The shared fixture (internal/servicetest), under the names these tests use.
type ()

// fixture is the shared one; this package's tests add methods of their own.
type fixture struct{ *servicetest.Fixture }

func newFixture(t testing.TB) *fixture { return &fixture{servicetest.NewFixture(t)} }

func waitEnded(t *testing.T, f *fixture, sid string) *tonepay.Session { return f.WaitEnded(t, sid) }
