package calls_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/voice"
)

// dialTo is a <Dial hangupOnStar> to the n-th far end.
func dialTo(n int) string {
	return fmt.Sprintf(`<Dial hangupOnStar="true">%s</Dial>`, farEnd(n))
}

func farEnd(n int) string { return fmt.Sprintf("+1555000%04d", n) }

// legsOf returns the call's Dial legs.
func (f *fixture) legsOf(t *testing.T, parent string) []*tonepay.Call {
	t.Helper()
	legs, err := f.Store.FindCalls(context.Background(), tonepay.CallFilter{AccountSid: f.Acct.Sid, Parent: parent})
	if err != nil {
		t.Fatal(err)
	}
	return legs
}

func (f *fixture) liveCalls(t *testing.T) int {
	t.Helper()
	_, _, n, err := f.Store.CountLive(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestDialLegsEndWithParent: every <Dial> a burst of keys passes through gets
// its leg, and every leg ends with its Dial, whatever verbs the keys cross
// in one press (issue 19): none is left in progress after its parent ended,
// and the count of live calls returns to its level.
func TestDialLegsEndWithParent(t *testing.T) {
	// A Gather's # with nothing gathered goes on to the next verb without a
	// fetch (its action would be one, and keys after it would be dropped).
	const gather = `<Gather finishOnKey="#" action="menu"/>`
	tests := []struct {
		name  string
		doc   string
		keys  []string // one press each
		dials int      // the far ends dialed, in order
		live  bool     // the parent is still in its last Dial after the keys: it is hung up
	}{
		{"two Dials, ** in one press", dialTo(1) + dialTo(2), []string{"**"}, 2, false},
		{"three Dials, *** in one press", dialTo(1) + dialTo(2) + dialTo(3), []string{"***"}, 3, false},
		{"three Dials, ** then a hang-up", dialTo(1) + dialTo(2) + dialTo(3), []string{"**"}, 3, true},
		{"three Dials, * then **", dialTo(1) + dialTo(2) + dialTo(3), []string{"*", "**"}, 3, false},
		{"Gather then Dials, keys across", gather + dialTo(1) + dialTo(2), []string{"#**"}, 2, false},
		{"Dial, Gather, Dial, keys across", dialTo(1) + gather + dialTo(2), []string{"*#*"}, 2, false},
		{"Gather then Dials, the last one held", gather + dialTo(1) + dialTo(2) + `<Say>never</Say>`, []string{"#*"}, 2, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			svc := f.voiceService(t, newApp(map[string]string{"start": "<Response>" + tt.doc + "</Response>"}))
			level := f.liveCalls(t)
			call := f.placeCall(t, svc, nil)
			for _, keys := range tt.keys {
				if _, err := svc.Keypad(context.Background(), f.Acct.Sid, call.Sid, keys); err != nil {
					t.Fatalf("press %q: %v", keys, err)
				}
			}
			if tt.live {
				var up []string
				for _, l := range f.legsOf(t, call.Sid) {
					if l.Status == tonepay.CallInProgress {
						up = append(up, l.To)
					}
				}
				if p := f.callStatus(t, call.Sid); p.Status != tonepay.CallInProgress || !slices.Equal(up, []string{farEnd(tt.dials)}) {
					t.Fatalf("before the hang-up: parent %s, legs up %q, want in-progress and only %s", p.Status, up, farEnd(tt.dials))
				}
				if _, err := svc.HangUp(context.Background(), f.Acct.Sid, call.Sid); err != nil {
					t.Fatal(err)
				}
			}
			if p := f.callStatus(t, call.Sid); p.Status != tonepay.CallCompleted || p.EndTime.IsZero() {
				t.Errorf("parent %s, end %v; want completed with an end time", p.Status, p.EndTime)
			}
			var to, want []string
			for _, l := range f.legsOf(t, call.Sid) {
				to = append(to, l.To)
				if l.Status != tonepay.CallCompleted || l.EndTime.IsZero() || l.Direction != "outbound-dial" {
					t.Errorf("leg to %s: %s %s, end %v; want a completed outbound-dial leg with an end time", l.To, l.Direction, l.Status, l.EndTime)
				}
			}
			for n := 1; n <= tt.dials; n++ {
				want = append(want, farEnd(n))
			}
			slices.Sort(to)
			if !slices.Equal(to, want) {
				t.Errorf("legs to %q, want one to each of %q", to, want)
			}
			if n := f.liveCalls(t); n != level {
				t.Errorf("%d calls in progress, want %d as before the call", n, level)
			}
			if tl := strings.Join(f.timeline(t, call.Sid), " "); strings.Contains(tl, "say:never") {
				t.Errorf("timeline %s", tl)
			}
		})
	}
}

// TestDialActionNamesItsLeg: a Dial begun and ended by keys of one press
// sends its own leg as DialCallSid, not the leg of the Dial before it.
func TestDialActionNamesItsLeg(t *testing.T) {
	f := newFixture(t)
	a := newApp(map[string]string{
		"start": `<Response>` + dialTo(1) + `<Dial hangupOnStar="true" action="after">` + farEnd(2) + `</Dial></Response>`,
		"after": `<Response><Hangup/></Response>`,
	})
	svc := f.voiceService(t, a)
	call := f.placeCall(t, svc, nil)
	if _, err := svc.Keypad(context.Background(), f.Acct.Sid, call.Sid, "**"); err != nil {
		t.Fatal(err)
	}
	var second string
	for _, l := range f.legsOf(t, call.Sid) {
		if l.To == farEnd(2) {
			second = l.Sid
		}
	}
	reqs := a.requests()
	if last := reqs[len(reqs)-1]; last.URL != ivr+"after" || second == "" || last.Params.Get("DialCallSid") != second {
		t.Errorf("action %s with DialCallSid %q, want %s's leg %q", last.URL, last.Params.Get("DialCallSid"), farEnd(2), second)
	}
	if p := f.callStatus(t, call.Sid); p.Status != tonepay.CallCompleted {
		t.Errorf("parent %s", p.Status)
	}
}

// TestDialFarEnd: the far end scripted at create (tonepay.FarEnd) decides
// each Dial's leg and its action's DialCallStatus, on a real store; timed
// outcomes (no-answer in real voice time, answer:N) come from the call's
// clock, through the sweeper as after a restart. In simulated time (the
// service's default) no-answer rings no time.
func TestDialFarEnd(t *testing.T) {
	tests := []struct {
		farEnd   tonepay.FarEnd
		real     bool          // real voice time
		wait     time.Duration // the clock moves this much, then the sweeper runs
		legs     []string      // each leg's status at the end, in order
		duration string        // the action's DialCallDuration
		status   string        // its DialCallStatus
	}{
		{tonepay.FarEnd{Status: tonepay.CallBusy}, false, 0, []string{"busy"}, "0", "busy"},
		{tonepay.FarEnd{Status: tonepay.CallFailed}, false, 0, []string{"failed"}, "0", "failed"},
		{tonepay.FarEnd{Status: tonepay.CallNoAnswer}, false, 0, []string{"no-answer"}, "0", "no-answer"},
		{tonepay.FarEnd{Status: tonepay.CallNoAnswer}, true, 10 * time.Second, []string{"no-answer"}, "0", "no-answer"},
		{tonepay.FarEnd{HangUpAfter: 5}, false, 5 * time.Second, []string{"completed"}, "5", "completed"},
	}
	for _, tt := range tests {
		name := tt.farEnd.String()
		if tt.real {
			name += " real time"
		}
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			a := newApp(map[string]string{
				"start": `<Response><Dial action="after" timeout="10">` + farEnd(1) + `</Dial></Response>`,
				"after": `<Response><Say>after</Say></Response>`,
			})
			svc := f.voiceService(t, a)
			if tt.real {
				svc.Voice = voice.Engine{} // not Instant: it rings (its words still take no time)
			}
			level := f.liveCalls(t)
			call := f.placeCall(t, svc, func(r *tonepay.CreateCallRequest) { r.FarEnd = tt.farEnd })
			if tt.wait > 0 {
				legs := f.legsOf(t, call.Sid)
				if p := f.callStatus(t, call.Sid); p.Status != tonepay.CallInProgress || len(legs) != 1 || !live(legs[0].Status) {
					t.Fatalf("before %v: parent %s, legs %d; want in-progress, one live leg", tt.wait, p.Status, len(legs))
				}
				f.Clock.Add(tt.wait + time.Second + time.Millisecond) // past sweepGrace
				if _, err := svc.SweepCalls(context.Background(), false); err != nil {
					t.Fatal(err)
				}
			}
			legs := f.legsOf(t, call.Sid)
			var got []string
			for _, l := range legs {
				got = append(got, l.Status)
				if l.EndTime.IsZero() || l.Direction != tonepay.DirectionOutboundDial || l.To != farEnd(1) {
					t.Errorf("leg %+v: want an ended outbound-dial leg to %s", l, farEnd(1))
				}
			}
			if !slices.Equal(got, tt.legs) {
				t.Errorf("legs %q, want %q", got, tt.legs)
			}
			reqs := a.requests()
			last := reqs[len(reqs)-1]
			if last.URL != ivr+"after" || last.Params.Get("DialCallStatus") != tt.status || last.Params.Get("DialCallDuration") != tt.duration ||
				len(legs) != 1 || last.Params.Get("DialCallSid") != legs[0].Sid {
				t.Errorf("last request %s %v; want the action with DialCallStatus=%s DialCallDuration=%s and the leg", last.URL, last.Params, tt.status, tt.duration)
			}
			if p := f.callStatus(t, call.Sid); p.Status != tonepay.CallCompleted {
				t.Errorf("parent %s, want completed", p.Status)
			}
			if n := f.liveCalls(t); n != level {
				t.Errorf("%d calls in progress, want %d", n, level)
			}
		})
	}
}

// TestDialBusyChain: Dials to busy far ends without action run one after
// the other in one step, each with its own leg, then the next verb.
func TestDialBusyChain(t *testing.T) {
	f := newFixture(t)
	a := newApp(map[string]string{"start": `<Response><Dial>` + farEnd(1) + `</Dial><Dial>` + farEnd(2) + `</Dial><Say>nobody</Say></Response>`})
	svc := f.voiceService(t, a)
	call := f.placeCall(t, svc, func(r *tonepay.CreateCallRequest) { r.FarEnd = tonepay.FarEnd{Status: tonepay.CallBusy} })
	var to []string
	for _, l := range f.legsOf(t, call.Sid) {
		to = append(to, l.To)
		if l.Status != tonepay.CallBusy {
			t.Errorf("leg to %s: %s, want busy", l.To, l.Status)
		}
	}
	slices.Sort(to)
	if !slices.Equal(to, []string{farEnd(1), farEnd(2)}) {
		t.Errorf("legs to %q", to)
	}
	tl := strings.Join(f.timeline(t, call.Sid), " ")
	if p := f.callStatus(t, call.Sid); p.Status != tonepay.CallCompleted || !strings.Contains(tl, "say:nobody") ||
		strings.Count(tl, "DialCallStatus=busy") != 2 {
		t.Errorf("parent %s, timeline %s", p.Status, tl)
	}
}

// TestDialRingingCanceled: a caller who hangs up while the far end rings
// (real voice time) cancels its leg.
func TestDialRingingCanceled(t *testing.T) {
	f := newFixture(t)
	a := newApp(map[string]string{"start": `<Response><Dial action="after">` + farEnd(1) + `</Dial></Response>`})
	svc := f.voiceService(t, a)
	svc.Voice = voice.Engine{} // not Instant: it rings
	call := f.placeCall(t, svc, func(r *tonepay.CreateCallRequest) { r.FarEnd = tonepay.FarEnd{Status: tonepay.CallNoAnswer} })
	if _, err := svc.HangUp(context.Background(), f.Acct.Sid, call.Sid); err != nil {
		t.Fatal(err)
	}
	legs := f.legsOf(t, call.Sid)
	if len(legs) != 1 || legs[0].Status != tonepay.CallCanceled || legs[0].EndTime.IsZero() {
		t.Fatalf("legs %+v, want one canceled", legs)
	}
	reqs := a.requests()
	if last := reqs[len(reqs)-1]; last.URL != ivr+"after" || last.Params.Get("DialCallStatus") != "canceled" {
		t.Errorf("last request %s %v", last.URL, last.Params)
	}
}

func live(status string) bool {
	return status == tonepay.CallRinging || status == tonepay.CallInProgress
}
