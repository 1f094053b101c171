package accounts_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/store/storetest"
)

func ptr(s string) *string { return &s }

// TestNumbers: the rules of IncomingPhoneNumbers, in the service: E.164 or
// 21421, one owner per number on the server or 21422, Twilio's defaults, and
// another account's number is not found.
func TestNumbers(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	svc := f.service()
	other := storetest.MustAccount(t, f.store, "", f.now)
	create := func(acct, number string) (*tonepay.PhoneNumber, error) {
		return svc.CreateNumber(ctx, &tonepay.CreateNumberRequest{AccountSid: acct, PhoneNumber: number})
	}
	n, err := create(f.acct.Sid, "+15005550006")
	if err != nil {
		t.Fatal(err)
	}
	if n.FriendlyName != "(500) 555-0006" || n.VoiceMethod != "POST" || n.VoiceFallbackMethod != "POST" || n.StatusCallbackMethod != "POST" || !tonepay.IsSID(n.Sid, "PN") {
		t.Errorf("defaults: %+v", n)
	}
	intl, err := svc.CreateNumber(ctx, &tonepay.CreateNumberRequest{AccountSid: f.acct.Sid, PhoneNumber: "+442071838750",
		NumberVoice: tonepay.NumberVoice{VoiceURL: ptr("https://example.com/v"), VoiceMethod: ptr("GET")}})
	if err != nil || intl.FriendlyName != "+442071838750" || intl.VoiceMethod != "GET" || intl.VoiceURL != "https://example.com/v" {
		t.Errorf("non-NANP number: %+v, %v", intl, err)
	}

	tests := []struct {
		name, acct, number string
		code               int
	}{
		{"owned by the same account", f.acct.Sid, n.Number, tonepay.CodePhoneNumberUnavailable},
		{"owned by another account", other.Sid, n.Number, tonepay.CodePhoneNumberUnavailable},
		{"no plus", f.acct.Sid, "15005550007", tonepay.CodePhoneNumberInvalid},
		{"letters", f.acct.Sid, "+1500555000a", tonepay.CodePhoneNumberInvalid},
		{"too long", f.acct.Sid, "+1234567890123456", tonepay.CodePhoneNumberInvalid},
		{"too short", f.acct.Sid, "+12345", tonepay.CodePhoneNumberInvalid},
		{"leading zero", f.acct.Sid, "+05005550007", tonepay.CodePhoneNumberInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := create(tt.acct, tt.number); tonepay.ErrorCode(err) != tt.code {
				t.Errorf("got %v, want code %d", err, tt.code)
			}
		})
	}

	if _, err := svc.FindNumber(ctx, other.Sid, n.Sid); !errors.Is(err, tonepay.ErrNotFound) {
		t.Errorf("fetch by another account: %v", err)
	}
	if _, err := svc.UpdateNumber(ctx, &tonepay.UpdateNumberRequest{AccountSid: other.Sid, Sid: n.Sid}); !errors.Is(err, tonepay.ErrNotFound) {
		t.Errorf("update by another account: %v", err)
	}
	if err := svc.DeleteNumber(ctx, other.Sid, n.Sid); !errors.Is(err, tonepay.ErrNotFound) {
		t.Errorf("delete by another account: %v", err)
	}

	up, err := svc.UpdateNumber(ctx, &tonepay.UpdateNumberRequest{AccountSid: f.acct.Sid, Sid: n.Sid,
		NumberVoice: tonepay.NumberVoice{FriendlyName: ptr("desk"), VoiceURL: ptr("https://example.com/in"), StatusCallbackMethod: ptr("GET")}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := svc.FindNumber(ctx, f.acct.Sid, n.Sid)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(up, got); d != "" || got.FriendlyName != "desk" || got.VoiceURL != "https://example.com/in" || got.StatusCallbackMethod != "GET" || got.VoiceMethod != "POST" {
		t.Errorf("updated %+v (-returned +stored):\n%s", got, d)
	}
	// An empty FriendlyName is the default again.
	if up, err = svc.UpdateNumber(ctx, &tonepay.UpdateNumberRequest{AccountSid: f.acct.Sid, Sid: n.Sid,
		NumberVoice: tonepay.NumberVoice{FriendlyName: ptr("")}}); err != nil || up.FriendlyName != "(500) 555-0006" {
		t.Errorf("FriendlyName reset: %+v, %v", up, err)
	}

	if err := svc.DeleteNumber(ctx, f.acct.Sid, n.Sid); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.FindNumber(ctx, f.acct.Sid, n.Sid); !errors.Is(err, tonepay.ErrNotFound) {
		t.Errorf("deleted: %v", err)
	}
	if _, err := create(other.Sid, n.Number); err != nil {
		t.Errorf("released number claimed by another account: %v", err)
	}
}
