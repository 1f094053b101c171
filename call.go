package tonepay

import "time"

// CallStatus values, as Twilio names them. Append only.
const (
	CallQueued     = "queued"
	CallRinging    = "ringing"
	CallInProgress = "in-progress"
	CallCompleted  = "completed"
	CallCanceled   = "canceled"
)

// Call is a phone call. tonepay's calls are simulated: answered at once, and
// the caller's keypad is an API. A payment session lives on a call.
type Call struct {
	Sid         string
	AccountSid  string
	To          string
	From        string
	URL         string // the TwiML URL given at create; relative StatusCallbacks resolve against it
	Status      string
	Direction   string
	StartTime   time.Time
	EndTime     time.Time // zero while the call is up
	DateCreated time.Time
	DateUpdated time.Time
}

// Duration is the length of an ended call in whole seconds, as Twilio reports it.
func (c *Call) Duration() int {
	if c.EndTime.IsZero() || c.StartTime.IsZero() {
		return 0
	}
	return int(c.EndTime.Sub(c.StartTime) / time.Second)
}
