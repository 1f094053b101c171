package main

import (
	"path/filepath"
	"reflect"
	"testing"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/store/sqlite"
	api "github.com/twilio/twilio-go/rest/api/v2010"
)

// TestCallParamsEndToEnd creates a call with twilio-go setting every
// parameter of how the call runs, reads the call's fields where the spec
// exposes them (every 2xx body is validated against Twilio's OpenAPI spec),
// reads the rest back from the store, redirects the live call, and checks
// Twilio's error codes for each bad value.
func TestCallParamsEndToEnd(t *testing.T) {
	db := filepath.Join(t.TempDir(), "calls.db")
	srv := startServer(t, "TONEPAY_DB="+db)
	sid, token := parseAccount(srv.Stdout())
	tw, rw := newTwilio(t, srv.URL, sid, token, sid, loadSpec(t))

	full := func() *api.CreateCallParams {
		return (&api.CreateCallParams{}).SetTo("+15005550006").SetFrom("+15005550001").
			SetUrl("https://example.com/twiml").SetMethod("get").SetFallbackUrl("https://example.com/fallback").SetFallbackMethod("GET").
			SetStatusCallback("https://example.com/progress").SetStatusCallbackMethod("GET").
			SetStatusCallbackEvent([]string{"completed", "initiated", "answered", "initiated"}).
			SetTimeout(30).SetSendDigits("1234#w*W")
	}
	c, err := tw.CreateCall(full())
	if err != nil {
		t.Fatal(err)
	}
	if *c.Status != "in-progress" || *c.Direction != "outbound-api" || c.StartTime == nil || c.EndTime != nil || c.Duration != nil ||
		c.AnsweredBy != nil || c.ParentCallSid != nil || *c.ApiVersion != "2010-04-01" || *c.PriceUnit != "USD" || *c.QueueTime != "0" {
		t.Fatalf("created: %+v", c)
	}
	// Twiml alone; and both, where Url wins (Twilio's warning 32019).
	doc, err := tw.CreateCall((&api.CreateCallParams{}).SetTo("+15005550006").SetFrom("+15005550001").SetTwiml("<Response><Say>hi</Say><Pause length=\"60\"/></Response>"))
	if err != nil {
		t.Fatal(err)
	}
	both, err := tw.CreateCall((&api.CreateCallParams{}).SetTo("+15005550006").SetFrom("+15005550001").
		SetUrl("https://example.com/wins").SetTwiml("<Response/>").SetStatusCallbackEvent([]string{"ringing completed"}))
	if err != nil {
		t.Fatal(err)
	}

	// A redirect and a new StatusCallback on the live call are stored.
	if _, err := tw.UpdateCall(*doc.Sid, (&api.UpdateCallParams{}).SetUrl("https://example.com/next").SetMethod("GET").
		SetStatusCallback("https://example.com/progress2").SetStatusCallbackMethod("GET")); err != nil {
		t.Fatal(err)
	}
	ended, err := tw.UpdateCall(*c.Sid, (&api.UpdateCallParams{}).SetStatus("completed"))
	if err != nil {
		t.Fatal(err)
	}
	if *ended.Status != "completed" || ended.EndTime == nil || ended.Duration == nil {
		t.Fatalf("ended: %+v", ended)
	}
	// An ended call: 21220, whose message says what was tried (issue 20 item 10).
	for _, tt := range []struct {
		name string
		p    *api.UpdateCallParams
		msg  string
	}{
		{"redirect an ended call", (&api.UpdateCallParams{}).SetUrl("https://example.com/late"), "Call is not in-progress. Cannot redirect."},
		{"hang up an ended call", (&api.UpdateCallParams{}).SetStatus("completed"), "Call is not in-progress. Cannot hang up."},
	} {
		_, err = tw.UpdateCall(*c.Sid, tt.p)
		wantTwilioError(t, tt.name, err, 21220, 400)
		if m := twilioMessage(t, err); m != tt.msg {
			t.Errorf("%s: message %q, want %q", tt.name, m, tt.msg)
		}
	}

	store, err := sqlite.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	type got struct {
		URL, Method, Twiml, FallbackURL, FallbackMethod, StatusCallback, StatusCallbackMethod, SendDigits string
		Events                                                                                            []string
		Timeout                                                                                           int
	}
	for _, tt := range []struct {
		sid  string
		want got
	}{
		{*c.Sid, got{"https://example.com/twiml", "GET", "", "https://example.com/fallback", "GET", "https://example.com/progress", "GET", "1234#w*W",
			[]string{"initiated", "answered", "completed"}, 30}},
		{*doc.Sid, got{"https://example.com/next", "GET", "", "", "POST", "https://example.com/progress2", "GET", "", []string{"completed"}, 60}},
		{*both.Sid, got{"https://example.com/wins", "POST", "", "", "POST", "", "POST", "", []string{"ringing", "completed"}, 60}},
	} {
		x, err := store.FindCall(t.Context(), tt.sid)
		if err != nil {
			t.Fatal(err)
		}
		g := got{x.URL, x.Method, x.Twiml, x.FallbackURL, x.FallbackMethod, x.StatusCallback, x.StatusCallbackMethod, x.SendDigits, x.StatusCallbackEvents, x.Timeout}
		if !reflect.DeepEqual(g, tt.want) {
			t.Errorf("call %s stored\n %+v, want\n %+v", tt.sid, g, tt.want)
		}
	}

	bad := []struct {
		name string
		set  func(*api.CreateCallParams)
		code int
	}{
		{"relative Url", func(p *api.CreateCallParams) { p.SetUrl("/twiml") }, 21205},
		{"ftp FallbackUrl", func(p *api.CreateCallParams) { p.SetFallbackUrl("ftp://example.com/x") }, 21205},
		{"StatusCallback without a host", func(p *api.CreateCallParams) { p.SetStatusCallback("https://") }, 21205},
		{"Method PUT", func(p *api.CreateCallParams) { p.SetMethod("PUT") }, 21209},
		{"FallbackMethod", func(p *api.CreateCallParams) { p.SetFallbackMethod("DELETE") }, 21209},
		{"StatusCallbackMethod", func(p *api.CreateCallParams) { p.SetStatusCallbackMethod("x") }, 21209},
		{"Timeout 0", func(p *api.CreateCallParams) { p.SetTimeout(0) }, 21208},
		{"Timeout 601", func(p *api.CreateCallParams) { p.SetTimeout(601) }, 21208},
		{"StatusCallbackEvent", func(p *api.CreateCallParams) { p.SetStatusCallbackEvent([]string{"answered", "busy"}) }, 21626},
		{"SendDigits", func(p *api.CreateCallParams) { p.SetSendDigits("12x") }, 20001},
		{"SendDigits too long", func(p *api.CreateCallParams) { p.SetSendDigits("123456789012345678901234567890123") }, 20001},
	}
	// To and From: E.164, client: or sip:, else Twilio's 21211 and 21212;
	// " 15005550006" is "+15005550006" sent without encoding its +.
	bad = append(bad, []struct {
		name string
		set  func(*api.CreateCallParams)
		code int
	}{
		{"To with a decoded +", func(p *api.CreateCallParams) { p.SetTo(" 15005550006") }, 21211},
		{"To without +", func(p *api.CreateCallParams) { p.SetTo("15005550006") }, 21211},
		{"To a name", func(p *api.CreateCallParams) { p.SetTo("alice") }, 21211},
		{"To an empty client", func(p *api.CreateCallParams) { p.SetTo("client:") }, 21211},
		{"To a client with a space", func(p *api.CreateCallParams) { p.SetTo("client:al ice") }, 21211},
		{"From with a decoded +", func(p *api.CreateCallParams) { p.SetFrom(" 15005550001") }, 21212},
		{"From with a trailing space", func(p *api.CreateCallParams) { p.SetFrom("+15005550001 ") }, 21212},
		{"From a client when To is a number", func(p *api.CreateCallParams) { p.SetFrom("client:alice") }, 21212},
	}...)
	for _, tt := range bad {
		p := full()
		tt.set(p)
		_, err := tw.CreateCall(p)
		wantTwilioError(t, tt.name, err, tt.code, 400)
	}
	for _, party := range [][2]string{{"client:alice", "client:bob"}, {"sip:alice@example.com", "+15005550001"}, {"client:alice", "+15005550001"}} {
		x, err := tw.CreateCall((&api.CreateCallParams{}).SetTo(party[0]).SetFrom(party[1]).SetTwiml("<Response/>"))
		if err != nil || *x.To != party[0] || *x.From != party[1] {
			t.Errorf("To %s From %s: %v %v", party[0], party[1], x, err)
		}
	}
	if calls, err := store.FindCalls(t.Context(), tonepay.CallFilter{AccountSid: sid, To: " 15005550006", Limit: 10}); err != nil || len(calls) != 0 {
		t.Errorf("calls stored with a decoded +: %d %v", len(calls), err)
	}
	_, err = tw.UpdateCall(*both.Sid, (&api.UpdateCallParams{}).SetUrl("https://example.com/a").SetTwiml("<Response/>"))
	wantTwilioError(t, "update with Url and Twiml", err, 20001, 400)
	_, err = tw.UpdateCall(*both.Sid, (&api.UpdateCallParams{}).SetStatusCallbackMethod("PATCH"))
	wantTwilioError(t, "update StatusCallbackMethod", err, 21209, 400)
	if rw.Checked() < 5 {
		t.Errorf("%d responses checked against the spec, want at least 5", rw.Checked())
	}
}
