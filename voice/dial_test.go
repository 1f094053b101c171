package voice

import (
	"testing"

	"github.com/tonepay/tonepay"
)

// TestDialFarEnd: each scripted far end (State.FarEnd) gives the Dial's
// action its DialCallStatus, or the next verb runs, and leaves the status
// its leg ends with (State.LegEnd) for the runner. Dialed is the runner
// saying it made the leg (State.Child, set here from the start). The
// engine keeps simulated time (Engine.Instant) unless a case says real:
// then no-answer rings the Dial's timeout, else it ends as busy does.
func TestDialFarEnd(t *testing.T) {
	const leg = "CA00000000000000000000000000000009"
	dialed := func(status, duration, bridged string) map[string]string {
		return map[string]string{"DialCallStatus": status, "DialCallDuration": duration, "DialBridged": bridged, "DialCallSid": leg, "CallStatus": "in-progress"}
	}
	withAction := xmlPage(`<Response><Dial action="dialed" timeout="20"><Number>+15553334444</Number><Number>+15553335555</Number></Dial><Say>never</Say></Response>`)
	noAction := xmlPage(`<Response><Dial timeout="7">+15553334444</Dial><Say>After</Say></Response>`)
	tests := []struct {
		name    string
		farEnd  string
		doc     page
		ringing string // State.Dialed once the Dial began
		steps   []step
		legEnd  string
		real    bool // real voice time
	}{
		{"answer (default): stays until it hangs up", "", withAction, tonepay.CallInProgress, []step{
			{at: 9 * sec, in: Input{Kind: FarEndHangUp}, fetch: base + "dialed", params: dialed("completed", "9", "true")}}, "completed", false},
		{"answer: Dialed changes nothing", "answer", withAction, tonepay.CallInProgress, []step{
			{in: Input{Kind: Dialed}}, {at: 3 * sec, in: Input{Kind: FarEndHangUp}, fetch: base + "dialed", params: dialed("completed", "3", "true")}}, "completed", false},
		{"answer:5 hangs up after 5 s", "answer:5", withAction, tonepay.CallInProgress, []step{
			{in: Input{Kind: Dialed}}, {at: 4 * sec, in: Input{Kind: Timeout}},
			{at: 5 * sec, in: Input{Kind: Timeout}, fetch: base + "dialed", params: dialed("completed", "5", "true")}}, "completed", false},
		{"answer:N beyond timeLimit: timeLimit ends it", "answer:60", xmlPage(`<Response><Dial timeLimit="30" action="dialed">+1555</Dial></Response>`), tonepay.CallInProgress, []step{
			{at: 30 * sec, in: Input{Kind: Timeout}, fetch: base + "dialed", params: dialed("completed", "30", "true")}}, "completed", false},
		{"busy: ends once its leg is made", "busy", withAction, tonepay.CallBusy, []step{
			{in: Input{Kind: Dialed}, fetch: base + "dialed", params: dialed("busy", "0", "false")}}, "busy", false},
		{"failed: ends once its leg is made", "failed", withAction, tonepay.CallFailed, []step{
			{in: Input{Kind: Dialed}, fetch: base + "dialed", params: dialed("failed", "0", "false")}}, "failed", false},
		{"busy without action: the next verb", "busy", noAction, tonepay.CallBusy, []step{
			{in: Input{Kind: Dialed}, ended: tonepay.CallCompleted, heard: []string{"After"}}}, "busy", false},
		{"no-answer, simulated time: ends once its leg is made", "no-answer", withAction, tonepay.CallNoAnswer, []step{
			{in: Input{Kind: Dialed}, fetch: base + "dialed", params: dialed("no-answer", "0", "false")}}, "no-answer", false},
		{"no-answer without action, simulated time: the next verb", "no-answer", noAction, tonepay.CallNoAnswer, []step{
			{in: Input{Kind: Dialed}, ended: tonepay.CallCompleted, heard: []string{"After"}}}, "no-answer", false},
		{"no-answer, real time: rings until the Dial's timeout", "no-answer", withAction, tonepay.CallRinging, []step{
			{in: Input{Kind: Dialed}}, {at: 5 * sec, keys: "*1", unrouted: "*1"}, {at: 19 * sec, in: Input{Kind: Timeout}},
			{at: 20 * sec, in: Input{Kind: Timeout}, fetch: base + "dialed", params: dialed("no-answer", "0", "false")}}, "no-answer", true},
		{"no-answer without action, real time: the next verb", "no-answer", noAction, tonepay.CallRinging, []step{
			{at: 7 * sec, in: Input{Kind: Timeout}, ended: tonepay.CallCompleted, heard: []string{"After"}}}, "no-answer", true},
		{"no-answer, real time: the caller hangs up while it rings", "no-answer", withAction, tonepay.CallRinging, []step{
			{at: 3 * sec, in: Input{Kind: CallerHangUp}, notify: 1, ended: tonepay.CallCompleted}}, "canceled", true},
		{"no-answer, real time: redirected while it rings", "no-answer", withAction, tonepay.CallRinging, []step{
			{at: 3 * sec, in: Input{Kind: Update, URL: base + "other"}, notify: 1, fetch: base + "other"}}, "canceled", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newCall(func(s *State) { s.FarEnd, s.Child = tt.farEnd, leg })
			app := map[string]page{base + "start": tt.doc}
			e := Engine{Instant: !tt.real}
			play(t, e, s, app, []step{{in: answer, fetch: base + "start"}})
			begun := e.Step(s, Input{Kind: Fetched, Seq: s.Fetch.Seq, Status: 200, ContentType: "text/xml", Body: []byte(tt.doc.body)}, t0)
			if begun.Bridged == nil || begun.Bridged.Target != "+15553334444" && begun.Bridged.Target != "+1555" || s.Dialed != tt.ringing {
				t.Fatalf("Dial began: bridged %+v, dialed %q; want the first number, %q", begun.Bridged, s.Dialed, tt.ringing)
			}
			for i := range tt.steps {
				play(t, e, s, app, tt.steps[i:i+1])
			}
			if s.LegEnd != tt.legEnd {
				t.Errorf("LegEnd %q, want %q", s.LegEnd, tt.legEnd)
			}
		})
	}
}

// TestDialCanceledNotify: the action requested when the caller leaves a
// Dial whose far end rings says DialCallStatus=canceled, never bridged.
func TestDialCanceledNotify(t *testing.T) {
	s := newCall(func(s *State) {
		s.URL, s.Twiml, s.FarEnd = "", `<Response><Dial action="https://ivr.acme.io/d">+1555</Dial></Response>`, "no-answer"
	})
	e := Engine{} // real voice time: it rings
	e.Step(s, Input{Kind: Answered}, t0)
	o := e.Step(s, Input{Kind: CallerHangUp}, t0.Add(4*sec))
	if len(o.Notify) != 1 {
		t.Fatalf("notify %+v", o.Notify)
	}
	p := o.Notify[0].Params
	if p.Get("DialCallStatus") != "canceled" || p.Get("DialBridged") != "false" || p.Get("DialCallDuration") != "0" {
		t.Errorf("notify params %v", p)
	}
}
