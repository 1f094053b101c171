package postgres

// The outbox queries run every dispatcher pass, for their plans
// (backlog_test.go).
const (
	ClaimCallbacksQuery = claimCallbacks
	NextCallbackAtQuery = nextCallbackAt
)

// LapsedQuery is the query FindLapsedLegs runs every few seconds.
const LapsedQuery = lapsedQuery

// PruneSessionsQuery is the query PruneSessions finds a batch with.
const PruneSessionsQuery = pruneSessionsQuery
