package main

import (
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	api "github.com/twilio/twilio-go/rest/api/v2010"
	"github.com/twilio/twilio-go/twiml"
)

// TestPaySampleTolerated: Twilio's published <Pay> bill-payment sample,
// built with twilio-go's twiml package as published samples build it, has
// <Prompt for="security-date"> (a typo) and works on Twilio. Here too: the
// payment is taken, the mistyped prompt is ignored (the security code gets
// the default words) with a 12200 warning on the timeline, and every
// request to the app is signed.
func TestPaySampleTolerated(t *testing.T) {
	fs := newVoiceServer(t)
	prompt := func(field, words string) twiml.Element {
		return &twiml.VoicePrompt{For_: field, InnerElements: []twiml.Element{&twiml.VoiceSay{Message: words}}}
	}
	doc, err := twiml.Voice([]twiml.Element{
		&twiml.VoiceSay{Message: "Welcome to the bill payment line"},
		&twiml.VoicePay{ChargeAmount: "20.45", Action: "/paid", InnerElements: []twiml.Element{
			prompt("payment-card-number", "Please enter your credit card number"),
			prompt("expiration-date", "Please enter your card's expiration date"),
			prompt("security-date", "Please enter your card's security code"),
			prompt("postal-code", "Please enter your billing zip code"),
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(doc, `"security-date"`) {
		t.Fatalf("the sample: %s", doc)
	}
	app := newVoiceApp(t, fs.token, map[string]string{
		"/pay":  doc,
		"/paid": `<Response><Say>Thank you, your payment was received</Say></Response>`,
	})
	call := ivrCall(t, fs, app)
	press(t, fs, call, card+"#")
	press(t, fs, call, "1230")
	press(t, fs, call, "123")
	press(t, fs, call, "94105#")
	waitFor(t, 10*time.Second, "the call to end", func() bool { st, _ := fs.timeline(t, call); return st == "completed" })

	a := actionOf(t, app, call)
	if a.Params.Get("Result") != "success" || a.Params.Get("PaymentConfirmationCode") == "" || a.Params.Get("PaymentCardNumber") != "xxxxxxxxxxxx4242" {
		t.Fatalf("action %v", a.Params)
	}
	app.checkSigned()
	_, es := fs.timeline(t, call)
	var warnings []timelineEntry
	for _, e := range es {
		if e.Kind == "warning" {
			warnings = append(warnings, e)
		}
	}
	if len(warnings) != 1 || warnings[0].Code != 12200 || !strings.Contains(warnings[0].Text, `<Prompt for="security-date">`) {
		t.Fatalf("warnings %+v", warnings)
	}
	h := heard(es)
	for _, want := range []string{"say:Please enter your credit card number", "say:Please enter your card's expiration date",
		"say:Please enter the three digit security code on the back of your card.", "say:Please enter your billing zip code",
		"say:Thank you, your payment was received"} {
		if !slices.Contains(h, want) {
			t.Errorf("not heard %q: %q", want, h)
		}
	}
	if slices.Contains(h, "say:Please enter your card's security code") {
		t.Errorf("the ignored prompt was played: %q", h)
	}
}

// TestVoiceRequestParams: the parameters Twilio sends that an app may read:
// the geographic fields of both numbers (empty where unknown, the country
// from the calling code), and on an inbound call CallToken and, when the
// carrier said so, ForwardedFrom; all signed, on GET and POST. The Call
// resource, fetched with twilio-go, names the number the call came in on.
func TestVoiceRequestParams(t *testing.T) {
	fs := newVoiceServer(t)
	app := newVoiceApp(t, fs.token, map[string]string{
		"/in":   `<Response><Gather numDigits="1" action="/next"><Say>Press a key</Say></Gather></Response>`,
		"/next": `<Response><Say>Bye</Say></Response>`,
		"/out":  `<Response><Say>Hello</Say></Response>`,
	})
	tw, _ := newTwilio(t, *fs.url.Load(), fs.sid, fs.token, fs.sid, loadSpec(t))
	n, err := tw.CreateIncomingPhoneNumber((&api.CreateIncomingPhoneNumberParams{}).SetPhoneNumber("+442071838750").
		SetVoiceUrl(app.url("/in")).SetVoiceMethod("GET"))
	if err != nil {
		t.Fatal(err)
	}
	code, body, err := fs.do("POST", fs.ext("/Calls/Inbound"), url.Values{"From": {"+33142685300"}, "To": {"+442071838750"},
		"ForwardedFrom": {"+14155550199"}})
	if err != nil || code != 201 {
		t.Fatalf("inbound: %d %v %s", code, err, body)
	}
	sid := sidOf(body)
	press(t, fs, sid, "5")
	waitFor(t, 10*time.Second, "the call to end", func() bool { st, _ := fs.timeline(t, sid); return st == "completed" })
	reqs := app.requests()
	if len(reqs) != 2 || reqs[0].Method != "GET" || reqs[1].Method != "POST" || reqs[1].Path != "/next" {
		t.Fatalf("requests %+v", reqs)
	}
	token := reqs[0].Params.Get("CallToken")
	if token == "" {
		t.Fatalf("no CallToken: %v", reqs[0].Params)
	}
	for i, r := range reqs {
		want := map[string]string{"CallToken": token, "ForwardedFrom": "+14155550199", "Direction": "inbound",
			"FromCountry": "FR", "CallerCountry": "FR", "ToCountry": "GB", "CalledCountry": "GB"}
		for _, p := range []string{"From", "Caller", "To", "Called"} {
			for _, f := range []string{"City", "State", "Zip"} {
				want[p+f] = ""
			}
		}
		for k, v := range want {
			if vs, ok := r.Params[k]; !ok || len(vs) != 1 || vs[0] != v {
				t.Errorf("request %d %s: %s=%q, want %q", i, r.Path, k, vs, v)
			}
		}
	}
	app.checkSigned()

	c, err := tw.FetchCall(sid, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.PhoneNumberSid == nil || *c.PhoneNumberSid != *n.Sid || c.ForwardedFrom == nil || *c.ForwardedFrom != "+14155550199" {
		t.Fatalf("call: phone_number_sid %v forwarded_from %v, want %s", c.PhoneNumberSid, c.ForwardedFrom, *n.Sid)
	}

	// An outbound call: no CallToken, no ForwardedFrom, no number.
	out, err := tw.CreateCall((&api.CreateCallParams{}).SetTo("+61255550100").SetFrom("+442071838750").SetUrl(app.url("/out")))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the outbound call's request", func() bool { return len(app.requests()) == 3 })
	r := app.requests()[2]
	if r.Params.Get("FromCountry") != "GB" || r.Params.Get("ToCountry") != "AU" || !r.Params.Has("ToCity") || r.Params.Has("CallToken") ||
		r.Params.Has("ForwardedFrom") || !r.Valid {
		t.Fatalf("outbound request %+v", r)
	}
	if c, err = tw.FetchCall(*out.Sid, nil); err != nil || c.PhoneNumberSid != nil || c.ForwardedFrom != nil {
		t.Fatalf("outbound call: %v %+v", err, c)
	}
}
