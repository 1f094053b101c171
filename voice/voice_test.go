package voice

import (
	"encoding/json"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tonepay/tonepay"
)

var t0 = time.Date(2026, 11, 23, 1, 2, 3, 0, time.UTC)

const base = "https://ivr.acme.io/ivr/"

// page is a document the test app serves.
type page struct {
	status int
	ct     string
	body   string
}

func xmlPage(body string) page { return page{200, "text/xml; charset=utf-8", body} }

// step is one input at an offset from t0, and what it must cause.
type step struct {
	at    time.Duration
	in    Input  // Kind 0 with keys: one Key input per key
	keys  string // Key inputs; the outputs of all are checked together
	serve bool   // answer the pending fetch from the app

	fetch    string            // URL of Output.Fetch; "" none
	method   string            // its method when set
	params   map[string]string // its parameters; "-" means absent
	notify   int               // len(Output.Notify)
	wait     time.Duration     // Output.Wait.Until - t0; 0 none
	ended    string            // Output.Ended
	code     int               // State.ErrorCode after the step
	heard    []string          // say entries of the step, in order (nil: not checked)
	unrouted string            // keys returned as not for a Gather
}

func newCall(mod func(s *State)) *State {
	s := &State{AccountSid: "AC00000000000000000000000000000001", CallSid: "CA00000000000000000000000000000001",
		From: "+15550001111", To: "+15550002222", Direction: "outbound-api", URL: base + "start"}
	if mod != nil {
		mod(s)
	}
	return s
}

func play(t *testing.T, e Engine, s *State, app map[string]page, steps []step) {
	t.Helper()
	for i, st := range steps {
		now := t0.Add(st.at)
		var ins []Input
		switch {
		case st.keys != "":
			for j := 0; j < len(st.keys); j++ {
				ins = append(ins, Input{Kind: Key, Key: st.keys[j]})
			}
		case st.serve:
			if s.Fetch == nil {
				t.Fatalf("step %d: nothing to serve", i)
			}
			p, ok := app[s.Fetch.URL]
			if !ok {
				p = page{404, "text/html", "not found"}
			}
			ins = []Input{{Kind: Fetched, Seq: s.Fetch.Seq, Status: p.status, ContentType: p.ct, Body: []byte(p.body)}}
		default:
			in := st.in
			if (in.Kind == Fetched || in.Kind == FetchFailed) && in.Seq == 0 && s.Fetch != nil {
				in.Seq = s.Fetch.Seq
			}
			ins = []Input{in}
		}
		var o Output
		var heard []string
		var unrouted string
		for _, in := range ins {
			o = e.Step(s, in, now)
			for _, en := range o.Timeline {
				if en.Kind == "say" {
					heard = append(heard, en.Text)
				}
			}
			if o.Unrouted != 0 {
				unrouted += string(o.Unrouted)
			}
		}
		got := ""
		if o.Fetch != nil {
			got = o.Fetch.URL
		}
		if got != st.fetch {
			t.Fatalf("step %d: fetch %q, want %q (timeline %+v)", i, got, st.fetch, o.Timeline)
		}
		if o.Fetch != nil {
			if st.method != "" && o.Fetch.Method != st.method {
				t.Errorf("step %d: method %s, want %s", i, o.Fetch.Method, st.method)
			}
			for k, v := range st.params {
				vs, ok := o.Fetch.Params[k]
				if v == "-" {
					if ok {
						t.Errorf("step %d: param %s=%q, want absent", i, k, vs)
					}
				} else if !ok || len(vs) != 1 || vs[0] != v {
					t.Errorf("step %d: param %s=%q, want %q", i, k, vs, v)
				}
			}
		}
		if len(o.Notify) != st.notify {
			t.Errorf("step %d: %d notify, want %d", i, len(o.Notify), st.notify)
		}
		var w time.Duration
		if o.Wait != nil {
			w = o.Wait.Until.Sub(t0)
		}
		if w != st.wait {
			t.Errorf("step %d: wait %v, want %v", i, w, st.wait)
		}
		if o.Ended != st.ended || s.ErrorCode != st.code {
			t.Errorf("step %d: ended %q code %d, want %q %d (timeline %+v)", i, o.Ended, s.ErrorCode, st.ended, st.code, o.Timeline)
		}
		if st.heard != nil && !(len(heard) == 0 && len(st.heard) == 0) && !reflect.DeepEqual(heard, st.heard) {
			t.Errorf("step %d: heard %q, want %q", i, heard, st.heard)
		}
		if unrouted != st.unrouted {
			t.Errorf("step %d: unrouted %q, want %q", i, unrouted, st.unrouted)
		}
	}
}

var (
	answer = Input{Kind: Answered}
	sec    = time.Second
)

func TestVoice(t *testing.T) {
	std := map[string]string{"AccountSid": "AC00000000000000000000000000000001", "CallSid": "CA00000000000000000000000000000001",
		"From": "+15550001111", "To": "+15550002222", "Called": "+15550002222", "Caller": "+15550001111",
		"CallStatus": "in-progress", "Direction": "outbound-api", "ApiVersion": "2010-04-01", "Digits": "-"}
	menu := xmlPage(`<Response><Gather numDigits="1" action="choice"><Say>Press 1</Say></Gather><Say>Bye</Say></Response>`)
	tests := []struct {
		name  string
		mod   func(s *State)
		app   map[string]page
		steps []step
	}{
		{"say then end of document hangs up", nil, map[string]page{base + "start": xmlPage(`<Response><Say loop="2">Hello</Say><Play>hi.mp3</Play></Response>`)},
			[]step{{in: answer, fetch: base + "start", method: "POST", params: std}, {serve: true, ended: tonepay.CallCompleted, heard: []string{"Hello"}}}},
		{"GET method on answer", func(s *State) { s.Method = "GET" }, nil,
			[]step{{in: answer, fetch: base + "start", method: "GET"}}},
		{"inline twiml fetches nothing", func(s *State) { s.URL, s.Twiml = "", `<Response><Say>Inline</Say><Hangup/><Say>never</Say></Response>` }, nil,
			[]step{{in: answer, ended: tonepay.CallCompleted, heard: []string{"Inline"}}}},
		{"pause waits on the clock", nil, map[string]page{base + "start": xmlPage(`<Response><Pause length="3"/><Say>After</Say></Response>`)},
			[]step{{in: answer, fetch: base + "start"}, {serve: true, wait: 3 * sec},
				{at: 2 * sec, in: Input{Kind: Timeout}}, // early: ignored
				{at: sec, keys: "5", unrouted: "5"},     // no Gather listens
				{at: 3 * sec, in: Input{Kind: Timeout}, ended: tonepay.CallCompleted, heard: []string{"After"}}}},
		{"gather numDigits requests action with Digits", nil, map[string]page{base + "start": menu, base + "choice": xmlPage(`<Response><Say>You chose</Say></Response>`)},
			[]step{{in: answer, fetch: base + "start"}, {serve: true, wait: 5 * sec, heard: []string{"Press 1"}},
				{at: 2 * sec, keys: "1", fetch: base + "choice", params: map[string]string{"Digits": "1", "FinishedOnKey": "", "CallStatus": "in-progress"}},
				{at: 2 * sec, serve: true, ended: tonepay.CallCompleted, heard: []string{"You chose"}}}},
		{"gather finishOnKey", nil, map[string]page{base + "start": xmlPage(`<Response><Gather timeout="3"/></Response>`)},
			[]step{{in: answer, fetch: base + "start"}, {serve: true, wait: 3 * sec},
				{at: sec, keys: "12", wait: 4 * sec},
				{at: 2 * sec, keys: "3#", fetch: base + "start", params: map[string]string{"Digits": "123", "FinishedOnKey": "#"}}}},
		{"gather finishOnKey empty: # is a digit", nil, map[string]page{base + "start": xmlPage(`<Response><Gather finishOnKey="" numDigits="3" action="/a"/></Response>`)},
			[]step{{in: answer, fetch: base + "start"}, {serve: true, wait: 5 * sec},
				{keys: "1#*", fetch: "https://ivr.acme.io/a", params: map[string]string{"Digits": "1#*"}}}},
		{"gather finishOnKey star", nil, map[string]page{base + "start": xmlPage(`<Response><Gather finishOnKey="*" action="a" method="GET"/></Response>`)},
			[]step{{in: answer, fetch: base + "start"}, {serve: true, wait: 5 * sec},
				{keys: "4#*", fetch: base + "a", method: "GET", params: map[string]string{"Digits": "4#", "FinishedOnKey": "*"}}}},
		{"gather timeout after the last key", nil, map[string]page{base + "start": xmlPage(`<Response><Gather action="a"/></Response>`)},
			[]step{{in: answer, fetch: base + "start"}, {serve: true, wait: 5 * sec},
				{at: 4 * sec, keys: "7", wait: 9 * sec},
				{at: 5 * sec, in: Input{Kind: Timeout}}, // the first timer is stale
				{at: 9 * sec, in: Input{Kind: Timeout}, fetch: base + "a", params: map[string]string{"Digits": "7", "FinishedOnKey": ""}}}},
		{"gather empty falls through to the next verb", nil, map[string]page{base + "start": menu},
			[]step{{in: answer, fetch: base + "start"}, {serve: true, wait: 5 * sec},
				{at: 5 * sec, in: Input{Kind: Timeout}, ended: tonepay.CallCompleted, heard: []string{"Bye"}}}},
		{"gather finishOnKey first is empty too", nil, map[string]page{base + "start": menu},
			[]step{{in: answer, fetch: base + "start"}, {serve: true, wait: 5 * sec},
				{keys: "#", ended: tonepay.CallCompleted, heard: []string{"Bye"}}}},
		{"gather actionOnEmptyResult requests action", nil, map[string]page{base + "start": xmlPage(`<Response><Gather actionOnEmptyResult="true" action="a"/><Say>never</Say></Response>`)},
			[]step{{in: answer, fetch: base + "start"}, {serve: true, wait: 5 * sec},
				{at: 5 * sec, in: Input{Kind: Timeout}, fetch: base + "a", params: map[string]string{"Digits": "", "FinishedOnKey": ""}}}},
		{"gather nested prompts then timeout", nil, map[string]page{base + "start": xmlPage(`<Response><Gather timeout="2"><Say>One</Say><Pause length="4"/><Play>x.wav</Play><Say>Two</Say></Gather></Response>`)},
			[]step{{in: answer, fetch: base + "start"}, {serve: true, wait: 4 * sec, heard: []string{"One"}},
				{at: 4 * sec, in: Input{Kind: Timeout}, wait: 6 * sec, heard: []string{"Two"}},
				{at: 6 * sec, in: Input{Kind: Timeout}, ended: tonepay.CallCompleted}}},
		{"gather key stops the prompts", nil, map[string]page{base + "start": xmlPage(`<Response><Gather timeout="2" action="a"><Say>One</Say><Pause length="4"/><Say>Two</Say></Gather></Response>`)},
			[]step{{in: answer, fetch: base + "start"}, {serve: true, wait: 4 * sec},
				{at: sec, keys: "9", wait: 3 * sec},
				{at: 3 * sec, in: Input{Kind: Timeout}, fetch: base + "a", params: map[string]string{"Digits": "9"}}}},
		{"gather default action is the document", nil, map[string]page{base + "start?x=1": xmlPage(`<Response><Gather numDigits="2"/></Response>`)},
			[]step{{in: Input{Kind: Update, URL: base + "start?x=1"}, fetch: base + "start?x=1"}, {serve: true, wait: 5 * sec},
				{keys: "42", fetch: base + "start?x=1", params: map[string]string{"Digits": "42"}}}},
		{"redirect follows with method", nil, map[string]page{base + "start": xmlPage(`<Response><Redirect method="GET">../next</Redirect><Say>never</Say></Response>`),
			"https://ivr.acme.io/next": xmlPage(`<Response><Say>Next</Say></Response>`)},
			[]step{{in: answer, fetch: base + "start"}, {serve: true, fetch: "https://ivr.acme.io/next", method: "GET", params: std},
				{serve: true, ended: tonepay.CallCompleted, heard: []string{"Next"}}}},
		{"hangup", nil, map[string]page{base + "start": xmlPage(`<Response><Hangup/><Say>never</Say></Response>`)},
			[]step{{in: answer, fetch: base + "start"}, {serve: true, ended: tonepay.CallCompleted, heard: []string{}}}},
		{"reject busy unanswered inbound", func(s *State) { s.Direction = "inbound" }, map[string]page{base + "start": xmlPage(`<Response><Reject reason="busy"/></Response>`)},
			[]step{{in: answer, fetch: base + "start", params: map[string]string{"CallStatus": "ringing", "Direction": "inbound"}}, {serve: true, ended: tonepay.CallBusy}}},
		{"reject rejected: no-answer", func(s *State) { s.Direction = "inbound" }, map[string]page{base + "start": xmlPage(`<Response><Reject/></Response>`)},
			[]step{{in: answer, fetch: base + "start"}, {serve: true, ended: tonepay.CallNoAnswer}}},
		{"reject after answer hangs up", func(s *State) { s.Direction = "inbound" }, map[string]page{base + "start": xmlPage(`<Response><Say>Hi</Say><Reject/></Response>`)},
			[]step{{in: answer, fetch: base + "start"}, {serve: true, ended: tonepay.CallCompleted}}},
		{"inbound action says in-progress", func(s *State) { s.Direction = "inbound" }, map[string]page{base + "start": xmlPage(`<Response><Gather numDigits="1" action="a"/></Response>`)},
			[]step{{in: answer, fetch: base + "start"}, {serve: true, wait: 5 * sec}, {keys: "1", fetch: base + "a", params: map[string]string{"CallStatus": "in-progress"}}}},
		{"dial: far end hangs up, action with DialCallStatus", nil, map[string]page{base + "start": xmlPage(`<Response><Dial action="dialed"><Number>+15553334444</Number></Dial><Say>never</Say></Response>`)},
			[]step{{in: answer, fetch: base + "start"}, {serve: true, wait: 4 * 3600 * sec},
				{at: sec, keys: "12", unrouted: "12"}, // agent-assisted Payments happen here
				{at: 65 * sec, in: Input{Kind: FarEndHangUp}, fetch: base + "dialed", params: map[string]string{"DialCallStatus": "completed", "DialCallDuration": "65", "DialBridged": "true", "Digits": "-"}}}},
		{"dial without action: next verb", nil, map[string]page{base + "start": xmlPage(`<Response><Dial>+15553334444</Dial><Say>After</Say></Response>`)},
			[]step{{in: answer, fetch: base + "start"}, {serve: true, wait: 4 * 3600 * sec}, {in: Input{Kind: FarEndHangUp}, ended: tonepay.CallCompleted, heard: []string{"After"}}}},
		{"dial: caller hangs up, action notified", nil, map[string]page{base + "start": xmlPage(`<Response><Dial action="dialed"><Client>agent</Client></Dial></Response>`)},
			[]step{{in: answer, fetch: base + "start"}, {serve: true, wait: 4 * 3600 * sec}, {at: 5 * sec, in: Input{Kind: CallerHangUp}, notify: 1, ended: tonepay.CallCompleted}}},
		{"dial: redirected, action notified then the new URL", nil, map[string]page{base + "start": xmlPage(`<Response><Dial action="dialed"><Sip>sip:a@b.example</Sip></Dial></Response>`)},
			[]step{{in: answer, fetch: base + "start"}, {serve: true, wait: 4 * 3600 * sec}, {in: Input{Kind: Update, URL: base + "other", Method: "GET"}, notify: 1, fetch: base + "other", method: "GET"}}},
		{"update with twiml interrupts a gather", nil, map[string]page{base + "start": menu},
			[]step{{in: answer, fetch: base + "start"}, {serve: true, wait: 5 * sec},
				{in: Input{Kind: Update, Twiml: `<Response><Say>Interrupted</Say></Response>`}, ended: tonepay.CallCompleted, heard: []string{"Interrupted"}}}},
		{"dial: timeLimit ends the bridge", nil, map[string]page{base + "start": xmlPage(`<Response><Dial timeLimit="30" action="dialed">+1555</Dial></Response>`)},
			[]step{{in: answer, fetch: base + "start"}, {serve: true, wait: 30 * sec},
				{at: 30 * sec, in: Input{Kind: Timeout}, fetch: base + "dialed", params: map[string]string{"DialCallStatus": "completed", "DialCallDuration": "30"}}}},
		{"dial: hangupOnStar, the caller's * drops the far end", nil, map[string]page{base + "start": xmlPage(`<Response><Dial hangupOnStar="true">+1555</Dial><Say>Back</Say><Pause length="5"/></Response>`)},
			[]step{{in: answer, fetch: base + "start"}, {serve: true, wait: 4 * 3600 * sec},
				{at: sec, keys: "1", unrouted: "1"}, {at: 2 * sec, keys: "*", heard: []string{"Back"}, wait: 7 * sec}}},
		{"sip dial: rings until answered, timeLimit from the answer", func(s *State) { s.SIPDial = true }, map[string]page{base + "start": xmlPage(`<Response><Dial action="dialed" timeout="20" timeLimit="60"><Sip>sip:agent@pbx.example</Sip></Dial></Response>`)},
			[]step{{in: answer, fetch: base + "start"}, {serve: true, wait: 20 * sec},
				{at: 3 * sec, in: Input{Kind: FarEndStatus, DialStatus: tonepay.CallInProgress}, wait: 63 * sec},
				{at: 10 * sec, in: Input{Kind: FarEndHangUp}, fetch: base + "dialed", params: map[string]string{"DialCallStatus": "completed", "DialCallDuration": "7", "DialBridged": "true"}}}},
		{"sip dial: busy ends the Dial", func(s *State) { s.SIPDial = true }, map[string]page{base + "start": xmlPage(`<Response><Dial action="dialed"><Sip>sip:agent@pbx.example</Sip></Dial></Response>`)},
			[]step{{in: answer, fetch: base + "start"}, {serve: true, wait: 30 * sec},
				{at: sec, in: Input{Kind: FarEndStatus, DialStatus: tonepay.CallBusy}, fetch: base + "dialed", params: map[string]string{"DialCallStatus": "busy", "DialCallDuration": "0", "DialBridged": "false"}}}},
		{"sip dial: nobody answers within the timeout", func(s *State) { s.SIPDial = true }, map[string]page{base + "start": xmlPage(`<Response><Dial timeout="5" action="dialed"><Sip>sip:agent@pbx.example</Sip></Dial></Response>`)},
			[]step{{in: answer, fetch: base + "start"}, {serve: true, wait: 5 * sec},
				{at: 5 * sec, in: Input{Kind: Timeout}, fetch: base + "dialed", params: map[string]string{"DialCallStatus": "no-answer"}},
				{at: 6 * sec, in: Input{Kind: FarEndStatus, DialStatus: tonepay.CallInProgress}}}}, // too late: ignored
		{"sip dial: a <Number> far end stays simulated", func(s *State) { s.SIPDial = true }, map[string]page{base + "start": xmlPage(`<Response><Dial timeLimit="30">+15553334444</Dial></Response>`)},
			[]step{{in: answer, fetch: base + "start"}, {serve: true, wait: 30 * sec}}},
		{"connect parks like dial", nil, map[string]page{base + "start": xmlPage(`<Response><Connect action="after"><Stream url="wss://s.example/x"/></Connect></Response>`)},
			[]step{{in: answer, fetch: base + "start"}, {serve: true}, {in: Input{Kind: FarEndHangUp}, fetch: base + "after", params: map[string]string{"DialCallStatus": "-"}}}},
		{"pay with a bad attribute ends at once: validation-error to the action", nil, map[string]page{base + "start": xmlPage(`<Response><Pay chargeAmount="-0.5" action="paid"/></Response>`)},
			[]step{{in: answer, fetch: base + "start"}, {serve: true, fetch: base + "paid", method: "POST",
				params: map[string]string{"Result": "validation-error", "PaymentError": "chargeAmount='-0.5' (not a number between 0.00 - 1,000,000.00)", "PayErrorCode": "64003"}}}},
		{"pay with a bad attribute and no action: next verb", nil, map[string]page{base + "start": xmlPage(`<Response><Pay tokenType="forever"/><Say>After</Say></Response>`)},
			[]step{{in: answer, fetch: base + "start"}, {serve: true, ended: tonepay.CallCompleted, heard: []string{"After"}}}},
		{"caller hangs up in a gather", nil, map[string]page{base + "start": menu},
			[]step{{in: answer, fetch: base + "start"}, {serve: true, wait: 5 * sec}, {in: Input{Kind: CallerHangUp}, ended: tonepay.CallCompleted},
				{keys: "1", unrouted: "1"}, {at: 5 * sec, in: Input{Kind: Timeout}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { play(t, Engine{}, newCall(tt.mod), tt.app, tt.steps) })
	}
}

func TestVoiceErrors(t *testing.T) {
	tests := []struct {
		name string
		p    page
		in   *Input // instead of serving p
		code int
	}{
		{"404", page{404, "text/html", "nope"}, nil, CodeHTTPRetrieval},
		{"500", page{500, "text/xml", "<Response/>"}, nil, CodeHTTPRetrieval},
		{"no content type", page{200, "", "<Response/>"}, nil, CodeHTTPRetrieval},
		{"json", page{200, "application/json", `{"a":1}`}, nil, CodeContentType},
		{"malformed", xmlPage(`<Response><Say>`), nil, CodeParse},
		{"wrong root", xmlPage(`<Say>x</Say>`), nil, CodeRoot},
		{"unknown verb", xmlPage(`<Response><Record/></Response>`), nil, CodeSchema},
		{"bad attribute Twilio fails", xmlPage(`<Response><Gather actionOnEmptyResult="x"/></Response>`), nil, 13338},
		{"empty", xmlPage(""), nil, CodeEmptyBody},
		{"connection refused", page{}, &Input{Kind: FetchFailed, Code: CodeHTTPConnection, Message: "connection refused"}, CodeHTTPConnection},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := step{serve: true, ended: tonepay.CallCompleted, code: tt.code, heard: []string{StockMessage}}
			if tt.in != nil {
				st = step{in: *tt.in, ended: tonepay.CallCompleted, code: tt.code, heard: []string{StockMessage}}
			}
			play(t, Engine{}, newCall(nil), map[string]page{base + "start": tt.p}, []step{{in: answer, fetch: base + "start"}, st})
		})
	}
	// With a FallbackUrl, the first document's failure requests it with
	// ErrorCode and ErrorUrl, and a good fallback carries on the call.
	app := map[string]page{base + "start": page{200, "application/json", "{}"}, base + "fallback": xmlPage(`<Response><Say>Fallback</Say></Response>`)}
	play(t, Engine{}, newCall(func(s *State) { s.FallbackURL = base + "fallback" }), app, []step{
		{in: answer, fetch: base + "start"},
		{serve: true, fetch: base + "fallback", params: map[string]string{"ErrorCode": "12300", "ErrorUrl": base + "start"}},
		{serve: true, ended: tonepay.CallCompleted, heard: []string{"Fallback"}},
	})
	// text/plain that is not TwiML is read aloud (its words not shown: see
	// TestNotTwiMLNotShown); audio is played; both hang up.
	play(t, Engine{}, newCall(nil), map[string]page{base + "start": {200, "text/plain", "Just  words"}}, []step{
		{in: answer, fetch: base + "start"}, {serve: true, ended: tonepay.CallCompleted, heard: []string{"(11 bytes of text/plain, not TwiML, read aloud; not shown)"}}})
	play(t, Engine{}, newCall(nil), map[string]page{base + "start": {200, "text/plain", "<Response><Say>Plain</Say></Response>"}}, []step{
		{in: answer, fetch: base + "start"}, {serve: true, ended: tonepay.CallCompleted, heard: []string{"Plain"}}})
	play(t, Engine{}, newCall(nil), map[string]page{base + "start": {200, "audio/mpeg", "ID3"}}, []step{
		{in: answer, fetch: base + "start"}, {serve: true, ended: tonepay.CallCompleted, heard: []string{}}})
	// A stale fetch answer (an earlier Seq) is ignored.
	play(t, Engine{}, newCall(nil), nil, []step{{in: answer, fetch: base + "start"}, {in: Input{Kind: Fetched, Seq: 99, Status: 200}}})
	// A relative action in inline Twiml is 15004.
	play(t, Engine{}, newCall(func(s *State) { s.URL, s.Twiml = "", `<Response><Gather action="rel"/></Response>` }), nil, []step{
		{in: answer, ended: tonepay.CallCompleted, code: CodeRelativeAction}})
}

func TestRedirectLoop(t *testing.T) {
	app := map[string]page{base + "start": xmlPage(`<Response><Say>Loop</Say><Redirect/></Response>`)}
	s := newCall(nil)
	e := Engine{MaxHops: 5}
	steps := []step{{in: answer, fetch: base + "start"}}
	for i := 0; i < 5; i++ {
		steps = append(steps, step{serve: true, fetch: base + "start"})
	}
	steps = append(steps, step{serve: true, ended: tonepay.CallCompleted})
	play(t, e, s, app, steps)

	// Waiting for the caller resets the count: a menu that re-asks runs on.
	app = map[string]page{base + "start": xmlPage(`<Response><Gather numDigits="1"/><Redirect/></Response>`)}
	s = newCall(nil)
	steps = []step{{in: answer, fetch: base + "start"}}
	for i := 0; i < 10; i++ {
		at := time.Duration(5*i) * sec
		steps = append(steps, step{at: at, serve: true, wait: at + 5*sec}, step{at: at + 5*sec, in: Input{Kind: Timeout}, fetch: base + "start"})
	}
	play(t, e, s, app, steps)
}

// TestRestartMidGather persists State as JSON in the middle of a Gather
// and continues from the copy: the same outputs as the call that ran on.
func TestRestartMidGather(t *testing.T) {
	app := map[string]page{base + "start": xmlPage(`<Response><Gather numDigits="4" action="pin"><Say>PIN</Say><Pause length="2"/><Say>please</Say></Gather></Response>`)}
	e := Engine{}
	s := newCall(nil)
	before := []step{{in: answer, fetch: base + "start"}, {serve: true, wait: 2 * sec}, {at: sec, keys: "12", wait: 6 * sec}}
	play(t, e, s, app, before)
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var restored State
	if err := json.Unmarshal(b, &restored); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"digits":"12"`) {
		t.Fatalf("state %s", b)
	}
	after := []step{{at: 2 * sec, in: Input{Kind: Timeout}}, // the nested Pause's timer is stale: a key stopped the prompts
		{at: 3 * sec, keys: "34", fetch: base + "pin", params: map[string]string{"Digits": "1234", "FinishedOnKey": ""}}}
	play(t, e, s, app, after)
	play(t, e, &restored, app, after)
	if !reflect.DeepEqual(*s, restored) {
		t.Errorf("diverged\n ran on   %+v\n restored %+v", *s, restored)
	}

	// A fetch in flight survives too: the runner repeats State.Fetch, and
	// its answer (same Seq) runs the call.
	app[base+"pin"] = xmlPage(`<Response><Say>Thanks</Say></Response>`)
	b, _ = json.Marshal(s)
	var mid State
	if err := json.Unmarshal(b, &mid); err != nil || mid.Fetch == nil || mid.Fetch.Params.Get("Digits") != "1234" {
		t.Fatalf("%v %+v", err, mid.Fetch)
	}
	play(t, e, &mid, app, []step{{at: 4 * sec, keys: "5", unrouted: "5"}, {at: 4 * sec, serve: true, ended: tonepay.CallCompleted, heard: []string{"Thanks"}}})
}

func TestCallerHangUpInDialNotifiesCompleted(t *testing.T) {
	s := newCall(nil)
	s.URL, s.Twiml = "", `<Response><Dial action="https://ivr.acme.io/d">+1555</Dial></Response>`
	e := Engine{}
	e.Step(s, answer, t0)
	o := e.Step(s, Input{Kind: CallerHangUp}, t0.Add(42*sec))
	if len(o.Notify) != 1 {
		t.Fatalf("%+v", o)
	}
	n := o.Notify[0]
	if n.URL != "https://ivr.acme.io/d" || n.Params.Get("CallStatus") != "completed" || n.Params.Get("DialCallStatus") != "completed" || n.Params.Get("DialCallDuration") != "42" {
		t.Errorf("%+v", n)
	}
	if o.Fetch != nil || o.Ended != tonepay.CallCompleted {
		t.Errorf("%+v", o)
	}
}

// TestClock: simulated time (Instant) skips Say, Play and every Pause but a
// closing one; SpeechRate makes a Say take its time, and a key barges in.
func TestClock(t *testing.T) {
	doc := func(b string) map[string]page { return map[string]page{base + "start": xmlPage(b)} }
	tests := []struct {
		name  string
		e     Engine
		app   map[string]page
		steps []step
	}{
		{"instant: a pause mid-document takes no time", Engine{Instant: true}, doc(`<Response><Say>One</Say><Pause length="9"/><Say>Two</Say></Response>`),
			[]step{{in: answer, fetch: base + "start"}, {serve: true, ended: tonepay.CallCompleted, heard: []string{"One", "Two"}}}},
		{"instant: a closing pause holds the call", Engine{Instant: true}, doc(`<Response><Say>Hold</Say><Pause length="3600"/></Response>`),
			[]step{{in: answer, fetch: base + "start"}, {serve: true, wait: 3600 * sec, heard: []string{"Hold"}},
				{keys: "1", unrouted: "1"}, {at: 3600 * sec, in: Input{Kind: Timeout}, ended: tonepay.CallCompleted}}},
		{"instant: nested pauses take no time", Engine{Instant: true}, doc(`<Response><Gather timeout="4"><Say>A</Say><Pause length="9"/><Say>B</Say></Gather></Response>`),
			[]step{{in: answer, fetch: base + "start"}, {serve: true, wait: 4 * sec, heard: []string{"A", "B"}}}},
		{"speech rate: a say takes its words' time", Engine{SpeechRate: 120}, doc(`<Response><Say loop="2">one two three four</Say><Say>next</Say></Response>`),
			[]step{{in: answer, fetch: base + "start"}, {serve: true, wait: 4 * sec, heard: []string{"one two three four"}},
				{at: 4 * sec, in: Input{Kind: Timeout}, wait: 4*sec + sec/2, heard: []string{"next"}}}},
		{"speech rate: a key barges into a gather's prompt", Engine{SpeechRate: 60}, doc(`<Response><Gather timeout="5" numDigits="2" action="a"><Say>six words take six seconds here</Say></Gather></Response>`),
			[]step{{in: answer, fetch: base + "start"}, {serve: true, wait: 6 * sec},
				{at: sec, keys: "4", wait: 6 * sec}, {at: 2 * sec, keys: "2", fetch: base + "a", params: map[string]string{"Digits": "42"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { play(t, tt.e, newCall(nil), tt.app, tt.steps) })
	}
}

// TestLiveCallerTime: on a real leg (State.Live) the prompt is spoken in
// real time even on a server with simulated time, so a <Gather>'s timeout
// starts when the caller has heard it, as on Twilio.
func TestLiveCallerTime(t *testing.T) {
	app := map[string]page{base + "start": xmlPage(`<Response><Gather timeout="5"><Say>one two three four five</Say></Gather></Response>`)}
	live := newCall(func(s *State) { s.Live = true })
	play(t, Engine{Instant: true}, live, app, []step{{in: answer, fetch: base + "start"},
		{serve: true, wait: 2 * sec, heard: []string{"one two three four five"}}, // five words at 150 a minute
		{at: 2 * sec, in: Input{Kind: Timeout}, wait: 7 * sec}})                  // then the 5 s timeout
}

// TestHolds: a start on a reserved example domain or with an empty document
// holds the call (nothing fetched, keys unrouted) until it is hung up or
// redirected; a redirect to a reserved domain holds it too.
func TestHolds(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*State)
		held bool
	}{
		{"example.com", func(s *State) { s.URL = "https://example.com/twiml" }, true},
		{"a subdomain of example.org", func(s *State) { s.URL = "http://app.example.org/x" }, true},
		{".test", func(s *State) { s.URL = "https://ivr.test/x" }, true},
		{".invalid", func(s *State) { s.URL = "https://nowhere.invalid/" }, true},
		{"an empty document", func(s *State) { s.URL, s.Twiml = "", "<Response/>" }, true},
		{"a look-alike", func(s *State) { s.URL = "https://notexample.com/x" }, false},
		{"a document with verbs", func(s *State) { s.URL, s.Twiml = "", "<Response><Say>x</Say></Response>" }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newCall(tt.mod)
			o := Engine{}.Step(s, answer, t0)
			if s.Held != tt.held {
				t.Fatalf("held %v, want %v (%+v)", s.Held, tt.held, o)
			}
			if !tt.held {
				return
			}
			if o.Fetch != nil || o.Ended != "" || s.Status != tonepay.CallInProgress {
				t.Fatalf("held call: %+v status %q", o, s.Status)
			}
			if o := (Engine{}).Step(s, Input{Kind: Key, Key: '7'}, t0); o.Unrouted != '7' {
				t.Fatalf("key on a held call: %+v", o)
			}
			// A redirect to a reserved domain holds; to an app, fetches.
			if o := (Engine{}).Step(s, Input{Kind: Update, URL: "https://example.net/next"}, t0); o.Fetch != nil || !s.Held {
				t.Fatalf("redirect to a reserved domain: %+v", o)
			}
			if o := (Engine{}).Step(s, Input{Kind: Update, URL: base + "next"}, t0); o.Fetch == nil || s.Held {
				t.Fatalf("redirect to the app: %+v", o)
			}
		})
	}
}

// TestKeyTimeline: how keys show on the timeline (keyEntry). A key a
// <Gather> takes with no payment session open is shown; every other key is
// one masked *, whoever takes it: a key nothing listens for (held, Pause,
// Say, Dial), a <Pay>'s, and any key while a session is open, a Gather's
// included, whose end then masks its Digits too. The app's Gather action
// still gets the Digits.
func TestKeyTimeline(t *testing.T) {
	type press struct {
		keys    string        // one Key input each
		paying  bool          // Input.Paying
		timeout time.Duration // no keys: a Timeout at t0 plus this
	}
	const gather = `<Response><Gather finishOnKey="#" timeout="30" action="https://ivr.acme.io/a"><Say>Account number</Say></Gather></Response>`
	tests := []struct {
		name     string
		e        Engine
		twiml    string
		presses  []press
		want     []string // key entries and a Gather's end: text, then " masked" when masked
		unrouted string
		digits   string // Digits of the Gather's action; "" none asked
	}{
		{"gather, no session: shown", Engine{}, gather, []press{{keys: "12#"}},
			[]string{"1", "2", "#", "ended: Digits=12 FinishedOnKey=#"}, "", "12"},
		{"gather, session open: masked, its end too", Engine{}, gather, []press{{keys: "4111#", paying: true}},
			[]string{"* masked", "* masked", "* masked", "* masked", "* masked", "ended: Digits=**** FinishedOnKey=# masked"}, "", "4111"},
		{"gather: a session opens between two keys", Engine{}, gather, []press{{keys: "1"}, {keys: "2", paying: true}, {timeout: 31 * sec}},
			[]string{"1", "* masked", "ended: Digits=** FinishedOnKey= masked"}, "", "12"},
		{"gather: the session ends before the next gather", Engine{}, `<Response><Gather numDigits="1"/><Gather numDigits="1" action="https://ivr.acme.io/a"/></Response>`,
			[]press{{keys: "7", paying: true}, {keys: "8"}},
			[]string{"* masked", "ended: Digits=* FinishedOnKey= masked", "8", "ended: Digits=8 FinishedOnKey="}, "", "8"},
		{"held call, no session", Engine{}, "", []press{{keys: "4111#"}},
			[]string{"* masked", "* masked", "* masked", "* masked", "* masked"}, "4111#", ""},
		{"held call, session open", Engine{}, "", []press{{keys: "41", paying: true}},
			[]string{"* masked", "* masked"}, "41", ""},
		{"closing pause", Engine{Instant: true}, `<Response><Say>Please hold</Say><Pause length="60"/></Response>`, []press{{keys: "41"}},
			[]string{"* masked", "* masked"}, "41", ""},
		{"during a say", Engine{SpeechRate: RealSpeechRate}, `<Response><Say loop="20">Your call is important to us</Say><Gather/></Response>`, []press{{keys: "41"}},
			[]string{"* masked", "* masked"}, "41", ""},
		{"dial: the agent's bridge", Engine{}, `<Response><Dial>+15553334444</Dial></Response>`, []press{{keys: "4", paying: true}, {keys: "1"}},
			[]string{"* masked", "* masked"}, "41", ""},
		{"dial: hangupOnStar", Engine{}, `<Response><Dial hangupOnStar="true">+15553334444</Dial><Pause length="60"/></Response>`, []press{{keys: "*"}},
			[]string{"* masked"}, "", ""},
		{"pay", Engine{}, `<Response><Pay chargeAmount="1.00"/></Response>`, []press{{keys: "4111#", paying: true}},
			[]string{"* masked", "* masked", "* masked", "* masked", "* masked"}, "4111#", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newCall(func(s *State) { s.URL, s.Twiml = "", tt.twiml })
			tt.e.Step(s, Input{Kind: Answered}, t0)
			var got []string
			var unrouted, digits string
			for _, p := range tt.presses {
				var ins []Input
				for i := 0; i < len(p.keys); i++ {
					ins = append(ins, Input{Kind: Key, Key: p.keys[i], Paying: p.paying})
				}
				if p.keys == "" {
					ins = append(ins, Input{Kind: Timeout})
				}
				for _, in := range ins {
					o := tt.e.Step(s, in, t0.Add(p.timeout))
					for _, en := range o.Timeline {
						if en.Kind != "key" && !(en.Kind == "verb" && en.Verb == "Gather" && strings.HasPrefix(en.Text, "ended:")) {
							continue
						}
						if en.Masked {
							en.Text += " masked"
						}
						got = append(got, en.Text)
					}
					if o.Unrouted != 0 {
						unrouted += string(o.Unrouted)
					}
					if o.Fetch != nil && o.Fetch.Reason == "action" {
						digits = o.Fetch.Params.Get("Digits")
					}
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("timeline %q, want %q", got, tt.want)
			}
			if unrouted != tt.unrouted || digits != tt.digits {
				t.Errorf("unrouted %q, action Digits %q; want %q, %q", unrouted, digits, tt.unrouted, tt.digits)
			}
			if s.DigitsMasked || s.Digits != "" && s.Current == nil {
				t.Errorf("state after the Gather: %q masked %v", s.Digits, s.DigitsMasked)
			}
		})
	}
}

func TestCoalesceKeys(t *testing.T) {
	k := func(text string, masked bool) Entry { return Entry{Kind: "key", Text: text, Masked: masked} }
	say := Entry{Kind: "say", Text: "Hi"}
	tests := []struct {
		name string
		in   []Entry
		want []Entry
	}{
		{"nothing", nil, nil},
		{"a run of masked keys is one entry", []Entry{k("*", true), k("*", true), k("**", true)}, []Entry{k("****", true)}},
		{"shown keys stay one each", []Entry{k("1", false), k("2", false)}, []Entry{k("1", false), k("2", false)}},
		{"runs split by other entries", []Entry{k("*", true), say, k("*", true), k("*", true), k("3", false), k("*", true)},
			[]Entry{k("*", true), say, k("**", true), k("3", false), k("*", true)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := append([]Entry(nil), tt.in...)
			if got := CoalesceKeys(in); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			if !reflect.DeepEqual(in, tt.in) {
				t.Errorf("the input changed: %+v", in)
			}
		})
	}
}

// TestParams: every request carries Twilio's geographic fields for both
// numbers under its four names, empty where unknown, the country from the
// calling code; CallToken and ForwardedFrom only when the call has them.
func TestParams(t *testing.T) {
	geo := func(p url.Values, prefix string) string {
		var b strings.Builder
		for _, f := range []string{"City", "State", "Zip", "Country"} {
			vs, ok := p[prefix+f]
			if !ok || len(vs) != 1 {
				return prefix + f + " missing"
			}
			b.WriteString(vs[0] + "|")
		}
		return b.String()
	}
	tests := []struct {
		name           string
		mod            func(s *State)
		from, to       string // the country fields' rows: City|State|Zip|Country|
		token, forward string // "" absent
	}{
		{"outbound US", nil, "|||US|", "|||US|", "", ""},
		{"outbound to GB from a client", func(s *State) { s.From, s.To = "client:alice", "+442071838750" }, "||||", "|||GB|", "", ""},
		{"inbound forwarded", func(s *State) {
			s.Direction, s.From, s.To, s.CallToken, s.ForwardedFrom = "inbound", "+33142685300", "+4930901820", "tok123", "+14155550199"
		}, "|||FR|", "|||DE|", "tok123", "+14155550199"},
		{"anonymous caller", func(s *State) { s.Direction, s.From, s.CallToken = "inbound", "anonymous", "t" }, "||||", "|||US|", "t", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newCall(tt.mod)
			s.Status = tonepay.CallInProgress
			p := s.Params()
			if got := geo(p, "From"); got != tt.from {
				t.Errorf("From*: %q, want %q", got, tt.from)
			}
			if got := geo(p, "Caller"); got != tt.from {
				t.Errorf("Caller*: %q, want %q", got, tt.from)
			}
			if got := geo(p, "To"); got != tt.to {
				t.Errorf("To*: %q, want %q", got, tt.to)
			}
			if got := geo(p, "Called"); got != tt.to {
				t.Errorf("Called*: %q, want %q", got, tt.to)
			}
			for k, want := range map[string]string{"CallToken": tt.token, "ForwardedFrom": tt.forward} {
				if vs, ok := p[k]; (want == "") == ok || (ok && vs[0] != want) {
					t.Errorf("%s = %q (present %v), want %q", k, vs, ok, want)
				}
			}
		})
	}
	// The fields reach every request: the answer, an action, the state
	// round trip (a restarted runner sends the same CallToken).
	s := newCall(func(s *State) { s.Direction, s.CallToken, s.ForwardedFrom = "inbound", "tok", "+14155550199" })
	app := map[string]page{base + "start": xmlPage(`<Response><Gather numDigits="1" action="next"/></Response>`)}
	want := map[string]string{"CallToken": "tok", "ForwardedFrom": "+14155550199", "FromCountry": "US", "ToState": "", "CallerCountry": "US", "CalledZip": ""}
	play(t, Engine{}, s, app, []step{{in: answer, fetch: base + "start", params: want}, {serve: true, wait: 5 * sec}})
	b, _ := json.Marshal(s)
	var s2 State
	if err := json.Unmarshal(b, &s2); err != nil {
		t.Fatal(err)
	}
	want["Digits"] = "7"
	play(t, Engine{}, &s2, app, []step{{keys: "7", fetch: base + "next", params: want}})
}
