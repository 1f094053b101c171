package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/tonepay/tonepay/internal/e2e"
)

// TestBenchOnlyGrow runs the grow measure with a small grown store: creates
// and keys on an empty store and on the seeded one, every figure present
// and positive.
func TestBenchOnlyGrow(t *testing.T) {
	var out, errOut bytes.Buffer
	args := []string{"--only", "grow", "--json", "--grow-rows", "300", "--requests", "40"}
	if err := Main(context.Background(), args, e2e.Binary(), &out, &errOut); err != nil {
		t.Fatalf("bench --only grow: %v\n%s", err, errOut.String())
	}
	var fields map[string]any
	if err := json.Unmarshal(out.Bytes(), &fields); err != nil {
		t.Fatalf("bench --json printed %q: %v", out.String(), err)
	}
	for _, k := range []string{"create_rps_1m", "create_rps_empty", "create_p99_ms_1m", "create_p99_ms_empty",
		"key_p50_ms_1m", "key_p99_ms_1m", "key_p50_ms_empty", "key_p99_ms_empty", "grow_seed_s", "grow_db_bytes"} {
		if v, ok := fields[k].(float64); !ok || v <= 0 {
			t.Errorf("%s = %v", k, fields[k])
		}
	}
	if fields["grow_rows"] != 300.0 || fields["key_calls"] != float64(growKeyCalls) {
		t.Errorf("grow_rows %v, key_calls %v", fields["grow_rows"], fields["key_calls"])
	}
	if _, ok := fields["create_rps"]; ok && fields["create_rps"] != 0.0 {
		t.Errorf("--only grow ran the create measure: %v", fields["create_rps"])
	}
}

// TestPrintGrow: the printout has the grow figures when they ran, and
// nothing when they did not.
func TestPrintGrow(t *testing.T) {
	var ran benchResult
	ran.GrowRows, ran.GrowSeedSeconds, ran.GrowDBBytes = 1000000, 110, 4.7e9
	ran.CreateRPS1M, ran.CreateRPSEmpty, ran.KeyP991M, ran.KeyP99Empty, ran.KeyCalls = 2400, 3000, 12, 10, 100
	var w bytes.Buffer
	printGrow(&w, ran)
	for _, s := range []string{"store grown to 1000000 ended sessions and calls (seeded in 110.0 s, 4700 MB)", "2400/s grown, 3000/s empty (0.80)", "p99 12.00 ms grown, 10.00 ms empty"} {
		if !strings.Contains(w.String(), s) {
			t.Errorf("lacks %q:\n%s", s, w.String())
		}
	}
	w.Reset()
	printGrow(&w, benchResult{})
	if w.Len() != 0 {
		t.Errorf("printed %q for a run without the grow measure", w.String())
	}
}
