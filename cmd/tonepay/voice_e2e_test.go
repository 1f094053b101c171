package main

import (
	"encoding/json"
	"net"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	api "github.com/twilio/twilio-go/rest/api/v2010"
	"github.com/twilio/twilio-go/twiml"
)

type timelineEntry struct {
	Seq    int64  `json:"seq"`
	Kind   string `json:"kind"`
	Verb   string `json:"verb"`
	Text   string `json:"text"`
	URL    string `json:"url"`
	Method string `json:"method"`
	Status int    `json:"status"`
	Code   int    `json:"code"`
	Voice  string `json:"voice"`
	Lang   string `json:"language"`
	Loop   int    `json:"loop"`
	Masked bool   `json:"masked"`
}

func (fs *faultServer) timeline(t *testing.T, call string) (string, []timelineEntry) {
	t.Helper()
	code, body, err := fs.do("GET", fs.ext("/Calls/"+call+"/Timeline"), nil)
	if err != nil || code != 200 {
		t.Fatalf("timeline: %d %v %s", code, err, body)
	}
	var tl struct {
		Status  string          `json:"status"`
		Entries []timelineEntry `json:"entries"`
	}
	if err := json.Unmarshal(body, &tl); err != nil {
		t.Fatal(err)
	}
	return tl.Status, tl.Entries
}

// heard lists what the caller heard and did: "say:text", "key:1", "error:code".
func heard(es []timelineEntry) []string {
	var out []string
	for _, e := range es {
		switch e.Kind {
		case "say", "key", "hangup":
			out = append(out, e.Kind+":"+e.Text)
		case "play":
			out = append(out, "play:"+e.URL+e.Text)
		case "error":
			out = append(out, "error:"+strconv.Itoa(e.Code))
		}
	}
	return out
}

func newVoiceServer(t *testing.T) *faultServer {
	return newFaultServer(t, filepath.Join(t.TempDir(), "voice.db"))
}

// TestVoiceEndToEnd: a whole outbound call driven by twilio-go against a
// real HTTP app: every verb on the path, Gather's attributes, a redirect,
// a Dial where an agent-assisted payment happens, the hang-up with the Dial
// action, and the call-progress callbacks, all signed.
func TestVoiceEndToEnd(t *testing.T) {
	fs := newVoiceServer(t)
	start, err := twiml.Voice([]twiml.Element{
		&twiml.VoiceSay{Message: "Welcome to Acme", Voice: "Polly.Amy", Language: "en-GB", Loop: "2"},
		&twiml.VoicePlay{Url: "https://cdn.acme.io/jingle.mp3"},
		&twiml.VoicePause{Length: "2"},
		&twiml.VoiceGather{NumDigits: "4", FinishOnKey: "#", Timeout: "30", Action: "menu?step=1", Method: "GET",
			InnerElements: []twiml.Element{&twiml.VoiceSay{Message: "Enter your order number"}}},
		&twiml.VoiceSay{Message: "We did not get that"},
	})
	if err != nil {
		t.Fatal(err)
	}
	app := newVoiceApp(t, fs.token, map[string]string{
		"/start":      start,
		"/menu":       `<Response><Say>Order found</Say><Redirect method="POST">/agent</Redirect></Response>`,
		"/agent":      `<Response><Say>Connecting you to an agent</Say><Dial action="/after-dial" timeout="20"><Number>+15557654321</Number></Dial></Response>`,
		"/after-dial": `<Response><Say>never heard: the call has ended</Say></Response>`,
	})
	progress := newReceiver(t, fs.token)
	tw, _ := newTwilio(t, *fs.url.Load(), fs.sid, fs.token, fs.sid, loadSpec(t))

	call, err := tw.CreateCall((&api.CreateCallParams{}).SetTo("+15005550006").SetFrom("+15005550001").SetUrl(app.url("/start")).
		SetStatusCallback(progress.srv.URL + "/progress").SetStatusCallbackEvent([]string{"initiated", "ringing", "answered", "completed"}))
	if err != nil {
		t.Fatal(err)
	}
	if *call.Status != "in-progress" || *call.Direction != "outbound-api" {
		t.Fatalf("created %s %s", *call.Status, *call.Direction)
	}
	first := app.requests()[0]
	for k, want := range map[string]string{"CallSid": *call.Sid, "AccountSid": fs.sid, "From": "+15005550001", "To": "+15005550006",
		"Caller": "+15005550001", "Called": "+15005550006", "CallStatus": "in-progress", "Direction": "outbound-api", "ApiVersion": "2010-04-01"} {
		if got := first.Params.Get(k); got != want {
			t.Errorf("first request %s=%q, want %q", k, got, want)
		}
	}
	// The create answered with the caller in the Gather.
	_, es := fs.timeline(t, *call.Sid)
	if got := heard(es); !slices.Equal(got, []string{"say:Welcome to Acme", "play:https://cdn.acme.io/jingle.mp3", "say:Enter your order number"}) {
		t.Fatalf("heard %q", got)
	}
	// The first say (a call-progress callback's answer may be on the
	// timeline before it: its row is written when the answer comes).
	welcome := es[slices.IndexFunc(es, func(e timelineEntry) bool { return e.Kind == "say" })]
	if welcome.Voice != "Polly.Amy" || welcome.Lang != "en-GB" || welcome.Loop != 2 {
		t.Errorf("say entry %+v", welcome)
	}

	// 12#: the Gather's GET action gets Digits and FinishedOnKey on its query.
	if code, body, err := fs.do("POST", fs.ext("/Calls/"+*call.Sid+"/Digits"), url.Values{"Digits": {"12#"}}); err != nil || code != 200 {
		t.Fatalf("digits: %d %v %s", code, err, body)
	}
	reqs := app.requests()
	menu := reqs[1]
	if menu.Method != "GET" || menu.Path != "/menu" || menu.Params.Get("step") != "1" || menu.Params.Get("Digits") != "12" || menu.Params.Get("FinishedOnKey") != "#" {
		t.Fatalf("menu request %+v", menu)
	}
	if reqs[2].Path != "/agent" || reqs[2].Method != "POST" || reqs[2].Params.Get("Digits") != "" {
		t.Fatalf("redirect %+v", reqs[2])
	}

	// Parked in the Dial: the agent takes a card; the app sees none of it.
	pay, err := tw.CreatePayments(*call.Sid, (&api.CreatePaymentsParams{}).SetIdempotencyKey("k1").SetStatusCallback(progress.srv.URL+"/pay").SetChargeAmount(9.99))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tw.UpdatePayments(*call.Sid, *pay.Sid, (&api.UpdatePaymentsParams{}).SetIdempotencyKey("k2").SetStatusCallback(progress.srv.URL+"/pay").SetCapture("payment-card-number")); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := fs.do("POST", fs.ext("/Calls/"+*call.Sid+"/Digits"), url.Values{"Digits": {"4242424242424242"}}); code != 200 {
		t.Fatal("card digits")
	}

	// The agent's side hangs up through the API: the Dial action is still
	// requested (its answer cannot run), then the call ends.
	ended, err := tw.UpdateCall(*call.Sid, (&api.UpdateCallParams{}).SetStatus("completed"))
	if err != nil || *ended.Status != "completed" || ended.EndTime == nil || ended.Duration == nil {
		t.Fatalf("hang-up: %v %+v", err, ended)
	}
	reqs = app.requests()
	last := reqs[len(reqs)-1]
	if last.Path != "/after-dial" || last.Params.Get("DialCallStatus") != "completed" || last.Params.Get("DialCallDuration") == "" {
		t.Fatalf("dial action %+v", last)
	}
	for _, r := range reqs {
		for _, vs := range r.Params {
			for _, v := range vs {
				if strings.Contains(v, "42424242") {
					t.Errorf("the app got card digits in %s", r.Path)
				}
			}
		}
	}
	app.checkSigned()
	status, es := fs.timeline(t, *call.Sid)
	if status != "completed" || !slices.Contains(heard(es), "hangup:completed") || slices.Contains(heard(es), "say:never heard: the call has ended") {
		t.Fatalf("final timeline %s %q", status, heard(es))
	}
	masked := 0
	for _, e := range es {
		if e.Kind == "key" && e.Masked && strings.Trim(e.Text, "*") == "" {
			masked += len(e.Text)
		}
		if strings.Contains(e.Text, "42424242") {
			t.Errorf("timeline shows card digits: %+v", e)
		}
	}
	if masked != 16 {
		t.Errorf("%d masked keys, want 16", masked)
	}

	// Progress: four callbacks, signed, numbered 0..3.
	waitFor(t, 10*time.Second, "progress callbacks", func() bool { return len(progressOf(progress)) == 4 })
	var statuses []string
	for i, d := range progressOf(progress) {
		if !d.Valid || d.Form.Get("SequenceNumber") != strconv.Itoa(i) || d.Form.Get("CallSid") != *call.Sid || d.Form.Get("CallbackSource") != "call-progress-events" {
			t.Errorf("progress %d: valid %v %v", i, d.Valid, d.Form)
		}
		statuses = append(statuses, d.Form.Get("CallStatus"))
	}
	if !slices.Equal(statuses, []string{"initiated", "ringing", "in-progress", "completed"}) {
		t.Errorf("progress %q", statuses)
	}
	if f := progressOf(progress)[3].Form; f.Get("CallDuration") == "" || f.Get("Duration") == "" || f.Get("Timestamp") == "" {
		t.Errorf("completed %v", f)
	}
	// The webhooks and their answers are on the timeline too.
	waitFor(t, 10*time.Second, "the progress webhooks on the timeline", func() bool {
		_, es := fs.timeline(t, *call.Sid)
		n := 0
		for _, e := range es {
			if e.Kind == "webhook" && e.Status == 204 && strings.HasPrefix(e.Text, "call progress: ") && strings.HasSuffix(e.URL, "/progress") {
				n++
			}
		}
		return n == 4
	})
}

func progressOf(rc *receiver) []delivery {
	var out []delivery
	for _, d := range rc.deliveries() {
		if strings.HasSuffix(d.URL, "/progress") || strings.HasSuffix(d.URL, "/number-status") {
			out = append(out, d)
		}
	}
	return out
}

// TestVoiceInbound: a caller dials a number: its VoiceUrl runs with GET,
// CallStatus=ringing, Direction=inbound; <Reject reason="busy"> leaves the
// call busy, and the number's StatusCallback hears only the end.
func TestVoiceInbound(t *testing.T) {
	fs := newVoiceServer(t)
	app := newVoiceApp(t, fs.token, map[string]string{
		"/in":     `<Response><Reject reason="busy"/></Response>`,
		"/in-ivr": `<Response><Say>Thanks for calling</Say><Gather numDigits="1" action="/choice" actionOnEmptyResult="true" timeout="1"/></Response>`,
		"/choice": `<Response><Say>Goodbye</Say></Response>`,
	})
	progress := newReceiver(t, fs.token)
	tw, _ := newTwilio(t, *fs.url.Load(), fs.sid, fs.token, fs.sid, loadSpec(t))
	n, err := tw.CreateIncomingPhoneNumber((&api.CreateIncomingPhoneNumberParams{}).SetPhoneNumber("+15017122661").
		SetVoiceUrl(app.url("/in")).SetVoiceMethod("GET").SetStatusCallback(progress.srv.URL + "/number-status"))
	if err != nil {
		t.Fatal(err)
	}
	code, body, err := fs.do("POST", fs.ext("/Calls/Inbound"), url.Values{"From": {"+14155550100"}, "To": {"+15017122661"}})
	if err != nil || code != 201 {
		t.Fatalf("inbound: %d %v %s", code, err, body)
	}
	sid := sidOf(body)
	first := app.requests()[0]
	if first.Method != "GET" || first.Params.Get("CallStatus") != "ringing" || first.Params.Get("Direction") != "inbound" || first.Params.Get("To") != "+15017122661" {
		t.Fatalf("first request %+v", first)
	}
	c, err := tw.FetchCall(sid, nil)
	if err != nil || *c.Status != "busy" || *c.Direction != "inbound" {
		t.Fatalf("rejected call: %v %+v", err, c)
	}
	waitFor(t, 10*time.Second, "the number's callback", func() bool { return len(progressOf(progress)) == 1 })
	if f := progressOf(progress)[0].Form; f.Get("CallStatus") != "busy" || f.Get("SequenceNumber") != "0" || !progressOf(progress)[0].Valid {
		t.Fatalf("number status callback %v", f)
	}

	// Answered this time; the Gather times out on the clock and, with
	// actionOnEmptyResult, requests its action with empty Digits.
	if _, err := tw.UpdateIncomingPhoneNumber(*n.Sid, (&api.UpdateIncomingPhoneNumberParams{}).SetVoiceUrl(app.url("/in-ivr")).SetVoiceMethod("POST")); err != nil {
		t.Fatal(err)
	}
	_, body, _ = fs.do("POST", fs.ext("/Calls/Inbound"), url.Values{"From": {"+14155550100"}, "To": {"+15017122661"}})
	sid = sidOf(body)
	waitFor(t, 10*time.Second, "the Gather's timeout", func() bool {
		st, _ := fs.timeline(t, sid)
		return st == "completed"
	})
	reqs := app.requests()
	choice := reqs[len(reqs)-1]
	if choice.Path != "/choice" || !choice.Params.Has("Digits") || choice.Params.Get("Digits") != "" || choice.Params.Get("CallStatus") != "in-progress" {
		t.Fatalf("empty result %+v", choice)
	}
	_, es := fs.timeline(t, sid)
	if got := heard(es); !slices.Equal(got, []string{"say:Thanks for calling", "say:Goodbye", "hangup:completed"}) {
		t.Fatalf("heard %q", got)
	}
	// Bad inbound requests.
	for _, tt := range []struct {
		form url.Values
		code int
	}{
		{url.Values{"From": {"+14155551234"}, "To": {"+15550000000"}}, 21211}, // not the account's
		{url.Values{"From": {"+14155551234"}, "To": {"5017122661"}}, 21211},   // not E.164
		{url.Values{"To": {"+15017122661"}}, 21212},
	} {
		code, body, _ := fs.do("POST", fs.ext("/Calls/Inbound"), tt.form)
		if code != 400 || !strings.Contains(string(body), strconv.Itoa(tt.code)) {
			t.Errorf("%v: %d %s", tt.form, code, body)
		}
	}
	app.checkSigned()
}

// TestVoiceErrors: a document tonepay cannot fetch or run ends the call as
// Twilio does: the stock message, Twilio's code in the timeline.
func TestVoiceErrors(t *testing.T) {
	fs := newVoiceServer(t)
	app := newVoiceApp(t, fs.token, map[string]string{
		"/malformed": `<Response><Say>unclosed</Response>`,
		"/json":      `json:{"say":"hi"}`,
		"/root":      `<Say>no Response</Say>`,
		"/fallback":  `<Response><Say>Sorry, try later</Say></Response>`,
	})
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	refused := "http://" + closed.Addr().String() + "/x"
	closed.Close()
	tw, _ := newTwilio(t, *fs.url.Load(), fs.sid, fs.token, fs.sid, nil)
	for _, tt := range []struct {
		name, url, fallback string
		want                []string
	}{
		{"404", app.url("/missing"), "", []string{"error:11200", "say:We're sorry, but an application error has occurred. Goodbye!", "hangup:completed"}},
		{"malformed", app.url("/malformed"), "", []string{"error:12100", "say:We're sorry, but an application error has occurred. Goodbye!", "hangup:completed"}},
		{"json", app.url("/json"), "", []string{"error:12300", "say:We're sorry, but an application error has occurred. Goodbye!", "hangup:completed"}},
		{"wrong root", app.url("/root"), "", []string{"error:12102", "say:We're sorry, but an application error has occurred. Goodbye!", "hangup:completed"}},
		{"refused", refused, "", []string{"error:11205", "say:We're sorry, but an application error has occurred. Goodbye!", "hangup:completed"}},
		{"link-local is never fetched", "http://169.254.169.254/latest/meta-data", "", []string{"error:11205", "say:We're sorry, but an application error has occurred. Goodbye!", "hangup:completed"}},
		{"fallback", app.url("/json"), app.url("/fallback"), []string{"error:12300", "say:Sorry, try later", "hangup:completed"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := (&api.CreateCallParams{}).SetTo("+15005550006").SetFrom("+15005550001").SetUrl(tt.url)
			if tt.fallback != "" {
				p.SetFallbackUrl(tt.fallback)
			}
			c, err := tw.CreateCall(p)
			if err != nil {
				t.Fatal(err)
			}
			if *c.Status != "completed" {
				t.Errorf("status %s", *c.Status)
			}
			if _, es := fs.timeline(t, *c.Sid); !slices.Equal(heard(es), tt.want) {
				t.Errorf("heard %q, want %q", heard(es), tt.want)
			}
		})
	}
	reqs := app.requests()
	fb := reqs[len(reqs)-1]
	if fb.Path != "/fallback" || fb.Params.Get("ErrorCode") != "12300" || fb.Params.Get("ErrorUrl") != app.url("/json") {
		t.Errorf("fallback request %+v", fb)
	}
	app.checkSigned()
}

// TestVoiceUpdateAndSendDigits: SendDigits presses keys once the call is
// answered; Calls update with Twiml interrupts a Gather.
func TestVoiceUpdateAndSendDigits(t *testing.T) {
	fs := newVoiceServer(t)
	app := newVoiceApp(t, fs.token, map[string]string{
		"/ext":  `<Response><Gather numDigits="3" action="/got"><Say>Extension?</Say></Gather></Response>`,
		"/got":  `<Response><Gather timeout="60"><Say>Hold on</Say></Gather></Response>`,
		"/next": `<Response><Say>Redirected by the API</Say><Hangup/></Response>`,
	})
	tw, _ := newTwilio(t, *fs.url.Load(), fs.sid, fs.token, fs.sid, loadSpec(t))
	c, err := tw.CreateCall((&api.CreateCallParams{}).SetTo("+15005550006").SetFrom("+15005550001").SetUrl(app.url("/ext")).SetSendDigits("1w23"))
	if err != nil {
		t.Fatal(err)
	}
	reqs := app.requests()
	if len(reqs) != 2 || reqs[1].Params.Get("Digits") != "123" {
		t.Fatalf("SendDigits: %+v", reqs)
	}
	u, err := tw.UpdateCall(*c.Sid, (&api.UpdateCallParams{}).SetTwiml(`<Response><Say>Interrupted</Say><Redirect>`+app.url("/next")+`</Redirect></Response>`))
	if err != nil {
		t.Fatal(err)
	}
	if *u.Status != "completed" {
		t.Errorf("after the update: %s", *u.Status)
	}
	if _, es := fs.timeline(t, *c.Sid); !slices.Equal(heard(es), []string{"say:Extension?", "key:1", "key:2", "key:3", "say:Hold on", "say:Interrupted", "say:Redirected by the API", "hangup:completed"}) {
		t.Errorf("heard %q", heard(es))
	}
	app.checkSigned()
}

// TestVoiceRestartMidGather: the server is killed while the caller is in a
// Gather; the next process continues the call (keys already applied stay
// applied), and a Gather whose timer died with the process still times out.
// a's Gather waits a minute, more than any restart takes on a slow machine;
// b's 3 s, so that it is due soon after.
func TestVoiceRestartMidGather(t *testing.T) {
	fs := newVoiceServer(t)
	const pin = `<Response><Gather numDigits="4" action="/ok" timeout="60"><Say>PIN please</Say></Gather><Say>Too slow</Say></Response>`
	app := newVoiceApp(t, fs.token, map[string]string{
		"/pin":       pin,
		"/pin-short": strings.Replace(pin, `timeout="60"`, `timeout="3"`, 1),
		"/ok":        `<Response><Say>PIN accepted</Say></Response>`,
	})
	create := func(path string) string {
		code, body, err := fs.do("POST", fs.api("/Calls.json"), url.Values{"To": {"+15005550006"}, "From": {"+15005550001"}, "Url": {app.url(path)}})
		if err != nil || code != 201 {
			t.Fatalf("create: %d %v %s", code, err, body)
		}
		return sidOf(body)
	}
	a, b := create("/pin"), create("/pin-short")
	if code, _, _ := fs.do("POST", fs.ext("/Calls/"+a+"/Digits"), url.Values{"Digits": {"12"}}); code != 200 {
		t.Fatal("digits")
	}
	fs.restart() // kill -9, then a new process on the same file
	if code, body := fs.retry("POST", fs.ext("/Calls/"+a+"/Digits"), url.Values{"Digits": {"34"}}); code != 200 {
		t.Fatalf("digits after restart: %d %s", code, body)
	}
	var ok *appRequest
	for _, r := range app.requests() {
		if r.Path == "/ok" {
			ok = &r
		}
	}
	if ok == nil || ok.Params.Get("Digits") != "1234" || ok.Params.Get("CallSid") != a {
		t.Fatalf("action after restart: %+v", ok)
	}
	// b's Gather timer died with the first process: the sweeper times it out.
	waitFor(t, 15*time.Second, "b's Gather to time out", func() bool {
		st, _ := fs.timeline(t, b)
		return st == "completed"
	})
	if _, es := fs.timeline(t, b); !slices.Equal(heard(es), []string{"say:PIN please", "say:Too slow", "hangup:completed"}) {
		t.Errorf("b heard %q", heard(es))
	}
	app.checkSigned()
}

// TestVoiceDialLeg: a <Dial>'s far end is a call of its own (outbound-dial,
// ParentCallSid), listed and hung up with twilio-go; its hang-up ends the
// parent's Dial, whose action gets DialCallSid and the TwiML after it runs.
// hangupOnStar lets the caller's * do the same.
func TestVoiceDialLeg(t *testing.T) {
	fs := newVoiceServer(t)
	app := newVoiceApp(t, fs.token, map[string]string{
		"/agent": `<Response><Dial action="/after" callerId="+15550009999"><Client>alice</Client></Dial></Response>`,
		"/star":  `<Response><Dial hangupOnStar="true" action="/after">+15557654321</Dial></Response>`,
		"/after": `<Response><Say>Thanks for waiting</Say><Hangup/></Response>`,
	})
	tw, _ := newTwilio(t, *fs.url.Load(), fs.sid, fs.token, fs.sid, loadSpec(t))
	parent, err := tw.CreateCall((&api.CreateCallParams{}).SetTo("+15005550006").SetFrom("+15005550001").SetUrl(app.url("/agent")))
	if err != nil {
		t.Fatal(err)
	}
	legs, err := tw.ListCall((&api.ListCallParams{}).SetParentCallSid(*parent.Sid))
	if err != nil || len(legs) != 1 {
		t.Fatalf("legs: %v %d", err, len(legs))
	}
	leg := legs[0]
	if *leg.Direction != "outbound-dial" || *leg.To != "client:alice" || *leg.From != "+15550009999" || *leg.ParentCallSid != *parent.Sid || *leg.Status != "in-progress" {
		t.Fatalf("leg %+v", leg)
	}
	if _, err := tw.UpdateCall(*leg.Sid, (&api.UpdateCallParams{}).SetStatus("completed")); err != nil {
		t.Fatal(err)
	}
	reqs := app.requests()
	after := reqs[len(reqs)-1]
	if after.Path != "/after" || after.Params.Get("DialCallSid") != *leg.Sid || after.Params.Get("DialCallStatus") != "completed" || after.Params.Get("DialBridged") != "true" {
		t.Fatalf("dial action %+v", after)
	}
	p, err := tw.FetchCall(*parent.Sid, nil)
	if err != nil || *p.Status != "completed" {
		t.Fatalf("parent after the action's Hangup: %v %+v", err, p)
	}
	if _, es := fs.timeline(t, *parent.Sid); !slices.Contains(heard(es), "say:Thanks for waiting") {
		t.Errorf("heard %q", heard(es))
	}

	// The caller's * drops the far end; the leg ends with the Dial.
	star, err := tw.CreateCall((&api.CreateCallParams{}).SetTo("+15005550006").SetFrom("+15005550001").SetUrl(app.url("/star")))
	if err != nil {
		t.Fatal(err)
	}
	legs, _ = tw.ListCall((&api.ListCallParams{}).SetParentCallSid(*star.Sid))
	if code, _, _ := fs.do("POST", fs.ext("/Calls/"+*star.Sid+"/Digits"), url.Values{"Digits": {"*"}}); code != 200 {
		t.Fatal("digits")
	}
	if l, err := tw.FetchCall(*legs[0].Sid, nil); err != nil || *l.Status != "completed" {
		t.Fatalf("leg after *: %v %+v", err, l)
	}
	if p, _ := tw.FetchCall(*star.Sid, nil); *p.Status != "completed" {
		t.Fatalf("parent after *: %s", *p.Status)
	}
	app.checkSigned()
}
