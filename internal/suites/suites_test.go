package suites

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

type nopCloser struct{ *bytes.Buffer }

func (nopCloser) Close() error { return nil }

// stopped records how Need stopped a test, without stopping this one.
type stopped struct {
	testing.TB
	failed, skipped string
}

func (s *stopped) Helper()                       {}
func (s *stopped) Fatalf(f string, a ...any)     { s.failed = f }
func (s *stopped) Skipf(format string, a ...any) { s.skipped = format }

func TestNeed(t *testing.T) {
	var out bytes.Buffer
	openTerminal = func() (io.WriteCloser, error) { return nopCloser{&out}, nil }
	firstToSay = func(string) bool { return true }
	t.Cleanup(func() { clear(notes) })

	t.Setenv("CI", "")
	s := &stopped{TB: t}
	Need(s, "PostgreSQL suites", "set TONEPAY_TEST_POSTGRES_URL")
	if s.skipped == "" || s.failed != "" {
		t.Fatalf("outside CI: skipped %q failed %q", s.skipped, s.failed)
	}
	report()
	if got := out.String(); got != "not run: PostgreSQL suites: set TONEPAY_TEST_POSTGRES_URL\n" {
		t.Errorf("terminal got %q", got)
	}

	out.Reset()
	t.Setenv("CI", "true")
	s = &stopped{TB: t}
	Need(s, "console browser test", "apt-get install chromium")
	if s.failed == "" || !strings.Contains(s.failed, "CI") {
		t.Errorf("under CI: failed %q skipped %q; want a failure", s.failed, s.skipped)
	}
	report()
	if out.Len() != 0 {
		t.Errorf("under CI the terminal got %q", out.String())
	}
}
