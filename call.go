package tonepay

import (
	"context"
	"time"
)

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

// CallService keeps calls. A call of another account is ErrNotFound, as a
// missing one is.
type CallService interface {
	FindCall(ctx context.Context, accountSid, sid string) (*Call, error)
	// CreateCall starts a simulated call, answered at once.
	CreateCall(ctx context.Context, req *CreateCallRequest) (*Call, error)
	// UpdateCall hangs up (Status CallCompleted) and ends the call's open
	// session; CallCanceled changes nothing on an answered call. Errors:
	// 21220 a status or a redirect on a call no longer in progress.
	UpdateCall(ctx context.Context, req *UpdateCallRequest) (*Call, error)
}

// CreateCallRequest is a well-formed call create.
type CreateCallRequest struct {
	AccountSid string
	To, From   string
	URL        string // the TwiML URL; relative StatusCallbacks resolve against it
}

// UpdateCallRequest is a well-formed call update.
type UpdateCallRequest struct {
	AccountSid string
	Sid        string
	Status     string // CallCompleted, CallCanceled or ""
	Redirect   bool   // Url or Twiml given: recorded nowhere, there is no TwiML engine
}
