package session

import (
	"context"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/capture"
	"github.com/tonepay/tonepay/voice"
)

// <Pay> in TwiML (DESIGN §10): the voice engine runs the verb (prompts, the
// action), the capture engine runs its session (fields in order, attempts,
// the connector), and this file passes between them inside the
// transactions both already have: a <Pay> that begins creates its session
// (startPayVerb); what a <Pay> session asks for next, and how it ended, go
// back to the call's TwiML (payProgress, from apply).

// startPayVerb creates the session of the <Pay> v the call has just begun,
// or ends the <Pay> at once the way Twilio does when it cannot start one: a
// validation-error Result for what the connector refuses (64004, 64003,
// 6400x), for ACH without an AVSName <Parameter> (64014), and an ErrorType
// of session-in-progress when a payment session is open on the call. It
// returns the engine's next output (the first prompt, or what follows the
// <Pay>).
func (svc *Service) startPayVerb(ctx context.Context, tx tonepay.Tx, c *changes, call *tonepay.Call, st *voice.State, v *voice.Verb, now time.Time) (voice.Output, error) {
	ended := func(params url.Values) voice.Output {
		params.Set("Result", tonepay.ResultValidationError)
		return svc.Voice.Step(st, voice.Input{Kind: voice.PayEnded, Params: params}, now)
	}
	refused := func(err error) voice.Output {
		var te *tonepay.Error
		if !errors.As(err, &te) {
			te = &tonepay.Error{Code: tonepay.CodeInternal, Message: err.Error()}
		}
		return ended(url.Values{"PaymentError": {te.Message}, "PayErrorCode": {strconv.Itoa(te.Code)}})
	}
	if svc.RequireHTTPS {
		for _, u := range []string{v.Action, v.Pay.StatusCallback} {
			if u != "" && !strings.HasPrefix(u, "https://") {
				return refused(tonepay.Errorf(tonepay.CodeHTTPSRequired, "<Pay> action and statusCallback must be https URLs, not %s", tonepay.RedactURL(u))), nil
			}
		}
	}
	prm := v.Pay.Params()
	prm.StatusCallbackMethod = v.Pay.StatusCallbackMethod
	if prm.PaymentMethod == tonepay.ACHDebit && prm.Parameter["AVSName"] == "" {
		return refused(tonepay.Errorf(tonepay.CodeACHNeedsAVSName, "ECP/ACH requires AVSName Parameter in the <Pay> verb")), nil
	}
	acct, err := tx.FindAccount(ctx, call.AccountSid)
	if err != nil {
		return voice.Output{}, err
	}
	req := &tonepay.CreateRequest{AccountSid: call.AccountSid, OwnerSid: acct.OwnerSid, CallSid: call.Sid, ChargeAmount: v.Pay.ChargeAmount}
	if err := svc.checkCreate(&prm, req); err != nil {
		return refused(err), nil
	}
	s := &tonepay.Session{Sid: svc.NewSID(tonepay.PrefixPayment), AccountSid: call.AccountSid, CallSid: call.Sid,
		Status: tonepay.SessionOpen, Params: prm, DateCreated: now, DateUpdated: now}
	s.State.StatusCallback = v.Pay.StatusCallback
	out := svc.Engine.StartVerb(s, now)
	// The store refuses a second open session on the call.
	if err := tx.CreateSession(ctx, s); errors.Is(err, tonepay.ErrConflict) {
		return ended(url.Values{"ErrorType": {"session-in-progress"},
			"PaymentError": {"A payment session is already in progress on this call"}, "PayErrorCode": {strconv.Itoa(tonepay.CodeInvalidOperation)}}), nil
	} else if err != nil {
		return voice.Output{}, err
	}
	c.callbacks = append(c.callbacks, withMethod(s, out.Callbacks)...)
	c.touched = append(c.touched, tonepay.Event{AccountSid: s.AccountSid, SessionSid: s.Sid})
	o := svc.Voice.Step(st, voice.Input{Kind: voice.PayAsk, Ask: out.Ask}, now)
	if afterPrompt(st, s) {
		if err := tx.UpdateSession(ctx, s); err != nil {
			return voice.Output{}, err
		}
	}
	return o, nil
}

// afterPrompt moves a <Pay> session's wait for the first digit to after the
// prompt the caller is hearing, when prompts take time (--voice-time=real):
// the caller cannot be late before the question ends.
func afterPrompt(st *voice.State, s *tonepay.Session) bool {
	if st.Wait == nil || st.Wait.For != "pay-prompt" || s.Status != tonepay.SessionOpen {
		return false
	}
	d := st.Wait.Until.Add(time.Duration(max(s.Params.Timeout, 1)) * time.Second)
	if !d.After(s.Deadline) {
		return false
	}
	s.Deadline = d
	return true
}

// withMethod sets a <Pay> session's statusCallbackMethod on its callbacks.
func withMethod(s *tonepay.Session, cbs []*tonepay.Callback) []*tonepay.Callback {
	for _, cb := range cbs {
		cb.Method = s.Params.StatusCallbackMethod
	}
	return cbs
}

// payProgress tells the call's TwiML what its <Pay> session did: each field
// asked (a prompt to play), the wait while the connector works, and the
// end (the action's fields).
func (svc *Service) payProgress(ctx context.Context, tx tonepay.Tx, c *changes, s *tonepay.Session, asks []*tonepay.PayAsk, action url.Values, now time.Time) error {
	call, err := tx.FindCall(ctx, s.CallSid)
	if err != nil {
		return err
	}
	run, st, err := loadRun(ctx, tx, s.CallSid)
	if err != nil || run == nil || st.Current == nil || st.Current.Name != "Pay" {
		return err // the call has moved on (hung up, redirected)
	}
	var out voice.Output
	var tl []voice.Entry
	step := func(in voice.Input) error {
		o := svc.Voice.Step(st, in, now)
		if err := svc.legs(ctx, tx, c, call, st, &o, now); err != nil { // the verb after the <Pay> may Dial
			return err
		}
		tl = append(tl, o.Timeline...)
		out = merge(out, o)
		return nil
	}
	for _, a := range asks {
		if err := step(voice.Input{Kind: voice.PayAsk, Ask: a}); err != nil {
			return err
		}
	}
	if action != nil {
		if err := step(voice.Input{Kind: voice.PayEnded, Params: action}); err != nil {
			return err
		}
	} else if afterPrompt(st, s) {
		if err := tx.UpdateSession(ctx, s); err != nil {
			return err
		}
	}
	out.Timeline = tl
	return svc.saveRun(ctx, tx, c, call, run, st, out, tl, now)
}

// verbInputs reports whether a <Pay> session's progress after ins goes back
// to the TwiML: not when the call's end ended it (a hang-up), which the
// TwiML has handled already (and whose run is being saved).
func verbInputs(s *tonepay.Session, ins []capture.Input) bool {
	if !s.Params.Verb {
		return false
	}
	for _, in := range ins {
		if in.Kind == capture.HangUp {
			return false
		}
	}
	return true
}

// cancelPayVerb ends the call's <Pay> session when its TwiML left the <Pay>
// (a Calls update redirected the call). Called after the run is saved, so
// payProgress finds the TwiML elsewhere and leaves it.
func (svc *Service) cancelPayVerb(ctx context.Context, tx tonepay.Tx, c *changes, callSid string, now time.Time) error {
	s, err := tx.FindOpenSession(ctx, callSid)
	if errors.Is(err, tonepay.ErrNotFound) || err == nil && !s.Params.Verb {
		return nil
	} else if err != nil {
		return err
	}
	return svc.apply(ctx, tx, c, s, now, capture.Input{Kind: capture.Cancel})
}
