package payments

import (
	"context"
	"time"
)

// PruneWith is RunPruner with its batch given, for the tests of
// payments_test.
func (svc *Service) PruneWith(ctx context.Context, retention time.Duration, batch int) {
	svc.pruneEvery(ctx, retention, batch)
}
