package calls

import (
	"context"
	"time"

	"github.com/tonepay/tonepay"
)

// PruneEvery is pruneEvery, for the tests of calls_test.
func (svc *Service) PruneEvery(ctx context.Context, every, retention time.Duration, batch int) {
	svc.pruneEvery(ctx, every, retention, batch)
}

// PruneEnded is pruneEnded, for the tests of calls_test.
func PruneEnded(ctx context.Context, store tonepay.Store, cut time.Time, batch int) (int, error) {
	return pruneEnded(ctx, store, cut, batch)
}

// RenewLeases is one pass of the renewer, for the tests of calls_test.
func (svc *Service) RenewLeases(ctx context.Context) error { return svc.renewLeases(ctx) }

// Carried is what the renewer renews.
func (svc *Service) Carried() []string { return svc.carried() }
