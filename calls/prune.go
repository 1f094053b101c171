package calls

import (
	"context"
	"time"

	"github.com/tonepay/tonepay"
)

// pruneBatch is how many calls one PruneCalls takes: one short transaction,
// so that pruning a backlog never holds SQLite's one writer long.
const pruneBatch = 500

// RunPruner deletes, every minute until ctx is done, the runs and timelines
// of the calls that ended more than retention ago (the call rows and their
// callbacks stay; sessions go by payments.RunPruner's own retention).
func (svc *Service) RunPruner(ctx context.Context, retention time.Duration) {
	svc.pruneEvery(ctx, time.Minute, retention, pruneBatch)
}

// pruneEvery is RunPruner with its period and batch given (for tests).
func (svc *Service) pruneEvery(ctx context.Context, every, retention time.Duration, batch int) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		n, err := pruneEnded(ctx, svc.Tx.Store, svc.Tx.Now().Add(-retention), batch)
		switch {
		case err != nil && ctx.Err() == nil:
			svc.Logger.Error("pruning ended calls' timelines", "err", err, "pruned", n)
		case n > 0:
			svc.Logger.Debug("pruned ended calls' timelines", "calls", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// pruneEnded prunes the calls that ended before cut, batch by batch.
func pruneEnded(ctx context.Context, store tonepay.Store, cut time.Time, batch int) (int, error) {
	return tonepay.PruneBatches(ctx, store.PruneCalls, cut, batch)
}
