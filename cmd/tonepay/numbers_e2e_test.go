package main

import (
	"net/http"
	"path/filepath"
	"testing"

	"github.com/tonepay/tonepay"
	api "github.com/twilio/twilio-go/rest/api/v2010"
)

// TestIncomingPhoneNumbersEndToEnd drives IncomingPhoneNumbers with the real
// twilio-go client against `tonepay serve`: create, list with filters and
// paging, fetch, update, delete; Twilio's errors; an API key; a main account
// on its subaccount's numbers; and another account's number as 20404. Every
// 2xx body is validated against Twilio's OpenAPI spec.
func TestIncomingPhoneNumbersEndToEnd(t *testing.T) {
	srv := startServer(t, "TONEPAY_DB="+filepath.Join(t.TempDir(), "numbers.db"))
	sid, token := parseAccount(srv.Stdout())
	sp := loadSpec(t)
	tw, rw := newTwilio(t, srv.URL, sid, token, sid, sp)

	n, err := tw.CreateIncomingPhoneNumber((&api.CreateIncomingPhoneNumberParams{}).SetPhoneNumber("+15005550006").
		SetVoiceUrl("https://example.com/voice").SetVoiceMethod("GET"))
	if err != nil {
		t.Fatal(err)
	}
	if !tonepay.IsSID(*n.Sid, "PN") || *n.AccountSid != sid || *n.PhoneNumber != "+15005550006" || *n.FriendlyName != "(500) 555-0006" ||
		*n.VoiceUrl != "https://example.com/voice" || *n.VoiceMethod != "GET" || *n.VoiceFallbackMethod != "POST" || *n.StatusCallbackMethod != "POST" ||
		*n.Uri != "/2010-04-01/Accounts/"+sid+"/IncomingPhoneNumbers/"+*n.Sid+".json" {
		t.Fatalf("created: %+v", n)
	}
	intl, err := tw.CreateIncomingPhoneNumber((&api.CreateIncomingPhoneNumberParams{}).SetPhoneNumber("+442071838750").SetFriendlyName("London desk"))
	if err != nil || *intl.FriendlyName != "London desk" {
		t.Fatalf("second number: %+v %v", intl, err)
	}
	third, err := tw.CreateIncomingPhoneNumber((&api.CreateIncomingPhoneNumberParams{}).SetPhoneNumber("+15005550007"))
	if err != nil {
		t.Fatal(err)
	}

	// Lists: all (paged by two: twilio-go follows next_page_uri), and filtered.
	all, err := tw.ListIncomingPhoneNumber((&api.ListIncomingPhoneNumberParams{}).SetPageSize(2))
	if err != nil || len(all) != 3 || *all[0].Sid != *n.Sid || *all[1].Sid != *intl.Sid || *all[2].Sid != *third.Sid {
		t.Fatalf("list: %d numbers, %v", len(all), err)
	}
	for _, tt := range []struct {
		name   string
		params *api.ListIncomingPhoneNumberParams
		want   string
	}{
		{"PhoneNumber", (&api.ListIncomingPhoneNumberParams{}).SetPhoneNumber("+442071838750"), *intl.Sid},
		{"FriendlyName", (&api.ListIncomingPhoneNumberParams{}).SetFriendlyName("(500) 555-0007"), *third.Sid},
	} {
		got, err := tw.ListIncomingPhoneNumber(tt.params)
		if err != nil || len(got) != 1 || *got[0].Sid != tt.want {
			t.Errorf("list by %s: %d numbers, %v", tt.name, len(got), err)
		}
	}

	if got, err := tw.FetchIncomingPhoneNumber(*n.Sid, &api.FetchIncomingPhoneNumberParams{}); err != nil || *got.DateCreated != *n.DateCreated {
		t.Fatalf("fetch: %+v %v", got, err)
	}
	up, err := tw.UpdateIncomingPhoneNumber(*n.Sid, (&api.UpdateIncomingPhoneNumberParams{}).SetFriendlyName("support").
		SetVoiceFallbackUrl("https://example.com/fallback").SetStatusCallback("https://example.com/status").SetStatusCallbackMethod("GET"))
	if err != nil || *up.FriendlyName != "support" || *up.VoiceUrl != "https://example.com/voice" || *up.VoiceMethod != "GET" ||
		*up.VoiceFallbackUrl != "https://example.com/fallback" || *up.StatusCallback != "https://example.com/status" || *up.StatusCallbackMethod != "GET" {
		t.Fatalf("update: %+v %v", up, err)
	}

	// Errors, as Twilio's.
	for _, tt := range []struct {
		name   string
		params *api.CreateIncomingPhoneNumberParams
		code   int
	}{
		{"no PhoneNumber", (&api.CreateIncomingPhoneNumberParams{}).SetFriendlyName("x"), 20001},
		{"AreaCode only", (&api.CreateIncomingPhoneNumberParams{}).SetAreaCode("415"), 21452},
		{"not E.164", (&api.CreateIncomingPhoneNumberParams{}).SetPhoneNumber("5005550008"), 21421},
		{"owned already", (&api.CreateIncomingPhoneNumberParams{}).SetPhoneNumber("+15005550006"), 21422},
		{"bad VoiceUrl", (&api.CreateIncomingPhoneNumberParams{}).SetPhoneNumber("+15005550008").SetVoiceUrl("ftp://example.com/"), 21402},
		{"bad VoiceMethod", (&api.CreateIncomingPhoneNumberParams{}).SetPhoneNumber("+15005550008").SetVoiceMethod("PUT"), 21403},
	} {
		_, err := tw.CreateIncomingPhoneNumber(tt.params)
		wantTwilioError(t, "create, "+tt.name, err, tt.code, http.StatusBadRequest)
	}
	wantTwilioError(t, "fetch unknown", fetchErr(tw, tonepay.NewSID("PN")), 20404, 404)

	// An API key manages numbers, as Calls.
	key, err := tw.CreateNewKey(&api.CreateNewKeyParams{})
	if err != nil {
		t.Fatal(err)
	}
	twk, _ := newTwilio(t, srv.URL, *key.Sid, *key.Secret, sid, sp)
	if _, err := twk.UpdateIncomingPhoneNumber(*third.Sid, (&api.UpdateIncomingPhoneNumberParams{}).SetVoiceUrl("https://example.com/k")); err != nil {
		t.Fatalf("update with an API key: %v", err)
	}

	// A subaccount: its main account acts on its numbers; it cannot see the
	// main account's, nor claim a number the main account owns.
	sub, err := tw.CreateAccount((&api.CreateAccountParams{}).SetFriendlyName("sub"))
	if err != nil {
		t.Fatal(err)
	}
	tws, _ := newTwilio(t, srv.URL, *sub.Sid, *sub.AuthToken, *sub.Sid, sp)
	wantTwilioError(t, "subaccount fetches the main account's number", fetchErr(tws, *n.Sid), 20404, 404)
	_, err = tws.UpdateIncomingPhoneNumber(*n.Sid, (&api.UpdateIncomingPhoneNumberParams{}).SetFriendlyName("mine"))
	wantTwilioError(t, "subaccount updates the main account's number", err, 20404, 404)
	_, err = tws.UpdateIncomingPhoneNumber(*n.Sid, (&api.UpdateIncomingPhoneNumberParams{}).SetVoiceMethod("PUT"))
	wantTwilioError(t, "subaccount, bad update of the main account's number", err, 20404, 404)
	wantTwilioError(t, "subaccount deletes the main account's number", tws.DeleteIncomingPhoneNumber(*n.Sid, &api.DeleteIncomingPhoneNumberParams{}), 20404, 404)
	_, err = tws.CreateIncomingPhoneNumber((&api.CreateIncomingPhoneNumberParams{}).SetPhoneNumber("+15005550006"))
	wantTwilioError(t, "subaccount claims the main account's number", err, 21422, 400)
	if got, err := tws.ListIncomingPhoneNumber(&api.ListIncomingPhoneNumberParams{}); err != nil || len(got) != 0 {
		t.Fatalf("subaccount's list: %d numbers, %v", len(got), err)
	}
	subNum, err := tw.CreateIncomingPhoneNumber((&api.CreateIncomingPhoneNumberParams{}).SetPathAccountSid(*sub.Sid).SetPhoneNumber("+15005550009"))
	if err != nil || *subNum.AccountSid != *sub.Sid {
		t.Fatalf("main account creates on its subaccount: %+v %v", subNum, err)
	}
	if _, err := tws.FetchIncomingPhoneNumber(*subNum.Sid, &api.FetchIncomingPhoneNumberParams{}); err != nil {
		t.Fatalf("subaccount fetches its number: %v", err)
	}
	// Under the main account's own path, the subaccount's number is not there.
	wantTwilioError(t, "subaccount's number under the main path", fetchErr(tw, *subNum.Sid), 20404, 404)
	if err := tw.DeleteIncomingPhoneNumber(*subNum.Sid, (&api.DeleteIncomingPhoneNumberParams{}).SetPathAccountSid(*sub.Sid)); err != nil {
		t.Fatalf("main account deletes on its subaccount: %v", err)
	}

	// Deleted: gone, and the number is free for anyone again.
	if err := tw.DeleteIncomingPhoneNumber(*n.Sid, &api.DeleteIncomingPhoneNumberParams{}); err != nil {
		t.Fatal(err)
	}
	wantTwilioError(t, "fetch deleted", fetchErr(tw, *n.Sid), 20404, 404)
	wantTwilioError(t, "delete deleted", tw.DeleteIncomingPhoneNumber(*n.Sid, &api.DeleteIncomingPhoneNumberParams{}), 20404, 404)
	if _, err := tws.CreateIncomingPhoneNumber((&api.CreateIncomingPhoneNumberParams{}).SetPhoneNumber("+15005550006")); err != nil {
		t.Fatalf("released number claimed by the subaccount: %v", err)
	}
	if rw.Checked() < 10 {
		t.Errorf("%d answers checked against the spec", rw.Checked())
	}
}

func fetchErr(tw *api.ApiService, sid string) error {
	_, err := tw.FetchIncomingPhoneNumber(sid, &api.FetchIncomingPhoneNumberParams{})
	return err
}
