package tonepay

import "context"

// LegRequest is a real call that a leg (a media stream, a SIP trunk) has
// answered, to register with the call runtime.
type LegRequest struct {
	// AccountSid, From, To; for a leg whose TwiML tonepay runs, the Url or
	// Twiml to run and their settings (a stream's: filled from To's
	// IncomingPhoneNumber when it has a VoiceUrl, see LegService.StartLeg).
	CreateCallRequest
	// CallSid is the call's SID: Twilio's own on a stream, so that the
	// agent's app uses the Payments API with it; "" makes one.
	CallSid string
	Leg     Leg // LegStream or LegSIP
	// Number is the number dialled when it is not To (a SIP INVITE's
	// Request-URI user): the IncomingPhoneNumber whose VoiceUrl runs. ""
	// is To.
	Number string
	// NoApp is the TwiML a call runs when the number has no VoiceUrl (a
	// trunk's bridge to its agent); "" holds such a call.
	NoApp string
}

// Heard is what the caller of a real leg is to hear, from the call's
// timeline: a <Say> (or a <Pay>'s prompt) or a <Play>.
type Heard struct {
	Play     bool   // a <Play> of URL; else a <Say> of Text
	Text     string // the words
	URL      string // the audio file
	Voice    string // <Say voice>, "" the default
	Language string // <Say language>, "" the default
	Loop     int    // times to play it; 0 is Twilio's "until the call moves on", played once here
}

// LegService is what a real call leg needs of the call runtime
// (calls.Service implements it): register the call, hand its caller's keys
// to the one door, end it, and hear what its TwiML says.
type LegService interface {
	// StartLeg registers a real caller's call as an in-progress inbound
	// call of req.AccountSid. Errors: the store's (a call with that SID
	// exists: a leg reopens nothing).
	StartLeg(ctx context.Context, req *LegRequest) (*Call, error)
	// FindCall is CallService.FindCall: whether a stream's call exists,
	// and whether it has ended (a leg reopens nothing).
	FindCall(ctx context.Context, accountSid, sid string) (*Call, error)
	// Press is CallService.Press: a real-time source's keys are handed
	// over and it returns at once.
	Press(ctx context.Context, k Keys) (*Pressed, error)
	// HangUp ends the call and its open session (caller-hung-up). Errors:
	// 21220 the call has ended already.
	HangUp(ctx context.Context, accountSid, callSid string) (*Call, error)
	// Listen tells fn, in order and never twice, what the call's TwiML
	// makes its caller hear from now on (from the call's first entry: what
	// it said before Listen was called too), and ended once the call has
	// ended, until stop is called. fn runs on a goroutine of its own per
	// listener and may block (it queues audio).
	Listen(accountSid, callSid string, fn func(heard []Heard, ended bool)) (stop func())
	// Warn adds a warning to the call's timeline (no audio could be played
	// to a real caller, ...). Errors: the store's.
	Warn(ctx context.Context, accountSid, callSid, text string) error
	// DialStatus reports what the far end of a LegDial did: in-progress
	// (it answered), or busy, no-answer or failed (it never will); its
	// call's <Dial> goes on from there. A far end that hangs up after
	// answering is HangUp of the LegSid. Errors: 21220 the leg has ended
	// (the Dial moved on first).
	DialStatus(ctx context.Context, accountSid, legSid, status string) error
	// WatchCapture is calls.Service.WatchCapture: the call's capture
	// state, told at once and after each change, for every packet a leg
	// relays.
	WatchCapture(callSid string, fn func(CaptureState)) (stop func(), err error)
}

// LegDial is a <Dial> whose far end a real leg calls itself: a SIP call's
// <Dial><Sip>, and a trunk call bridged to its agent. LegSid is the far
// end's call (outbound-dial, ringing), CallSid the caller's.
type LegDial struct {
	AccountSid, CallSid, LegSid string
	To                          string // the <Sip> URI
	From                        string // the caller's number, or the Dial's callerId
}

// Dialer is the leg that places LegDials (the SIP server). Both return at
// once: what becomes of a dial comes back through LegService.DialStatus
// and HangUp. Drop ends a dial the call has left (the Dial's timeout or
// timeLimit, a redirect, the caller's hang-up): a CANCEL or a BYE.
type Dialer interface {
	Dial(d LegDial)
	Drop(accountSid, legSid string)
}
