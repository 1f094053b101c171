// Package wait has the one context-aware sleep the packages share.
package wait

import (
	"context"
	"time"
)

// Sleep waits for d, or until ctx is done: then it returns ctx's error.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
