package sqlite_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/tonepay/tonepay/store/sqlite"
)

// TestPruneUsesIndex: finding a batch to prune reads the partial index of
// the ended calls not yet pruned, not the whole calls table (which keeps
// every call ever made).
func TestPruneUsesIndex(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "p.db"))
	var id, parent, unused int
	var detail string
	err := s.QueryRow(`EXPLAIN QUERY PLAN `+sqlite.PruneQuery, 1, "queued", "ringing", "in-progress", 500).Scan(&id, &parent, &unused, &detail)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(detail, "calls_prunable") {
		t.Errorf("plan %q does not use calls_prunable", detail)
	}
}
