package voice

import (
	"net/url"
	"strconv"
	"time"

	"github.com/tonepay/tonepay"
)

// A <Dial>'s far end is simulated, and scripted per call (State.FarEnd,
// tonepay.FarEnd): it answers at once and stays (the default), answers and
// hangs up after N seconds, is busy, fails, or rings until the Dial's
// timeout (at once in simulated time, Engine.Instant). Its leg is a call of its own, the runner's (Output.Bridged);
// the Dial's action gets DialCallStatus and the leg as DialCallSid, as
// Twilio sends them. With several nouns the script applies to the first,
// the one dialed.
//
// On a SIP call (State.SIPDial) a <Sip> far end is real: it rings until
// the leg reports it answered, or busy, no-answer or failed
// (FarEndStatus), or until the Dial's timeout; its hang-up is FarEndHangUp
// as for any far end.

// dial begins the Dial v: whom it calls, and what its far end does.
func (r *run) dial(v Verb) {
	s := r.s
	n := Noun{Kind: "Number", Target: v.Text}
	if len(v.Nouns) > 0 {
		n = v.Nouns[0] // the first to answer is bridged
	}
	r.out.Bridged = &n
	if s.SIPDial && n.Kind == "Sip" {
		s.Dialed = tonepay.CallRinging
		s.Wait = &Wait{For: "dial-ring", Until: r.now.Add(time.Duration(v.Timeout) * time.Second)}
		return
	}
	fe, _ := tonepay.ParseFarEnd(s.FarEnd) // checked when the call was created
	switch fe.Status {
	case tonepay.CallBusy, tonepay.CallFailed:
		// Ended once its leg is made (Dialed): the action names the leg.
		s.Dialed = fe.Status
	case tonepay.CallNoAnswer:
		if r.e.Instant {
			// Simulated time (DESIGN §9): the far end's ringing is the
			// simulation's, as a Pause is, not a wait for the caller as a
			// Gather's timeout is; it takes no time, and ends as busy
			// does, once its leg is made.
			s.Dialed = tonepay.CallNoAnswer
			break
		}
		// Real voice time: it rings the Dial's timeout on the call's clock.
		s.Dialed = tonepay.CallRinging
		s.Wait = &Wait{For: "dial-ring", Until: r.now.Add(time.Duration(v.Timeout) * time.Second)}
	default:
		s.Dialed = tonepay.CallInProgress
		s.Wait = &Wait{For: "dial", Until: r.now.Add(time.Duration(v.TimeLimit) * time.Second)}
		if fe.HangUpAfter > 0 && fe.HangUpAfter < v.TimeLimit {
			s.Wait = &Wait{For: "far-end", Until: r.now.Add(time.Duration(fe.HangUpAfter) * time.Second)}
		}
	}
}

// dialed: the runner made the leg of the Dial begun; a far end that is
// busy or failed (or no-answer, in simulated time) ends the Dial now.
func (r *run) dialed() {
	s := r.s
	if s.Current == nil || s.Current.Name != "Dial" {
		return
	}
	switch s.Dialed {
	case tonepay.CallBusy, tonepay.CallFailed, tonepay.CallNoAnswer:
		r.bridgeEnd(s.Dialed)
	}
}

// farEnd: a real far end that was ringing answered (the bridge, and its
// timeLimit, begin now) or never will.
func (r *run) farEnd(status string) {
	s := r.s
	if s.Current == nil || s.Current.Name != "Dial" || s.Dialed != tonepay.CallRinging {
		return // the Dial moved on first (its timeout, a redirect)
	}
	switch status {
	case tonepay.CallInProgress:
		s.Dialed, s.Since = tonepay.CallInProgress, r.now
		s.Wait = &Wait{For: "dial", Until: r.now.Add(time.Duration(s.Current.TimeLimit) * time.Second)}
		r.log(Entry{Kind: "verb", Verb: "Dial", Text: "the far end answered"})
	case tonepay.CallBusy, tonepay.CallNoAnswer, tonepay.CallFailed:
		r.bridgeEnd(status)
	}
}

// bridged reports a Dial's far end that answered ("": a run saved before
// Dialed was kept, whose far end always answered).
func bridged(dialed string) bool { return dialed == "" || dialed == tonepay.CallInProgress }

// leaveDial is the caller leaving the current Dial (a hang-up, a redirect):
// its leg ends completed if it answered, else canceled, and so does the
// DialCallStatus of an action requested then.
func (r *run) leaveDial() {
	s := r.s
	if s.Current == nil || s.Current.Name != "Dial" {
		return
	}
	s.LegEnd = tonepay.CallCompleted
	if !bridged(s.Dialed) {
		s.LegEnd = tonepay.CallCanceled
	}
	s.Dialed = ""
}

// dialParams are the Dial action's fields for a Dial that ended with
// status at end: DialCallDuration is how long it was bridged (0 if it
// never was).
func (r *run) dialParams(status string, end time.Time) url.Values {
	d, up := 0, status == tonepay.CallCompleted
	if up {
		if end.After(r.now) {
			end = r.now
		}
		d = int(end.Sub(r.s.Since) / time.Second)
	}
	p := url.Values{"DialCallStatus": {status}, "DialCallDuration": {strconv.Itoa(d)}, "DialBridged": {strconv.FormatBool(up)}}
	if r.s.Child != "" {
		p.Set("DialCallSid", r.s.Child)
	}
	return p
}
