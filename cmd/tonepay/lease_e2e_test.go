package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/client"
	"github.com/tonepay/tonepay/internal/e2e"
	"github.com/tonepay/tonepay/internal/pgtest"
)

// Real calls left by a crash (issue: a restart leaves no half-open calls in
// the store). A real leg's call lives in its process; its lease, renewed by
// that process, is what tells every other process it is still carried.

// leaseServers is what the processes of a lease test share: one store, one
// [[twilio]] link, a short lease.
type leaseServers struct {
	t          *testing.T
	env        []string
	sid, token string // the main tonepay account
	twSid      string // the linked Twilio account
	twToken    string
}

const testLease = 2 * time.Second

func newLeaseServers(t *testing.T, db string, extra ...string) *leaseServers {
	ls := &leaseServers{t: t, sid: tonepay.NewSID("AC"), token: "leasemaintoken1", twSid: tonepay.NewSID("AC"), twToken: "leasetwiliotoken01"}
	conf := filepath.Join(t.TempDir(), "tonepay.toml")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf("[[twilio]]\naccount_sid = %q\nauth_token_env = \"LEASE_TW_TOKEN\"\n", ls.twSid)), 0o600); err != nil {
		t.Fatal(err)
	}
	ls.env = append([]string{"TONEPAY_DB=" + db, "TONEPAY_CONFIG=" + conf, "LEASE_TW_TOKEN=" + ls.twToken,
		"TONEPAY_ACCOUNT_SID=" + ls.sid, "TONEPAY_AUTH_TOKEN=" + ls.token, "TONEPAY_LEG_LEASE=" + testLease.String()}, extra...)
	return ls
}

// start serves tonepay; the view lets the stream helpers dial it.
func (ls *leaseServers) start(name string) (*e2e.Proc, *streamServer) {
	t := ls.t
	p := e2e.StartServer(t, ls.env...)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s's log:\n%s", name, p.Stderr())
		}
	})
	return p, ls.view(p)
}

func (ls *leaseServers) view(p *e2e.Proc) *streamServer {
	return &streamServer{t: ls.t, URL: p.URL, sid: ls.sid, token: ls.token, twSid: ls.twSid, twToken: ls.twToken, logs: &lockedBuffer{}}
}

// streamedCall starts a stream (Twilio's side) on ss and opens an agent's
// session capturing the card number, of which the caller types 4 keys; its
// callbacks go to rc, and other adds to its parameters.
func streamedCall(t *testing.T, ss *streamServer, rc *receiver, other url.Values) (*twilioPeer, string) {
	t.Helper()
	ctx := context.Background()
	p := mustDial(t, ss)
	if err := p.start(map[string]string{"From": "+15005550001", "To": "+15005550006"}); err != nil {
		t.Fatal(err)
	}
	ss.waitStatus(p.call, tonepay.CallInProgress, 10*time.Second)
	c := ss.client()
	pay, err := c.CreatePayment(ctx, p.call, client.PaymentParams{IdempotencyKey: "create", StatusCallback: rc.srv.URL, ChargeAmount: "10.00", Other: other})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.UpdatePayment(ctx, p.call, pay.Sid, client.PaymentUpdate{IdempotencyKey: "capture", StatusCallback: rc.srv.URL, Capture: "payment-card-number"}); err != nil {
		t.Fatal(err)
	}
	if err := p.dtmf("4242"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "four keys typed", func() bool {
		v, err := c.PaymentView(ctx, p.call, pay.Sid)
		return err == nil && v.Typed == 4
	})
	return p, pay.Sid
}

// hungUp reports (1) that the call's session ended caller-hung-up,
// through ss's API and its signed callback to rc.
func hungUp(t *testing.T, ss *streamServer, rc *receiver, call, pk string) int {
	t.Helper()
	v, err := ss.client().PaymentView(context.Background(), call, pk)
	if err != nil || v.Status != "ended" || v.Result != tonepay.ResultHungUp {
		t.Logf("the session of the call whose process was killed: %+v %v; want ended, %s", v, err, tonepay.ResultHungUp)
		return 0
	}
	waitFor(t, 10*time.Second, "the caller-hung-up callback", func() bool {
		for _, d := range rc.forSession(pk) {
			if d.Form.Get("Result") == tonepay.ResultHungUp && d.Valid {
				return true
			}
		}
		return false
	})
	return 1
}

// warned checks the one WARN line of the call a process ended.
func warned(t *testing.T, p *e2e.Proc, call string) {
	t.Helper()
	var lines []string
	for _, l := range strings.Split(p.Stderr(), "\n") {
		if strings.Contains(l, "whose process stopped") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 1 || !strings.Contains(lines[0], `level=WARN msg="ended a streamed call whose process stopped" call=`+call+" leg=stream") {
		t.Errorf("log lines %q, want one WARN naming %s", lines, call)
	}
}

// TestKilledStreamEndsAfterRestart: a served tonepay with a streamed call
// and an open session capturing it is killed (SIGKILL); a new process on
// the same SQLite file hangs the call up once its lease lapses: the call
// completed, the session caller-hung-up, one WARN line.
func TestKilledStreamEndsAfterRestart(t *testing.T) {
	ls := newLeaseServers(t, filepath.Join(t.TempDir(), "s.db"))
	first, ss := ls.start("the first process")
	rc := newReceiver(t, ls.token)
	p, pk := streamedCall(t, ss, rc, nil)
	first.Kill()
	killed := time.Now()
	second, ss := ls.start("the second process")
	up := time.Now()
	if got := ss.callStatus(p.call); got != tonepay.CallInProgress && time.Since(killed) < testLease {
		t.Errorf("the call was %s before its lease could lapse", got)
	}
	// The lease lapses at most testLease after the kill; the sweeper looks
	// every third of it. Slack for a loaded machine.
	ss.waitStatus(p.call, tonepay.CallCompleted, testLease+10*time.Second)
	ended := fmt.Sprintf("lease=%v ended_after_kill=%v ended_after_restart=%v", testLease,
		time.Since(killed).Round(10*time.Millisecond), time.Since(up).Round(10*time.Millisecond))
	figures(t, "fault-kill-stream-lease", 1, hungUp(t, ss, rc, p.call, pk), ended)
	warned(t, second, p.call)
}

// TestTwoProcessesLeases: two processes on one PostgreSQL store, each with
// a streamed call. While both run, each renews its own call's lease, and
// neither ends the other's call once its first lease is long over; when
// one is killed, the other hangs up that one's call (caller-hung-up, one
// WARN line) and keeps its own.
func TestTwoProcessesLeases(t *testing.T) {
	db := pgtest.FreshDB(t)
	ls := newLeaseServers(t, db, "TONEPAY_DATA_KEY="+base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef")))
	a, ssA := ls.start("A")
	b, ssB := ls.start("B")
	rc := newReceiver(t, ls.token)
	pa, pkA := streamedCall(t, ssA, rc, nil)
	pb, _ := streamedCall(t, ssB, rc, nil)
	keepAlive(t, pa)
	keepAlive(t, pb)

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	lease := func(call string) time.Time {
		var n int64
		if err := conn.QueryRow(ctx, `SELECT leg_lease FROM calls WHERE sid = $1`, call).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return time.Unix(0, n)
	}
	first := map[string]time.Time{pa.call: lease(pa.call), pb.call: lease(pb.call)}
	// Renewed until each lease is two leases past the one first seen:
	// unrenewed, both would have lapsed a lease ago, and both processes'
	// sweepers have looked several times since.
	waitFor(t, 10*testLease, "both leases renewed", func() bool {
		return lease(pa.call).After(first[pa.call].Add(2*testLease)) && lease(pb.call).After(first[pb.call].Add(2*testLease))
	})
	for _, c := range []struct {
		ss   *streamServer
		call string
	}{{ssA, pb.call}, {ssB, pa.call}} {
		if got := c.ss.callStatus(c.call); got != tonepay.CallInProgress {
			t.Errorf("call %s, renewed by the other process: %s", c.call, got)
		}
	}

	a.Kill()
	killed := time.Now()
	ssB.waitStatus(pa.call, tonepay.CallCompleted, testLease+10*time.Second)
	ended := fmt.Sprintf("lease=%v ended_after_kill=%v", testLease, time.Since(killed).Round(10*time.Millisecond))
	figures(t, "fault-pg-kill-stream-lease", 1, hungUp(t, ssB, rc, pa.call, pkA), ended)
	warned(t, b, pa.call)
	if got := ssB.callStatus(pb.call); got != tonepay.CallInProgress {
		t.Errorf("B's own call: %s", got)
	}
}

// TestKilledStreamResumesAfterRestart: a served tonepay with a streamed call
// and a session capturing it is killed (SIGKILL); a new process on the same
// SQLite file takes a new socket's start for the same CallSid within the
// lease: the call stays in progress past the dead process's lease (the new
// one renews it), and the caller's next key counts in the same session.
func TestKilledStreamResumesAfterRestart(t *testing.T) {
	// Long enough for a restart on a loaded machine to come within it.
	const lease = 8 * time.Second
	ls := newLeaseServers(t, filepath.Join(t.TempDir(), "s.db"), "TONEPAY_LEG_LEASE="+lease.String())
	first, ss := ls.start("the first process")
	rc := newReceiver(t, ls.token)
	// The field waits a minute for the next key (Twilio's Timeout; 5 s by
	// default would end the entry while the test waits out the lease).
	p, pk := streamedCall(t, ss, rc, url.Values{"Timeout": {"60"}})
	first.Kill()
	killed := time.Now()
	_, ss = ls.start("the second process")
	q := mustDial(t, ss)
	q.call = p.call // Twilio's reconnect: the same call, a new socket
	if err := q.start(map[string]string{"From": "+15005550001", "To": "+15005550006"}); err != nil {
		t.Fatal(err)
	}
	keepAlive(t, q)
	resumed := time.Since(killed)
	if resumed >= lease {
		t.Fatalf("the restart took %v, the lease is %v: nothing left to resume", resumed.Round(10*time.Millisecond), lease)
	}
	// Past the dead process's last lease and a sweep after it (every third of
	// a lease), with a second's slack: an unrenewed call would have ended.
	for time.Since(killed) < lease+lease/3+time.Second {
		if got := ss.callStatus(p.call); got != tonepay.CallInProgress {
			t.Fatalf("%v after the kill (resumed after %v) the call is %q", time.Since(killed).Round(10*time.Millisecond), resumed.Round(10*time.Millisecond), got)
		}
		time.Sleep(200 * time.Millisecond)
	}
	ctx := context.Background()
	if err := q.dtmf("4"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the fifth key typed", func() bool {
		v, err := ss.client().PaymentView(ctx, p.call, pk)
		return err == nil && v.Typed == 5 && v.Status != "ended"
	})
	t.Logf("resumed %v after the kill; lease %v", resumed.Round(10*time.Millisecond), lease)
}
