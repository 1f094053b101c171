package calls

import (
	"context"

	"github.com/tonepay/tonepay"
)

// LegRequest is a real call that a leg (a media stream, a SIP trunk) has
// answered, to register with the runtime.
type LegRequest struct {
	// AccountSid, From, To; for a leg whose TwiML tonepay runs (SIP), the
	// Url or Twiml to run and their settings.
	tonepay.CreateCallRequest
	// CallSid is the call's SID: Twilio's own on a stream, so that the
	// agent's app uses the Payments API with it; "" makes one.
	CallSid string
	Leg     tonepay.Leg // LegStream or LegSIP
}

// StartLeg registers a real caller's call: an inbound call of the account,
// in progress (ringing until its first document answers, when tonepay runs
// its TwiML: Leg.RunsTwiML). Its keys then come through Press with the
// leg's source. It returns once the call's TwiML, if any, waits for the
// caller. Errors: 64020 a simulated leg; the store's (a call with that SID
// exists: a leg reopens nothing).
func (svc *Service) StartLeg(ctx context.Context, req *LegRequest) (*tonepay.Call, error) {
	if req.Leg.Simulated() {
		return nil, tonepay.Errorf(tonepay.CodeInvalidParameter, "StartLeg: a simulated call is created with CreateCall")
	}
	return svc.createCall(ctx, &req.CreateCallRequest, tonepay.DirectionInbound, func(c *tonepay.Call) {
		if req.CallSid != "" {
			c.Sid = req.CallSid
		}
		c.Leg = req.Leg
	})
}
