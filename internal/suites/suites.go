// Package suites lets a test that needs an outside service (PostgreSQL,
// Chromium, stripe-mock) skip on a developer's machine and say so, while CI
// runs everything: under CI=true a missing service fails the test.
//
// go test hides what a passing package prints, so Main writes its notes to
// the terminal itself (/dev/tty): a newcomer's `go test ./...` then ends with
// one line per suite that did not run, saying how to run it. Without a
// terminal (CI, editors) it says nothing. For tests only.
package suites

import (
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
)

var (
	mu    sync.Mutex
	notes = map[string]string{} // suite -> how to run it
)

// Need stops t because suite's service is missing: a failure under CI, a
// skip elsewhere, noted for Main. how says what to do, in one line.
func Need(t testing.TB, suite, how string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("%s cannot run under CI: %s", suite, how)
	}
	mu.Lock()
	notes[suite] = how
	mu.Unlock()
	t.Skipf("%s not run: %s", suite, how)
}

// openTerminal is where Main writes; a variable for its test.
var openTerminal = func() (io.WriteCloser, error) { return os.OpenFile("/dev/tty", os.O_WRONLY, 0) }

// Main runs the tests and then tells the terminal which suites did not run.
// Use it as TestMain's body: os.Exit(suites.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	report()
	return code
}

func report() {
	mu.Lock()
	defer mu.Unlock()
	if len(notes) == 0 || os.Getenv("CI") != "" {
		return
	}
	w, err := openTerminal()
	if err != nil {
		return
	}
	defer w.Close()
	names := make([]string, 0, len(notes))
	for n := range notes {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if firstToSay(n) {
			fmt.Fprintf(w, "not run: %s: %s\n", n, notes[n])
		}
	}
}

// firstToSay reports whether no other package of the same `go test` run
// (the test binaries share their parent, the go command) has said this
// suite's line already: one line per suite, not one per package.
var firstToSay = func(suite string) bool {
	mark := filepath.Join(os.TempDir(), fmt.Sprintf("tonepay-suites-%d-%x", os.Getppid(), sha256.Sum256([]byte(suite))))
	f, err := os.OpenFile(mark, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return false
	}
	f.Close()
	return true
}
