package tonepay

import (
	"context"
	"strconv"
	"strings"
	"time"
)

// CallStatus values, as Twilio names them. Append only.
const (
	CallQueued     = "queued"
	CallRinging    = "ringing"
	CallInProgress = "in-progress"
	CallCompleted  = "completed"
	CallCanceled   = "canceled"
	CallBusy       = "busy"
	CallNoAnswer   = "no-answer"
	CallFailed     = "failed"
)

// Direction values of a call, as Twilio names them (the Direction parameter
// and field). Append only.
const (
	DirectionOutboundAPI  = "outbound-api"  // created through the Calls API
	DirectionInbound      = "inbound"       // a caller dialed one of the account's numbers
	DirectionOutboundDial = "outbound-dial" // a <Dial>'s far end: a call of its own, with ParentCallSid
)

// Leg is what carries a call's audio and keys. It is kept with the call, so
// that every process (and a restarted one) knows who runs the call's TwiML,
// where its keys come from, and who may hear them.
type Leg string

// Legs. Append only.
const (
	// LegSimulated: no phone. The caller's keypad is the Digits API (and
	// SendDigits), its ears the timeline; tonepay runs the TwiML.
	LegSimulated Leg = "simulated"
	// LegStream: a real call on Twilio whose audio Twilio streams to
	// tonepay (Media Streams). Twilio runs its TwiML, never tonepay; the
	// caller's keys come from the stream's dtmf frames and tones.
	LegStream Leg = "stream"
	// LegSIP: a real call from a SIP trunk. tonepay runs its TwiML (the
	// number's VoiceUrl, or the bridge to the trunk's agent); its keys come
	// from RFC 4733 events and tones, and the agent's leg does not hear
	// them while a payment session is open.
	LegSIP Leg = "sip"
)

// RunsTwiML reports whether tonepay runs the TwiML of every call on the
// leg: every leg but a stream's. Twilio runs a streamed call's own TwiML;
// tonepay runs only what it is given for it (Call.RunsTwiML).
func (l Leg) RunsTwiML() bool { return l != LegStream }

// Simulated reports whether the call has no real caller: keys may be
// pressed for it through the API (the keypad source).
func (l Leg) Simulated() bool { return l == "" || l == LegSimulated }

// Real reports whether a real caller is on the line (a stream or SIP leg),
// whose keys must not reach anyone who is not meant to hear them.
func (l Leg) Real() bool { return !l.Simulated() }

// Call is a phone call. A simulated one (Leg) is answered at once, and the
// caller's keypad is an API. A payment session lives on a call.
type Call struct {
	Sid        string
	AccountSid string
	To         string
	From       string
	URL        string // the TwiML URL; relative StatusCallbacks resolve against it
	CallParams
	// ParentCallSid is set on a <Dial>'s far-end leg (Direction
	// outbound-dial): the call that dialed it.
	ParentCallSid string
	Status        string
	Direction     string // DirectionOutboundAPI, DirectionInbound, DirectionOutboundDial
	// Leg is what carries the call (simulated, a media stream, SIP): it
	// decides who runs the call's TwiML and who hears what. "" is
	// LegSimulated (calls stored before legs were).
	Leg         Leg
	StartTime   time.Time
	EndTime     time.Time // zero while the call is up
	DateCreated time.Time
	DateUpdated time.Time

	// PhoneNumberSid is the IncomingPhoneNumber an inbound call came in on
	// (Twilio's phone_number_sid); ForwardedFrom, when known, the number
	// that forwarded it (ForwardedFrom, forwarded_from). Both stay as they
	// were created.
	PhoneNumberSid string
	ForwardedFrom  string

	// LegLease is how long the process carrying a real leg's call (its
	// socket, its SIP dialog) vouches for it: that process renews it
	// (Store.RenewLeases) while the call is up, and once it has lapsed any
	// process takes the call for its leg's process having died and hangs
	// it up (Reader.FindLapsedLegs). Zero is no lease: a simulated call, a
	// <Dial>'s leg (it ends with its parent), or a call an older tonepay
	// started. The runtime's own bookkeeping: no API shows it.
	LegLease time.Time `json:"-"`
}

// InProgress is nil while the call is in progress, else 21220 naming op,
// what was tried on a call that has ended (CallNotInProgress).
func (c *Call) InProgress(op string) error {
	if c.Status != CallInProgress {
		return CallNotInProgress(op)
	}
	return nil
}

// RunsTwiML reports whether tonepay runs the call's TwiML: a leg's that
// runs every call's (Leg.RunsTwiML), or a streamed call's that was given a
// document: its number's VoiceUrl when the stream started, or a Calls
// update's Url or Twiml. A streamed call given none only holds, for
// agent-assisted Payments.
func (c *Call) RunsTwiML() bool { return c.Leg.RunsTwiML() || c.URL != "" || c.Twiml != "" }

// Duration is the length of an ended call in whole seconds, as Twilio reports it.
func (c *Call) Duration() int {
	if c.EndTime.IsZero() || c.StartTime.IsZero() {
		return 0
	}
	return int(c.EndTime.Sub(c.StartTime) / time.Second)
}

// CallService keeps calls. A call of another account is ErrNotFound, as a
// missing one is.
type CallService interface {
	// FindCall returns the account's call. Errors: ErrNotFound unknown
	// call, or another account's.
	FindCall(ctx context.Context, accountSid, sid string) (*Call, error)
	// FindCalls lists the account's calls, newest first (f.AccountSid is
	// accountSid's).
	FindCalls(ctx context.Context, accountSid string, f CallFilter) ([]*Call, error)
	// CreateCall starts a simulated call, answered at once.
	CreateCall(ctx context.Context, req *CreateCallRequest) (*Call, error)
	// UpdateCall hangs up (Status CallCompleted) and ends the call's open
	// session; CallCanceled changes nothing on an answered call. Errors:
	// 21220 a status or a redirect on a call no longer in progress.
	UpdateCall(ctx context.Context, req *UpdateCallRequest) (*Call, error)
	// CreateInbound: a caller dials To, a number of the account, from From;
	// the number's VoiceUrl runs. Errors: 21211 To is not a number of the
	// account (or not E.164), 21212 From is no caller (IsCallerID).
	CreateInbound(ctx context.Context, req *InboundCallRequest) (*Call, error)
	// FindTimeline lists what happened on the call, entries with Seq after
	// afterSeq, at most limit, in order. Errors: ErrNotFound unknown call,
	// or another account's.
	FindTimeline(ctx context.Context, accountSid, callSid string, afterSeq int64, limit int) ([]*TimelineEntry, error)
	// Press is the one door for a caller's keys, whatever their Source: each
	// goes to whoever listens on the call (a <Gather>, a <Pay>'s session,
	// an agent's session capturing a field) or is dropped. Keys are applied
	// in the order they reach the door, per call. A real-time source
	// (Keys.Realtime) hands its keys over and returns at once, with a nil
	// Pressed; the keypad returns once its keys were applied and the TwiML
	// they caused has run to its next wait. Errors: 64020 a key not on a
	// keypad (0-9, *, #, w); 20404 unknown call, 21220 call not in progress
	// (the keypad's; a real-time source's are logged); 20429 too many keys
	// queued on the call.
	Press(ctx context.Context, k Keys) (*Pressed, error)
	// Speak has the caller of a simulated call say s.Text, through the same
	// per-call order as keys (Press): a listening <Gather input="speech">
	// ends with it (its action gets SpeechResult and Confidence); anything
	// else drops it. It returns once the TwiML it caused has run to its next
	// wait, reporting whether a <Gather> took it. Errors: 64020 no words,
	// more than MaxSpeechText, a Confidence not in [0, 1] (0 is the
	// default), or a real call (its caller speaks for themself); 20404
	// unknown call; 21220 call not in progress; 20429 too much queued.
	Speak(ctx context.Context, s Speech) (heard bool, err error)
	// HangUp ends a call, and its open session with Result=caller-hung-up.
	// Errors: 20404 unknown call, 21220 call not in progress.
	HangUp(ctx context.Context, accountSid, callSid string) (*Call, error)
}

// Services are the domain operations behind an API (twilioapi's, and any
// other): who is asking, every write, every read of an account's resources,
// and every rule that needs the store or the connectors; a door decodes
// and encodes only. cmd/tonepay fills it with the accounts, calls and
// payments services; the interfaces' method names are distinct, so that it
// has them all.
type Services struct {
	Authenticator
	AccountService
	APIKeyService
	NumberService
	CallService
	SessionService
}

// InboundCallRequest is a simulated caller dialing one of the account's
// numbers. ForwardedFrom, optional, is the number that forwarded the call
// to To, as a carrier may tell Twilio.
type InboundCallRequest struct {
	AccountSid    string
	From, To      string
	ForwardedFrom string
	FarEnd        FarEnd // as CreateCallRequest's
}

// Twilio's error codes for a call create or update.
const (
	CodeCallInvalidURL       = 21205 // Url, FallbackUrl or StatusCallback not absolute http(s)
	CodeCallInvalidTimeout   = 21208
	CodeCallInvalidMethod    = 21209 // a method other than GET and POST
	CodeInvalidCallbackEvent = 21626 // a StatusCallbackEvent Twilio does not know
	CodeInvalidTo            = 21211 // To is no party (IsEndpoint); an inbound call's, not a number of the account
	CodeInvalidFrom          = 21212
)

// Call progress events a StatusCallback may ask for (StatusCallbackEvent).
const (
	EventInitiated = "initiated"
	EventRinging   = "ringing"
	EventAnswered  = "answered"
	EventCompleted = "completed"
)

// Twilio's defaults and bounds for a call create.
const (
	DefaultCallTimeout = 60  // seconds of ringing
	MaxCallTimeout     = 600 // Twilio's maximum Timeout
	MaxTwiml           = 4000
	MaxSendDigits      = 32
)

// CallParams are what a call create says about how the call runs: kept for
// the call runtime, which fetches Url (or runs Twiml) and posts call
// progress to StatusCallback. Twiml, when not empty, is what runs; a create
// with both Url and Twiml keeps Url (Twilio's warning 32019) and no Twiml.
type CallParams struct {
	Method               string // GET or POST, for URL
	Twiml                string
	FallbackURL          string
	FallbackMethod       string
	StatusCallback       string // absolute; call progress, not Payments' callbacks
	StatusCallbackMethod string
	// StatusCallbackEvents are the events asked for, in the order of
	// EventInitiated..EventCompleted, without repeats. Shared with caches:
	// never changed in place.
	StatusCallbackEvents []string
	Timeout              int    // seconds of ringing
	SendDigits           string // keys to press once answered: 0-9 A-D * # w W
}

// CreateCallRequest is a well-formed call create: methods upper case,
// defaults applied.
type CreateCallRequest struct {
	AccountSid string
	To, From   string
	URL        string // the TwiML URL; relative StatusCallbacks resolve against it
	CallParams
	// FarEnd is how the simulated far end of the call's <Dial>s behaves
	// (tonepay's TonepayDial; Twilio's SDKs never send it). It is kept in
	// the call's run, not with the call: only the TwiML runtime reads it.
	FarEnd FarEnd
}

// FarEnd is how the simulated far end of a call's <Dial>s behaves, so that
// a test can reach each DialCallStatus branch of an app (DESIGN §13). The
// zero value answers at once and stays until the caller, the app or the
// Dial's timeLimit ends the bridge. It applies to every <Dial> of the call,
// and to the first party of a <Dial> with several.
type FarEnd struct {
	// Status is what the far end does when dialed: CallInProgress (or "")
	// answers; CallBusy, CallNoAnswer (it rings until the Dial's timeout)
	// and CallFailed never answer.
	Status string
	// HangUpAfter, for a far end that answers, is how many seconds of the
	// call's clock it stays before it hangs up; 0 stays.
	HangUpAfter int
}

// MaxHangUpAfter bounds FarEnd.HangUpAfter: a Dial's longest timeLimit.
const MaxHangUpAfter = 14400

// ParseFarEnd reads a FarEnd as the extension parameter writes it: answer,
// busy, no-answer, failed, or answer:N (it answers and hangs up after N
// seconds, 1 to MaxHangUpAfter). "" is answer.
func ParseFarEnd(s string) (FarEnd, bool) {
	switch s {
	case "", "answer":
		return FarEnd{}, true
	case CallBusy, CallNoAnswer, CallFailed:
		return FarEnd{Status: s}, true
	}
	n, ok := strings.CutPrefix(s, "answer:")
	if !ok || n == "" || len(n) > 5 || strings.Trim(n, "0123456789") != "" {
		return FarEnd{}, false
	}
	after, err := strconv.Atoi(n)
	if err != nil || after < 1 || after > MaxHangUpAfter {
		return FarEnd{}, false
	}
	return FarEnd{HangUpAfter: after}, true
}

// String is f as ParseFarEnd reads it.
func (f FarEnd) String() string {
	switch {
	case f.Status != "" && f.Status != CallInProgress:
		return f.Status
	case f.HangUpAfter > 0:
		return "answer:" + strconv.Itoa(f.HangUpAfter)
	}
	return "answer"
}

// UpdateCallRequest is a well-formed call update. A nil field is unchanged.
type UpdateCallRequest struct {
	AccountSid string
	Sid        string
	Status     string // CallCompleted, CallCanceled or ""
	// URL redirects the call (the runtime will fetch it) and clears Twiml;
	// Twiml redirects it to a document and keeps URL as the base of relative
	// URLs. At most one of the two.
	URL, Method, Twiml                   *string
	StatusCallback, StatusCallbackMethod *string
}

// Changes reports whether the update changes anything but Status.
func (r *UpdateCallRequest) Changes() bool {
	return r.URL != nil || r.Method != nil || r.Twiml != nil || r.StatusCallback != nil || r.StatusCallbackMethod != nil
}
