package calls

import (
	"context"

	"github.com/tonepay/tonepay"
)

var _ tonepay.LegService = (*Service)(nil)

// LegRequest is tonepay.LegRequest: a real call a leg has answered.
type LegRequest = tonepay.LegRequest

// StartLeg implements tonepay.LegService: a real caller's call, an inbound
// call of the account, in progress (a SIP call ringing until its first
// document answers, when tonepay runs its TwiML: Call.RunsTwiML; a streamed
// call is in progress from the start, as Twilio answered it). A real leg's call
// runs TwiML only when it is given some: its To (or req.Number) is an IncomingPhoneNumber of
// the account with a VoiceUrl (the number's settings become the call's, as
// for CreateInbound), or later a Calls update's Url or Twiml. Its keys then
// come through Press with the leg's source. It returns once the call's
// TwiML, if any, waits for the caller. The call's lease (lease.go) is
// this process's to renew from then on, until the call ends. Errors: 64020
// a simulated leg; the store's (a call with that SID exists: a leg reopens
// nothing).
func (svc *Service) StartLeg(ctx context.Context, req *LegRequest) (*tonepay.Call, error) {
	if req.Leg.Simulated() {
		return nil, tonepay.Errorf(tonepay.CodeInvalidParameter, "StartLeg: a simulated call is created with CreateCall")
	}
	cr := req.CreateCallRequest
	var n *tonepay.PhoneNumber
	dialled := cr.To
	if req.Number != "" {
		dialled = req.Number
	}
	if cr.URL == "" && cr.Twiml == "" && tonepay.IsE164(dialled) {
		nums, err := svc.Tx.Store.FindNumbers(ctx, tonepay.NumberFilter{AccountSid: cr.AccountSid, PhoneNumber: dialled, Limit: 1})
		if err != nil {
			return nil, err
		}
		if len(nums) > 0 && nums[0].VoiceURL != "" {
			n = nums[0]
			numberSettings(&cr, n)
		}
	}
	if n == nil && cr.URL == "" && cr.Twiml == "" {
		cr.Twiml = req.NoApp
	}
	call, err := svc.createCall(ctx, &cr, tonepay.DirectionInbound, func(c *tonepay.Call) {
		if req.CallSid != "" {
			c.Sid = req.CallSid
		}
		c.Leg = req.Leg
		if n != nil {
			c.PhoneNumberSid = n.Sid
		}
		c.LegLease = c.DateCreated.Add(svc.leaseTTL()) // lease.go
	})
	if err != nil {
		// A call committed all the same is renewed by no one: once its
		// lease lapses, a sweeper ends it.
		return nil, err
	}
	svc.holdLeg(call.Sid)
	return call, nil
}
