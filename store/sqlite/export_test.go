package sqlite

import "strings"

// Pragma returns a PRAGMA's value as the writer connection sees it: the
// durability settings are per connection, so this is the one that matters.
func (s *Store) Pragma(name string) (string, error) {
	var v string
	err := s.write.QueryRow("PRAGMA " + name).Scan(&v)
	return v, err
}

// AppliedMigrations returns each recorded migration's applied_at.
func (s *Store) AppliedMigrations() (map[string]int64, error) {
	rows, err := s.read.Query(`SELECT name, applied_at FROM migrations`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var name string
		var at int64
		if err := rows.Scan(&name, &at); err != nil {
			return nil, err
		}
		out[name] = at
	}
	return out, rows.Err()
}

// EmbeddedMigrations lists the migration files built in.
func EmbeddedMigrations() ([]string, error) {
	entries, err := migrations.ReadDir("migrations")
	var out []string
	for _, e := range entries {
		out = append(out, "migrations/"+e.Name())
	}
	return out, err
}

// PruneQuery is the query PruneCalls finds a batch with.
const PruneQuery = pruneQuery

// The outbox queries run every dispatcher pass, for their plans
// (backlog_test.go).
const (
	ClaimCallbacksQuery = claimCallbacks
	NextCallbackAtQuery = nextCallbackAt
)

// QueryPlan returns the details of EXPLAIN QUERY PLAN for query, one line
// each.
func (s *Store) QueryPlan(query string, args ...any) (string, error) {
	rows, err := s.write.Query("EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			return "", err
		}
		out = append(out, detail)
	}
	return strings.Join(out, "\n"), rows.Err()
}

// LapsedQuery is the query FindLapsedLegs runs every few seconds.
const LapsedQuery = lapsedQuery

// PruneSessionsQuery is the query PruneSessions finds a batch with.
const PruneSessionsQuery = pruneSessionsQuery

// SetSeedChunk makes SeedEnded write n calls a transaction until the test
// ends, so that a small seed crosses chunks.
func SetSeedChunk(t interface{ Cleanup(func()) }, n int) {
	old := seedChunk
	seedChunk = n
	t.Cleanup(func() { seedChunk = old })
}

// SeedShape is how many callbacks and timeline entries SeedEnded gives a
// session and its call.
func SeedShape() (callbacks, timeline int) {
	t, _ := newSeedTemplates()
	return len(t.callbacks), len(seedTimeline)
}
