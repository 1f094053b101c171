package storetest

import (
	"errors"
	"testing"

	"github.com/tonepay/tonepay"
)

// testTenant: through a tonepay.Tenant, another account's resource is
// ErrNotFound exactly as a missing one is, whoever the other account is (a
// stranger, the owner's subaccount, the subaccount's owner), on the Store
// and inside a Tx; lists hold the tenant's own rows whatever the filter says.
func testTenant(t *testing.T, s tonepay.Store) {
	owner := MustAccount(t, s, "", t0)
	sub := MustAccount(t, s, owner.Sid, t0.Add(1))
	stranger := MustAccount(t, s, "", t0.Add(2))

	call := MustCall(t, s, owner.Sid, t0)
	other := MustCall(t, s, owner.Sid, t0.Add(1)) // another call of the same account
	subCall := MustCall(t, s, sub.Sid, t0)
	key := newKey(owner.Sid, t0)
	num := newNumber(owner.Sid, "+15005550101", t0)
	ended := newSession(call)
	open := newSession(call)
	update(t, s, func(tx tonepay.Tx) error {
		if err := tx.CreateAPIKey(ctx, key); err != nil {
			return err
		}
		if err := tx.CreateNumber(ctx, num); err != nil {
			return err
		}
		if err := tx.CreateSession(ctx, ended); err != nil {
			return err
		}
		ended.Status = tonepay.SessionEnded
		if err := tx.UpdateSession(ctx, ended); err != nil {
			return err
		}
		if err := tx.CreateSession(ctx, open); err != nil {
			return err
		}
		return tx.AddTimeline(ctx, call.Sid, t0, []byte(`{"kind":"say"}`))
	})
	cb := newCallback(open, t0)
	addCallbacks(t, s, cb)
	deliver(t, s, cb, t0.Add(1))

	// Each read names one of owner's resources; missing names one nobody has.
	reads := []struct {
		name    string
		read    func(tn tonepay.Tenant) error
		missing func(tn tonepay.Tenant) error
	}{
		{"FindCall",
			func(tn tonepay.Tenant) error { _, err := tn.FindCall(ctx, call.Sid); return err },
			func(tn tonepay.Tenant) error { _, err := tn.FindCall(ctx, sid("CA")); return err }},
		{"FindAPIKey",
			func(tn tonepay.Tenant) error { _, err := tn.FindAPIKey(ctx, key.Sid); return err },
			func(tn tonepay.Tenant) error { _, err := tn.FindAPIKey(ctx, sid("SK")); return err }},
		{"FindNumber",
			func(tn tonepay.Tenant) error { _, err := tn.FindNumber(ctx, num.Sid); return err },
			func(tn tonepay.Tenant) error { _, err := tn.FindNumber(ctx, sid("PN")); return err }},
		{"FindSession",
			func(tn tonepay.Tenant) error { _, err := tn.FindSession(ctx, call.Sid, ended.Sid); return err },
			func(tn tonepay.Tenant) error { _, err := tn.FindSession(ctx, call.Sid, sid("PK")); return err }},
		{"FindSession by SID alone",
			func(tn tonepay.Tenant) error { _, err := tn.FindSession(ctx, "", open.Sid); return err },
			func(tn tonepay.Tenant) error { _, err := tn.FindSession(ctx, "", sid("PK")); return err }},
		{"FindOpenSession",
			func(tn tonepay.Tenant) error { _, err := tn.FindOpenSession(ctx, call.Sid); return err },
			func(tn tonepay.Tenant) error { _, err := tn.FindOpenSession(ctx, other.Sid); return err }},
		{"FindSessions",
			func(tn tonepay.Tenant) error {
				_, err := tn.FindSessions(ctx, tonepay.SessionFilter{CallSid: call.Sid})
				return err
			},
			func(tn tonepay.Tenant) error {
				_, err := tn.FindSessions(ctx, tonepay.SessionFilter{CallSid: sid("CA")})
				return err
			}},
		{"FindCallbacks",
			func(tn tonepay.Tenant) error { _, err := tn.FindCallbacks(ctx, call.Sid, open.Sid); return err },
			func(tn tonepay.Tenant) error { _, err := tn.FindCallbacks(ctx, call.Sid, sid("PK")); return err }},
		{"FindTimeline",
			func(tn tonepay.Tenant) error { _, err := tn.FindTimeline(ctx, call.Sid, 0, 0); return err },
			func(tn tonepay.Tenant) error { _, err := tn.FindTimeline(ctx, sid("CA"), 0, 0); return err }},
	}
	for _, tt := range reads {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.read(tonepay.NewTenant(s, owner.Sid)); err != nil {
				t.Fatalf("the owner's read: %v", err)
			}
			check := func(who string, err error) {
				t.Helper()
				if !errors.Is(err, tonepay.ErrNotFound) {
					t.Errorf("%s: %v, want ErrNotFound", who, err)
				}
			}
			check("missing", tt.missing(tonepay.NewTenant(s, owner.Sid)))
			check("a stranger", tt.read(tonepay.NewTenant(s, stranger.Sid)))
			check("the owner's subaccount", tt.read(tonepay.NewTenant(s, sub.Sid)))
			check("an unknown account", tt.read(tonepay.NewTenant(s, sid("AC"))))
			// The same rule inside a transaction.
			update(t, s, func(tx tonepay.Tx) error {
				if err := tt.read(tonepay.NewTenant(tx, owner.Sid)); err != nil {
					t.Errorf("the owner's read in a Tx: %v", err)
				}
				check("a stranger in a Tx", tt.read(tonepay.NewTenant(tx, stranger.Sid)))
				return nil
			})
		})
	}

	t.Run("session on another call", func(t *testing.T) {
		if _, err := tonepay.NewTenant(s, owner.Sid).FindSession(ctx, other.Sid, ended.Sid); !errors.Is(err, tonepay.ErrNotFound) {
			t.Errorf("got %v, want ErrNotFound", err)
		}
		if _, err := tonepay.NewTenant(s, owner.Sid).FindCallbacks(ctx, other.Sid, open.Sid); !errors.Is(err, tonepay.ErrNotFound) {
			t.Errorf("callbacks: got %v, want ErrNotFound", err)
		}
	})
	t.Run("a subaccount's call is not its owner's", func(t *testing.T) {
		if _, err := tonepay.NewTenant(s, owner.Sid).FindCall(ctx, subCall.Sid); !errors.Is(err, tonepay.ErrNotFound) {
			t.Errorf("got %v, want ErrNotFound", err)
		}
	})
	t.Run("callbacks with attempts", func(t *testing.T) {
		h, err := tonepay.NewTenant(s, owner.Sid).FindCallbacks(ctx, call.Sid, open.Sid)
		if err != nil || len(h) != 1 || h[0].Callback.ID != cb.ID || len(h[0].Attempts) != 1 || h[0].Attempts[0].StatusCode != 204 {
			t.Errorf("got %+v, %v; want the callback and its one attempt", h, err)
		}
	})
	t.Run("lists are the tenant's", func(t *testing.T) {
		tn := tonepay.NewTenant(s, stranger.Sid)
		// A filter naming another account does not widen the list.
		if cs, err := tn.FindCalls(ctx, tonepay.CallFilter{AccountSid: owner.Sid}); err != nil || len(cs) != 0 {
			t.Errorf("FindCalls = %v, %v; want none", cs, err)
		}
		if ks, err := tn.FindAPIKeys(ctx, tonepay.APIKeyFilter{AccountSid: owner.Sid}); err != nil || len(ks) != 0 {
			t.Errorf("FindAPIKeys = %v, %v; want none", ks, err)
		}
		if ns, err := tn.FindNumbers(ctx, tonepay.NumberFilter{AccountSid: owner.Sid}); err != nil || len(ns) != 0 {
			t.Errorf("FindNumbers = %v, %v; want none", ns, err)
		}
		mine := tonepay.NewTenant(s, owner.Sid)
		if cs, err := mine.FindCalls(ctx, tonepay.CallFilter{}); err != nil || len(cs) != 2 {
			t.Errorf("the owner's FindCalls = %d, %v; want 2", len(cs), err)
		}
		if ks, err := mine.FindAPIKeys(ctx, tonepay.APIKeyFilter{}); err != nil || len(ks) != 1 || ks[0].Sid != key.Sid {
			t.Errorf("the owner's FindAPIKeys = %v, %v", ks, err)
		}
		if ns, err := mine.FindNumbers(ctx, tonepay.NumberFilter{}); err != nil || len(ns) != 1 || ns[0].Sid != num.Sid {
			t.Errorf("the owner's FindNumbers = %v, %v", ns, err)
		}
		if ss, err := mine.FindSessions(ctx, tonepay.SessionFilter{CallSid: call.Sid}); err != nil || len(ss) != 2 {
			t.Errorf("the owner's FindSessions = %d, %v; want 2", len(ss), err)
		}
	})
	t.Run("accounts", func(t *testing.T) {
		sids := func(as []*tonepay.Account) []string {
			out := []string{}
			for _, a := range as {
				out = append(out, a.Sid)
			}
			return out
		}
		tests := []struct {
			name    string
			account string
			f       tonepay.AccountFilter
			want    []string
		}{
			{"a main account: itself and its subaccounts", owner.Sid, tonepay.AccountFilter{}, []string{owner.Sid, sub.Sid}},
			{"OwnerSid and Main are the tenant's", owner.Sid, tonepay.AccountFilter{OwnerSid: stranger.Sid, Main: true}, []string{owner.Sid, sub.Sid}},
			{"a subaccount: itself alone", sub.Sid, tonepay.AccountFilter{}, []string{sub.Sid}},
			{"a subaccount, second page", sub.Sid, tonepay.AccountFilter{Offset: 1}, []string{}},
			{"a subaccount, by its name", sub.Sid, tonepay.AccountFilter{FriendlyName: sub.FriendlyName, Status: tonepay.AccountActive}, []string{sub.Sid}},
			{"a subaccount, another name", sub.Sid, tonepay.AccountFilter{FriendlyName: "nope"}, []string{}},
			{"a subaccount, another status", sub.Sid, tonepay.AccountFilter{Status: "suspended"}, []string{}},
		}
		for _, tt := range tests {
			got, err := tonepay.NewTenant(s, tt.account).FindAccounts(ctx, tt.f)
			if err != nil {
				t.Errorf("%s: %v", tt.name, err)
				continue
			}
			if d := diff(tt.want, sids(got)); d != "" {
				t.Errorf("%s (-want +got):\n%s", tt.name, d)
			}
		}
		if _, err := tonepay.NewTenant(s, sid("AC")).FindAccounts(ctx, tonepay.AccountFilter{}); !errors.Is(err, tonepay.ErrNotFound) {
			t.Errorf("an unknown account: %v, want ErrNotFound", err)
		}
	})
}
