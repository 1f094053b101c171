package calls_test

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/calls"
	"github.com/tonepay/tonepay/connector/sandbox"
	"github.com/tonepay/tonepay/internal/pgtest"
	"github.com/tonepay/tonepay/internal/servicetest"
	"github.com/tonepay/tonepay/seal"
	"github.com/tonepay/tonepay/store/postgres"
	"github.com/tonepay/tonepay/store/sqlite"
	"github.com/tonepay/tonepay/store/storetest"
)

// syncLog is a log's output, written from several goroutines.
type syncLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *syncLog) Write(p []byte) (int, error) { l.mu.Lock(); defer l.mu.Unlock(); return l.b.Write(p) }

// lines are the lines that contain s.
func (l *syncLog) lines(s string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, line := range strings.Split(l.b.String(), "\n") {
		if strings.Contains(line, s) {
			out = append(out, line)
		}
	}
	return out
}

// TestLegLeases: processes sharing a store, on both stores. StartLeg
// writes a call's first lease; a process renews the leases of the calls it
// carries (those it started, and one its leg listens to) and forgets those
// that ended. Once a stopped process's calls' leases lapse, another
// process's sweeper hangs them up, as their callers would: the open
// session ends caller-hung-up, a SIP call's Dial leg ends with it, one WARN
// line each. Renewed calls, a Dial leg on its own and the sweeper's own
// calls (renewed late) are left alone; the sweep for lapsed leases runs
// every few seconds, or at once at start-up (all).
func TestLegLeases(t *testing.T) {
	for _, st := range []struct {
		name string
		open func(t *testing.T) tonepay.Store
	}{
		{"sqlite", func(t *testing.T) tonepay.Store {
			s, err := sqlite.Open(filepath.Join(t.TempDir(), "s.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}},
		{"postgres", func(t *testing.T) tonepay.Store {
			s, err := postgres.Open(context.Background(), pgtest.FreshDB(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}},
	} {
		t.Run(st.name, func(t *testing.T) { testLegLeases(t, st.open(t)) })
	}
}

func testLegLeases(t *testing.T, store tonepay.Store) {
	ctx := context.Background()
	clk := servicetest.NewClock()
	box, _ := seal.New(bytes.Repeat([]byte{1}, 32))
	acct := storetest.MustAccount(t, store, "", clk.Now())
	app := newApp(map[string]string{"dial": `<Response>` + dialTo(1) + `</Response>`})
	process := func(ttl time.Duration) (*servicetest.Process, *syncLog) {
		logs := &syncLog{}
		noTime := func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}
		p := servicetest.New(store, nop{}, box, tonepay.Connectors{"Default": sandbox.New()},
			slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{ReplaceAttr: noTime})))
		p.Tx.Now, p.Fetcher, p.LeaseTTL = clk.Now, app, ttl
		t.Cleanup(p.StopCalls)
		return p, logs
	}
	leg := func(p *servicetest.Process, kind tonepay.Leg) *tonepay.Call {
		t.Helper()
		req := &calls.LegRequest{CallSid: tonepay.NewSID(tonepay.PrefixCall), Leg: kind,
			CreateCallRequest: tonepay.CreateCallRequest{AccountSid: acct.Sid, From: "+15005550001", To: "+15005550006"}}
		if kind == tonepay.LegSIP {
			req.URL = ivr + "dial"
		}
		c, err := p.StartLeg(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	find := func(sid string) *tonepay.Call {
		t.Helper()
		c, err := store.FindCall(ctx, sid)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	dialLeg := func(parent string) *tonepay.Call {
		t.Helper()
		legs, err := store.FindCalls(ctx, tonepay.CallFilter{AccountSid: acct.Sid, Parent: parent})
		if err != nil || len(legs) != 1 {
			t.Fatalf("legs of %s: %d %v", parent, len(legs), err)
		}
		return legs[0]
	}
	status := func(want string, cs ...*tonepay.Call) {
		t.Helper()
		for _, c := range cs {
			if got := find(c.Sid); got.Status != want {
				t.Errorf("%s call %s (%s): %s, want %s", got.Leg, c.Sid, got.Direction, got.Status, want)
			}
		}
	}
	sweep := func(p *servicetest.Process, all bool) {
		t.Helper()
		if _, err := p.SweepCalls(ctx, all); err != nil {
			t.Fatal(err)
		}
	}

	// A process that will stop: a streamed call with a session capturing,
	// a SIP call in a Dial, and a streamed call whose leg another process
	// carries on (it listens to it).
	dead, _ := process(0)
	start := clk.Now()
	stream := leg(dead, tonepay.LegStream)
	if got := find(stream.Sid).LegLease; !got.Equal(start.Add(calls.DefaultLeaseTTL)) {
		t.Errorf("the lease StartLeg wrote: %v, want %v", got, start.Add(calls.DefaultLeaseTTL))
	}
	pk, err := dead.CreateSession(ctx, &tonepay.CreateRequest{AccountSid: acct.Sid, CallSid: stream.Sid, StatusCallback: "https://example.com/cb",
		Params: tonepay.Params{PaymentMethod: tonepay.CreditCard, Currency: "USD", TokenType: tonepay.TokenReusable, Timeout: 5, Input: "dtmf", ValidCardTypes: []string{"visa"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dead.UpdateSession(ctx, &tonepay.UpdateRequest{AccountSid: acct.Sid, CallSid: stream.Sid, Sid: pk.Sid, Capture: tonepay.FieldCardNumber, StatusCallback: "https://example.com/cb"}); err != nil {
		t.Fatal(err)
	}
	sip := leg(dead, tonepay.LegSIP)
	sipLeg := dialLeg(sip.Sid)
	carried := leg(dead, tonepay.LegStream)
	status(tonepay.CallInProgress, stream, sip, sipLeg, carried)
	if !sipLeg.LegLease.IsZero() {
		t.Errorf("a Dial leg has a lease: %v", sipLeg.LegLease)
	}

	// A process that lives on, with calls of its own.
	alive, logs := process(0)
	own := leg(alive, tonepay.LegStream)
	ownSIP := leg(alive, tonepay.LegSIP)
	ownLeg := dialLeg(ownSIP.Sid)
	stopListening := alive.Listen(acct.Sid, carried.Sid, func([]tonepay.Heard, bool) {})
	t.Cleanup(stopListening)
	dead.StopCalls() // it stops: nothing renews its calls

	clk.Add(20 * time.Second)
	if err := alive.RenewLeases(ctx); err != nil {
		t.Fatal(err)
	}
	renewed := clk.Now().Add(calls.DefaultLeaseTTL)
	for _, c := range []*tonepay.Call{own, ownSIP, carried} {
		if got := find(c.Sid).LegLease; !got.Equal(renewed) {
			t.Errorf("%s: lease %v after the renewal, want %v", c.Sid, got, renewed)
		}
	}
	if got := find(stream.Sid).LegLease; !got.Equal(start.Add(calls.DefaultLeaseTTL)) {
		t.Errorf("the stopped process's call was renewed: %v", got)
	}

	// The stopped process's leases lapse: the sweeper hangs its calls up.
	clk.Add(10*time.Second + time.Millisecond)
	sweep(alive, false)
	status(tonepay.CallCompleted, stream, sip, sipLeg)
	status(tonepay.CallInProgress, own, ownSIP, ownLeg, carried)
	if c := find(stream.Sid); !c.EndTime.Equal(clk.Now()) {
		t.Errorf("the streamed call ended at %v, want %v", c.EndTime, clk.Now())
	}
	if s, err := store.FindSession(ctx, pk.Sid); err != nil || s.Status != tonepay.SessionEnded || s.State.Result != tonepay.ResultHungUp {
		t.Errorf("the session on the lapsed call: %+v %v; want ended, %s", s, err, tonepay.ResultHungUp)
	}
	es, err := store.FindTimeline(ctx, stream.Sid, 0, 0)
	if err != nil || len(es) == 0 || !strings.Contains(string(es[0].Entry), "stopped with its process") {
		t.Errorf("the lapsed call's timeline: %d entries, %v", len(es), err)
	}
	want := []string{ // one each, in either order (same lease, SIDs are random)
		`level=WARN msg="ended a streamed call whose process stopped" call=` + stream.Sid + ` leg=stream`,
		`level=WARN msg="ended a SIP call whose process stopped" call=` + sip.Sid + ` leg=sip`,
	}
	if got := logs.lines("whose process stopped"); !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))) {
		t.Errorf("log lines %q, want %q", got, want)
	}

	// Every few seconds, not at each tick: a lease lapsing 3 s after that
	// sweep waits for the next look; a start-up sweep (all) looks at once.
	short, _ := process(3 * time.Second)
	quick := leg(short, tonepay.LegStream)
	short.StopCalls()
	clk.Add(3*time.Second + time.Millisecond)
	sweep(alive, false)
	status(tonepay.CallInProgress, quick)
	sweep(alive, true)
	status(tonepay.CallCompleted, quick)

	// A call that ended leaves the renewals; a listener that stops, too.
	if _, err := alive.HangUp(ctx, acct.Sid, own.Sid); err != nil {
		t.Fatal(err)
	}
	if err := alive.RenewLeases(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := alive.Carried(), slices.Sorted(slices.Values([]string{ownSIP.Sid, carried.Sid})); !slices.Equal(got, want) {
		t.Errorf("renewed %v, want %v", got, want)
	}
	stopListening()
	// Late renewals (a store that was down): the sweeper never takes its
	// own process's calls for a dead one's.
	clk.Add(2 * time.Minute)
	sweep(alive, true)
	status(tonepay.CallInProgress, ownSIP, ownLeg)
	status(tonepay.CallCompleted, carried)
}
