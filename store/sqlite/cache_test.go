package sqlite_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/store/storetest"
)

// TestCacheFollowsWrites: accounts, keys and calls read through the Store's
// cache change as soon as the transaction that changed them commits, and a
// caller changing what it read changes nothing.
func TestCacheFollowsWrites(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "c.db"))
	now := time.Now()
	a := storetest.MustAccount(t, s, "", now)
	call := storetest.MustCall(t, s, a.Sid, now)
	key := &tonepay.APIKey{Sid: "SK" + a.Sid[2:], AccountSid: a.Sid, FriendlyName: "k", SecretHash: tonepay.HashSecret("x"), DateCreated: now, DateUpdated: now}
	if err := s.Update(ctx, func(tx tonepay.Tx) error { return tx.CreateAPIKey(ctx, key) }); err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second read comes from the cache
		got, err := s.FindAccount(ctx, a.Sid)
		if err != nil || got.AuthToken.Reveal() != a.AuthToken.Reveal() {
			t.Fatalf("FindAccount = %+v, %v", got, err)
		}
		got.FriendlyName = "changed by the caller"
		if _, err := s.FindAPIKey(ctx, key.Sid); err != nil {
			t.Fatal(err)
		}
		if _, err := s.FindCall(ctx, call.Sid); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := s.FindAccount(ctx, a.Sid); got.FriendlyName != a.FriendlyName {
		t.Errorf("FriendlyName = %q: a caller's change reached the cache", got.FriendlyName)
	}

	a.AuthToken, a.Status = tonepay.NewSecret("rotated"), "suspended"
	call.Status = tonepay.CallCompleted
	err := s.Update(ctx, func(tx tonepay.Tx) error {
		return errors.Join(tx.UpdateAccount(ctx, a), tx.UpdateCall(ctx, call), tx.DeleteAPIKey(ctx, key.Sid))
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.FindAccount(ctx, a.Sid); err != nil || got.AuthToken.Reveal() != "rotated" || got.Status != "suspended" {
		t.Errorf("after UpdateAccount: %+v, %v", got, err)
	}
	if got, err := s.FindCall(ctx, call.Sid); err != nil || got.Status != tonepay.CallCompleted {
		t.Errorf("after UpdateCall: %+v, %v", got, err)
	}
	if _, err := s.FindAPIKey(ctx, key.Sid); !errors.Is(err, tonepay.ErrNotFound) {
		t.Errorf("after DeleteAPIKey: %v, want ErrNotFound", err)
	}
}

// TestCacheNeverStale: readers racing a writer that rotates an account's
// token see, once each write has returned, that token or a newer one.
func TestCacheNeverStale(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "c.db"))
	a := storetest.MustAccount(t, s, "", time.Now())
	var (
		mu      sync.Mutex
		settled = 0 // the newest rotation whose Update has returned
		wg      sync.WaitGroup
		stop    = make(chan struct{})
	)
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				mu.Lock()
				want := settled
				mu.Unlock()
				got, err := s.FindAccount(ctx, a.Sid)
				if err != nil {
					t.Error(err)
					return
				}
				var n int
				fmt.Sscanf(got.AuthToken.Reveal(), "token-%d", &n)
				if n < want {
					t.Errorf("read token %d after rotation %d had committed", n, want)
					return
				}
			}
		})
	}
	for i := 1; i <= 200; i++ {
		a.AuthToken = tonepay.NewSecret(fmt.Sprintf("token-%d", i))
		if err := s.Update(ctx, func(tx tonepay.Tx) error { return tx.UpdateAccount(ctx, a) }); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		settled = i
		mu.Unlock()
	}
	close(stop)
	wg.Wait()
}

// TestWALIsCheckpointed: with SQLite's automatic checkpoint off (it would run
// inside a commit), the store's own checkpoints keep the WAL from growing
// without bound under steady writes and reads.
func TestWALIsCheckpointed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "w.db")
	s := open(t, path)
	a := storetest.MustAccount(t, s, "", time.Now())
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
				s.FindCalls(ctx, tonepay.CallFilter{AccountSid: a.Sid, Limit: 5})
			}
		}
	})
	for i := range 3000 {
		storetest.MustCall(t, s, a.Sid, time.Now())
		if i%500 == 499 {
			time.Sleep(300 * time.Millisecond) // room for a checkpoint
		}
	}
	close(stop)
	wg.Wait()
	time.Sleep(300 * time.Millisecond)
	fi, err := os.Stat(path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	// 3,000 commits of a few pages each would be ~40 MB of WAL unchecked.
	if fi.Size() > 20<<20 {
		t.Errorf("WAL is %d bytes after 3,000 commits: not checkpointed", fi.Size())
	}
	t.Logf("WAL: %d bytes", fi.Size())
}
