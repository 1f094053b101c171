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

// TestLapsedLegsUseIndex: the sweeper's look for lapsed leases reads the
// partial index of live real calls, not the calls table.
func TestLapsedLegsUseIndex(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "l.db"))
	plan, err := s.QueryPlan(sqlite.LapsedQuery, 1, 100)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(plan, "calls_leg_leases") || strings.Contains(plan, "TEMP B-TREE") {
		t.Errorf("plan %q: want calls_leg_leases, in its order", plan)
	}
}

// TestPruneSessionsUseIndex: finding ended sessions to delete reads the
// partial index of ended sessions in its order (no sort of the table, which
// holds the retention window), and asks the pending callbacks' index
// whether each still has one waiting.
func TestPruneSessionsUseIndex(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "ps.db"))
	plan, err := s.QueryPlan(sqlite.PruneSessionsQuery, 1, 500)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(plan, "SEARCH sessions USING COVERING INDEX sessions_ended") ||
		!strings.Contains(plan, "SEARCH callbacks USING COVERING INDEX callbacks_pending") || strings.Contains(plan, "TEMP B-TREE") {
		t.Errorf("plan %q: want sessions_ended, in its order, and callbacks_pending", plan)
	}
}
