package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestBench runs the load generator at a tiny size against a freshly built
// tonepay: it works and its JSON carries the fields the performance report
// reads.
func TestBench(t *testing.T) {
	exe := filepath.Join(t.TempDir(), "tonepay")
	if out, err := exec.Command("go", "build", "-o", exe, "github.com/tonepay/tonepay/cmd/tonepay").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	var out, errOut bytes.Buffer
	args := []string{"--json", "--requests", "40", "--flows", "4", "--calls", "10", "--sessions", "40"}
	if err := Main(context.Background(), args, exe, &out, &errOut); err != nil {
		t.Fatalf("bench: %v\n%s", err, errOut.String())
	}
	var r map[string]any
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("bench --json printed %q: %v", out.String(), err)
	}
	for _, k := range []string{"create_rps", "baseline_rps", "ratio", "flows_per_s", "digit_callback_p99_ms", "bytes_per_session"} {
		if v, ok := r[k].(float64); !ok || k != "bytes_per_session" && v <= 0 {
			t.Errorf("%s = %v", k, r[k])
		}
	}
}
