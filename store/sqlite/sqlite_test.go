package sqlite_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/store/sqlite"
	"github.com/tonepay/tonepay/store/storetest"
)

var ctx = context.Background()

func open(t testing.TB, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) tonepay.Store { return open(t, filepath.Join(t.TempDir(), "s.db")) })
}

// TestConformanceInMemory: ":memory:" (one connection, no read pool) behaves
// the same; other packages' tests may use it.
func TestConformanceInMemory(t *testing.T) {
	storetest.Run(t, func(t *testing.T) tonepay.Store { return open(t, ":memory:") })
}

// TestPragmas reads back the settings that make a commit survive a crash
// and keep the schema's promises, on the connection that writes.
func TestPragmas(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "p.db"))
	for _, tt := range []struct{ pragma, want string }{
		{"journal_mode", "wal"},
		{"synchronous", "2"}, // FULL: the WAL is fsynced at every commit
		{"foreign_keys", "1"},
		{"busy_timeout", "10000"},
		{"secure_delete", "1"}, // freed space is zeroed: no old row version stays in the file
	} {
		got, err := s.Pragma(tt.pragma)
		if err != nil || got != tt.want {
			t.Errorf("PRAGMA %s = %q, %v; want %q", tt.pragma, got, err, tt.want)
		}
	}
	// The read pool cannot write, whatever query reaches it.
	var n int
	err := s.QueryRow(`INSERT INTO answers (key, status, body, date_created) VALUES ('x', 200, x'', 1) RETURNING 1`).Scan(&n)
	if err == nil {
		t.Errorf("the read pool wrote a row")
	}
}

// TestForeignKeys: the schema's references hold (the pragma is not only set
// but in force).
func TestForeignKeys(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "f.db"))
	err := s.Update(ctx, func(tx tonepay.Tx) error {
		return tx.CreateAPIKey(ctx, &tonepay.APIKey{Sid: tonepay.NewSID("SK"), AccountSid: tonepay.NewSID("AC")})
	})
	if err == nil || !strings.Contains(err.Error(), "FOREIGN KEY") {
		t.Errorf("key of an unknown account: %v, want a FOREIGN KEY error", err)
	}
}

// TestMigrations: every embedded migration is applied and recorded once;
// opening again applies nothing.
func TestMigrations(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.db")
	embedded, err := sqlite.EmbeddedMigrations()
	if err != nil || len(embedded) == 0 {
		t.Fatalf("embedded migrations: %v, %v", embedded, err)
	}
	before := time.Now()
	s, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	first, err := s.AppliedMigrations()
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	for name, at := range first {
		if at < before.UnixNano() {
			t.Errorf("%s applied_at %v, before Open", name, time.Unix(0, at))
		}
	}
	if d := cmp.Diff(embedded, slices.Sorted(maps.Keys(first))); d != "" {
		t.Errorf("recorded migrations (-embedded +recorded):\n%s", d)
	}

	for range 2 {
		s := open(t, path)
		again, err := s.AppliedMigrations()
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(first, again); d != "" {
			t.Errorf("migrations after reopening (-first +again):\n%s", d)
		}
		s.Close()
	}
}

// TestReopen: what was committed is there after Close and Open.
func TestReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.db")
	s, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 23, 1, 2, 3, 4, time.UTC)
	a := storetest.MustAccount(t, s, "", now)
	c := storetest.MustCall(t, s, a.Sid, now)
	sess := &tonepay.Session{Sid: tonepay.NewSID("PK"), AccountSid: a.Sid, CallSid: c.Sid, Status: tonepay.SessionOpen,
		Sealed: []byte{1, 2, 3}, Deadline: now.Add(time.Minute), DateCreated: now, DateUpdated: now}
	cb := &tonepay.Callback{Token: "tok", AccountSid: a.Sid, Chain: sess.Sid, URL: "https://example.com/",
		Status: tonepay.CallbackPending, NextAttemptAt: now, DateCreated: now, DateUpdated: now}
	if err := s.Update(ctx, func(tx tonepay.Tx) error {
		if err := tx.CreateSession(ctx, sess); err != nil {
			return err
		}
		return tx.AddCallbacks(ctx, cb)
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = open(t, path)
	opts := cmp.Comparer(func(x, y tonepay.Secret) bool { return x.Reveal() == y.Reveal() })
	if got, err := s.FindAccount(ctx, a.Sid); err != nil || cmp.Diff(a, got, opts) != "" {
		t.Errorf("account after reopening: %v\n%s", err, cmp.Diff(a, got, opts))
	}
	if got, err := s.FindSession(ctx, sess.Sid); err != nil || cmp.Diff(sess, got) != "" {
		t.Errorf("session after reopening: %v\n%s", err, cmp.Diff(sess, got))
	}
	if next, err := s.NextCallbackAt(ctx); err != nil || !next.Equal(now) {
		t.Errorf("NextCallbackAt after reopening = %v, %v", next, err)
	}
}

// TestSurvivesKill: every Update that returned in a process killed with
// SIGKILL (no Close, no shutdown) is in the file afterwards. This exercises
// WAL recovery; synchronous=FULL (TestPragmas) is what extends the promise
// to a power cut, which a test cannot stage.
func TestSurvivesKill(t *testing.T) {
	if os.Getenv("TONEPAY_SQLITE_WRITER") != "" {
		return // the child: see writer
	}
	path := filepath.Join(t.TempDir(), "k.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestSurvivesKillWriter$", "-test.v")
	cmd.Env = append(os.Environ(), "TONEPAY_SQLITE_WRITER="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Read acknowledgements until enough writes have returned, then kill
	// the writer mid-stream.
	var acked []string
	sc := bufio.NewScanner(out)
	for sc.Scan() && len(acked) < 50 {
		if sid, ok := strings.CutPrefix(sc.Text(), "acked "); ok {
			acked = append(acked, sid)
		}
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if len(acked) < 50 {
		t.Fatalf("the writer acknowledged %d writes before it stopped", len(acked))
	}

	s := open(t, path)
	for _, sid := range acked {
		if _, err := s.FindCall(ctx, sid); err != nil {
			t.Errorf("acknowledged call %s lost: %v", sid, err)
		}
	}
}

// TestSurvivesKillWriter is the child process of TestSurvivesKill: it writes
// calls until it is killed, printing each SID once Update has returned.
func TestSurvivesKillWriter(t *testing.T) {
	path := os.Getenv("TONEPAY_SQLITE_WRITER")
	if path == "" {
		t.Skip("run by TestSurvivesKill")
	}
	s, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	a := storetest.MustAccount(t, s, "", time.Now())
	for i := 0; ; i++ {
		c := &tonepay.Call{Sid: tonepay.NewSID("CA"), AccountSid: a.Sid, Status: tonepay.CallInProgress, DateCreated: time.Now(), DateUpdated: time.Now()}
		if err := s.Update(ctx, func(tx tonepay.Tx) error { return tx.CreateCall(ctx, c) }); err != nil {
			t.Fatal(err)
		}
		fmt.Println("acked " + c.Sid)
		if i > 100000 {
			t.Fatal("not killed")
		}
	}
}

// TestConcurrentUpdates: read-modify-write transactions from many goroutines,
// and from a second Store on the same file (as a second process would be),
// all succeed: writes queue for the writer connection, BEGIN IMMEDIATE takes
// the lock before the first read, and busy_timeout waits out the other
// Store, so no SQLITE_BUSY comes back.
func TestConcurrentUpdates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.db")
	s1 := open(t, path)
	s2 := open(t, path)
	a := storetest.MustAccount(t, s1, "", time.Now())
	c := storetest.MustCall(t, s1, a.Sid, time.Now())

	const goroutines, rounds = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, goroutines*rounds*2)
	for g := range goroutines {
		s := s1
		if g%2 == 1 {
			s = s2
		}
		wg.Go(func() {
			for range rounds {
				// Read, then write what was read plus one: lost updates would
				// show in the final count.
				errs <- s.Update(ctx, func(tx tonepay.Tx) error {
					cur, err := tx.FindCall(ctx, c.Sid)
					if err != nil {
						return err
					}
					n, _ := strconv.Atoi(cur.Status)
					cur.Status = strconv.Itoa(n + 1)
					return tx.UpdateCall(ctx, cur)
				})
				_, err := s.FindCalls(ctx, tonepay.CallFilter{AccountSid: a.Sid, Limit: 5})
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	got, err := s1.FindCall(ctx, c.Sid)
	if err != nil || got.Status != strconv.Itoa(goroutines*rounds) {
		t.Fatalf("counter = %q, %v; want %d", got.Status, err, goroutines*rounds)
	}
}

// TestReleaseClaims: a claim left by a dead process is released at start-up,
// but a retry scheduled for later stays scheduled.
func TestReleaseClaims(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "l.db"))
	now := time.Now().UTC()
	a := storetest.MustAccount(t, s, "", now)

	cb := func(session string, next time.Time) *tonepay.Callback {
		return &tonepay.Callback{Token: tonepay.RandomHex(8), AccountSid: a.Sid, Chain: session, URL: "http://x/", Status: tonepay.CallbackPending,
			NextAttemptAt: next, DateCreated: now, DateUpdated: now}
	}
	leased, later := cb("PK1", now), cb("PK2", now.Add(time.Hour))

	if err := s.Update(ctx, func(tx tonepay.Tx) error { return tx.AddCallbacks(ctx, leased, later) }); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.ClaimCallbacks(ctx, now, time.Minute, 10); len(got) != 1 {
		t.Fatalf("claimed %d", len(got))
	}
	if err := s.ReleaseClaims(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := s.ClaimCallbacks(ctx, now, time.Minute, 10)
	if err != nil || len(got) != 1 || got[0].ID != leased.ID {
		t.Fatalf("after release: %v %v", got, err)
	}
}

// TestErrors: missing rows are tonepay.ErrNotFound itself; internal errors
// name the operation and are not mistaken for domain errors.
func TestErrors(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "e.db"))
	a := storetest.MustAccount(t, s, "", time.Now())

	ghost := &tonepay.Callback{ID: 42, Status: tonepay.CallbackDelivered}
	if err := s.RecordAttempt(ctx, ghost, &tonepay.Attempt{CallbackID: 42, N: 1}); err != tonepay.ErrNotFound {
		t.Errorf("RecordAttempt of an unknown callback: %v, want tonepay.ErrNotFound", err)
	}

	// A repeated SID is a bug, not a conflict.
	err := s.Update(ctx, func(tx tonepay.Tx) error { return tx.CreateAccount(ctx, a) })
	if err == nil || !strings.HasPrefix(err.Error(), "sqlite.CreateAccount: ") || tonepay.ErrorCode(err) != tonepay.CodeInternal {
		t.Errorf("duplicate account: %v (code %d), want an internal sqlite.CreateAccount error", err, tonepay.ErrorCode(err))
	}

	// A cancelled context fails the transaction before it starts.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	err = s.Update(cctx, func(tx tonepay.Tx) error { return nil })
	if !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "sqlite.Update: ") {
		t.Errorf("Update with a cancelled context: %v", err)
	}
}

// TestAwkwardPath: a file name with characters that mean something in a URI
// is used as it is.
func TestAwkwardPath(t *testing.T) {
	dir := t.TempDir()
	name := "a?b#c%20d e.db"
	s := open(t, filepath.Join(dir, name))
	storetest.MustAccount(t, s, "", time.Now())
	if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
		t.Errorf("database file: %v", err)
	}
}

// TestLive: CountLive, and a commit observed for each write.
func TestLive(t *testing.T) {
	s := open(t, t.TempDir()+"/live.db")
	var commits atomic.Int64
	s.ObserveCommit = func(time.Duration) { commits.Add(1) }
	storetest.RunLive(t, s)
	if commits.Load() < 5 {
		t.Errorf("%d commits observed", commits.Load())
	}
}
