package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/client"
	"github.com/tonepay/tonepay/internal/e2e"
	"github.com/tonepay/tonepay/internal/suites"
	"github.com/tonepay/tonepay/tts"
	api "github.com/twilio/twilio-go/rest/api/v2010"
)

// Media Streams across two `tonepay serve` processes (issue 22 item 4):
// process A plays Twilio (its simulated call's <Stream> dials out, signed
// with A's main account's token, and its keypad API is the caller's
// keypad); process B is the operator's tonepay, whose [[twilio]] link names
// A's account, so it takes A's streams as real legs. Each process has its
// own SQLite store; the call has the same CallSid in both.

// twoProcs is A ("Twilio") and B (the operator's tonepay, linked to A).
type twoProcs struct {
	a, b         *e2e.Proc
	aSid, aToken string // A's main account: the Twilio account
	bSid, bToken string // B's main account: the operator's
	aC, bC       *client.Client
	bTw          *api.ApiService // twilio-go on B, as the agent's app
	streamURL    string          // B's receiver, as A's TwiML names it
	started      time.Time
	t            *testing.T
}

func startTwoProcs(t *testing.T) *twoProcs {
	t.Helper()
	tp := &twoProcs{t: t, started: time.Now(),
		aSid: tonepay.NewSID("AC"), aToken: "tw" + tonepay.NewSID("AC")[2:],
		bSid: tonepay.NewSID("AC"), bToken: "op" + tonepay.NewSID("AC")[2:]}
	dir := t.TempDir()
	tp.a = e2e.StartServer(t, "TONEPAY_DB="+filepath.Join(dir, "a.db"), "TONEPAY_ACCOUNT_SID="+tp.aSid, "TONEPAY_AUTH_TOKEN="+tp.aToken)
	conf := filepath.Join(dir, "b.toml")
	link := fmt.Sprintf("[[twilio]]\naccount_sid = %q\nauth_token_env = \"TWOPROC_TWILIO_TOKEN\"\n", tp.aSid)
	if err := os.WriteFile(conf, []byte(link), 0o600); err != nil {
		t.Fatal(err)
	}
	tp.b = e2e.StartServer(t, "TONEPAY_DB="+filepath.Join(dir, "b.db"), "TONEPAY_CONFIG="+conf, "TWOPROC_TWILIO_TOKEN="+tp.aToken,
		"TONEPAY_ACCOUNT_SID="+tp.bSid, "TONEPAY_AUTH_TOKEN="+tp.bToken)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("A's log:\n%s\nB's log:\n%s", tp.a.Stderr(), tp.b.Stderr())
		}
	})
	tp.aC, tp.bC = tp.a.Client(t, tp.aSid, tp.aToken), tp.b.Client(t, tp.bSid, tp.bToken)
	tp.bTw, _ = e2e.NewTwilio(t, tp.b.URL, tp.bSid, tp.bToken, tp.bSid, e2e.LoadSpec(t))
	tp.streamURL = "ws://" + strings.TrimPrefix(tp.b.URL, "http://") + "/_tonepay/streams"
	return tp
}

// lap logs how long the test has run, at a step.
func (tp *twoProcs) lap(step string) {
	tp.t.Logf("%6.2fs %s", time.Since(tp.started).Seconds(), step)
}

// call places A's simulated call running twiml and waits until B lists it,
// with the same CallSid, in progress.
func (tp *twoProcs) call(twiml string) string {
	t := tp.t
	t.Helper()
	sid := tp.place(twiml)
	e2e.WaitFor(t, 15*time.Second, "B lists A's call in progress", func() bool {
		list, err := tp.bTw.ListCall((&api.ListCallParams{}).SetStatus("in-progress"))
		if err != nil {
			return false
		}
		for _, l := range list {
			if *l.Sid == sid {
				return true
			}
		}
		return false
	})
	tp.lap("B has the call " + sid)
	return sid
}

// place places A's simulated call running twiml.
func (tp *twoProcs) place(twiml string) string {
	tp.t.Helper()
	c, err := tp.aC.CreateCall(context.Background(), client.CallParams{To: "+15005550006", From: "+15005550001", Twiml: twiml})
	if err != nil {
		tp.t.Fatal(err)
	}
	return c.Sid
}

// callStatusOf is a call's status through cl ("" when unknown).
func callStatusOf(cl *client.Client, callSid string) string {
	c, err := cl.FetchCall(context.Background(), callSid)
	if err != nil {
		return ""
	}
	return c.Status
}

// connectTwiML streams A's call to B bidirectionally (dtmf frames and
// tones) until B closes the stream.
func (tp *twoProcs) connectTwiML(to string) string {
	return `<Response><Connect><Stream url="` + tp.streamURL + `"><Parameter name="From" value="+15005550001"/><Parameter name="To" value="` + to + `"/></Stream></Connect></Response>`
}

// startTwiML streams A's call to B unidirectionally (tones only) while a
// closing Pause holds the call.
func (tp *twoProcs) startTwiML() string {
	return `<Response><Start><Stream url="` + tp.streamURL + `"><Parameter name="From" value="+15005550001"/><Parameter name="To" value="+15005550006"/></Stream></Start><Pause length="600"/></Response>`
}

// twoProcFields is what the caller types, field by field (a sandbox test card).
var twoProcFields = []struct{ field, keys string }{
	{"payment-card-number", card + "#"},
	{"expiration-date", "1230"},
	{"security-code", "123"},
	{"postal-code", "94105#"},
}

// TestTwoProcAgentPayment: an agent on B runs a payment on A's call with
// twilio-go; the caller presses the card's keys on A's keypad API; they
// reach B as dtmf frames and tones (bidirectional <Connect><Stream>,
// counted once), or as tones alone (a <Start><Stream>, detected by B's DTMF
// detector). The payment succeeds with every key counted exactly once.
func TestTwoProcAgentPayment(t *testing.T) {
	for _, tt := range []struct {
		name  string
		twiml func(tp *twoProcs) string
	}{
		{"connect: dtmf frames and tones", func(tp *twoProcs) string { return tp.connectTwiML("+15005550006") }},
		{"start: tones only", func(tp *twoProcs) string { return tp.startTwiML() }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tp := startTwoProcs(t)
			ctx := context.Background()
			sid := tp.call(tt.twiml(tp))
			rc := e2e.NewReceiver(t, tp.bToken)
			cb := rc.URL + "/pay"
			pay, err := tp.bTw.CreatePayments(sid, (&api.CreatePaymentsParams{}).SetIdempotencyKey("create").SetStatusCallback(cb).SetChargeAmount(10))
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range twoProcFields {
				if _, err := tp.bTw.UpdatePayments(sid, *pay.Sid, (&api.UpdatePaymentsParams{}).SetIdempotencyKey("capture-"+f.field).SetStatusCallback(cb).SetCapture(f.field)); err != nil {
					t.Fatal(err)
				}
				if _, err := tp.aC.Press(ctx, sid, f.keys); err != nil {
					t.Fatal(err)
				}
				e2e.WaitFor(t, 20*time.Second, f.field+" captured on B", func() bool {
					v, err := tp.bC.PaymentView(ctx, sid, *pay.Sid)
					return err == nil && v.Captured[f.field] != "" && v.Capture == ""
				})
				tp.lap(f.field + " captured")
			}
			if _, err := tp.bTw.UpdatePayments(sid, *pay.Sid, (&api.UpdatePaymentsParams{}).SetIdempotencyKey("complete").SetStatusCallback(cb).SetStatus("complete")); err != nil {
				t.Fatal(err)
			}
			var result string
			e2e.WaitFor(t, 15*time.Second, "the result callback", func() bool {
				for _, d := range rc.ForSession(*pay.Sid) {
					result = d.Form.Get("Result")
					if result != "" {
						return true
					}
				}
				return false
			})
			tp.lap("result " + result)
			v, err := tp.bC.PaymentView(ctx, sid, *pay.Sid)
			if err != nil {
				t.Fatal(err)
			}
			// Each key once: a doubled digit would make the card 17+ digits
			// (refused), a doubled # would be dropped.
			if result != "success" || v.Result != "success" || v.Captured["payment-card-number"] != "xxxxxxxxxxxx4242" || v.DroppedDigits != 0 || v.ConfirmationCode == "" {
				t.Errorf("callback result %q; session %+v", result, v)
			}
			for i, d := range rc.ForSession(*pay.Sid) {
				if !d.Valid {
					t.Errorf("callback %d is not signed with B's token", i)
				}
				if d.Form.Get("CallSid") != sid || d.Form.Get("AccountSid") != tp.bSid {
					t.Errorf("callback %d: CallSid %s AccountSid %s", i, d.Form.Get("CallSid"), d.Form.Get("AccountSid"))
				}
				if d.Form.Has("Result") && (d.Form.Get("PaymentCardNumber") != "xxxxxxxxxxxx4242" || d.Form.Get("PaymentConfirmationCode") == "") {
					t.Errorf("result callback %v", d.Form)
				}
			}
			// The caller hangs up on A: B's leg ends.
			if _, err := tp.aC.Hangup(ctx, sid); err != nil {
				t.Fatal(err)
			}
			e2e.WaitFor(t, 10*time.Second, "B's call completed", func() bool { return callStatusOf(tp.bC, sid) == tonepay.CallCompleted })
			tp.lap("done")
		})
	}
}

// TestTwoProcPayIVR: A's call streams to a number of B's account whose
// VoiceUrl is a <Pay>: the caller pays by pressing the card on A; B's <Pay>
// reaches its action with Result=success, signed with B's token; B speaks
// <Pay>'s prompts (espeak-ng) back to A as media, which A's stream counts.
func TestTwoProcPayIVR(t *testing.T) {
	if _, ok := tts.New(tts.Config{}).Available(); !ok {
		suites.Need(t, suites.SpeechSuite, "apt-get install espeak-ng (B would speak no prompt back to A)")
	}
	tp := startTwoProcs(t)
	// The caller listens to the first prompt for a second (two waits of
	// half a second), then types every field; each key cuts the prompt
	// playing (barge-in).
	sid := tp.payIVR("ww")
	if secs := streamAudio(t, tp.aC, sid); secs <= 0 {
		t.Errorf("A's stream got %.1f s of audio from B: B's <Pay> prompts should have come back as media", secs)
	}
}

// payIVR runs a <Pay> IVR of B on A's streamed call, whose caller waits
// (lead: w for each half second) and then types every field, and checks
// that it succeeds and that both calls end; it returns the CallSid.
func (tp *twoProcs) payIVR(lead string) string {
	t := tp.t
	t.Helper()
	ctx := context.Background()
	app := e2e.NewApp(t, tp.bToken, map[string]string{
		"/pay":  `<Response><Pay chargeAmount="10.00" action="/paid"/></Response>`,
		"/paid": `<Response><Hangup/></Response>`,
	})
	if _, err := tp.bTw.CreateIncomingPhoneNumber((&api.CreateIncomingPhoneNumberParams{}).SetPhoneNumber("+15005550007").SetVoiceUrl(app.Page("/pay"))); err != nil {
		t.Fatal(err)
	}
	sid := tp.call(tp.connectTwiML("+15005550007"))
	e2e.WaitFor(t, 15*time.Second, "B fetched the number's TwiML", func() bool { return len(app.Requests()) > 0 })
	if r := app.Requests()[0]; r.Params.Get("CallSid") != sid || r.Params.Get("To") != "+15005550007" || r.Params.Get("From") != "+15005550001" {
		t.Errorf("B's first request %v", r.Params)
	}
	keys := lead
	for _, f := range twoProcFields {
		keys += f.keys
	}
	if _, err := tp.aC.Press(ctx, sid, keys); err != nil {
		t.Errorf("the caller's keys: %v", err) // the call may have ended: the action says why
	}
	var paid e2e.AppRequest
	e2e.WaitFor(t, 30*time.Second, "B's <Pay> action", func() bool {
		for _, r := range app.Requests() {
			if r.Path == "/paid" {
				paid = r
				return true
			}
		}
		return false
	})
	tp.lap("<Pay> action " + paid.Params.Get("Result"))
	if paid.Params.Get("Result") != "success" || paid.Params.Get("CallSid") != sid || paid.Params.Get("PaymentCardNumber") != "xxxxxxxxxxxx4242" || paid.Params.Get("PaymentConfirmationCode") == "" {
		t.Errorf("action %v", paid.Params)
	}
	app.CheckSigned()
	// /paid hangs up on B: B closes the stream, A's <Connect> ends and, with
	// no verb after it, so does A's call.
	e2e.WaitFor(t, 10*time.Second, "B's call completed", func() bool { return callStatusOf(tp.bC, sid) == tonepay.CallCompleted })
	e2e.WaitFor(t, 10*time.Second, "A's call completed", func() bool { return callStatusOf(tp.aC, sid) == tonepay.CallCompleted })
	tp.lap("both calls completed")
	return sid
}

// TestTwoProcPayAfterPrompt: a caller who hears <Pay>'s whole first prompt
// and starts typing 3 s later (within <Pay>'s 5 s timeout, which on
// Twilio starts when the prompt ends) pays.
// B runs with the default --voice-time simulated: a real caller's prompts
// take real time all the same (voice.State.Live).
func TestTwoProcPayAfterPrompt(t *testing.T) {
	speech := tts.New(tts.Config{})
	if _, ok := speech.Available(); !ok {
		suites.Need(t, suites.SpeechSuite, "apt-get install espeak-ng")
	}
	prompt, err := speech.Speak(context.Background(), "Please enter your card number, followed by the pound key.", "", "")
	if err != nil {
		t.Fatal(err)
	}
	waits := int((float64(len(prompt))/8000+3)*2) + 1 // half seconds: the prompt, then 3 s
	tp := startTwoProcs(t)
	tp.payIVR(strings.Repeat("w", waits))
}

// streamEnd matches the timeline row of a sent stream's end (calls/stream.go).
var streamEnd = regexp.MustCompile(`^ended MZ[0-9a-f]{32}: (\w+); ([0-9.]+) s of audio from the app$`)

// streamAudio is how many seconds of audio A's stream of the call got from
// the app (B), from the row its end put on A's timeline.
func streamAudio(t *testing.T, a *client.Client, callSid string) float64 {
	t.Helper()
	var row string
	e2e.WaitFor(t, 10*time.Second, "the stream's end on A's timeline", func() bool {
		a.EachEntry(context.Background(), callSid, func(e client.Entry) {
			if e.Kind == "stream" && streamEnd.MatchString(e.Text) {
				row = e.Text
			}
		})
		return row != ""
	})
	t.Logf("A's timeline: %s", row)
	secs, _ := strconv.ParseFloat(streamEnd.FindStringSubmatch(row)[2], 64)
	return secs
}

// TestTwoProcGoodbyeHeard: B's TwiML says goodbye and hangs up
// (<Say>…</Say><Hangup/>): the caller on A hears the whole goodbye before
// B closes the stream, as a Twilio caller hears a <Say> before <Hangup>.
func TestTwoProcGoodbyeHeard(t *testing.T) {
	speech := tts.New(tts.Config{})
	if _, ok := speech.Available(); !ok {
		suites.Need(t, suites.SpeechSuite, "apt-get install espeak-ng (B would send no audio)")
	}
	tp := startTwoProcs(t)
	ctx := context.Background()
	const goodbye = "Thank you for calling Acme billing. Goodbye."
	app := e2e.NewApp(t, tp.bToken, map[string]string{"/bye": `<Response><Say>` + goodbye + `</Say><Hangup/></Response>`})
	if _, err := tp.bTw.CreateIncomingPhoneNumber((&api.CreateIncomingPhoneNumberParams{}).SetPhoneNumber("+15005550007").SetVoiceUrl(app.Page("/bye"))); err != nil {
		t.Fatal(err)
	}
	sid := tp.place(tp.connectTwiML("+15005550007"))
	e2e.WaitFor(t, 15*time.Second, "B's call completed", func() bool { return callStatusOf(tp.bC, sid) == tonepay.CallCompleted })
	e2e.WaitFor(t, 15*time.Second, "A's call completed", func() bool { return callStatusOf(tp.aC, sid) == tonepay.CallCompleted })
	// What B rendered: the same engine, with the voice and language B's
	// timeline gives the <Say>.
	var voice, lang string
	tp.bC.EachEntry(ctx, sid, func(e client.Entry) {
		if e.Kind == "say" {
			voice, lang = e.Voice, e.Language
		}
	})
	audio, err := speech.Speak(ctx, goodbye, voice, lang)
	if err != nil {
		t.Fatal(err)
	}
	want := float64(len(audio)) / 8000
	if got := streamAudio(t, tp.aC, sid); got < want-0.2 {
		t.Errorf("A heard %.1f s of B's %.1f s goodbye", got, want)
	}
}

// TestTwoProcHangUp: hanging up A's call (Calls update Status=completed on
// A) ends B's call, and the session open there ends as caller-hung-up.
func TestTwoProcHangUp(t *testing.T) {
	tp := startTwoProcs(t)
	ctx := context.Background()
	sid := tp.call(tp.connectTwiML("+15005550006"))
	rc := e2e.NewReceiver(t, tp.bToken)
	pay, err := tp.bTw.CreatePayments(sid, (&api.CreatePaymentsParams{}).SetIdempotencyKey("create").SetStatusCallback(rc.URL).SetChargeAmount(10))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tp.bTw.UpdatePayments(sid, *pay.Sid, (&api.UpdatePaymentsParams{}).SetIdempotencyKey("capture").SetStatusCallback(rc.URL).SetCapture("payment-card-number")); err != nil {
		t.Fatal(err)
	}
	if _, err := tp.aC.Press(ctx, sid, "4242"); err != nil {
		t.Fatal(err)
	}
	e2e.WaitFor(t, 10*time.Second, "four keys typed on B", func() bool {
		v, err := tp.bC.PaymentView(ctx, sid, *pay.Sid)
		return err == nil && v.Typed == 4
	})
	hung := time.Now()
	if _, err := tp.aC.UpdateCall(ctx, sid, client.CallUpdate{Status: "completed"}); err != nil {
		t.Fatal(err)
	}
	e2e.WaitFor(t, 10*time.Second, "B's call completed", func() bool { return callStatusOf(tp.bC, sid) == tonepay.CallCompleted })
	tp.lap(fmt.Sprintf("B's call completed %v after A's hang-up", time.Since(hung).Round(time.Millisecond)))
	v, err := tp.bC.PaymentView(ctx, sid, *pay.Sid)
	if err != nil || v.Status != "ended" || v.Result != tonepay.ResultHungUp {
		t.Errorf("B's session after the hang-up: %+v %v", v, err)
	}
	e2e.WaitFor(t, 10*time.Second, "the caller-hung-up callback", func() bool {
		for _, d := range rc.ForSession(*pay.Sid) {
			if d.Form.Get("Result") == tonepay.ResultHungUp {
				return d.Valid
			}
		}
		return false
	})
}
