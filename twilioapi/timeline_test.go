package twilioapi_test

import (
	"context"
	"net/url"
	"reflect"
	"testing"
	"time"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/twilioapi"
)

// TestTimeline reads a call's timeline, written as the runtime writes it
// (voice.Entry JSON through Tx.AddTimeline), page by page, on every store;
// another account's call, an unknown one and bad paging are refused.
func TestTimeline(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			e := newEnvWith(t, twilioapi.Options{}, envOptions{store: st.open(t)})
			at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
			err := e.store.Update(context.Background(), func(tx tonepay.Tx) error {
				return tx.AddTimeline(context.Background(), e.call, at,
					[]byte(`{"at":"2025-03-01T12:00:00Z","kind":"fetched","url":"https://example.com/twiml","method":"POST","status":200}`),
					[]byte(` {"at":"2025-03-01T12:00:01Z","kind":"key","text":"*","masked":true}`),
					[]byte(`{}`))
			})
			if err != nil {
				t.Fatal(err)
			}
			path := "/_tonepay/Accounts/" + e.main.Sid + "/Calls/" + e.call + "/Timeline"
			code, body := e.as(e.main).do("GET", path, nil)
			if code != 200 || body["call_sid"] != e.call || body["status"] != "in-progress" || body["next_after"] != float64(3) {
				t.Fatalf("timeline: %d %v", code, body)
			}
			want := []any{
				map[string]any{"seq": float64(1), "at": "2025-03-01T12:00:00Z", "kind": "fetched", "url": "https://example.com/twiml", "method": "POST", "status": float64(200)},
				map[string]any{"seq": float64(2), "at": "2025-03-01T12:00:01Z", "kind": "key", "text": "*", "masked": true},
				map[string]any{"seq": float64(3)},
			}
			if !reflect.DeepEqual(body["entries"], want) {
				t.Errorf("entries\n %v, want\n %v", body["entries"], want)
			}
			for _, tt := range []struct {
				query     string
				seqs      []float64
				nextAfter float64
			}{
				{"After=1&PageSize=1", []float64{2}, 2},
				{"After=2", []float64{3}, 3},
				{"After=3", nil, 3},
				{"After=99", nil, 99},
				{"PageSize=2", []float64{1, 2}, 2},
			} {
				code, body := e.as(e.main).do("GET", path+"?"+tt.query, nil)
				if code != 200 {
					t.Fatalf("%s: %d %v", tt.query, code, body)
				}
				var seqs []float64
				for _, x := range body["entries"].([]any) {
					seqs = append(seqs, x.(map[string]any)["seq"].(float64))
				}
				if !reflect.DeepEqual(seqs, tt.seqs) || body["next_after"] != tt.nextAfter {
					t.Errorf("%s: seqs %v next_after %v, want %v %v", tt.query, seqs, body["next_after"], tt.seqs, tt.nextAfter)
				}
			}
			for _, q := range []string{"After=-1", "After=x", "After=99999999999999999999", "PageSize=0", "PageSize=1001", "PageSize=ten"} {
				code, body := e.as(e.main).do("GET", path+"?"+q, nil)
				checkError(t, code, body, 400, 20001)
			}
			unknown := "/_tonepay/Accounts/" + e.main.Sid + "/Calls/" + tonepay.NewSID("CA") + "/Timeline"
			for name, tt := range map[string]struct {
				as   *tonepay.Account
				path string
			}{
				"unknown call":                   {e.main, unknown},
				"unknown call, bad PageSize":     {e.main, unknown + "?PageSize=0"},
				"a subaccount's call, main path": {e.main, "/_tonepay/Accounts/" + e.main.Sid + "/Calls/" + e.subCall + "/Timeline"},
				"main's call, subaccount path":   {e.main, "/_tonepay/Accounts/" + e.sub.Sid + "/Calls/" + e.call + "/Timeline"},
			} {
				code, body := e.as(tt.as).do("GET", tt.path, nil)
				if code != 404 || body["code"] != float64(20404) {
					t.Errorf("%s: %d %v", name, code, body)
				}
			}
			code, body = e.as(e.sub).do("GET", path, nil)
			if code < 400 || code == 200 {
				t.Errorf("a subaccount reads its main account's timeline: %d %v", code, body)
			}
			// Ended: the status says so; a call with no entries reads empty.
			e.as(e.main).post("/2010-04-01/Accounts/"+e.main.Sid+"/Calls/"+e.call+".json", url.Values{"Status": {"completed"}})
			code, body = e.as(e.main).do("GET", path+"?After=3", nil)
			if code != 200 || body["status"] != "completed" || len(body["entries"].([]any)) != 0 {
				t.Errorf("ended: %d %v", code, body)
			}
			code, body = e.as(e.sub).do("GET", "/_tonepay/Accounts/"+e.sub.Sid+"/Calls/"+e.subCall+"/Timeline", nil)
			if code != 200 || body["entries"] == nil || len(body["entries"].([]any)) != 0 || body["next_after"] != float64(0) {
				t.Errorf("empty: %d %v", code, body)
			}
		})
	}
}

// TestInbound: a caller dials one of the account's numbers; the call has
// Twilio's shape, direction inbound; a To that is not the account's number
// is 21211 and an empty From 21212.
func TestInbound(t *testing.T) {
	e := newEnv(t, twilioapi.Options{})
	numbers := func(a *tonepay.Account) string { return "/2010-04-01/Accounts/" + a.Sid + "/IncomingPhoneNumbers.json" }
	if code, body := e.as(e.main).post(numbers(e.main), url.Values{"PhoneNumber": {"+14155550100"}, "VoiceUrl": {"https://example.com/voice"}}); code != 201 {
		t.Fatalf("number: %d %v", code, body)
	}
	if code, body := e.as(e.sub).post(numbers(e.sub), url.Values{"PhoneNumber": {"+14155550199"}, "VoiceUrl": {"https://example.com/sub"}}); code != 201 {
		t.Fatalf("number: %d %v", code, body)
	}
	path := "/_tonepay/Accounts/" + e.main.Sid + "/Calls/Inbound"
	code, c := e.as(e.main).post(path, url.Values{"From": {"+442071838750"}, "To": {"+14155550100"}})
	if code != 201 {
		t.Fatalf("inbound: %d %v", code, c)
	}
	sid, _ := c["sid"].(string)
	if !tonepay.IsSID(sid, "CA") || c["direction"] != "inbound" || c["status"] != "in-progress" || c["to_formatted"] != "(415) 555-0100" ||
		c["from_formatted"] != "+442071838750" || c["duration"] != nil || c["end_time"] != nil || c["start_time"] == nil {
		t.Errorf("inbound call: %v", c)
	}
	code, fetched := e.as(e.main).do("GET", "/2010-04-01/Accounts/"+e.main.Sid+"/Calls/"+sid+".json", nil)
	if code != 200 || !reflect.DeepEqual(fetched, c) {
		t.Errorf("fetched %d %v, created %v", code, fetched, c)
	}
	for _, tt := range []struct {
		name     string
		form     url.Values
		wantCode int
	}{
		{"not a number of the account", url.Values{"From": {"+15005550001"}, "To": {"+14155550101"}}, 21211},
		{"a subaccount's number", url.Values{"From": {"+15005550001"}, "To": {"+14155550199"}}, 21211},
		{"To not E.164", url.Values{"From": {"+15005550001"}, "To": {"4155550100"}}, 21211},
		{"no To", url.Values{"From": {"+15005550001"}}, 21211},
		{"no From", url.Values{"To": {"+14155550100"}}, 21212},
	} {
		code, body := e.as(e.main).post(path, tt.form)
		if code != 400 || body["code"] != float64(tt.wantCode) {
			t.Errorf("%s: %d %v, want 400 %d", tt.name, code, body, tt.wantCode)
		}
	}
	// A main account dials its subaccount's number through the sub's path.
	code, body := e.as(e.main).post("/_tonepay/Accounts/"+e.sub.Sid+"/Calls/Inbound", url.Values{"From": {"+15005550001"}, "To": {"+14155550199"}})
	if code != 201 || body["account_sid"] != e.sub.Sid {
		t.Errorf("main on the sub's path: %d %v", code, body)
	}
}

// TestCallSubresources: every key Twilio's call resource has.
func TestCallSubresources(t *testing.T) {
	e := newEnv(t, twilioapi.Options{})
	_, c := e.as(e.main).do("GET", "/2010-04-01/Accounts/"+e.main.Sid+"/Calls/"+e.call+".json", nil)
	u := "/2010-04-01/Accounts/" + e.main.Sid + "/Calls/" + e.call
	want := map[string]any{}
	for k, v := range map[string]string{"notifications": "Notifications", "recordings": "Recordings", "payments": "Payments", "events": "Events",
		"siprec": "Siprec", "streams": "Streams", "transcriptions": "Transcriptions",
		"user_defined_message_subscriptions": "UserDefinedMessageSubscriptions", "user_defined_messages": "UserDefinedMessages"} {
		want[k] = u + "/" + v + ".json"
	}
	if !reflect.DeepEqual(c["subresource_uris"], want) || c["uri"] != u+".json" {
		t.Errorf("subresource_uris %v uri %v", c["subresource_uris"], c["uri"])
	}
	for _, k := range []string{"parent_call_sid", "phone_number_sid", "price", "answered_by", "forwarded_from", "group_sid", "caller_name", "trunk_sid", "duration", "end_time"} {
		if v, ok := c[k]; !ok || v != nil {
			t.Errorf("%s = %v (present %v), want null", k, v, ok)
		}
	}
	if c["queue_time"] != "0" || c["api_version"] != "2010-04-01" || c["direction"] != "outbound-api" || c["to_formatted"] != "(500) 555-0006" {
		t.Errorf("call: %v", c)
	}
}
