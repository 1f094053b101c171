package session

import (
	"context"
	"strings"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/voice"
)

// CreateCall implements tonepay.CallService. There is no telephone network
// behind it: the simulated far end answers at once, and the call runs its
// TwiML (run.go) until the document hangs up or the call is hung up through
// the API. The call is returned once its TwiML waits for the caller (or has
// ended), so that a test sees the call where its caller would be.
func (svc *Service) CreateCall(ctx context.Context, req *tonepay.CreateCallRequest) (*tonepay.Call, error) {
	return svc.createCall(ctx, req, tonepay.DirectionOutboundAPI, nil)
}

// createCall creates and starts a call; inbound, if set, adds what an
// inbound call has besides the request (its number, who forwarded it).
func (svc *Service) createCall(ctx context.Context, req *tonepay.CreateCallRequest, direction string, inbound func(*tonepay.Call)) (*tonepay.Call, error) {
	now := svc.Now().UTC()
	call := &tonepay.Call{
		Sid:         svc.NewSID(tonepay.PrefixCall),
		AccountSid:  req.AccountSid,
		To:          req.To,
		From:        req.From,
		URL:         req.URL,
		CallParams:  req.CallParams,
		Status:      tonepay.CallInProgress,
		Direction:   direction,
		Leg:         tonepay.LegSimulated,
		StartTime:   now,
		DateCreated: now,
		DateUpdated: now,
	}
	if inbound != nil {
		inbound(call)
	}
	if direction == tonepay.DirectionInbound && svc.runsTwiml() {
		call.Status = tonepay.CallRinging // until its first document answers it
	}
	c, err := svc.commit(ctx, func(tx tonepay.Tx, c *changes) error {
		if err := tx.CreateCall(ctx, call); err != nil {
			return err
		}
		if !svc.runsTwiml() {
			return nil
		}
		return svc.startRun(ctx, tx, c, call, now)
	})
	if err != nil {
		return nil, err
	}
	svc.settle(c.calls)
	if req.SendDigits != "" && svc.runsTwiml() {
		// Pressed once answered, as if by the caller; W waits a second.
		keys := strings.ReplaceAll(req.SendDigits, "W", "ww")
		if _, err := svc.press(ctx, call.AccountSid, call.Sid, keys); err != nil && tonepay.ErrorCode(err) != tonepay.CodeCallNotInProgress {
			return nil, err
		}
	}
	return svc.FindCall(ctx, call.AccountSid, call.Sid)
}

// updateOp names what a Calls update tries, for its 21220: Twilio's own
// text, "Cannot redirect.", for a new Url or Twiml (or the settings that go
// with them), and the status change when there is one, which wins as it does
// on a live call.
func updateOp(req *tonepay.UpdateCallRequest) string {
	switch req.Status {
	case tonepay.CallCompleted:
		return opHangUp
	case tonepay.CallCanceled:
		return "cancel"
	}
	return "redirect"
}

// UpdateCall implements tonepay.CallService. Status=canceled, as on Twilio,
// only affects calls not yet answered, so on a simulated call (always
// answered) it changes nothing. Url or Twiml redirects the live call: its
// current verb stops and the new document runs, before the answer.
func (svc *Service) UpdateCall(ctx context.Context, req *tonepay.UpdateCallRequest) (*tonepay.Call, error) {
	now := svc.Now().UTC()
	var call *tonepay.Call
	c, err := svc.commit(ctx, func(tx tonepay.Tx, c *changes) error {
		var err error
		if call, err = findCall(ctx, tx, req.AccountSid, req.Sid); err != nil {
			return err
		}
		if call.Status != tonepay.CallInProgress && (req.Status != "" || req.Changes()) {
			return tonepay.CallNotInProgress(updateOp(req))
		}
		if req.Status == tonepay.CallCompleted {
			// Hanging up wins: what else the request says is for a live call.
			return svc.hangUp(ctx, tx, c, call, now)
		}
		if !req.Changes() {
			return nil
		}
		set := func(dst *string, v *string) {
			if v != nil {
				*dst = *v
			}
		}
		if req.URL != nil {
			call.URL, call.Twiml = *req.URL, ""
		}
		set(&call.Method, req.Method)
		set(&call.Twiml, req.Twiml)
		set(&call.StatusCallback, req.StatusCallback)
		set(&call.StatusCallbackMethod, req.StatusCallbackMethod)
		call.DateUpdated = now
		if err := tx.UpdateCall(ctx, call); err != nil {
			return err
		}
		if req.URL == nil && req.Twiml == nil {
			return nil
		}
		run, st, err := loadRun(ctx, tx, call.Sid)
		if err != nil || run == nil {
			return err
		}
		in := voice.Input{Kind: voice.Update, Method: call.Method}
		if req.URL != nil {
			in.URL = *req.URL
		} else {
			in.Twiml = *req.Twiml
		}
		paying := st.Current != nil && st.Current.Name == "Pay"
		out := svc.Voice.Step(st, in, now)
		if err := svc.saveRun(ctx, tx, c, call, run, st, out, out.Timeline, now); err != nil || !paying {
			return err
		}
		return svc.cancelPayVerb(ctx, tx, c, call.Sid, now)
	})
	if err != nil {
		return nil, err
	}
	svc.settle(c.calls)
	return svc.FindCall(ctx, call.AccountSid, call.Sid)
}
