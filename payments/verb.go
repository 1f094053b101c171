package payments

import (
	"context"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/capture"
	"github.com/tonepay/tonepay/internal/txn"
	"github.com/tonepay/tonepay/voice"
)

// The session side of a call (calls.Payments, the one bridge): what the call
// runtime asks of sessions inside its own transactions. Each method works
// on the transaction it is given, puts what it did in w (callbacks, News),
// and returns: none calls the runtime back. <Pay> in TwiML (DESIGN §10):
// the voice engine runs the verb (prompts, the action), the capture engine
// runs its session (fields in order, attempts, the connector); a <Pay> that
// begins starts its session here (StartVerb), and what the session asks
// next, and how it ended, reach the TwiML as News.

// Open returns the call's open session, or nil when none is.
func (svc *Service) Open(ctx context.Context, rd tonepay.Reader, callSid string) (*tonepay.Session, error) {
	s, err := rd.FindOpenSession(ctx, callSid)
	if errors.Is(err, tonepay.ErrNotFound) {
		return nil, nil
	}
	return s, err
}

// Press gives keys (0-9, *, #) to s, which takes or drops each; it returns
// how many it dropped. One open of the sealed values, an engine step per
// key, one seal and one write, however many keys.
func (svc *Service) Press(ctx context.Context, tx tonepay.Tx, w *txn.Work, s *tonepay.Session, keys string, now time.Time) (dropped int, err error) {
	ins := make([]capture.Input, len(keys))
	for i := range len(keys) {
		ins[i] = capture.Input{Kind: capture.Digit, Key: keys[i]}
	}
	before := s.State.Dropped
	if err := svc.apply(ctx, tx, w, s, now, ins...); err != nil {
		return 0, err
	}
	return s.State.Dropped - before, nil
}

// HangUp ends the call's open session, if any, as the caller hung up.
// Its end goes to w as News; not to a <Pay>, whose call has ended.
func (svc *Service) HangUp(ctx context.Context, tx tonepay.Tx, w *txn.Work, callSid string, now time.Time) error {
	s, err := svc.Open(ctx, tx, callSid)
	if err != nil || s == nil {
		return err
	}
	return svc.apply(ctx, tx, w, s, now, capture.Input{Kind: capture.HangUp})
}

// CancelVerb ends the call's <Pay> session, if one is open, when its TwiML
// left the <Pay> (a Calls update redirected the call). The runtime calls it
// after saving the run, so the News find the TwiML elsewhere.
func (svc *Service) CancelVerb(ctx context.Context, tx tonepay.Tx, w *txn.Work, callSid string, now time.Time) error {
	s, err := svc.Open(ctx, tx, callSid)
	if err != nil || s == nil || !s.Params.Verb {
		return err
	}
	return svc.apply(ctx, tx, w, s, now, capture.Input{Kind: capture.Cancel})
}

// StartVerb creates the session of the <Pay> v that call has just begun and
// returns it with the first field to ask for. When no session can start,
// it returns instead the fields of the <Pay>'s end, as Twilio ends it at
// once: Result validation-error for what the connector refuses (64004,
// 64003, 6400x), for ACH without an AVSName <Parameter> (64014), for a
// non-https URL with RequireHTTPS (64016), and an ErrorType of
// session-in-progress when a payment session is open on the call.
func (svc *Service) StartVerb(ctx context.Context, tx tonepay.Tx, w *txn.Work, call *tonepay.Call, v *voice.Verb, now time.Time) (*tonepay.Session, *tonepay.PayAsk, url.Values, error) {
	ended := func(params url.Values) (*tonepay.Session, *tonepay.PayAsk, url.Values, error) {
		params.Set("Result", tonepay.ResultValidationError)
		return nil, nil, params, nil
	}
	refused := func(err error) (*tonepay.Session, *tonepay.PayAsk, url.Values, error) {
		var te *tonepay.Error
		if !errors.As(err, &te) {
			te = &tonepay.Error{Code: tonepay.CodeInternal, Message: err.Error()}
		}
		return ended(url.Values{"PaymentError": {te.Message}, "PayErrorCode": {strconv.Itoa(te.Code)}})
	}
	if svc.RequireHTTPS {
		for _, u := range []string{v.Action, v.Pay.StatusCallback} {
			if u != "" && !strings.HasPrefix(u, "https://") {
				return refused(tonepay.Errorf(tonepay.CodeHTTPSRequired, "<Pay> action and statusCallback must be https URLs, not %s", tonepay.RedactURL(u)))
			}
		}
	}
	prm := v.Pay.Params()
	prm.StatusCallbackMethod = v.Pay.StatusCallbackMethod
	if prm.PaymentMethod == tonepay.ACHDebit && prm.Parameter["AVSName"] == "" {
		return refused(tonepay.Errorf(tonepay.CodeACHNeedsAVSName, "ECP/ACH requires AVSName Parameter in the <Pay> verb"))
	}
	acct, err := tx.FindAccount(ctx, call.AccountSid)
	if err != nil {
		return nil, nil, nil, err
	}
	req := &tonepay.CreateRequest{AccountSid: call.AccountSid, OwnerSid: acct.OwnerSid, CallSid: call.Sid, ChargeAmount: v.Pay.ChargeAmount}
	if err := svc.checkCreate(&prm, req); err != nil {
		return refused(err)
	}
	s := &tonepay.Session{Sid: svc.NewSID(tonepay.PrefixPayment), AccountSid: call.AccountSid, CallSid: call.Sid,
		Status: tonepay.SessionOpen, Params: prm, DateCreated: now, DateUpdated: now}
	s.State.StatusCallback = v.Pay.StatusCallback
	out := svc.Engine.StartVerb(s, now)
	// The store refuses a second open session on the call.
	if err := tx.CreateSession(ctx, s); errors.Is(err, tonepay.ErrConflict) {
		return ended(url.Values{"ErrorType": {"session-in-progress"},
			"PaymentError": {"A payment session is already in progress on this call"}, "PayErrorCode": {strconv.Itoa(tonepay.CodeInvalidOperation)}})
	} else if err != nil {
		return nil, nil, nil, err
	}
	w.Callbacks = append(w.Callbacks, withMethod(s, out.Callbacks)...)
	w.Touched = append(w.Touched, tonepay.SessionChanged{AccountSid: s.AccountSid, SessionSid: s.Sid})
	w.SetCapture(s)
	return s, out.Ask, nil, nil
}

// Delay moves a <Pay> session's wait for its first digit to after the
// prompt the caller is hearing, which ends at promptEnd, when prompts take
// time (--voice-time=real): the caller cannot be late before the question
// ends.
func (svc *Service) Delay(ctx context.Context, tx tonepay.Tx, s *tonepay.Session, promptEnd time.Time) error {
	if s.Status != tonepay.SessionOpen {
		return nil
	}
	d := promptEnd.Add(time.Duration(max(s.Params.Timeout, 1)) * time.Second)
	if !d.After(s.Deadline) {
		return nil
	}
	s.Deadline = d
	return tx.UpdateSession(ctx, s)
}

// withMethod sets a <Pay> session's statusCallbackMethod on its callbacks.
func withMethod(s *tonepay.Session, cbs []*tonepay.Callback) []*tonepay.Callback {
	for _, cb := range cbs {
		cb.Method = s.Params.StatusCallbackMethod
	}
	return cbs
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
