package calls

import (
	"context"

	"github.com/tonepay/tonepay"
)

// CreateInbound implements tonepay.CallService: the number's VoiceUrl (and
// its methods, fallback and StatusCallback) becomes the call's, as when
// Twilio routes a caller to a number; the call keeps the number's SID
// (phone_number_sid) and who forwarded it, and its requests carry a
// CallToken (startRun).
func (svc *Service) CreateInbound(ctx context.Context, req *tonepay.InboundCallRequest) (*tonepay.Call, error) {
	if !tonepay.IsCallerID(req.From) {
		// A From of " 15005550006" is a "+" sent unencoded: refused, not
		// trimmed, as every other value that is no caller.
		return nil, tonepay.Errorf(tonepay.CodeInvalidFrom, "Invalid 'From' Number %q: the caller is an E.164 number such as +15005550006 (send + encoded: %%2B), client:<identity>, sip:<address> or a caller-ID word such as anonymous", clipText(req.From))
	}
	if !tonepay.IsE164(req.To) {
		return nil, tonepay.Errorf(tonepay.CodeInvalidTo, "Invalid 'To' Phone Number %q: must be E.164, one of the account's IncomingPhoneNumbers", clipText(req.To))
	}
	nums, err := svc.Tx.Store.FindNumbers(ctx, tonepay.NumberFilter{AccountSid: req.AccountSid, PhoneNumber: req.To, Limit: 1})
	if err != nil {
		return nil, err
	}
	if len(nums) == 0 {
		return nil, tonepay.Errorf(tonepay.CodeInvalidTo, "Invalid 'To' Phone Number %s: not one of the account's IncomingPhoneNumbers", req.To)
	}
	n := nums[0]
	cr := &tonepay.CreateCallRequest{AccountSid: req.AccountSid, To: req.To, From: req.From, FarEnd: req.FarEnd}
	numberSettings(cr, n)
	return svc.createCall(ctx, cr, tonepay.DirectionInbound, func(c *tonepay.Call) {
		c.PhoneNumberSid, c.ForwardedFrom = n.Sid, req.ForwardedFrom
	})
}

// numberSettings makes the number's VoiceUrl (and its methods, fallback
// and StatusCallback) the call's, as when Twilio routes a caller to it: an
// inbound call's, and a stream's whose To is the number.
func numberSettings(cr *tonepay.CreateCallRequest, n *tonepay.PhoneNumber) {
	cr.URL, cr.Method = n.VoiceURL, n.VoiceMethod
	cr.FallbackURL, cr.FallbackMethod = n.VoiceFallbackURL, n.VoiceFallbackMethod
	cr.StatusCallback, cr.StatusCallbackMethod = n.StatusCallback, n.StatusCallbackMethod
	if n.StatusCallback != "" {
		// A number's StatusCallback gets only the end of the call (Twilio).
		cr.StatusCallbackEvents = []string{tonepay.EventCompleted}
	}
	cr.Timeout = tonepay.DefaultCallTimeout
}

// clipText keeps an error message short whatever a client sent.
func clipText(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
