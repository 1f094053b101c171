package postgres_test

import (
	"os"
	"testing"

	"github.com/tonepay/tonepay/internal/suites"
)

// TestMain says, on a developer's terminal, which suites needed a service
// that is not there (internal/suites).
func TestMain(m *testing.M) { os.Exit(suites.Main(m)) }
