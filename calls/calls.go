package calls

import (
	"context"
	"strings"
	"time"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/internal/txn"
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

// createCall creates and starts a call; mod, if set, adds what an inbound
// call has besides the request (its number, who forwarded it; a real
// call's SID and leg).
func (svc *Service) createCall(ctx context.Context, req *tonepay.CreateCallRequest, direction string, mod func(*tonepay.Call)) (*tonepay.Call, error) {
	now := svc.now()
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
	if mod != nil {
		mod(call)
	}
	runs := svc.twiml(call)
	if direction == tonepay.DirectionInbound && runs && call.Leg != tonepay.LegStream {
		// Until its first document answers it. A streamed call has been
		// answered on Twilio before it streams: in progress from start.
		call.Status = tonepay.CallRinging
	}
	w, err := svc.commit(ctx, func(tx tonepay.Tx, w *txn.Work) error {
		if err := tx.CreateCall(ctx, call); err != nil {
			return err
		}
		if !runs {
			return nil
		}
		return svc.startRun(ctx, tx, w, call, req.FarEnd, now)
	})
	if err != nil {
		return nil, err
	}
	svc.settle(w.Steps)
	if req.SendDigits != "" && runs {
		// Pressed once answered, as if by the caller; W waits a second.
		keys := strings.ReplaceAll(req.SendDigits, "W", "ww")
		if _, err := svc.sendDigits(ctx, call.AccountSid, call.Sid, keys); err != nil && tonepay.ErrorCode(err) != tonepay.CodeCallNotInProgress {
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
	now := svc.now()
	var call *tonepay.Call
	w, err := svc.commit(ctx, func(tx tonepay.Tx, w *txn.Work) error {
		var err error
		if call, err = tonepay.NewTenant(tx, req.AccountSid).FindCall(ctx, req.Sid); err != nil {
			return err
		}
		if req.Status != "" || req.Changes() {
			if err := call.InProgress(updateOp(req)); err != nil {
				return err
			}
		}
		if req.Status == tonepay.CallCompleted {
			// Hanging up wins: what else the request says is for a live call.
			return svc.hangUp(ctx, tx, w, call, now)
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
		if err != nil {
			return err
		}
		if run == nil {
			if call.Leg != tonepay.LegStream || call.ParentCallSid != "" || !svc.twiml(call) {
				return nil // a Dial's far end holds, whatever it is told
			}
			// A streamed call given its first document: it runs now, as an
			// inbound call's first document does.
			return svc.startRun(ctx, tx, w, call, tonepay.FarEnd{}, now)
		}
		in := voice.Input{Kind: voice.Update, Method: call.Method}
		if req.URL != nil {
			in.URL = *req.URL
		} else {
			in.Twiml = *req.Twiml
		}
		paying := st.Current != nil && st.Current.Name == "Pay"
		out := svc.Voice.Step(st, in, now)
		if err := svc.saveRun(ctx, tx, w, call, run, st, out, out.Timeline, now); err != nil || !paying {
			return err
		}
		// After the run is saved: what the session's end tells the TwiML
		// finds it out of the <Pay>.
		return svc.Pay.CancelVerb(ctx, tx, w, call.Sid, now)
	})
	if err != nil {
		return nil, err
	}
	svc.settle(w.Steps)
	return svc.FindCall(ctx, call.AccountSid, call.Sid)
}

// HangUp implements tonepay.CallService.
func (svc *Service) HangUp(ctx context.Context, accountSid, callSid string) (*tonepay.Call, error) {
	now := svc.now()
	var call *tonepay.Call
	w, err := svc.commit(ctx, func(tx tonepay.Tx, w *txn.Work) error {
		var err error
		if call, err = findLiveCall(ctx, tx, accountSid, callSid, opHangUp); err != nil {
			return err
		}
		return svc.hangUp(ctx, tx, w, call, now)
	})
	svc.settle(w.Steps)
	return call, err
}

// hangUp ends a live call, its TwiML and its open session.
func (svc *Service) hangUp(ctx context.Context, tx tonepay.Tx, w *txn.Work, call *tonepay.Call, now time.Time) error {
	run, st, err := loadRun(ctx, tx, call.Sid)
	if err != nil {
		return err
	}
	if run == nil {
		if err := svc.endCall(ctx, tx, w, call, nil, tonepay.CallCompleted, now); err != nil || call.ParentCallSid == "" {
			return err
		}
		return svc.farEndLeft(ctx, tx, w, call, now) // a Dial's far end hung up: the parent goes on
	}
	out := svc.Voice.Step(st, voice.Input{Kind: voice.CallerHangUp}, now)
	return svc.saveRun(ctx, tx, w, call, run, st, out, out.Timeline, now)
}
