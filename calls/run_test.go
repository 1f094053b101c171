package calls_test

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/internal/servicetest"
	"github.com/tonepay/tonepay/voice"
)

// app is a TwiML application behind the tonepay.Fetcher interface: pages
// by URL, every request recorded. (The HTTP one, with signatures checked,
// is in cmd/tonepay's end-to-end tests.)
type app struct {
	mu    sync.Mutex
	pages map[string]string // URL -> TwiML
	reqs  []*tonepay.FetchRequest
	fail  map[string]int // URL -> FetchError code
	gate  chan struct{}  // when set, every fetch waits on it (or its context)
}

func (a *app) Fetch(ctx context.Context, r *tonepay.FetchRequest) (*tonepay.FetchResponse, error) {
	a.mu.Lock()
	a.reqs = append(a.reqs, r)
	gate, page, ok, code := a.gate, a.pages[r.URL], true, a.fail[r.URL]
	if _, found := a.pages[r.URL]; !found {
		ok = false
	}
	a.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if code != 0 {
		return nil, &tonepay.FetchError{Code: code, Message: "connection refused"}
	}
	if !ok {
		return &tonepay.FetchResponse{Status: 404, ContentType: "text/html"}, nil
	}
	return &tonepay.FetchResponse{Status: 200, ContentType: "text/xml", Body: []byte(page)}, nil
}

func (a *app) requests() []*tonepay.FetchRequest {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]*tonepay.FetchRequest(nil), a.reqs...)
}

const ivr = "https://ivr.acme.io/"

func newApp(pages map[string]string) *app {
	full := map[string]string{}
	for k, v := range pages {
		full[ivr+k] = v
	}
	return &app{pages: full, fail: map[string]int{}}
}

func (f *fixture) voiceService(t *testing.T, a *app) *servicetest.Process {
	svc := f.Service()
	svc.Fetcher = a
	t.Cleanup(svc.StopCalls)
	return svc
}

func (f *fixture) placeCall(t *testing.T, svc *servicetest.Process, mod func(*tonepay.CreateCallRequest)) *tonepay.Call {
	t.Helper()
	req := &tonepay.CreateCallRequest{AccountSid: f.Acct.Sid, To: "+15005550006", From: "+15005550001", URL: ivr + "start"}
	req.StatusCallback, req.StatusCallbackEvents = "https://hooks.acme.io/progress", []string{"initiated", "ringing", "answered", "completed"}
	if mod != nil {
		mod(req)
	}
	c, err := svc.CreateCall(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// timeline returns the call's entries as "kind:text" (or kind:url for fetches).
func (f *fixture) timeline(t *testing.T, callSid string) []string {
	t.Helper()
	es, err := f.Store.FindTimeline(context.Background(), callSid, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		var v voice.Entry
		if err := json.Unmarshal(e.Entry, &v); err != nil {
			t.Fatal(err)
		}
		s := v.Kind + ":" + v.Text
		if v.Kind == "fetch" {
			s = v.Kind + ":" + strings.TrimPrefix(v.URL, ivr)
		}
		if v.Code != 0 {
			s += " " + itoa(v.Code)
		}
		out = append(out, s)
	}
	return out
}

func itoa(n int) string {
	return strings.TrimSpace(strings.Repeat(" ", 0) + json.Number(jsonInt(n)).String())
}
func jsonInt(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func (f *fixture) callStatus(t *testing.T, sid string) *tonepay.Call {
	t.Helper()
	c, err := f.Store.FindCall(context.Background(), sid)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func has(list []string, want ...string) bool {
	i := 0
	for _, s := range list {
		if i < len(want) && s == want[i] {
			i++
		}
	}
	return i == len(want)
}

func TestCallRunsItsTwiml(t *testing.T) {
	f := newFixture(t)
	a := newApp(map[string]string{
		"start": `<Response><Say>Welcome</Say><Gather numDigits="1" action="menu"><Say>Press 1</Say></Gather><Say>Bye</Say></Response>`,
		"menu":  `<Response><Say>You chose well</Say><Redirect method="GET">end</Redirect></Response>`,
		"end":   `<Response><Hangup/></Response>`,
	})
	svc := f.voiceService(t, a)
	call := f.placeCall(t, svc, nil)
	if call.Status != tonepay.CallInProgress {
		t.Fatalf("status after create %q", call.Status)
	}
	// The create answered once the call waits in the Gather.
	if tl := f.timeline(t, call.Sid); !has(tl, "fetch:start", "say:Welcome", "verb:", "say:Press 1") || has(tl, "say:Bye") {
		t.Fatalf("timeline after create: %q", tl)
	}
	p, err := svc.Keypad(context.Background(), f.Acct.Sid, call.Sid, "1")
	if err != nil || p.Applied != 1 {
		t.Fatalf("press: %+v %v", p, err)
	}
	reqs := a.requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want start, menu, end", len(reqs))
	}
	menu := reqs[1]
	if menu.URL != ivr+"menu" || menu.Method != "POST" || menu.Params.Get("Digits") != "1" || menu.Params.Get("FinishedOnKey") != "" ||
		menu.Params.Get("CallSid") != call.Sid || menu.Params.Get("AccountSid") != f.Acct.Sid || menu.Params.Get("CallStatus") != "in-progress" ||
		menu.Params.Get("Direction") != "outbound-api" || menu.AccountSid != f.Acct.Sid {
		t.Errorf("action request %+v", menu)
	}
	if reqs[2].Method != "GET" || reqs[2].Params.Get("Digits") != "" {
		t.Errorf("redirect %+v", reqs[2])
	}
	c := f.callStatus(t, call.Sid)
	if c.Status != tonepay.CallCompleted || c.EndTime.IsZero() {
		t.Errorf("call after hang-up: %q end %v", c.Status, c.EndTime)
	}
	if tl := f.timeline(t, call.Sid); !has(tl, "key:1", "fetch:menu", "say:You chose well", "fetch:end", "verb:", "hangup:completed") {
		t.Errorf("timeline %q", tl)
	}
	// Progress: initiated, ringing, answered, completed, numbered from 0,
	// on the call's own chain in the outbox.
	cbs, err := f.Store.FindCallbacks(context.Background(), call.Sid)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i, cb := range cbs {
		got = append(got, cb.Form.Get("CallStatus"))
		if cb.Form.Get("SequenceNumber") != itoa(i) || cb.Form.Get("CallbackSource") != "call-progress-events" || cb.URL != "https://hooks.acme.io/progress" {
			t.Errorf("callback %d: %v", i, cb.Form)
		}
		if _, err := time.Parse(time.RFC1123Z, cb.Form.Get("Timestamp")); err != nil {
			t.Errorf("Timestamp %q", cb.Form.Get("Timestamp"))
		}
	}
	if strings.Join(got, " ") != "initiated ringing in-progress completed" {
		t.Errorf("progress %q", got)
	}
	if last := cbs[len(cbs)-1].Form; last.Get("CallDuration") != "0" || last.Get("Duration") != "0" && last.Get("Duration") != "1" {
		t.Errorf("completed callback %v", last)
	}
}

// TestKeysOneDoor: a key goes to the Gather listening, to the agent's
// session while it captures a field (and never to the app, and masked in
// the timeline), and is dropped when nobody listens.
func TestKeysOneDoor(t *testing.T) {
	f := newFixture(t)
	a := newApp(map[string]string{
		"start": `<Response><Gather action="pin" finishOnKey="#" timeout="30"><Say>PIN then hash</Say></Gather></Response>`,
		"pin":   `<Response><Dial>+15550001111</Dial></Response>`,
	})
	svc := f.voiceService(t, a)
	call := f.placeCall(t, svc, nil)
	f.Call = call
	// The agent opens a payment while the caller is in the Gather and
	// captures the card: the Gather gets none of it.
	p := tonepay.Params{PaymentMethod: tonepay.CreditCard, Currency: "USD", PaymentConnector: "Default",
		SecurityCode: true, Timeout: 5, ValidCardTypes: []string{"visa"}, Input: "dtmf"}
	ans, err := svc.CreateSession(context.Background(), &tonepay.CreateRequest{AccountSid: f.Acct.Sid, CallSid: call.Sid, Params: p,
		ChargeAmount: "10.00", StatusCallback: "https://example.com/cb"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.UpdateSession(context.Background(), &tonepay.UpdateRequest{AccountSid: f.Acct.Sid, CallSid: call.Sid, Sid: ans.Sid, Capture: tonepay.FieldCardNumber}); err != nil {
		t.Fatal(err)
	}
	if pr, err := svc.Keypad(context.Background(), f.Acct.Sid, call.Sid, "4242424242424242#"); err != nil || pr.Applied != 17 {
		t.Fatalf("card: %+v %v", pr, err)
	}
	if n := len(a.requests()); n != 1 {
		t.Fatalf("the app got %d requests, want only the first", n)
	}
	// Not capturing now: the Gather takes the next keys.
	if pr, err := svc.Keypad(context.Background(), f.Acct.Sid, call.Sid, "77#"); err != nil || pr.Applied != 3 {
		t.Fatalf("pin: %+v %v", pr, err)
	}
	reqs := a.requests()
	if len(reqs) != 2 || reqs[1].Params.Get("Digits") != "77" || reqs[1].Params.Get("FinishedOnKey") != "#" {
		t.Fatalf("pin request %+v", reqs[len(reqs)-1])
	}
	// Parked in the Dial: keys go to the session (not capturing: dropped).
	if pr, err := svc.Keypad(context.Background(), f.Acct.Sid, call.Sid, "5"); err != nil || pr.Dropped != 1 {
		t.Fatalf("in Dial: %+v %v", pr, err)
	}
	tl := strings.Join(f.timeline(t, call.Sid), " ")
	if strings.Contains(tl, "4242") || !strings.Contains(tl, "key:"+strings.Repeat("*", 17)) {
		t.Errorf("card keys in the timeline: %s", tl)
	}
	for _, e := range storedEntries(t, f, call.Sid) {
		if strings.Contains(string(e), "42424242") {
			t.Errorf("stored entry %s", e)
		}
	}
}

func storedEntries(t *testing.T, f *fixture, sid string) [][]byte {
	es, err := f.Store.FindTimeline(context.Background(), sid, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, e := range es {
		out = append(out, e.Entry)
	}
	return out
}

// TestCallRestart: a restarted process continues a call parked in a Gather
// (the key reaches the action), times out a Gather whose timer died with
// the process, and repeats a fetch that was in flight.
func TestCallRestart(t *testing.T) {
	f := newFixture(t)
	pages := map[string]string{
		"start":  `<Response><Gather numDigits="2" action="got" timeout="5"><Say>Two digits</Say></Gather><Say>Nothing?</Say><Redirect>start2</Redirect></Response>`,
		"got":    `<Response><Say>Thanks</Say><Pause length="60"/></Response>`,
		"start2": `<Response><Gather numDigits="1" action="got"/></Response>`,
	}
	a := newApp(pages)
	old := f.voiceService(t, a)
	call := f.placeCall(t, old, nil)
	if _, err := old.Keypad(context.Background(), f.Acct.Sid, call.Sid, "4"); err != nil {
		t.Fatal(err)
	}
	old.StopCalls() // the process dies with its timers
	// A new process: the second key completes the Gather the first began.
	svc := f.voiceService(t, a)
	if _, err := svc.Keypad(context.Background(), f.Acct.Sid, call.Sid, "2"); err != nil {
		t.Fatal(err)
	}
	reqs := a.requests()
	if got := reqs[len(reqs)-1]; got.URL != ivr+"got" || got.Params.Get("Digits") != "42" {
		t.Fatalf("after restart: %+v", got)
	}

	// A second call's Gather times out through the sweeper, not a timer.
	call2 := f.placeCall(t, svc, nil)
	f.Clock.Add(5*time.Second + time.Second + time.Millisecond)
	if n, err := svc.SweepCalls(context.Background(), false); err != nil || n != 1 {
		t.Fatalf("sweep: %d %v", n, err)
	}
	if tl := f.timeline(t, call2.Sid); !has(tl, "say:Two digits", "verb:ended: Digits= FinishedOnKey=", "say:Nothing?", "fetch:start2") {
		t.Fatalf("timeout after restart: %q", tl)
	}

	// A fetch in flight when the process died is repeated by the next one.
	a2 := newApp(pages)
	a2.gate = make(chan struct{})
	dying := f.voiceService(t, a2)
	done := make(chan *tonepay.Call)
	go func() {
		c, _ := dying.CreateCall(context.Background(), &tonepay.CreateCallRequest{AccountSid: f.Acct.Sid, To: "+1", From: "+2", URL: ivr + "start"})
		done <- c
	}()
	for len(a2.requests()) == 0 {
		time.Sleep(time.Millisecond)
	}
	dying.StopCalls() // the fetch's context ends with the process
	<-done
	a2.mu.Lock()
	a2.gate = nil
	a2.mu.Unlock()
	next := f.voiceService(t, a2)
	if _, err := next.SweepCalls(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	if n := len(a2.requests()); n != 2 {
		t.Fatalf("%d fetches, want the lost one repeated once", n)
	}
	es, _ := f.Store.FindCalls(context.Background(), tonepay.CallFilter{AccountSid: f.Acct.Sid, To: "+1", Limit: 10})
	if len(es) != 1 || !has(f.timeline(t, es[0].Sid), "fetch:start", "fetch:start", "say:Two digits") {
		t.Fatalf("repeated fetch: %q", f.timeline(t, es[0].Sid))
	}
}

// TestCallHolds: a call whose Url is on a reserved example domain, or whose
// first document is empty, holds: nothing is fetched, keys go to the
// session, and it ends when hung up, with its progress callback.
func TestCallHolds(t *testing.T) {
	for _, mod := range []func(*tonepay.CreateCallRequest){
		func(r *tonepay.CreateCallRequest) { r.URL = "https://example.com/twiml" },
		func(r *tonepay.CreateCallRequest) { r.URL, r.Twiml = "", "<Response/>" },
	} {
		f := newFixture(t)
		a := newApp(nil)
		svc := f.voiceService(t, a)
		call := f.placeCall(t, svc, mod)
		if len(a.requests()) != 0 || f.callStatus(t, call.Sid).Status != tonepay.CallInProgress {
			t.Fatalf("held call: %d requests, status %q", len(a.requests()), f.callStatus(t, call.Sid).Status)
		}
		if p, err := svc.Keypad(context.Background(), f.Acct.Sid, call.Sid, "12"); err != nil || p.Dropped != 2 {
			t.Fatalf("press %+v %v", p, err)
		}
		if _, err := svc.HangUp(context.Background(), f.Acct.Sid, call.Sid); err != nil {
			t.Fatal(err)
		}
		if c := f.callStatus(t, call.Sid); c.Status != tonepay.CallCompleted {
			t.Fatalf("after hang-up %q", c.Status)
		}
		cbs, _ := f.Store.FindCallbacks(context.Background(), call.Sid)
		if len(cbs) != 4 || cbs[3].Form.Get("CallStatus") != "completed" {
			t.Fatalf("progress %d", len(cbs))
		}
	}
}

// TestCallUpdateAndErrors: an update interrupts the Gather; a document that
// cannot be fetched ends the call with the stock message and Twilio's code,
// after trying the FallbackUrl once.
func TestCallUpdateAndErrors(t *testing.T) {
	f := newFixture(t)
	a := newApp(map[string]string{
		"start": `<Response><Gather timeout="60"><Say>Waiting</Say></Gather></Response>`,
		"next":  `<Response><Say>Redirected</Say><Pause length="60"/></Response>`,
		"fb":    `<Response><Say>Fallback speaking</Say></Response>`,
	})
	a.fail[ivr+"down"] = tonepay.CodeHTTPConnection
	svc := f.voiceService(t, a)
	call := f.placeCall(t, svc, nil)
	u := ivr + "next"
	if _, err := svc.UpdateCall(context.Background(), &tonepay.UpdateCallRequest{AccountSid: f.Acct.Sid, Sid: call.Sid, URL: &u}); err != nil {
		t.Fatal(err)
	}
	if tl := f.timeline(t, call.Sid); !has(tl, "say:Waiting", "verb:", "fetch:next", "say:Redirected") {
		t.Fatalf("update: %q", tl)
	}

	for _, tt := range []struct {
		name     string
		fallback string
		want     []string
		code     int
	}{
		{"no fallback", "", []string{"fetch:down", "error:connection refused 11205", "say:" + voice.StockMessage, "hangup:completed 11205"}, 11205},
		{"fallback", ivr + "fb", []string{"fetch:down", "error:connection refused 11205", "fetch:fb", "say:Fallback speaking", "hangup:completed"}, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := f.placeCall(t, svc, func(r *tonepay.CreateCallRequest) { r.URL, r.FallbackURL = ivr+"down", tt.fallback })
			if tl := f.timeline(t, c.Sid); !has(tl, tt.want...) {
				t.Errorf("timeline %q", tl)
			}
			if c.Status != tonepay.CallCompleted {
				t.Errorf("status %q", c.Status)
			}
			reqs := a.requests()
			if last := reqs[len(reqs)-1]; tt.fallback != "" && (last.Params.Get("ErrorCode") != "11205" || last.Params.Get("ErrorUrl") != ivr+"down") {
				t.Errorf("fallback request %v", last.Params)
			}
		})
	}
	_ = url.Values{}
}

// TestPayPromptInRealTime: with speech on the clock, a <Pay> session's wait
// for the first digit starts after the prompt, not while it is still heard.
func TestPayPromptInRealTime(t *testing.T) {
	f := newFixture(t)
	words := strings.Repeat("please ", 20) // 20 words: 8 s at 150 a minute
	a := newApp(map[string]string{"start": `<Response><Pay timeout="2" chargeAmount="1"><Prompt for="payment-card-number"><Say>` + words + `</Say></Prompt></Pay></Response>`})
	svc := f.voiceService(t, a)
	svc.Voice = voice.Engine{SpeechRate: voice.RealSpeechRate}
	call := f.placeCall(t, svc, nil)
	s, err := f.Store.FindOpenSession(context.Background(), call.Sid)
	if err != nil {
		t.Fatal(err)
	}
	if want := f.Clock.Now().Add(8*time.Second + 2*time.Second); !s.Params.Verb || s.Deadline.Before(want) {
		t.Fatalf("verb %v, first-digit deadline %v, want at least %v", s.Params.Verb, s.Deadline, want)
	}
}

// TestResumeOnce: two processes sweeping the same lost fetch repeat it once:
// the first claims it (a new deadline), the second finds it no longer due.
func TestResumeOnce(t *testing.T) {
	f := newFixture(t)
	a := newApp(map[string]string{"start": `<Response><Gather timeout="60"><Say>Hi</Say></Gather></Response>`})
	a.gate = make(chan struct{})
	dying := f.voiceService(t, a)
	go dying.CreateCall(context.Background(), &tonepay.CreateCallRequest{AccountSid: f.Acct.Sid, To: "+1", From: "+2", URL: ivr + "start"})
	for len(a.requests()) == 0 {
		time.Sleep(time.Millisecond)
	}
	dying.StopCalls()
	a.mu.Lock()
	a.gate = nil
	a.mu.Unlock()
	f.Clock.Add(25 * time.Second) // past the fetch's deadline
	one, two := f.voiceService(t, a), f.voiceService(t, a)
	var wg sync.WaitGroup
	for _, svc := range []*servicetest.Process{one, two} {
		wg.Go(func() { svc.SweepCalls(context.Background(), false) })
	}
	wg.Wait()
	if n := len(a.requests()); n != 2 {
		t.Fatalf("%d fetches, want the lost one and one repeat", n)
	}
}

// TestPressTimeline: what Press leaves on the call's timeline. Keys that no
// <Gather> takes are a masked count (one row per burst of keys), never the
// keys: on a held call, before the agent's Capture, between an agent's
// fields, while a <Pay> processes. While a session is open, a Gather's keys
// and its end are masked too (its app still gets them). A Gather's keys with
// no session open are shown. No stored entry holds a digit typed for a card.
func TestPressTimeline(t *testing.T) {
	const card = "4111111111111111"
	agent := func(t *testing.T, f *fixture, svc *servicetest.Process, call string) string {
		t.Helper()
		p := tonepay.Params{PaymentMethod: tonepay.CreditCard, Currency: "USD", PaymentConnector: "Default",
			SecurityCode: true, Timeout: 5, ValidCardTypes: []string{"visa"}, Input: "dtmf"}
		ans, err := svc.CreateSession(context.Background(), &tonepay.CreateRequest{AccountSid: f.Acct.Sid, CallSid: call, Params: p,
			ChargeAmount: "10.00", StatusCallback: "https://example.com/cb"})
		if err != nil {
			t.Fatal(err)
		}
		return ans.Sid
	}
	capture := func(t *testing.T, f *fixture, svc *servicetest.Process, call, pk string, field tonepay.Field) {
		t.Helper()
		if _, err := svc.UpdateSession(context.Background(), &tonepay.UpdateRequest{AccountSid: f.Acct.Sid, CallSid: call, Sid: pk, Capture: field}); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name  string
		pages map[string]string // the app; nil: the call holds (example.com)
		play  func(t *testing.T, f *fixture, svc *servicetest.Process, call string, press func(keys string, applied, dropped int))
		want  []string // key entries and a Gather's end: text, then " masked" when masked
		got   string   // Digits of the app's last request; "" none
	}{
		{"held call, no session", nil, func(t *testing.T, f *fixture, svc *servicetest.Process, call string, press func(string, int, int)) {
			press(card+"#", 0, 17)
		}, []string{strings.Repeat("*", 17) + " masked"}, ""},
		{"held call: before the agent's Capture and between fields", nil, func(t *testing.T, f *fixture, svc *servicetest.Process, call string, press func(string, int, int)) {
			pk := agent(t, f, svc, call)
			press(card+"#", 0, 17) // before Capture
			capture(t, f, svc, call, pk, tonepay.FieldCardNumber)
			press(card+"#", 17, 0)
			press("1230", 0, 4) // between fields
			capture(t, f, svc, call, pk, tonepay.FieldExpiration)
			press("1230", 4, 0)
			press("604", 0, 3)
		}, []string{"***************** masked", "***************** masked", "**** masked", "**** masked", "*** masked"}, ""},
		{"gather, no session: shown", map[string]string{
			"start": `<Response><Gather finishOnKey="#" action="got"><Say>Account number</Say></Gather></Response>`,
			"got":   `<Response><Pause length="60"/></Response>`,
		}, func(t *testing.T, f *fixture, svc *servicetest.Process, call string, press func(string, int, int)) {
			press("12#", 3, 0)
		}, []string{"1", "2", "#", "ended: Digits=12 FinishedOnKey=#"}, "12"},
		{"gather, session open: masked", map[string]string{
			"start": `<Response><Gather finishOnKey="#" action="got"><Say>Account number</Say></Gather></Response>`,
			"got":   `<Response><Pause length="60"/></Response>`,
		}, func(t *testing.T, f *fixture, svc *servicetest.Process, call string, press func(string, int, int)) {
			agent(t, f, svc, call)
			press(card+"#", 17, 0)
		}, []string{"***************** masked", "ended: Digits=**************** FinishedOnKey=# masked"}, card},
		{"pause, then a <Pay> processing", map[string]string{
			"start": `<Response><Say>Please hold</Say><Pause length="60"/></Response>`,
			"pay":   `<Response><Pay chargeAmount="1.00" postalCode="false" timeout="30" action="paid"/></Response>`,
			"paid":  `<Response><Pause length="60"/></Response>`,
		}, func(t *testing.T, f *fixture, svc *servicetest.Process, call string, press func(string, int, int)) {
			press(card+"#", 0, 17) // in the Pause: nobody listens
			u := ivr + "pay"
			if _, err := svc.UpdateCall(context.Background(), &tonepay.UpdateCallRequest{AccountSid: f.Acct.Sid, Sid: call, URL: &u}); err != nil {
				t.Fatal(err)
			}
			f.Conn.Gate = make(chan struct{})
			press(card+"#", 17, 0)
			press("1230604", 7, 0)
			if s, err := f.Store.FindOpenSession(context.Background(), call); err != nil || s.Status != tonepay.SessionProcessing || s.State.Capture != "" {
				t.Fatalf("the <Pay> session: %+v %v, want processing", s, err)
			}
			press(card+"#", 0, 17) // while it processes
			close(f.Conn.Gate)
			svc.Wait()
		}, []string{"***************** masked", "***************** masked", "******* masked", "***************** masked"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			a := newApp(tt.pages)
			svc := f.voiceService(t, a)
			call := f.placeCall(t, svc, func(r *tonepay.CreateCallRequest) {
				if tt.pages == nil {
					r.URL = "https://example.com/twiml"
				}
			})
			press := func(keys string, applied, dropped int) {
				t.Helper()
				p, err := svc.Keypad(context.Background(), f.Acct.Sid, call.Sid, keys)
				if err != nil || p.Applied != applied || p.Dropped != dropped {
					t.Fatalf("press %d keys: %+v %v, want applied %d dropped %d; timeline %q", len(keys), p, err, applied, dropped, f.timeline(t, call.Sid))
				}
			}
			tt.play(t, f, svc, call.Sid, press)
			var got []string
			for _, b := range storedEntries(t, f, call.Sid) {
				var e voice.Entry
				if err := json.Unmarshal(b, &e); err != nil {
					t.Fatal(err)
				}
				if e.Kind == "key" || e.Kind == "verb" && e.Verb == "Gather" && strings.HasPrefix(e.Text, "ended:") {
					if e.Masked {
						e.Text += " masked"
					}
					got = append(got, e.Text)
				}
				for _, s := range []string{"4111", "1230", "604"} {
					if strings.Contains(e.Text, s) {
						t.Errorf("entry %s holds %s", b, s)
					}
				}
			}
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("timeline %q, want %q", got, tt.want)
			}
			if reqs := a.requests(); tt.got != "" && (len(reqs) == 0 || reqs[len(reqs)-1].Params.Get("Digits") != tt.got) {
				t.Errorf("the app's requests %+v, want the last with Digits %q", reqs, tt.got)
			}
		})
	}
}

// TestAppErrorHook: each error a call's app causes reaches AppError once,
// with its code and the URL asked: no answer, a 404, a document that does
// not parse; a call whose app works reports nothing.
func TestAppErrorHook(t *testing.T) {
	f := newFixture(t)
	a := newApp(map[string]string{
		"start": `<Response><Pause length="60"/></Response>`,
		"bad":   `<Response><Say>unclosed</Response>`,
	})
	a.fail[ivr+"down"] = tonepay.CodeHTTPConnection
	svc := f.voiceService(t, a)
	var mu sync.Mutex
	var got []string
	svc.AppError = func(callSid string, code int, url string) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, callSid+" "+itoa(code)+" "+url)
	}
	for _, tt := range []struct{ path, want string }{
		{"start", ""},
		{"down", "11205 " + ivr + "down"},
		{"missing", "11200 " + ivr + "missing"},
		{"bad", "12100 " + ivr + "bad"},
	} {
		mu.Lock()
		got = nil
		mu.Unlock()
		c := f.placeCall(t, svc, func(r *tonepay.CreateCallRequest) { r.URL = ivr + tt.path })
		mu.Lock()
		var want []string
		if tt.want != "" {
			want = []string{c.Sid + " " + tt.want}
		}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("%s: AppError got %q, want %q", tt.path, got, want)
		}
		mu.Unlock()
	}
}

// warnApp is app whose fetches of a URL with a fragment carry a warning (as
// the webhook Fetcher's do for a connection override it ignored), and which
// records the calls it is told have ended.
type warnApp struct {
	*app
	mu    sync.Mutex
	ended []string
}

func (w *warnApp) Fetch(ctx context.Context, r *tonepay.FetchRequest) (*tonepay.FetchResponse, error) {
	res, err := w.app.Fetch(ctx, r)
	if _, frag, ok := strings.Cut(r.URL, "#"); ok && err == nil {
		res.Warnings = []string{"ignored " + frag}
	}
	return res, err
}

func (w *warnApp) CallEnded(account, call string) {
	w.mu.Lock()
	w.ended = append(w.ended, account+"/"+call)
	w.mu.Unlock()
}

// TestCallFetchWarningsAndEnd: a fetch's warnings go on the timeline before
// what its document did; every fetch names its call (its cookies); the
// Fetcher is told once the call has ended, after its last request.
func TestCallFetchWarningsAndEnd(t *testing.T) {
	f := newFixture(t)
	w := &warnApp{app: newApp(map[string]string{
		"start":        `<Response><Say>Hi</Say><Redirect>next#rt=fast</Redirect></Response>`,
		"next#rt=fast": `<Response><Say>Bye</Say></Response>`,
	})}
	svc := f.Service()
	svc.Fetcher = w
	t.Cleanup(svc.StopCalls)
	call := f.placeCall(t, svc, nil)
	if st := f.callStatus(t, call.Sid).Status; st != tonepay.CallCompleted {
		t.Fatalf("status %q", st)
	}
	if tl := f.timeline(t, call.Sid); !has(tl, "say:Hi", "warning:ignored rt=fast", "say:Bye") {
		t.Errorf("timeline %q", tl)
	}
	for _, r := range w.requests() {
		if r.CallSid != call.Sid {
			t.Errorf("request %s for call %q, want %s", r.URL, r.CallSid, call.Sid)
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if want := f.Acct.Sid + "/" + call.Sid; len(w.ended) != 1 || w.ended[0] != want {
		t.Errorf("ended %q, want [%s]", w.ended, want)
	}
}
