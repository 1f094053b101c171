package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/tonepay/tonepay"
)

func newNumber(account, number string, at time.Time) *tonepay.PhoneNumber {
	return &tonepay.PhoneNumber{Sid: sid("PN"), AccountSid: account, Number: number, FriendlyName: tonepay.FormatNumber(number),
		VoiceURL: "https://example.com/voice", VoiceMethod: "POST", VoiceFallbackURL: "https://example.com/fallback",
		VoiceFallbackMethod: "GET", StatusCallback: "https://example.com/status", StatusCallbackMethod: "POST",
		DateCreated: at, DateUpdated: at}
}

// testNumbers: every field round-trips; a number has one owner on the whole
// store, until it is deleted; a refused claim writes nothing.
func testNumbers(t *testing.T, s tonepay.Store) {
	a := MustAccount(t, s, "", t0)
	b := MustAccount(t, s, "", t0)
	n := newNumber(a.Sid, "+15005550006", t0)
	update(t, s, func(tx tonepay.Tx) error { return tx.CreateNumber(ctx, n) })
	got, err := s.FindNumber(ctx, n.Sid)
	if err != nil {
		t.Fatal(err)
	}
	if d := diff(n, got); d != "" {
		t.Errorf("created (-want +got):\n%s", d)
	}

	for _, owner := range []string{a.Sid, b.Sid} {
		dup := newNumber(owner, n.Number, t0)
		var other *tonepay.PhoneNumber
		err := s.Update(ctx, func(tx tonepay.Tx) error {
			other = newNumber(owner, fmt.Sprintf("+1500555%04d", seq.Add(1)%10000), t0)
			if err := tx.CreateNumber(ctx, other); err != nil {
				return err
			}
			return tx.CreateNumber(ctx, dup)
		})
		if !errors.Is(err, tonepay.ErrConflict) {
			t.Errorf("the number again, for %s: %v, want ErrConflict", owner, err)
		}
		if _, err := s.FindNumber(ctx, other.Sid); !errors.Is(err, tonepay.ErrNotFound) {
			t.Errorf("a write in the refused transaction: %v, want ErrNotFound", err)
		}
	}

	n.FriendlyName, n.VoiceURL, n.VoiceMethod = "main line", "", "GET"
	n.VoiceFallbackURL, n.VoiceFallbackMethod = "https://example.com/f2", "POST"
	n.StatusCallback, n.StatusCallbackMethod = "", "GET"
	n.DateUpdated = t0.Add(time.Minute)
	update(t, s, func(tx tonepay.Tx) error { return tx.UpdateNumber(ctx, n) })
	if got, err = s.FindNumber(ctx, n.Sid); err != nil {
		t.Fatal(err)
	}
	if d := diff(n, got); d != "" {
		t.Errorf("updated (-want +got):\n%s", d)
	}

	update(t, s, func(tx tonepay.Tx) error { return tx.DeleteNumber(ctx, n.Sid) })
	if _, err := s.FindNumber(ctx, n.Sid); !errors.Is(err, tonepay.ErrNotFound) {
		t.Errorf("deleted: %v, want ErrNotFound", err)
	}
	// Released: another account may have it now.
	again := newNumber(b.Sid, n.Number, t0)
	update(t, s, func(tx tonepay.Tx) error { return tx.CreateNumber(ctx, again) })

	missing := newNumber(a.Sid, "+15005550009", t0)
	for name, fn := range map[string]func(tx tonepay.Tx) error{
		"UpdateNumber": func(tx tonepay.Tx) error { return tx.UpdateNumber(ctx, missing) },
		"DeleteNumber": func(tx tonepay.Tx) error { return tx.DeleteNumber(ctx, n.Sid) },
	} {
		if err := s.Update(ctx, fn); !errors.Is(err, tonepay.ErrNotFound) {
			t.Errorf("%s of a missing number: %v, want ErrNotFound", name, err)
		}
	}
}

func testNumberFilter(t *testing.T, s tonepay.Store) {
	a := MustAccount(t, s, "", t0)
	b := MustAccount(t, s, "", t0)
	// n2 and n3 share a creation time and are created in the reverse of
	// their SIDs' order; n0 is created last but is the oldest.
	n1 := newNumber(a.Sid, "+15005550101", t0)
	n2 := newNumber(a.Sid, "+15005550102", t0.Add(time.Second))
	n3 := newNumber(a.Sid, "+442071838750", t0.Add(time.Second))
	n0 := newNumber(a.Sid, "+15005550100", t0.Add(-time.Second))
	n3.FriendlyName = "desk"
	update(t, s, func(tx tonepay.Tx) error {
		for _, n := range []*tonepay.PhoneNumber{n1, n3, n2, n0, newNumber(b.Sid, "+15005550199", t0)} {
			if err := tx.CreateNumber(ctx, n); err != nil {
				return err
			}
		}
		return nil
	})
	all := []*tonepay.PhoneNumber{n0, n1, n2, n3}
	tests := []struct {
		name string
		f    tonepay.NumberFilter
		want []*tonepay.PhoneNumber
	}{
		{"oldest first, ties by sid", tonepay.NumberFilter{AccountSid: a.Sid}, all},
		{"limit", tonepay.NumberFilter{AccountSid: a.Sid, Limit: 3}, all[:3]},
		{"offset and limit", tonepay.NumberFilter{AccountSid: a.Sid, Offset: 2, Limit: 1}, all[2:3]},
		{"offset past the end", tonepay.NumberFilter{AccountSid: a.Sid, Offset: 9}, nil},
		{"phone number", tonepay.NumberFilter{AccountSid: a.Sid, PhoneNumber: "+15005550102"}, all[2:3]},
		{"another account's number", tonepay.NumberFilter{AccountSid: a.Sid, PhoneNumber: "+15005550199"}, nil},
		{"friendly name", tonepay.NumberFilter{AccountSid: a.Sid, FriendlyName: "desk"}, all[3:]},
		{"both", tonepay.NumberFilter{AccountSid: a.Sid, FriendlyName: "(500) 555-0101", PhoneNumber: "+15005550101"}, all[1:2]},
		{"no numbers", tonepay.NumberFilter{AccountSid: sid("AC")}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.FindNumbers(ctx, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			if d := diff(tt.want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}
