// Package figures is the one line each fault and attack test reports: what
// it tried and how much of it came out right. go test hides a passing
// test's log, so with TONEPAY_FIGURES_FILE set (.ci/run sets it) the line is
// also appended to that file, which CI prints at the end. For tests only.
package figures

import (
	"fmt"
	"os"
	"sync"
	"testing"
)

var mu sync.Mutex

// Report logs "FIGURES name: tried=N correct=N extra" and fails the test
// when correct != tried.
func Report(t testing.TB, name string, tried, correct int, extra string) {
	t.Helper()
	line := fmt.Sprintf("FIGURES %s: tried=%d correct=%d", name, tried, correct)
	if extra != "" {
		line += " " + extra
	}
	t.Log(line)
	if path := os.Getenv("TONEPAY_FIGURES_FILE"); path != "" {
		mu.Lock()
		if f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
			fmt.Fprintln(f, line)
			f.Close()
		}
		mu.Unlock()
	}
	if correct != tried {
		t.Errorf("%s: %d of %d correct", name, correct, tried)
	}
}
