package main

import (
	"encoding/json"
	"os/exec"
	"testing"
)

// TestBenchCommand runs `tonepay bench` at a tiny size: the command works and
// its JSON carries the fields the performance report reads.
func TestBenchCommand(t *testing.T) {
	out, err := exec.Command(binary, "bench", "--json", "--requests", "40", "--flows", "4", "--calls", "10", "--sessions", "40").Output()
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, out)
	}
	var r map[string]any
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("bench --json printed %q: %v", out, err)
	}
	for _, k := range []string{"create_rps", "baseline_rps", "ratio", "flows_per_s", "digit_callback_p99_ms", "bytes_per_session"} {
		if v, ok := r[k].(float64); !ok || k != "bytes_per_session" && v <= 0 {
			t.Errorf("%s = %v", k, r[k])
		}
	}
}
