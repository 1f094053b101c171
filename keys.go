package tonepay

// Where a caller's keys come from: the source label of
// tonepay_keys_total{source}. Every source enters a call through the call
// runtime's one door (CallService.Press). Append only.
const (
	KeySourceKeypad = "keypad" // the Digits API (and a call's SendDigits): a simulated caller
	KeySourceStream = "stream" // a Twilio Media Stream: dtmf frames and tones in its audio
	KeySourceSIP    = "sip"    // a SIP leg: RFC 4733 events and tones in its audio
)

// Keys are keys a caller pressed, on their way into a call.
type Keys struct {
	AccountSid string // the call's account: another account's call is not found
	CallSid    string
	// Source is one of the KeySource values. A real-time source (stream,
	// sip) hands its keys over and goes on at once; the keypad waits
	// until they were applied (CallService.Press).
	Source string
	// Digits are the keys in the order pressed: 0-9, * and #; w waits
	// half a second between two bursts of keys.
	Digits string
}

// Realtime reports whether the keys come from a live leg that must never
// wait for the store or the call's app: a stream or SIP leg.
func (k Keys) Realtime() bool { return k.Source == KeySourceStream || k.Source == KeySourceSIP }

// Pressed reports what became of pressed keys.
type Pressed struct {
	Applied int // keys a listener took: a <Gather>, or a session's field
	Dropped int // keys that reached nobody listening
}

// CaptureState is what a call's payment session is doing, as a call leg
// needs to know it for every packet of audio without asking the store: a
// SIP leg keeps the caller's DTMF from the agent while Paying, and a leg
// may mask what it shows while a Field is captured. The call runtime tells
// it after each commit that changes it (calls.Service.WatchCapture).
type CaptureState struct {
	// Paying: a payment session (an agent's or a <Pay>'s) is open on the
	// call, between fields and while it processes too: callers type ahead.
	Paying bool
	// Field is the field being captured now; "" when none is.
	Field Field
}

// CaptureOf is the capture state a session leaves on its call; nil is no
// session.
func CaptureOf(s *Session) CaptureState {
	if s == nil || s.Status == SessionEnded {
		return CaptureState{}
	}
	return CaptureState{Paying: true, Field: s.State.Capture}
}
