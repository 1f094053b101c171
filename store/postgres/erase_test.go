package postgres_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/tonepay/tonepay"
	fig "github.com/tonepay/tonepay/internal/figures"
	"github.com/tonepay/tonepay/internal/pgtest"
	"github.com/tonepay/tonepay/internal/suites"
	"github.com/tonepay/tonepay/store/postgres"
	"github.com/tonepay/tonepay/store/storetest"
)

// files gives access to the test server's files: its data directory and
// the directory of the database at url. It needs a superuser on a local
// server whose files this process can read (the test server, run as root);
// elsewhere the test skips, except under CI.
func files(t *testing.T, url string) (conn *pgx.Conn, dataDir, dbDir string) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	var oid uint32
	err = conn.QueryRow(ctx, `SELECT current_setting('data_directory'), oid FROM pg_database WHERE datname = current_database()`).Scan(&dataDir, &oid)
	if err == nil {
		dbDir = filepath.Join(dataDir, "base", itoa(oid))
		_, err = os.ReadDir(dbDir)
	}
	if err != nil {
		suites.Need(t, "PostgreSQL file scans", "run the tests as a user who can read the test server's data directory ("+err.Error()+")")
	}
	return conn, dataDir, dbDir
}

func itoa(n uint32) string { return string(appendUint(nil, n)) }

func appendUint(b []byte, n uint32) []byte {
	if n >= 10 {
		b = appendUint(b, n/10)
	}
	return append(b, byte('0'+n%10))
}

// holding returns the files under dir that contain any of needles.
func holding(t *testing.T, dir string, needles [][]byte) []string {
	var out []string
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil // a file removed while walking holds nothing
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil
		}
		for _, n := range needles {
			if bytes.Contains(b, n) {
				out = append(out, path)
				break
			}
		}
		return nil
	})
	return out
}

func sealedValue() []byte {
	b := make([]byte, 200) // about the size of a card's sealed values
	rand.Read(b)
	return b
}

// TestEraseSealed: the sealed values of a session, every version of them,
// are in the database's files while it is open (else the scan proves
// nothing), and in none of them EraseWithin after it ends, though another
// process ended it. What the WAL still holds is reported, not asserted: it
// keeps them until its segments are recycled (docs/deployment.md).
func TestEraseSealed(t *testing.T) {
	url := pgtest.FreshDB(t)
	ctx := context.Background()
	const within = 2 * time.Second
	a, err := postgres.OpenWith(ctx, url, postgres.Options{EraseWithin: within})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := postgres.OpenWith(ctx, url, postgres.Options{EraseWithin: within})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	conn, dataDir, dbDir := files(t, url)

	now := time.Now()
	acct := storetest.MustAccount(t, a, "", now)
	newSession := func() *tonepay.Session {
		call := storetest.MustCall(t, a, acct.Sid, now)
		return &tonepay.Session{Sid: "PK" + tonepay.RandomHex(16), AccountSid: acct.Sid, CallSid: call.Sid,
			Status: tonepay.SessionOpen, DateCreated: now, DateUpdated: now}
	}
	// Another session stays open throughout: the table's page is not emptied
	// (an empty end page is cut off the file, which would prove nothing).
	other := newSession()
	other.Sealed = sealedValue()
	if err := a.Update(ctx, func(tx tonepay.Tx) error { return tx.CreateSession(ctx, other) }); err != nil {
		t.Fatal(err)
	}
	sess := newSession()
	var versions [][]byte
	for i := range 5 { // a digit typed, a field captured: each a new sealed value
		sess.Sealed = sealedValue()
		versions = append(versions, sess.Sealed)
		err := a.Update(ctx, func(tx tonepay.Tx) error {
			if i == 0 {
				return tx.CreateSession(ctx, sess)
			}
			return tx.UpdateSession(ctx, sess)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	checkpoint := func() {
		if _, err := conn.Exec(ctx, `CHECKPOINT`); err != nil { // the pages reach the files
			t.Fatal(err)
		}
	}
	checkpoint()
	if got := holding(t, dbDir, versions[len(versions)-1:]); len(got) == 0 {
		t.Fatal("the open session's sealed value is in no file of the database: the scan proves nothing")
	}
	open := len(holding(t, dbDir, versions))

	ended := *sess
	ended.Status, ended.Sealed = tonepay.SessionEnded, nil
	if err := b.Update(ctx, func(tx tonepay.Tx) error { return tx.UpdateSession(ctx, &ended) }); err != nil {
		t.Fatal(err)
	}
	time.Sleep(within)
	checkpoint()
	if got := holding(t, dbDir, [][]byte{other.Sealed}); len(got) == 0 {
		t.Error("the other session's sealed value is gone too")
	}
	if got := holding(t, dbDir, versions); len(got) > 0 {
		t.Errorf("%v after the end, sealed values are still in %v", within, got)
	}
	wal := holding(t, filepath.Join(dataDir, "pg_wal"), versions)
	gone := 0
	for _, v := range versions {
		if len(holding(t, dbDir, [][]byte{v})) == 0 {
			gone++
		}
	}
	// The WAL keeps them until its segments are reused: documented, not fixed.
	fig.Report(t, "postgres-erase", len(versions), gone, fmt.Sprintf("files_holding_while_open=%d erase_within=%v wal_segments_holding=%d",
		open, within, len(wal)))
}

// TestMigrateSealed: a database of the first schema, with sealed values in
// the sessions table, keeps them readable once migrated, and its files no
// longer hold them in the sessions table (the migration rewrites it).
func TestMigrateSealed(t *testing.T) {
	url := pgtest.FreshDB(t)
	ctx := context.Background()
	conn, _, dbDir := files(t, url)
	init, err := os.ReadFile("migrations/001_init.sql")
	if err != nil {
		t.Fatal(err)
	}
	open, ended := sealedValue(), sealedValue()
	for _, q := range []string{string(init),
		`CREATE TABLE migrations (name text PRIMARY KEY, applied_at bigint NOT NULL)`,
		`INSERT INTO migrations VALUES ('migrations/001_init.sql', 0)`,
		`INSERT INTO accounts VALUES ('AC1', 'AC1', 'a', 'active', 'tok', 1, 1)`,
		`INSERT INTO calls VALUES ('CA1', 'AC1', '+1', '+2', 'u', 'in-progress', 'inbound', 1, 0, 1, 1), ('CA2', 'AC1', '+1', '+2', 'u', 'in-progress', 'inbound', 1, 0, 1, 1)`,
		`INSERT INTO sessions VALUES ('PK1', 'AC1', 'CA1', 'open', '{}', '{}', $1, 0, 1, 1), ('PK2', 'AC1', 'CA2', 'open', '{}', '{}', $2, 0, 1, 1)`,
		`UPDATE sessions SET status = 'ended', sealed = NULL WHERE sid = 'PK2'`,
		`CHECKPOINT`,
	} {
		var args []any
		if bytes.Contains([]byte(q), []byte("$2")) {
			args = []any{open, ended}
		}
		if _, err := conn.Exec(ctx, q, args...); err != nil {
			t.Fatalf("%.40s: %v", q, err)
		}
	}
	if len(holding(t, dbDir, [][]byte{ended})) == 0 {
		t.Fatal("the ended session's old row is in no file: the scan proves nothing")
	}
	s, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.FindSession(ctx, "PK1")
	if err != nil || !bytes.Equal(got.Sealed, open) {
		t.Fatalf("migrated open session: %v, %v", got, err)
	}
	if got, err := s.FindSession(ctx, "PK2"); err != nil || got.Sealed != nil {
		t.Fatalf("migrated ended session: %v, %v", got, err)
	}
	if _, err := conn.Exec(ctx, `CHECKPOINT`); err != nil {
		t.Fatal(err)
	}
	var rel string
	if err := conn.QueryRow(ctx, `SELECT pg_relation_filepath('sessions')`).Scan(&rel); err != nil {
		t.Fatal(err)
	}
	if got := holding(t, dbDir, [][]byte{ended}); len(got) > 0 {
		t.Errorf("the ended session's sealed value survives the migration in %v", got)
	}
	if got := holding(t, filepath.Join(filepath.Dir(dbDir), "..", rel), [][]byte{open}); len(got) > 0 {
		t.Errorf("the sessions table still holds the open session's sealed value: %v", got)
	}
}

// TestVacuumCost reports what one rewrite of session_secrets costs with
// 2,000 open sessions: its duration, which is how long session reads and
// writes may wait for it, the longest session write beside it, and the WAL
// it writes. Figures only: nothing here is timed against a threshold.
func TestVacuumCost(t *testing.T) {
	url := pgtest.FreshDB(t)
	ctx := context.Background()
	s, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	conn, _, _ := files(t, url)
	now := time.Now()
	acct := storetest.MustAccount(t, s, "", now)
	const n = 2000
	sessions := make([]*tonepay.Session, n)
	for i := range sessions {
		call := &tonepay.Call{Sid: "CA" + tonepay.RandomHex(16), AccountSid: acct.Sid, Status: tonepay.CallInProgress, DateCreated: now, DateUpdated: now}
		sessions[i] = &tonepay.Session{Sid: "PK" + tonepay.RandomHex(16), AccountSid: acct.Sid, CallSid: call.Sid,
			Status: tonepay.SessionOpen, Sealed: sealedValue(), DateCreated: now, DateUpdated: now}
		if err := s.Update(ctx, func(tx tonepay.Tx) error {
			if err := tx.CreateCall(ctx, call); err != nil {
				return err
			}
			return tx.CreateSession(ctx, sessions[i])
		}); err != nil {
			t.Fatal(err)
		}
	}
	// A writer updates sessions throughout, to see how long one waits.
	stop := make(chan struct{})
	worst := make(chan time.Duration)
	go func() {
		var w time.Duration
		for i := 0; ; i++ {
			select {
			case <-stop:
				worst <- w
				return
			default:
			}
			sess := sessions[i%n]
			sess.Sealed = sealedValue()
			t0 := time.Now()
			s.Update(ctx, func(tx tonepay.Tx) error { return tx.UpdateSession(ctx, sess) })
			w = max(w, time.Since(t0))
		}
	}()
	var durs []time.Duration
	const runs = 5
	for range runs {
		t0 := time.Now()
		if _, err := conn.Exec(ctx, `VACUUM FULL session_secrets`); err != nil {
			t.Fatal(err)
		}
		durs = append(durs, time.Since(t0))
		time.Sleep(50 * time.Millisecond)
	}
	close(stop)
	w := <-worst
	// The WAL of one rewrite alone: the new table, page by page.
	var lsn string
	var walBytes, size int64
	conn.QueryRow(ctx, `SELECT pg_current_wal_lsn()::text`).Scan(&lsn)
	if _, err := conn.Exec(ctx, `VACUUM FULL session_secrets`); err != nil {
		t.Fatal(err)
	}
	conn.QueryRow(ctx, `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)::bigint`, lsn).Scan(&walBytes)
	conn.QueryRow(ctx, `SELECT pg_total_relation_size('session_secrets')`).Scan(&size)
	t.Logf("VACUUM FULL of %d sealed rows (%d KiB with its index): %v; longest session write beside it: %v; WAL of one rewrite: %d KiB",
		n, size/1024, durs, w, walBytes/1024)
}
