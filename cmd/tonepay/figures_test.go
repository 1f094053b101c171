package main

import (
	"fmt"
	"os"
	"sync"
	"testing"
)

// figures reports what a fault or attack test tried and how much of it came
// out right, in one greppable line. go test hides a passing test's log, so
// with TONEPAY_FIGURES_FILE set (.ci/run sets it) the line is also appended
// to that file, which CI prints at the end.
func figures(t testing.TB, name string, tried, correct int, extra string) {
	t.Helper()
	line := fmt.Sprintf("FIGURES %s: tried=%d correct=%d", name, tried, correct)
	if extra != "" {
		line += " " + extra
	}
	t.Log(line)
	if path := os.Getenv("TONEPAY_FIGURES_FILE"); path != "" {
		figuresMu.Lock()
		defer figuresMu.Unlock()
		if f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
			fmt.Fprintln(f, line)
			f.Close()
		}
	}
	if correct != tried {
		t.Errorf("%s: %d of %d correct", name, correct, tried)
	}
}

var figuresMu sync.Mutex
