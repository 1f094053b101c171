package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/tonepay/tonepay"
)

func testAccounts(t *testing.T, s tonepay.Store) {
	if n, err := s.CountAccounts(ctx); err != nil || n != 0 {
		t.Fatalf("CountAccounts on an empty store = %d, %v", n, err)
	}
	main := MustAccount(t, s, "", t0)
	sub := MustAccount(t, s, main.Sid, t0.Add(time.Second))
	for _, want := range []*tonepay.Account{main, sub} {
		got, err := s.FindAccount(ctx, want.Sid)
		if err != nil {
			t.Fatal(err)
		}
		if d := diff(want, got); d != "" {
			t.Errorf("FindAccount (-want +got):\n%s", d)
		}
		if got.AuthToken.Reveal() != want.AuthToken.Reveal() {
			t.Errorf("AuthToken did not round-trip")
		}
	}
	if !main.IsMain() || sub.IsMain() {
		t.Errorf("IsMain: main %v, sub %v", main.IsMain(), sub.IsMain())
	}

	// UpdateAccount saves FriendlyName, Status, AuthToken (and DateUpdated),
	// and nothing else.
	changed := *sub
	changed.FriendlyName, changed.Status, changed.AuthToken, changed.DateUpdated = "renamed", "suspended", tonepay.NewSecret("rotated"), t0.Add(time.Hour)
	sneaky := changed
	sneaky.OwnerSid, sneaky.DateCreated = sid("AC"), t0.Add(time.Hour)
	update(t, s, func(tx tonepay.Tx) error { return tx.UpdateAccount(ctx, &sneaky) })
	// Read back in a transaction too: Reader is shared by Store and Tx.
	update(t, s, func(tx tonepay.Tx) error {
		got, err := tx.FindAccount(ctx, sub.Sid)
		if err != nil {
			return err
		}
		if d := diff(&changed, got); d != "" {
			t.Errorf("after UpdateAccount (-want +got):\n%s", d)
		}
		return nil
	})
	if n, err := s.CountAccounts(ctx); err != nil || n != 2 {
		t.Errorf("CountAccounts = %d, %v; want 2", n, err)
	}
}

func testAccountFilter(t *testing.T, s tonepay.Store) {
	main := MustAccount(t, s, "", t0.Add(time.Second))
	// sub2 and sub3 share a creation time, and are created in the reverse
	// of their SIDs' order, to check the tie-break; sub1 is oldest of all.
	sub2sid, sub3sid := sid("AC"), sid("AC")
	mk := func(sidv, name, status string, at time.Time) *tonepay.Account {
		a := &tonepay.Account{Sid: sidv, OwnerSid: main.Sid, FriendlyName: name, Status: status,
			AuthToken: tonepay.NewSecret("tok" + sidv[2:]), DateCreated: at, DateUpdated: at}
		update(t, s, func(tx tonepay.Tx) error { return tx.CreateAccount(ctx, a) })
		return a
	}
	sub3 := mk(sub3sid, "shop", tonepay.AccountActive, t0.Add(2*time.Second))
	sub2 := mk(sub2sid, "shop", "suspended", t0.Add(2*time.Second))
	sub1 := mk(sid("AC"), "back office", tonepay.AccountActive, t0)
	other := MustAccount(t, s, "", t0)
	otherSub := MustAccount(t, s, other.Sid, t0)
	all := []*tonepay.Account{sub1, main, sub2, sub3}

	tests := []struct {
		name string
		f    tonepay.AccountFilter
		want []*tonepay.Account
	}{
		{"owner and subaccounts, oldest first, ties by sid", tonepay.AccountFilter{OwnerSid: main.Sid}, all},
		{"by name", tonepay.AccountFilter{OwnerSid: main.Sid, FriendlyName: "shop"}, []*tonepay.Account{sub2, sub3}},
		{"by name, no match", tonepay.AccountFilter{OwnerSid: main.Sid, FriendlyName: "Shop"}, nil},
		{"by status", tonepay.AccountFilter{OwnerSid: main.Sid, Status: tonepay.AccountActive}, []*tonepay.Account{sub1, main, sub3}},
		{"by name and status", tonepay.AccountFilter{OwnerSid: main.Sid, FriendlyName: "shop", Status: "suspended"}, []*tonepay.Account{sub2}},
		{"limit", tonepay.AccountFilter{OwnerSid: main.Sid, Limit: 2}, all[:2]},
		{"offset and limit", tonepay.AccountFilter{OwnerSid: main.Sid, Offset: 1, Limit: 2}, all[1:3]},
		{"offset, no limit", tonepay.AccountFilter{OwnerSid: main.Sid, Offset: 3}, all[3:]},
		{"offset past the end", tonepay.AccountFilter{OwnerSid: main.Sid, Offset: 4, Limit: 10}, nil},
		{"limit above the count", tonepay.AccountFilter{OwnerSid: main.Sid, Limit: 100}, all},
		{"other owner", tonepay.AccountFilter{OwnerSid: other.Sid}, []*tonepay.Account{other, otherSub}},
		{"a subaccount sees only itself", tonepay.AccountFilter{OwnerSid: sub2.Sid}, []*tonepay.Account{sub2}},
		{"unknown owner", tonepay.AccountFilter{OwnerSid: sid("AC")}, nil},
		// other is as old as sub1, and older than main.
		{"main accounts, oldest first", tonepay.AccountFilter{Main: true}, []*tonepay.Account{other, main}},
		{"main accounts, OwnerSid not used", tonepay.AccountFilter{Main: true, OwnerSid: sub2.Sid}, []*tonepay.Account{other, main}},
		{"main accounts by status", tonepay.AccountFilter{Main: true, Status: "suspended"}, nil},
		{"main accounts, limit", tonepay.AccountFilter{Main: true, Limit: 1}, []*tonepay.Account{other}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.FindAccounts(ctx, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			if d := diff(tt.want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func testKeys(t *testing.T, s tonepay.Store) {
	a := MustAccount(t, s, "", t0)
	k := newKey(a.Sid, t0)
	k.SecretHash = tonepay.HashSecret("s1")
	update(t, s, func(tx tonepay.Tx) error { return tx.CreateAPIKey(ctx, k) })
	got, err := s.FindAPIKey(ctx, k.Sid)
	if err != nil {
		t.Fatal(err)
	}
	if d := diff(k, got); d != "" {
		t.Errorf("FindAPIKey (-want +got):\n%s", d)
	}
	if !got.Verify("s1") || got.Verify("s2") {
		t.Errorf("Verify after the round trip: s1 %v, s2 %v", got.Verify("s1"), got.Verify("s2"))
	}

	// UpdateAPIKey saves FriendlyName (and DateUpdated) only.
	changed := *k
	changed.FriendlyName, changed.DateUpdated = "renamed", t0.Add(time.Minute)
	sneaky := changed
	sneaky.SecretHash, sneaky.AccountSid = tonepay.HashSecret("other"), sid("AC")
	update(t, s, func(tx tonepay.Tx) error { return tx.UpdateAPIKey(ctx, &sneaky) })
	if got, err := s.FindAPIKey(ctx, k.Sid); err != nil {
		t.Fatal(err)
	} else if d := diff(&changed, got); d != "" {
		t.Errorf("after UpdateAPIKey (-want +got):\n%s", d)
	}

	keep := newKey(a.Sid, t0)
	update(t, s, func(tx tonepay.Tx) error { return tx.CreateAPIKey(ctx, keep) })
	update(t, s, func(tx tonepay.Tx) error { return tx.DeleteAPIKey(ctx, k.Sid) })
	if _, err := s.FindAPIKey(ctx, k.Sid); !errors.Is(err, tonepay.ErrNotFound) {
		t.Errorf("FindAPIKey after DeleteAPIKey: %v, want ErrNotFound", err)
	}
	if _, err := s.FindAPIKey(ctx, keep.Sid); err != nil {
		t.Errorf("DeleteAPIKey removed another key: %v", err)
	}
	if list, err := s.FindAPIKeys(ctx, tonepay.APIKeyFilter{AccountSid: a.Sid}); err != nil || len(list) != 1 || list[0].Sid != keep.Sid {
		t.Errorf("FindAPIKeys after DeleteAPIKey = %v, %v; want only %s", list, err, keep.Sid)
	}
	err = s.Update(ctx, func(tx tonepay.Tx) error { return tx.DeleteAPIKey(ctx, k.Sid) })
	if !errors.Is(err, tonepay.ErrNotFound) {
		t.Errorf("DeleteAPIKey twice: %v, want ErrNotFound", err)
	}
}

func testAPIKeyFilter(t *testing.T, s tonepay.Store) {
	a := MustAccount(t, s, "", t0)
	b := MustAccount(t, s, "", t0)
	// k2 and k3 share a creation time and are created in the reverse of
	// their SIDs' order; k0 is created last but is the oldest.
	k1 := newKey(a.Sid, t0)
	k2 := newKey(a.Sid, t0.Add(time.Second))
	k3 := newKey(a.Sid, t0.Add(time.Second))
	k0 := newKey(a.Sid, t0.Add(-time.Second))
	update(t, s, func(tx tonepay.Tx) error {
		for _, k := range []*tonepay.APIKey{k1, k3, k2, k0, newKey(b.Sid, t0)} {
			if err := tx.CreateAPIKey(ctx, k); err != nil {
				return err
			}
		}
		return nil
	})
	all := []*tonepay.APIKey{k0, k1, k2, k3}
	tests := []struct {
		name string
		f    tonepay.APIKeyFilter
		want []*tonepay.APIKey
	}{
		{"oldest first, ties by sid", tonepay.APIKeyFilter{AccountSid: a.Sid}, all},
		{"limit", tonepay.APIKeyFilter{AccountSid: a.Sid, Limit: 3}, all[:3]},
		{"offset and limit", tonepay.APIKeyFilter{AccountSid: a.Sid, Offset: 2, Limit: 1}, all[2:3]},
		{"offset, no limit", tonepay.APIKeyFilter{AccountSid: a.Sid, Offset: 1}, all[1:]},
		{"offset past the end", tonepay.APIKeyFilter{AccountSid: a.Sid, Offset: 9}, nil},
		{"no keys", tonepay.APIKeyFilter{AccountSid: sid("AC")}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.FindAPIKeys(ctx, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			if d := diff(tt.want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func testCalls(t *testing.T, s tonepay.Store) {
	a := MustAccount(t, s, "", t0)
	c := MustCall(t, s, a.Sid, t0)
	got, err := s.FindCall(ctx, c.Sid)
	if err != nil {
		t.Fatal(err)
	}
	if d := diff(c, got); d != "" {
		t.Errorf("FindCall (-want +got):\n%s", d)
	}
	if !got.EndTime.IsZero() {
		t.Errorf("EndTime of a live call = %v, want the zero time", got.EndTime)
	}

	// UpdateCall saves Status, EndTime, DateUpdated and what a redirect
	// changes (URL, Method, Twiml, StatusCallback, StatusCallbackMethod) only.
	changed := *c
	changed.Status, changed.EndTime, changed.DateUpdated = tonepay.CallCompleted, t0.Add(61*time.Second), t0.Add(61*time.Second)
	changed.URL, changed.Method, changed.Twiml = "https://example.com/next", "POST", "<Response><Hangup/></Response>"
	changed.StatusCallback, changed.StatusCallbackMethod = "https://example.com/progress2", "POST"
	sneaky := changed
	sneaky.To, sneaky.From, sneaky.StartTime = "+1", "+2", t0.Add(time.Hour)
	sneaky.FallbackURL, sneaky.FallbackMethod, sneaky.Timeout, sneaky.SendDigits = "https://elsewhere/", "POST", 5, "9"
	sneaky.StatusCallbackEvents = []string{tonepay.EventRinging}
	sneaky.PhoneNumberSid, sneaky.ForwardedFrom = sid("PN"), "+15550009999"
	sneaky.LegLease = t0.Add(time.Hour) // RenewLeases', not UpdateCall's
	update(t, s, func(tx tonepay.Tx) error { return tx.UpdateCall(ctx, &sneaky) })
	got, err = s.FindCall(ctx, c.Sid)
	if err != nil {
		t.Fatal(err)
	}
	if d := diff(&changed, got); d != "" {
		t.Errorf("after UpdateCall (-want +got):\n%s", d)
	}
	if got.Duration() != 61 {
		t.Errorf("Duration = %d, want 61", got.Duration())
	}

	// A call with Twilio's defaults and no progress events reads back as written.
	plain := newCall(a.Sid, t0)
	plain.CallParams = tonepay.CallParams{Method: "POST", Twiml: "<Response/>", FallbackMethod: "POST", StatusCallbackMethod: "POST", Timeout: tonepay.DefaultCallTimeout}
	update(t, s, func(tx tonepay.Tx) error { return tx.CreateCall(ctx, plain) })
	if got, err = s.FindCall(ctx, plain.Sid); err != nil {
		t.Fatal(err)
	}
	if d := diff(plain, got); d != "" {
		t.Errorf("FindCall of a plain call (-want +got):\n%s", d)
	}

	// An inbound call keeps its number's SID and who forwarded it.
	in := newCall(a.Sid, t0)
	in.Direction, in.PhoneNumberSid, in.ForwardedFrom = tonepay.DirectionInbound, sid("PN"), "+14155550199"
	update(t, s, func(tx tonepay.Tx) error { return tx.CreateCall(ctx, in) })
	if got, err = s.FindCall(ctx, in.Sid); err != nil {
		t.Fatal(err)
	}
	if d := diff(in, got); d != "" {
		t.Errorf("FindCall of an inbound call (-want +got):\n%s", d)
	}
	// A call keeps its leg; one stored with none (before legs were) is
	// simulated.
	for _, leg := range []tonepay.Leg{tonepay.LegStream, tonepay.LegSIP, ""} {
		c := newCall(a.Sid, t0)
		c.Leg = leg
		if leg.Real() {
			c.LegLease = t0.Add(30 * time.Second) // to the nanosecond, as every time
		}
		update(t, s, func(tx tonepay.Tx) error { return tx.CreateCall(ctx, c) })
		if got, err = s.FindCall(ctx, c.Sid); err != nil {
			t.Fatal(err)
		}
		if d := diff(c, got); d != "" {
			t.Errorf("FindCall of a call with leg %q (-want +got):\n%s", leg, d)
		}
		if got.Leg.Simulated() != (leg == "") || got.Leg.RunsTwiML() != (leg != tonepay.LegStream) {
			t.Errorf("leg %q: Simulated %v, RunsTwiML %v", leg, got.Leg.Simulated(), got.Leg.RunsTwiML())
		}
		// A call given a document runs it, a stream's too (its number's
		// VoiceUrl, a Calls update's Url or Twiml).
		if !got.RunsTwiML() {
			t.Errorf("leg %q with a Url: Call.RunsTwiML false", leg)
		}
	}
	// A streamed call given no document: Twilio runs its TwiML, tonepay
	// none (it holds, for agent-assisted Payments).
	c = newCall(a.Sid, t0)
	c.Leg, c.URL = tonepay.LegStream, ""
	update(t, s, func(tx tonepay.Tx) error { return tx.CreateCall(ctx, c) })
	if got, err = s.FindCall(ctx, c.Sid); err != nil {
		t.Fatal(err)
	}
	if got.RunsTwiML() {
		t.Error("a streamed call with no Url or Twiml: Call.RunsTwiML true")
	}
}

func testCallFilter(t *testing.T, s tonepay.Store) {
	a := MustAccount(t, s, "", t0)
	b := MustAccount(t, s, "", t0)
	c1 := MustCall(t, s, a.Sid, t0)
	c2 := MustCall(t, s, a.Sid, t0.Add(time.Second))
	c3 := MustCall(t, s, a.Sid, t0.Add(time.Second)) // same time as c2, larger SID
	c4 := newCall(a.Sid, t0.Add(2*time.Second))
	c4.To, c4.From, c4.Status = "+15005550009", "+15005550002", tonepay.CallCompleted
	update(t, s, func(tx tonepay.Tx) error { return tx.CreateCall(ctx, c4) })
	MustCall(t, s, b.Sid, t0.Add(time.Hour))
	// Newest first; a tie lists the larger SID first, so that a list is
	// exactly the reverse of creation order when SIDs grow with time.
	all := []*tonepay.Call{c4, c3, c2, c1}

	tests := []struct {
		name string
		f    tonepay.CallFilter
		want []*tonepay.Call
	}{
		{"newest first", tonepay.CallFilter{AccountSid: a.Sid}, all},
		{"by status", tonepay.CallFilter{AccountSid: a.Sid, Status: tonepay.CallCompleted}, []*tonepay.Call{c4}},
		{"by to", tonepay.CallFilter{AccountSid: a.Sid, To: "+15005550006"}, []*tonepay.Call{c3, c2, c1}},
		{"by from", tonepay.CallFilter{AccountSid: a.Sid, From: "+15005550002"}, []*tonepay.Call{c4}},
		{"by to and status", tonepay.CallFilter{AccountSid: a.Sid, To: "+15005550006", Status: tonepay.CallInProgress, Limit: 2}, []*tonepay.Call{c3, c2}},
		{"no match", tonepay.CallFilter{AccountSid: a.Sid, From: "+1999"}, nil},
		{"limit", tonepay.CallFilter{AccountSid: a.Sid, Limit: 1}, all[:1]},
		{"offset and limit", tonepay.CallFilter{AccountSid: a.Sid, Offset: 1, Limit: 2}, all[1:3]},
		{"offset, no limit", tonepay.CallFilter{AccountSid: a.Sid, Offset: 2}, all[2:]},
		{"offset past the end", tonepay.CallFilter{AccountSid: a.Sid, Offset: 4, Limit: 5}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.FindCalls(ctx, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			if d := diff(tt.want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

// testTimes: times written in any zone come back as the same instant, to the
// nanosecond, in UTC; the zero time comes back zero.
func testTimes(t *testing.T, s tonepay.Store) {
	zone := time.FixedZone("UTC-5", -5*3600)
	a := MustAccount(t, s, "", t0.In(zone))
	c := newCall(a.Sid, t0.In(zone).Add(time.Nanosecond))
	c.DateUpdated = time.Date(1970, 1, 1, 0, 0, 1, 0, zone) // before t0, and near the epoch
	update(t, s, func(tx tonepay.Tx) error { return tx.CreateCall(ctx, c) })

	gotA, err := s.FindAccount(ctx, a.Sid)
	if err != nil {
		t.Fatal(err)
	}
	gotC, err := s.FindCall(ctx, c.Sid)
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, got, want time.Time) {
		t.Helper()
		if !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("%s = %v, want %v in UTC", name, got, want.UTC())
		}
	}
	check("Account.DateCreated", gotA.DateCreated, a.DateCreated)
	check("Call.StartTime", gotC.StartTime, c.StartTime)
	check("Call.DateUpdated", gotC.DateUpdated, c.DateUpdated)
	if !gotC.EndTime.IsZero() {
		t.Errorf("zero EndTime came back as %v", gotC.EndTime)
	}
}

func testSessions(t *testing.T, s tonepay.Store) {
	a := MustAccount(t, s, "", t0)
	call := MustCall(t, s, a.Sid, t0)
	sess := newSession(call)
	sess.Sealed = []byte{0, 1, 2, 0xff}
	sess.Deadline = t0.Add(30 * time.Second)
	update(t, s, func(tx tonepay.Tx) error { return tx.CreateSession(ctx, sess) })
	finds := []struct {
		name string
		find func() (*tonepay.Session, error)
	}{
		{"FindSession", func() (*tonepay.Session, error) { return s.FindSession(ctx, sess.Sid) }},
		{"FindOpenSession", func() (*tonepay.Session, error) { return s.FindOpenSession(ctx, call.Sid) }},
	}
	for _, f := range finds {
		got, err := f.find()
		if err != nil {
			t.Fatalf("%s: %v", f.name, err)
		}
		if d := diff(sess, got); d != "" {
			t.Errorf("%s (-want +got):\n%s", f.name, d)
		}
	}

	// UpdateSession saves Status, State, Sealed, Deadline (and DateUpdated);
	// Params do not change during a session.
	changed := *sess
	changed.Status = tonepay.SessionProcessing
	changed.State = tonepay.State{Capture: tonepay.FieldSecurityCode, Typed: 2,
		Captured: map[tonepay.Field]string{tonepay.FieldCardNumber: "xxxxxxxxxxxx1111", tonepay.FieldExpiration: "1230"},
		CardType: "visa", Dropped: 3, StatusCallback: "https://example.com/cb2", TransactionID: "tx-1",
		ProcessingSince: t0.Add(time.Minute), ErrorType: "invalid-postal-code", ErrorField: tonepay.FieldPostalCode}
	changed.Sealed = []byte("sealed again")
	changed.Deadline = t0.Add(2 * time.Minute)
	changed.DateUpdated = t0.Add(time.Minute)
	sneaky := changed
	sneaky.Params.ChargeAmount, sneaky.CallSid, sneaky.AccountSid = "99.00", sid("CA"), sid("AC")
	update(t, s, func(tx tonepay.Tx) error { return tx.UpdateSession(ctx, &sneaky) })
	got, err := s.FindSession(ctx, sess.Sid)
	if err != nil {
		t.Fatal(err)
	}
	if d := diff(&changed, got); d != "" {
		t.Errorf("after UpdateSession (-want +got):\n%s", d)
	}
	// A processing session is still the call's open one.
	if got, err := s.FindOpenSession(ctx, call.Sid); err != nil || got.Sid != sess.Sid {
		t.Errorf("FindOpenSession while processing = %v, %v", got, err)
	}

	// Ending erases the sealed data and the deadline.
	ended := changed
	ended.Status, ended.Sealed, ended.Deadline = tonepay.SessionEnded, nil, time.Time{}
	ended.State.Result, ended.State.ConfirmationCode, ended.State.PayErrorCode = tonepay.ResultSuccess, "ch_1", 0
	ended.DateUpdated = t0.Add(3 * time.Minute)
	update(t, s, func(tx tonepay.Tx) error { return tx.UpdateSession(ctx, &ended) })
	got, err = s.FindSession(ctx, sess.Sid)
	if err != nil {
		t.Fatal(err)
	}
	if d := diff(&ended, got); d != "" {
		t.Errorf("after the end (-want +got):\n%s", d)
	}
	if got.Sealed != nil || !got.Deadline.IsZero() {
		t.Errorf("ended session keeps Sealed %v, Deadline %v", got.Sealed, got.Deadline)
	}
	if _, err := s.FindOpenSession(ctx, call.Sid); !errors.Is(err, tonepay.ErrNotFound) {
		t.Errorf("FindOpenSession after the end: %v, want ErrNotFound", err)
	}
}

func testDueSessions(t *testing.T, s tonepay.Store) {
	ss := sessions(t, s, 5)
	deadlines := []time.Time{t0.Add(3 * time.Second), t0.Add(time.Second), {}, t0.Add(2 * time.Second), t0.Add(time.Hour)}
	update(t, s, func(tx tonepay.Tx) error {
		for i, sess := range ss {
			sess.Deadline = deadlines[i]
			if err := tx.UpdateSession(ctx, sess); err != nil {
				return err
			}
		}
		return nil
	})
	tests := []struct {
		name  string
		now   time.Time
		limit int
		want  []string
	}{
		{"earliest first, the deadline itself is due", t0.Add(3 * time.Second), 10, []string{ss[1].Sid, ss[3].Sid, ss[0].Sid}},
		{"limit", t0.Add(3 * time.Second), 2, []string{ss[1].Sid, ss[3].Sid}},
		{"a nanosecond early", t0.Add(time.Second - 1), 10, []string{}},
		{"zero deadline never due", t0.Add(48 * time.Hour), 10, []string{ss[1].Sid, ss[3].Sid, ss[0].Sid, ss[4].Sid}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.FindDueSessions(ctx, tt.now, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			if d := diff(tt.want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

// testOneOpenSession: a call has at most one session that has not ended,
// and the database says so (a racing second create fails), whatever the
// open session's status.
func testOneOpenSession(t *testing.T, s tonepay.Store) {
	a := MustAccount(t, s, "", t0)
	call := MustCall(t, s, a.Sid, t0)
	first := newSession(call)
	update(t, s, func(tx tonepay.Tx) error { return tx.CreateSession(ctx, first) })

	for _, status := range []tonepay.SessionStatus{tonepay.SessionOpen, tonepay.SessionConfirming, tonepay.SessionProcessing} {
		first.Status = status
		update(t, s, func(tx tonepay.Tx) error { return tx.UpdateSession(ctx, first) })
		second := newSession(call)
		err := s.Update(ctx, func(tx tonepay.Tx) error { return tx.CreateSession(ctx, second) })
		if err != tonepay.ErrConflict {
			t.Fatalf("second session while the first is %s: %v, want tonepay.ErrConflict", status, err)
		}
		if _, err := s.FindSession(ctx, second.Sid); !errors.Is(err, tonepay.ErrNotFound) {
			t.Errorf("the refused session was stored: %v", err)
		}
	}

	// Two creates in one transaction: the second fails, and the transaction
	// fails as a whole.
	other := MustCall(t, s, a.Sid, t0)
	x, y := newSession(other), newSession(other)
	err := s.Update(ctx, func(tx tonepay.Tx) error {
		if err := tx.CreateSession(ctx, x); err != nil {
			return err
		}
		return tx.CreateSession(ctx, y)
	})
	if err != tonepay.ErrConflict {
		t.Errorf("two sessions in one transaction: %v, want tonepay.ErrConflict", err)
	}
	if _, err := s.FindOpenSession(ctx, other.Sid); !errors.Is(err, tonepay.ErrNotFound) {
		t.Errorf("open session after the failed transaction: %v", err)
	}

	// Sessions on other calls are not affected.
	update(t, s, func(tx tonepay.Tx) error { return tx.CreateSession(ctx, x) })

	// Once the first has ended, the call takes a new one, and then refuses a
	// third; ended sessions never conflict with each other.
	first.Status = tonepay.SessionEnded
	update(t, s, func(tx tonepay.Tx) error { return tx.UpdateSession(ctx, first) })
	next := newSession(call)
	update(t, s, func(tx tonepay.Tx) error { return tx.CreateSession(ctx, next) })
	if got, err := s.FindOpenSession(ctx, call.Sid); err != nil || got.Sid != next.Sid {
		t.Errorf("FindOpenSession = %v, %v; want %s", got, err, next.Sid)
	}
	if err := s.Update(ctx, func(tx tonepay.Tx) error { return tx.CreateSession(ctx, newSession(call)) }); err != tonepay.ErrConflict {
		t.Errorf("third session: %v, want tonepay.ErrConflict", err)
	}
	next.Status = tonepay.SessionEnded
	update(t, s, func(tx tonepay.Tx) error { return tx.UpdateSession(ctx, next) })
	if _, err := s.FindOpenSession(ctx, call.Sid); !errors.Is(err, tonepay.ErrNotFound) {
		t.Errorf("FindOpenSession with two ended sessions: %v, want ErrNotFound", err)
	}
}

// testSealed: a session's sealed values follow its writes through every
// change, none and back included, and a rolled-back write leaves them as
// they were (a store may keep them apart from the session's row).
func testSealed(t *testing.T, s tonepay.Store) {
	a := MustAccount(t, s, "", t0)
	sess := newSession(MustCall(t, s, a.Sid, t0))
	update(t, s, func(tx tonepay.Tx) error { return tx.CreateSession(ctx, sess) })
	steps := []struct {
		name     string
		sealed   []byte
		rollback bool
		want     []byte
	}{
		{"none at creation", nil, false, nil},
		{"first value", []byte("one"), false, []byte("one")},
		{"the same again", []byte("one"), false, []byte("one")},
		{"rolled back", []byte("two"), true, []byte("one")},
		{"changed", []byte("three"), false, []byte("three")},
		{"erased, rolled back", nil, true, []byte("three")},
		{"erased", nil, false, nil},
		{"erased again", nil, false, nil},
		{"set after erased", []byte("four"), false, []byte("four")},
	}
	for i, st := range steps {
		if i > 0 {
			next := *sess
			next.Sealed, next.DateUpdated = st.sealed, t0.Add(time.Duration(i)*time.Second)
			err := s.Update(ctx, func(tx tonepay.Tx) error {
				if err := tx.UpdateSession(ctx, &next); err != nil || !st.rollback {
					return err
				}
				return errRollback
			})
			if err != nil && !errors.Is(err, errRollback) {
				t.Fatalf("%s: %v", st.name, err)
			}
		}
		got, err := s.FindSession(ctx, sess.Sid)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if string(got.Sealed) != string(st.want) || (got.Sealed == nil) != (st.want == nil) {
			t.Errorf("%s: Sealed = %q, want %q", st.name, got.Sealed, st.want)
		}
		if got, err := s.FindOpenSession(ctx, sess.CallSid); err != nil || string(got.Sealed) != string(st.want) {
			t.Errorf("%s: FindOpenSession: %v, %v", st.name, got, err)
		}
	}
}

var errRollback = errors.New("roll back")

// testSessionFilter: FindSessions lists one call's sessions, ended and open,
// newest first, a tie by the larger SID first, with the full session as
// FindSession reads it (a view shows their outcomes); none of another call,
// and an empty list for a call with none or no such call. In a transaction
// too (a reader of either kind).
func testSessionFilter(t *testing.T, s tonepay.Store) {
	a := MustAccount(t, s, "", t0)
	call := MustCall(t, s, a.Sid, t0)
	other := MustCall(t, s, a.Sid, t0)
	at := func(d time.Duration, status tonepay.SessionStatus) *tonepay.Session {
		x := newSession(call)
		x.DateCreated, x.DateUpdated, x.Status = t0.Add(d), t0.Add(d), status
		if status == tonepay.SessionEnded {
			x.State.Result, x.State.ConfirmationCode = tonepay.ResultSuccess, "ch_"+x.Sid[len(x.Sid)-4:]
		}
		update(t, s, func(tx tonepay.Tx) error { return tx.CreateSession(ctx, x) })
		return x
	}
	s1 := at(0, tonepay.SessionEnded)
	s2 := at(time.Second, tonepay.SessionEnded)
	s3 := at(time.Second, tonepay.SessionEnded) // same time as s2, larger SID
	s4 := at(2*time.Second, tonepay.SessionOpen)
	s4.Sealed = []byte("sealed")
	update(t, s, func(tx tonepay.Tx) error { return tx.UpdateSession(ctx, s4) })
	o := newSession(other)
	o.DateCreated = t0.Add(time.Hour)
	update(t, s, func(tx tonepay.Tx) error { return tx.CreateSession(ctx, o) })
	all := []*tonepay.Session{s4, s3, s2, s1}

	tests := []struct {
		name string
		f    tonepay.SessionFilter
		want []*tonepay.Session
	}{
		{"newest first", tonepay.SessionFilter{CallSid: call.Sid}, all},
		{"limit", tonepay.SessionFilter{CallSid: call.Sid, Limit: 1}, all[:1]},
		{"offset and limit", tonepay.SessionFilter{CallSid: call.Sid, Offset: 1, Limit: 2}, all[1:3]},
		{"offset, no limit", tonepay.SessionFilter{CallSid: call.Sid, Offset: 2}, all[2:]},
		{"offset past the end", tonepay.SessionFilter{CallSid: call.Sid, Offset: 4, Limit: 5}, nil},
		{"another call", tonepay.SessionFilter{CallSid: other.Sid}, []*tonepay.Session{o}},
		{"a call with none", tonepay.SessionFilter{CallSid: MustCall(t, s, a.Sid, t0).Sid}, nil},
		{"no such call", tonepay.SessionFilter{CallSid: sid("CA")}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.FindSessions(ctx, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			if d := diff(tt.want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
	update(t, s, func(tx tonepay.Tx) error {
		got, err := tx.FindSessions(ctx, tonepay.SessionFilter{CallSid: call.Sid, Limit: 2})
		if err != nil {
			return err
		}
		if d := diff(all[:2], got); d != "" {
			t.Errorf("in a transaction (-want +got):\n%s", d)
		}
		return nil
	})
}
