package sqlite_test

import (
	"bufio"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tonepay/tonepay"
	fig "github.com/tonepay/tonepay/internal/figures"
	"github.com/tonepay/tonepay/seal"
	"github.com/tonepay/tonepay/store/sqlite"
	"github.com/tonepay/tonepay/store/storetest"
)

// cardEntry is what a caller types, one key press at a time: number, expiry,
// security code. Each press seals the whole capture again, as the engine does.
const cardEntry = "4242424242424242" + "1230" + "123"

// typeCards opens n sessions and types cardEntry into each, interleaved
// across sessions as concurrent calls are, with the real seal.Box. It
// returns the sessions and every sealed value written.
func typeCards(t testing.TB, s tonepay.Store, n int) ([]*tonepay.Session, [][]byte) {
	t.Helper()
	key := make([]byte, 32)
	rand.Read(key)
	box, err := seal.New(key)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	a := storetest.MustAccount(t, s, "", now)
	sessions := make([]*tonepay.Session, n)
	for i := range sessions {
		c := storetest.MustCall(t, s, a.Sid, now)
		sessions[i] = &tonepay.Session{Sid: tonepay.NewSID("PK"), AccountSid: a.Sid, CallSid: c.Sid, Status: tonepay.SessionOpen,
			Params: tonepay.Params{PaymentMethod: tonepay.CreditCard, ChargeAmount: "10.00", Currency: "USD", Timeout: 5},
			State:  tonepay.State{StatusCallback: "http://127.0.0.1/cb"}, Deadline: now.Add(time.Minute), DateCreated: now, DateUpdated: now}
		if err := s.Update(ctx, func(tx tonepay.Tx) error { return tx.CreateSession(ctx, sessions[i]) }); err != nil {
			t.Fatal(err)
		}
	}
	var blobs [][]byte
	for p := 1; p <= len(cardEntry); p++ {
		for _, sess := range sessions {
			sess.Sealed = box.Seal(sess.Sid, []byte(`{"entry":"`+cardEntry[:p]+`"}`))
			blobs = append(blobs, sess.Sealed)
			if err := s.Update(ctx, func(tx tonepay.Tx) error { return tx.UpdateSession(ctx, sess) }); err != nil {
				t.Fatal(err)
			}
		}
	}
	return sessions, blobs
}

// endAll ends the sessions as the engine does: Status ended, Sealed dropped.
func endAll(t testing.TB, s tonepay.Store, sessions []*tonepay.Session) {
	t.Helper()
	for _, sess := range sessions {
		sess.Status, sess.Sealed, sess.Deadline = tonepay.SessionEnded, nil, time.Time{}
		if err := s.Update(ctx, func(tx tonepay.Tx) error { return tx.UpdateSession(ctx, sess) }); err != nil {
			t.Fatal(err)
		}
	}
}

// scan reads the database, -wal and -shm files as they are on disk and
// counts the sealed values found whole (what the data key opens) and those
// of which only the start (the nonce and a few bytes) is left.
func scan(t testing.TB, path string, blobs [][]byte) (whole, partial int) {
	t.Helper()
	const head = 16 // the 12-byte random nonce and 4 bytes: unique to a blob
	byHead := map[[head]byte][]byte{}
	for _, b := range blobs {
		byHead[[head]byte(b[:head])] = b
	}
	found := map[*byte]int{} // per blob: 2 whole, 1 partial
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		data, err := os.ReadFile(p)
		if os.IsNotExist(err) {
			continue
		} else if err != nil {
			t.Fatal(err)
		}
		for i := 0; i+head <= len(data); i++ {
			b, ok := byHead[[head]byte(data[i:i+head])]
			if !ok {
				continue
			}
			kind := 1
			if i+len(b) <= len(data) && string(data[i:i+len(b)]) == string(b) {
				kind = 2
			}
			found[&b[0]] = max(found[&b[0]], kind)
		}
	}
	for _, k := range found {
		if k == 2 {
			whole++
		} else {
			partial++
		}
	}
	return whole, partial
}

// TestCardDataErased: sealed values exist in the files while sessions are
// open, and none (whole or in part) is left in the database, -wal or -shm
// once EraseWithin has passed after they ended. Only the erase schedule can
// truncate here: the WAL limit and the idle delay are out of reach.
func TestCardDataErased(t *testing.T) {
	const within = time.Second
	path := filepath.Join(t.TempDir(), "erase.db")
	s, err := sqlite.OpenWith(path, sqlite.Options{EraseWithin: within, IdleAfter: time.Hour, WALLimit: 1 << 40})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sessions, blobs := typeCards(t, s, 40)
	whole, partial := scan(t, path, blobs)
	t.Logf("open sessions: %d of %d sealed values in the files whole, %d in part", whole, len(blobs), partial)
	if whole == 0 {
		t.Fatal("no sealed value found while sessions are open: the scan proves nothing")
	}

	endAll(t, s, sessions)
	ended := time.Now() // the last session's end: each was erased by its own bound
	time.Sleep(time.Until(ended.Add(within)))
	whole, partial = scan(t, path, blobs)
	if whole+partial > 0 {
		before, beforePart, late := whole+partial, partial, time.Now()
		for time.Since(late) < 5*time.Second && whole+partial > 0 {
			time.Sleep(100 * time.Millisecond)
			whole, partial = scan(t, path, blobs)
		}
		t.Errorf("%v after the sessions ended: %d sealed values still in the files (%d in part); %v later, %d (%d)",
			within, before, beforePart, time.Since(late), whole+partial, partial)
	}
	fig.Report(t, "sqlite-erase", len(blobs), len(blobs)-whole-partial, "")
}

// TestCardDataErasedAfterKill: a process that ended its sessions and was
// killed (SIGKILL) before its erase ran leaves sealed values in the files;
// the next Open erases them before it returns.
func TestCardDataErasedAfterKill(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kill.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestCardDataErasedAfterKillChild$", "-test.v")
	cmd.Env = append(os.Environ(), "TONEPAY_SQLITE_ERASE_CHILD="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var blobs [][]byte
	sc := bufio.NewScanner(out)
	done := false
	for !done && sc.Scan() {
		line := sc.Text()
		if h, ok := strings.CutPrefix(line, "sealed "); ok {
			b, err := hex.DecodeString(h)
			if err != nil {
				t.Fatal(err)
			}
			blobs = append(blobs, b)
		}
		done = line == "ended"
	}
	if !done {
		t.Fatalf("the child stopped before ending its sessions")
	}
	before, _ := scan(t, path, blobs)
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	killed, _ := scan(t, path, blobs)
	t.Logf("ended sessions of a killed process: %d of %d sealed values in the files whole (%d before the kill)", killed, len(blobs), before)
	if killed == 0 {
		t.Fatal("no sealed value left by the killed process: the test proves nothing")
	}

	s := open(t, path) // default options: the erase at Open does not wait for the bound
	whole, partial := scan(t, path, blobs)
	if whole+partial > 0 {
		t.Errorf("after Open: %d sealed values still in the files (%d in part)", whole+partial, partial)
	}
	if _, err := s.FindSession(ctx, "PKnone"); err != tonepay.ErrNotFound {
		t.Errorf("store after the erase: %v", err)
	}
	fig.Report(t, "sqlite-erase-kill", len(blobs), len(blobs)-whole-partial, "")
}

// TestCardDataErasedAfterKillChild is the child of TestCardDataErasedAfterKill:
// it types cards, ends the sessions, prints every sealed value and waits to
// be killed. Its bound is the longest allowed, so that no erase runs first.
func TestCardDataErasedAfterKillChild(t *testing.T) {
	path := os.Getenv("TONEPAY_SQLITE_ERASE_CHILD")
	if path == "" {
		t.Skip("run by TestCardDataErasedAfterKill")
	}
	s, err := sqlite.OpenWith(path, sqlite.Options{EraseWithin: time.Minute, IdleAfter: time.Hour, WALLimit: 1 << 40})
	if err != nil {
		t.Fatal(err)
	}
	sessions, blobs := typeCards(t, s, 20)
	endAll(t, s, sessions)
	for _, b := range blobs {
		fmt.Println("sealed " + hex.EncodeToString(b))
	}
	fmt.Println("ended")
	time.Sleep(time.Minute)
	t.Fatal("not killed")
}

// TestWALBounded: sustained concurrent creates, key presses and ends, with
// readers on the read pool all along, keep the -wal under 64 MiB; once the
// writes stop, it is back under 8 MiB after the idle delay. The limit is
// lowered from its 16 MiB so that even a slow machine reaches it often in
// the few seconds of the test.
func TestWALBounded(t *testing.T) {
	const idle, limit = time.Second, 4 << 20
	path := filepath.Join(t.TempDir(), "wal.db")
	s, err := sqlite.OpenWith(path, sqlite.Options{IdleAfter: idle, WALLimit: limit})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now().UTC()
	a := storetest.MustAccount(t, s, "", now)
	var walMax, writes, reads atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	calls := make(chan *tonepay.Call, 1000)
	wg.Go(func() { // the calls the payments are made on, 100 at a time
		for {
			var batch []*tonepay.Call
			err := s.Update(ctx, func(tx tonepay.Tx) error {
				batch = batch[:0]
				for range 100 {
					c := &tonepay.Call{Sid: tonepay.NewSID("CA"), AccountSid: a.Sid, To: "+15005550006", From: "+15005550001",
						Status: tonepay.CallInProgress, StartTime: now, DateCreated: now, DateUpdated: now}
					if err := tx.CreateCall(ctx, c); err != nil {
						return err
					}
					batch = append(batch, c)
				}
				return nil
			})
			if err != nil {
				t.Error(err)
				return
			}
			for _, c := range batch {
				select {
				case calls <- c:
				case <-stop:
					return
				}
			}
		}
	})
	sample := func() int64 {
		fi, err := os.Stat(path + "-wal")
		if err != nil {
			return 0
		}
		return fi.Size()
	}
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
				if n := sample(); n > walMax.Load() {
					walMax.Store(n)
				}
			}
		}
	})
	body := make([]byte, 900) // a rendered Payments resource
	sealed := make([]byte, 120)
	errs := make(chan error, 64)
	for range 32 {
		wg.Go(func() {
			for {
				var call *tonepay.Call
				select {
				case <-stop:
					return
				case call = <-calls:
				}
				if err := createAndType(s, a, call, body, sealed); err != nil {
					errs <- err
					return
				}
				writes.Add(1)
			}
		})
	}
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				_, err := s.FindCalls(ctx, tonepay.CallFilter{AccountSid: a.Sid, Limit: 20})
				if err == nil {
					_, err = s.NextCallbackAt(ctx)
				}
				if err != nil {
					errs <- err
					return
				}
				reads.Add(1)
			}
		})
	}
	time.Sleep(3 * time.Second)
	close(stop)
	wg.Wait()
	stopped := time.Now()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := sample(); n > walMax.Load() {
		walMax.Store(n)
	}
	time.Sleep(time.Until(stopped.Add(idle + time.Second)))
	after := sample()
	fi, _ := os.Stat(path)
	if walMax.Load() < limit {
		t.Errorf("the WAL never reached its limit (%d bytes at most): the test proves nothing", walMax.Load())
	}
	if walMax.Load() > 64<<20 {
		t.Errorf("the WAL reached %d bytes under load, more than 64 MiB", walMax.Load())
	}
	if after > 8<<20 {
		t.Errorf("the WAL is %d bytes %v after the writes stopped, more than 8 MiB", after, idle+time.Second)
	}
	bounds := 0
	for _, ok := range []bool{walMax.Load() <= 64<<20, after <= 8<<20} {
		if ok {
			bounds++
		}
	}
	fig.Report(t, "sqlite-wal", 2, bounds, fmt.Sprintf("writes=%d reads=%d max_mib=%.1f after_idle_bytes=%d db_mib=%.1f",
		writes.Load(), reads.Load(), float64(walMax.Load())/(1<<20), after, float64(fi.Size())/(1<<20)))
}

// createAndType is one payment's life in the store: the create transaction
// (session, callback, idempotent answer), its callback's delivery, key
// presses, and the end.
func createAndType(s *sqlite.Store, a *tonepay.Account, call *tonepay.Call, body, sealed []byte) error {
	now := time.Now().UTC()
	sess := &tonepay.Session{Sid: tonepay.NewSID("PK"), AccountSid: a.Sid, CallSid: call.Sid, Status: tonepay.SessionOpen,
		Params: tonepay.Params{PaymentMethod: tonepay.CreditCard, ChargeAmount: "10.00", Currency: "USD", Timeout: 5},
		State:  tonepay.State{StatusCallback: "http://127.0.0.1/cb"}, DateCreated: now, DateUpdated: now}
	cb := func() *tonepay.Callback {
		return &tonepay.Callback{Token: tonepay.RandomHex(16), AccountSid: a.Sid, Chain: sess.Sid, URL: "http://127.0.0.1/cb",
			Form:   map[string][]string{"AccountSid": {a.Sid}, "CallSid": {call.Sid}, "Sid": {sess.Sid}},
			Status: tonepay.CallbackPending, NextAttemptAt: now, DateCreated: now, DateUpdated: now}
	}
	created := cb()
	err := s.Update(ctx, func(tx tonepay.Tx) error {
		if err := tx.CreateSession(ctx, sess); err != nil {
			return err
		}
		if err := tx.AddCallbacks(ctx, created); err != nil {
			return err
		}
		return tx.AddAnswer(ctx, &tonepay.Answer{Key: sess.Sid, Format: 201, Body: body, DateCreated: now})
	})
	if err != nil {
		return err
	}
	created.Status, created.Attempts = tonepay.CallbackDelivered, 1
	if err := s.RecordAttempt(ctx, created, &tonepay.Attempt{CallbackID: created.ID, N: 1, At: now, StatusCode: 204}); err != nil {
		return err
	}
	for p := range 4 {
		rand.Read(sealed)
		sess.Sealed = sealed[:len(sealed)-4+p]
		if p == 3 {
			sess.Status, sess.Sealed = tonepay.SessionEnded, nil
		}
		err := s.Update(ctx, func(tx tonepay.Tx) error {
			if err := tx.UpdateSession(ctx, sess); err != nil {
				return err
			}
			return tx.AddCallbacks(ctx, cb())
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// TestFileModes: the database, -wal and -shm are 0600, whether Open creates
// them or finds them (left world-readable by an older build), whatever the
// umask: they hold auth tokens and sealed card data.
func TestFileModes(t *testing.T) {
	check := func(t *testing.T, path string) {
		t.Helper()
		for _, p := range []string{path, path + "-wal", path + "-shm"} {
			fi, err := os.Stat(p)
			if err != nil {
				t.Errorf("%s: %v", filepath.Base(p), err)
			} else if fi.Mode().Perm() != 0o600 {
				t.Errorf("%s is %v, want 0600", filepath.Base(p), fi.Mode().Perm())
			}
		}
	}
	write := func(t *testing.T, s tonepay.Store) {
		t.Helper()
		storetest.MustAccount(t, s, "", time.Now())
	}
	t.Run("new", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "new.db")
		defer permissiveUmask()() // the test's process alone: no test here runs in parallel
		s := open(t, path)
		write(t, s)
		check(t, path)
	})
	t.Run("existing", func(t *testing.T) {
		// A database closed cleanly (no -wal, -shm left), made 0644: SQLite
		// creates the -wal and -shm with the database's mode, fixed first.
		path := filepath.Join(t.TempDir(), "old.db")
		s := open(t, path)
		write(t, s)
		s.Close()
		if err := os.Chmod(path, 0o644); err != nil {
			t.Fatal(err)
		}
		s = open(t, path)
		write(t, s)
		check(t, path)
	})
	t.Run("existing with wal", func(t *testing.T) {
		// All three files left 0644, as by a process that died.
		path := filepath.Join(t.TempDir(), "left.db")
		first := open(t, path)
		write(t, first)
		for _, p := range []string{path, path + "-wal", path + "-shm"} {
			if err := os.Chmod(p, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		s := open(t, path)
		write(t, s)
		check(t, path)
	})
}

// TestEraseWithinBounded: DESIGN §8 allows at most 60 s.
func TestEraseWithinBounded(t *testing.T) {
	for _, d := range []time.Duration{-time.Second, 61 * time.Second} {
		if s, err := sqlite.OpenWith(filepath.Join(t.TempDir(), "b.db"), sqlite.Options{EraseWithin: d}); err == nil {
			s.Close()
			t.Errorf("EraseWithin %v accepted", d)
		}
	}
}

// TestOlderFileScrubbed: a file an older build wrote, without secure_delete,
// keeps ended sessions' sealed values in its free space even with its WAL
// truncated; the first Open of this build rewrites it without them.
func TestOlderFileScrubbed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "older.db")
	s := open(t, path)
	now := time.Now().UTC()
	a := storetest.MustAccount(t, s, "", now)
	var sids []string
	for range 20 {
		c := storetest.MustCall(t, s, a.Sid, now)
		sess := &tonepay.Session{Sid: tonepay.NewSID("PK"), AccountSid: a.Sid, CallSid: c.Sid, Status: tonepay.SessionOpen, DateCreated: now, DateUpdated: now}
		if err := s.Update(ctx, func(tx tonepay.Tx) error { return tx.CreateSession(ctx, sess) }); err != nil {
			t.Fatal(err)
		}
		sids = append(sids, sess.Sid)
	}
	s.Close()

	// What the older build did: the same rows, written without secure_delete.
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=secure_delete(0)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	key := make([]byte, 32)
	rand.Read(key)
	box, _ := seal.New(key)
	var blobs [][]byte
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.Exec(q, args...); err != nil {
			t.Fatal(err)
		}
	}
	exec(`PRAGMA user_version = 0`)
	for p := 1; p <= len(cardEntry); p++ {
		for _, sid := range sids {
			b := box.Seal(sid, []byte(cardEntry[:p]))
			blobs = append(blobs, b)
			exec(`UPDATE sessions SET sealed = ? WHERE sid = ?`, b, sid)
		}
	}
	exec(`UPDATE sessions SET status = 'ended', sealed = NULL`)
	exec(`PRAGMA wal_checkpoint(TRUNCATE)`)
	db.Close()
	whole, partial := scan(t, path, blobs)
	t.Logf("file of an older build: %d of %d sealed values whole in its free space, %d in part", whole, len(blobs), partial)
	if whole == 0 {
		t.Fatal("no sealed value left by the older build: the test proves nothing")
	}

	s = open(t, path)
	if whole, partial = scan(t, path, blobs); whole+partial > 0 {
		t.Errorf("after Open: %d sealed values still in the files (%d in part)", whole+partial, partial)
	}
	if got, err := s.FindSession(ctx, sids[0]); err != nil || got.Status != tonepay.SessionEnded {
		t.Errorf("session after the scrub: %v, %v", got, err)
	}
	fig.Report(t, "sqlite-erase-older", len(blobs), len(blobs)-whole-partial, "")
}
