package postgres

import "context"

// CountLive counts what is under way: sessions not ended, callbacks pending
// and calls in progress, for the gauges of /metrics. Each count walks a
// partial index holding only such rows, so it costs what is live, not what
// the store has ever held.
func (s *Store) CountLive(ctx context.Context) (sessions, callbacks, calls int, err error) {
	err = s.pool.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM sessions WHERE status <> 'ended'),
		(SELECT count(*) FROM callbacks WHERE status = 'pending'),
		(SELECT count(*) FROM calls WHERE status = 'in-progress')`).Scan(&sessions, &callbacks, &calls)
	return sessions, callbacks, calls, wrap("CountLive", err)
}
