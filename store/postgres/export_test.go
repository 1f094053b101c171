package postgres

// The outbox queries run every dispatcher pass, for their plans
// (backlog_test.go).
const (
	ClaimCallbacksQuery = claimCallbacks
	NextCallbackAtQuery = nextCallbackAt
)
