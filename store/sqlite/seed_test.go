package sqlite_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/store/sqlite"
	"github.com/tonepay/tonepay/voice"
)

// TestSeedEnded: the seeded calls and sessions read back through the store
// as ended ones do (a completed call with its run and timeline, an ended
// session with its delivered callbacks and their attempts), in JSON the
// call runtime reads field for field, with consistent keys; the store's own
// prunes delete them; a second seed adds as many again; the file is left
// in WAL mode, and the store still writes to it.
func TestSeedEnded(t *testing.T) {
	ctx := context.Background()
	sqlite.SetSeedChunk(t, 4)
	path := filepath.Join(t.TempDir(), "seed.db")
	acct := tonepay.NewSID(tonepay.PrefixAccount)
	const n = 10
	start := time.Now()
	if err := sqlite.SeedEnded(ctx, path, acct, n); err != nil {
		t.Fatal(err)
	}
	s := open(t, path)
	if a, err := s.FindAccount(ctx, acct); err != nil || !a.IsMain() {
		t.Fatalf("account: %v %v", a, err)
	}
	if mode, err := s.Pragma("journal_mode"); err != nil || mode != "wal" {
		t.Errorf("journal_mode %q (%v), want wal", mode, err)
	}
	cbs, tl := sqlite.SeedShape()
	if cbs < 1 || tl < 1 {
		t.Fatalf("%d callbacks and %d timeline entries a call: want at least one of each", cbs, tl)
	}
	counts := map[string]int{"calls": n, "sessions": n, "callbacks": cbs * n, "callback_attempts": cbs * n, "answers": n, "call_runs": n, "call_timeline": tl * n}
	for table, want := range counts {
		var got int
		if err := s.QueryRow(`SELECT count(*) FROM ` + table).Scan(&got); err != nil || got != want {
			t.Errorf("%s: %d rows (%v), want %d", table, got, err, want)
		}
	}
	var distinct int
	if err := s.QueryRow(`SELECT count(DISTINCT sid) + count(DISTINCT call_sid) FROM sessions`).Scan(&distinct); err != nil || distinct != 2*n {
		t.Errorf("distinct SIDs %d (%v), want %d", distinct, err, 2*n)
	}
	var check string
	if err := s.QueryRow(`PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
		t.Errorf("integrity_check %q %v", check, err)
	}
	var table string
	if err := s.QueryRow(`PRAGMA foreign_key_check`).Scan(&table); !errors.Is(err, sql.ErrNoRows) {
		t.Errorf("foreign_key_check: a row of %q (%v)", table, err)
	}

	var sids string
	if err := s.QueryRow(`SELECT group_concat(sid) FROM sessions`).Scan(&sids); err != nil {
		t.Fatal(err)
	}
	for _, pk := range strings.Split(sids, ",") {
		checkSeeded(t, s, pk, start, cbs, tl)
	}

	// The store's prunes, past both retentions, delete every seeded row.
	later := time.Now().Add(48 * time.Hour)
	if got, err := s.PruneCalls(ctx, later, 100); err != nil || got != n {
		t.Errorf("PruneCalls: %d, %v; want %d", got, err, n)
	}
	if got, err := s.PruneSessions(ctx, later, 100); err != nil || got != n {
		t.Errorf("PruneSessions: %d, %v; want %d", got, err, n)
	}
	for _, table := range []string{"sessions", "callbacks", "callback_attempts", "call_runs", "call_timeline"} {
		var got int
		if err := s.QueryRow(`SELECT count(*) FROM ` + table).Scan(&got); err != nil || got != 0 {
			t.Errorf("after the prunes, %s has %d rows (%v)", table, got, err)
		}
	}
	// The store still writes to the file.
	now := time.Now()
	call := &tonepay.Call{Sid: tonepay.NewSID(tonepay.PrefixCall), AccountSid: acct, To: "+15005550006", From: "+15005550001", Status: tonepay.CallInProgress,
		Direction: "outbound-api", Leg: tonepay.LegSimulated, StartTime: now, DateCreated: now, DateUpdated: now}
	if err := s.Update(ctx, func(tx tonepay.Tx) error { return tx.CreateCall(ctx, call) }); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := sqlite.SeedEnded(ctx, path, acct, n); err != nil {
		t.Fatal(err)
	}
	s = open(t, path)
	var calls int
	if err := s.QueryRow(`SELECT count(*) FROM calls`).Scan(&calls); err != nil || calls != 2*n+1 {
		t.Errorf("after a second seed: %d calls (%v), want %d", calls, err, 2*n+1)
	}
}

// checkSeeded reads one seeded session and its call through the store.
func checkSeeded(t *testing.T, s *sqlite.Store, pk string, seeded time.Time, ncb, ntl int) {
	t.Helper()
	ctx := context.Background()
	x, err := s.FindSession(ctx, pk)
	if err != nil {
		t.Fatal(err)
	}
	if !tonepay.IsSID(x.Sid, tonepay.PrefixPayment) || !tonepay.IsSID(x.CallSid, tonepay.PrefixCall) || x.Status != tonepay.SessionEnded ||
		x.Sealed != nil || !x.Deadline.IsZero() || x.State.Result != "success" || x.Params.ChargeAmount != "10.00" ||
		!x.State.ProcessingSince.Before(x.DateUpdated) || !x.DateUpdated.After(x.DateCreated) {
		t.Errorf("session %+v", x)
	}
	if x.DateUpdated.Before(seeded.Add(-23*time.Hour)) || x.DateUpdated.After(seeded.Add(-10*time.Minute)) {
		t.Errorf("session ended at %v: want within the 23 hours before %v less 10 minutes", x.DateUpdated, seeded)
	}
	c, err := s.FindCall(ctx, x.CallSid)
	if err != nil {
		t.Fatal(err)
	}
	if c.Status != tonepay.CallCompleted || c.AccountSid != x.AccountSid || !c.EndTime.After(x.DateUpdated) || !c.StartTime.Before(x.DateCreated) || c.Leg != tonepay.LegSimulated {
		t.Errorf("call %+v", c)
	}
	run, err := s.FindCallRun(ctx, c.Sid)
	if err != nil {
		t.Fatal(err)
	}
	var st voice.State
	if err := strictJSON(run.State, &st); err != nil || st.CallSid != c.Sid || st.AccountSid != c.AccountSid || st.Status != tonepay.CallCompleted {
		t.Errorf("run state %+v (%v)", st, err)
	}
	tl, err := s.FindTimeline(ctx, c.Sid, 0, 100)
	if err != nil || len(tl) != ntl {
		t.Fatalf("timeline: %d entries, %v", len(tl), err)
	}
	for i, e := range tl {
		var v voice.Entry
		if err := strictJSON(e.Entry, &v); err != nil || !v.At.Equal(e.At) || e.Seq != int64(i+1) {
			t.Errorf("timeline entry %d: %s at %v (%v)", e.Seq, e.Entry, e.At, err)
		}
	}
	if last := tl[len(tl)-1]; !last.At.Equal(c.EndTime) {
		t.Errorf("hangup at %v, call ended %v", last.At, c.EndTime)
	}
	cbs, err := s.FindCallbacks(ctx, x.Sid)
	if err != nil || len(cbs) != ncb {
		t.Fatalf("callbacks: %d, %v", len(cbs), err)
	}
	for i, cb := range cbs {
		if cb.Status != tonepay.CallbackDelivered || cb.Attempts != 1 || cb.Form.Get("Sid") != x.Sid || cb.Form.Get("CallSid") != x.CallSid ||
			cb.Form.Get("AccountSid") != x.AccountSid || cb.Form.Get("DateCreated") != x.DateCreated.UTC().Format("2006-01-02T15:04:05.000Z") || len(cb.Token) != 32 {
			t.Errorf("callback %d: %+v", i, cb)
		}
		if i > 0 && cb.Form.Get("DateUpdated") != cb.DateCreated.UTC().Format("2006-01-02T15:04:05.000Z") {
			t.Errorf("callback %d: DateUpdated %q, created %v", i, cb.Form.Get("DateUpdated"), cb.DateCreated)
		}
		at, err := s.FindAttempts(ctx, cb.ID)
		if err != nil || len(at) != 1 || at[0].StatusCode != 204 || !at[0].At.Equal(cb.DateUpdated) {
			t.Errorf("callback %d's attempts: %+v, %v", i, at, err)
		}
	}
	if r := cbs[len(cbs)-1].Form.Get("Result"); r != "success" {
		t.Errorf("the last callback's Result is %q", r)
	}
}

// strictJSON decodes b into v, refusing fields v lacks: the seed's copies of
// the runtime's JSON must not drift from its types.
func strictJSON(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	return d.Decode(v)
}
