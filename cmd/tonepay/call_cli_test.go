package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/store/sqlite"
	api "github.com/twilio/twilio-go/rest/api/v2010"
)

// TestCallInboundAndTimelineCommands: `tonepay call inbound` dials one of
// the account's numbers and `tonepay call timeline` prints a call's
// timeline, against a real server; the calls' JSON (live, ended, inbound) is
// checked against Twilio's OpenAPI spec, every field of the schema present.
func TestCallInboundAndTimelineCommands(t *testing.T) {
	db := filepath.Join(t.TempDir(), "inbound.db")
	sid, token := tonepay.NewSID("AC"), "inboundtoken1"
	srv := startServer(t, "TONEPAY_DB="+db, "TONEPAY_ACCOUNT_SID="+sid, "TONEPAY_AUTH_TOKEN="+token)
	sp := loadSpec(t)
	tw, rw := newTwilio(t, srv.URL, sid, token, sid, sp)
	cli := func(args ...string) (string, error) {
		cmd := exec.Command(binary, args...)
		cmd.Env = []string{"TONEPAY_SERVER=" + srv.URL, "TONEPAY_ACCOUNT_SID=" + sid, "TONEPAY_AUTH_TOKEN=" + token}
		out, err := cmd.CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}

	// The number's VoiceUrl is on loopback: the call runtime, once it
	// runs, fetches it there and nowhere else.
	voice := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/xml")
		io.WriteString(w, `<Response><Pause length="3600"/></Response>`)
	}))
	defer voice.Close()
	if _, err := tw.CreateIncomingPhoneNumber((&api.CreateIncomingPhoneNumberParams{}).SetPhoneNumber("+14155550100").SetVoiceUrl(voice.URL)); err != nil {
		t.Fatal(err)
	}
	// call create --url runs the app's TwiML.
	created, err := cli("call", "create", "--url", voice.URL+"/outbound")
	if err != nil || !tonepay.IsSID(created, "CA") {
		t.Fatalf("call create --url: %v %q", err, created)
	}
	if oc, err := tw.FetchCall(created, &api.FetchCallParams{}); err != nil || *oc.Status != "in-progress" {
		t.Fatalf("call create --url: %v %+v", err, oc)
	}
	if tl, err := cli("call", "timeline", created); err != nil || !strings.Contains(tl, voice.URL+"/outbound") {
		t.Fatalf("timeline of the --url call: %v\n%s", err, tl)
	}
	in, err := cli("call", "inbound", "--to", "+14155550100", "--from", "+14155550111")
	if err != nil || !tonepay.IsSID(in, "CA") {
		t.Fatalf("call inbound: %v %q", err, in)
	}
	c, err := tw.FetchCall(in, &api.FetchCallParams{})
	if err != nil || *c.Direction != "inbound" || *c.To != "+14155550100" || *c.From != "+14155550111" || *c.ToFormatted != "(415) 555-0100" {
		t.Fatalf("inbound call: %v %+v", err, c)
	}
	for _, args := range [][]string{{"call", "inbound"}, {"call", "inbound", "--to", "+14155550101"}, {"call", "timeline"}, {"call", "timeline", tonepay.NewSID("CA")}} {
		if out, err := cli(args...); err == nil {
			t.Errorf("%v succeeded: %q", args, out)
		} else if len(args) == 4 && !strings.Contains(out, "21211") && !strings.Contains(out, "20404") {
			t.Errorf("%v: %q", args, out)
		}
	}

	// The three kinds of call, each body checked against the spec.
	bodies := map[string]map[string]any{}
	live, err := tw.CreateCall((&api.CreateCallParams{}).SetTo("+15005550006").SetFrom("+15005550001").SetTwiml(`<Response><Pause length="3600"/></Response>`))
	if err != nil {
		t.Fatal(err)
	}
	bodies["live"] = specCall(t, sp, srv.URL, sid, token, "GET", *live.Sid, nil)
	ended := specCall(t, sp, srv.URL, sid, token, "POST", *live.Sid, url.Values{"Status": {"completed"}})
	bodies["ended"] = ended
	bodies["inbound"] = specCall(t, sp, srv.URL, sid, token, "POST", "Inbound", url.Values{"To": {"+14155550100"}, "From": {"+14155550111"}})
	if bodies["live"]["duration"] != nil && bodies["live"]["status"] == "in-progress" || ended["duration"] == nil || ended["end_time"] == nil ||
		bodies["inbound"]["direction"] != "inbound" || bodies["live"]["direction"] != "outbound-api" {
		t.Errorf("calls: %v", bodies)
	}
	if rw.checked < 3 {
		t.Errorf("%d twilio-go responses checked against the spec", rw.checked)
	}

	// The timeline as the runtime writes it, read back by the command.
	store, err := sqlite.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	err = store.Update(context.Background(), func(tx tonepay.Tx) error {
		return tx.AddTimeline(context.Background(), in, at,
			[]byte(`{"at":"2025-03-01T12:00:00Z","kind":"fetched","url":"https://example.com/voice","method":"POST","status":200}`),
			[]byte(`{"at":"2025-03-01T12:00:00.5Z","kind":"say","verb":"Say","text":"Enter your card","voice":"alice","loop":1}`),
			[]byte(`{"at":"2025-03-01T12:00:01Z","kind":"key","text":"*","masked":true}`),
			[]byte(`{"at":"2025-03-01T12:00:02Z","kind":"hangup","code":11200,"next":"x"}`))
	})
	store.Close()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cli("call", "timeline", in)
	if err != nil {
		t.Fatalf("call timeline: %v %s", err, out)
	}
	for _, want := range []string{
		`12:00:00.000  fetched   POST https://example.com/voice  HTTP 200`,
		`12:00:00.500  say       Say  "Enter your card"  voice=alice  loop=1`,
		`12:00:01.000  key       "*"  (masked)`,
		`12:00:02.000  hangup    code 11200  next=x`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("timeline lacks %q:\n%s", want, out)
		}
	}
}

// specCall sends a call request (Calls/{sid}.json, or the extension's
// Calls/Inbound) and checks the answer against the spec's call resource, as
// Calls fetch (GET) or update (POST) answers: the extension's inbound call
// is the same resource. Every property of api.v2010.account.call must be
// there, since the spec lists none as required.
func specCall(t *testing.T, sp *spec, base, sid, token, method, call string, form url.Values) map[string]any {
	t.Helper()
	path := "/2010-04-01/Accounts/" + sid + "/Calls/" + call + ".json"
	twilioPath := path
	if call == "Inbound" {
		path = "/_tonepay/Accounts/" + sid + "/Calls/Inbound"
		twilioPath = "/2010-04-01/Accounts/" + sid + "/Calls.json"
	}
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, base+path, body)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(sid, token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode/100 != 2 {
		t.Fatalf("%s %s: %d %s", method, path, res.StatusCode, b)
	}
	orig, _ := http.NewRequest(method, "https://api.twilio.com"+twilioPath, nil)
	if err := sp.check(orig, res, b); err != nil {
		t.Errorf("%s %s does not match the spec: %v\n%s", method, path, err, b)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	for _, k := range callProperties(t) {
		if _, ok := got[k]; !ok {
			t.Errorf("%s %s: no %q", method, path, k)
		}
	}
	return got
}

// callProperties are the property names of api.v2010.account.call.
func callProperties(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("testdata/twilio-oai/twilio_api_v2010.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]json.RawMessage `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.NewDecoder(bytes.NewReader(b)).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	var out []string
	for k := range doc.Components.Schemas["api.v2010.account.call"].Properties {
		out = append(out, k)
	}
	if len(out) < 20 {
		t.Fatalf("the spec's call has %d properties", len(out))
	}
	return out
}
