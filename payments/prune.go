package payments

import (
	"context"
	"time"

	"github.com/tonepay/tonepay"
)

// pruneBatch is how many sessions one PruneSessions takes: one short
// transaction, so that pruning a backlog never holds SQLite's one writer
// long.
const pruneBatch = 500

// RunPruner deletes, until ctx is done, the sessions that ended more than
// retention ago with their callbacks and attempts (every PruneEvery, a
// minute by default; a session whose callback is still being retried waits
// for it), and the idempotent answers past their 24 hours (hourly).
// Card data is not its business: it went when the session ended.
func (svc *Service) RunPruner(ctx context.Context, retention time.Duration) {
	svc.pruneEvery(ctx, retention, pruneBatch)
}

// pruneEvery is RunPruner with its batch given (for tests).
func (svc *Service) pruneEvery(ctx context.Context, retention time.Duration, batch int) {
	every := svc.PruneEvery
	if every <= 0 {
		every = time.Minute
	}
	t := time.NewTicker(every)
	defer t.Stop()
	var answersAt time.Time // when answers are next pruned
	for {
		now := svc.Tx.Now()
		if !now.Before(answersAt) {
			if err := svc.Tx.Store.PruneAnswers(ctx, now.Add(-tonepay.AnswerTTL)); err != nil && ctx.Err() == nil {
				svc.Logger.Error("pruning idempotent answers", "err", err)
			}
			answersAt = now.Add(time.Hour)
		}
		n, err := pruneSessions(ctx, svc.Tx.Store, now.Add(-retention), batch)
		switch {
		case err != nil && ctx.Err() == nil:
			svc.Logger.Error("pruning ended sessions", "err", err, "pruned", n)
		case n > 0:
			svc.Logger.Debug("pruned ended sessions", "sessions", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// pruneSessions deletes the sessions that ended before cut, batch by batch.
func pruneSessions(ctx context.Context, store tonepay.Store, cut time.Time, batch int) (int, error) {
	return tonepay.PruneBatches(ctx, store.PruneSessions, cut, batch)
}
