package calls

import (
	"context"
	"time"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/internal/txn"
	"github.com/tonepay/tonepay/voice"
)

// <Pay> in TwiML (DESIGN §10), the call's side: the voice engine runs the
// verb (prompts, the action), payments runs its session. A <Pay> that
// begins starts its session through the bridge (startPay); what a session
// tells its call comes back as News, which drain applies before commit:
// the outcome on the timeline, and a <Pay>'s questions and end to its TwiML
// (payProgress).

// startPay starts the session of the <Pay> v the call has just begun, or
// ends the <Pay> at once as Twilio does when none can start (payments
// decides). It returns the engine's next output: the first prompt, or
// what follows the <Pay>.
func (svc *Service) startPay(ctx context.Context, tx tonepay.Tx, w *txn.Work, call *tonepay.Call, st *voice.State, v *voice.Verb, now time.Time) (voice.Output, error) {
	s, ask, ended, err := svc.Pay.StartVerb(ctx, tx, w, call, v, now)
	if err != nil {
		return voice.Output{}, err
	}
	if s == nil {
		return svc.Voice.Step(st, voice.Input{Kind: voice.PayEnded, Params: ended}, now), nil
	}
	o := svc.Voice.Step(st, voice.Input{Kind: voice.PayAsk, Ask: ask}, now)
	if end, ok := promptEnd(st); ok {
		if err := svc.Pay.Delay(ctx, tx, s, end); err != nil {
			return voice.Output{}, err
		}
	}
	return o, nil
}

// promptEnd returns when the <Pay> prompt the caller is hearing ends, when
// prompts take time (--voice-time=real).
func promptEnd(st *voice.State) (time.Time, bool) {
	if st.Wait == nil || st.Wait.For != "pay-prompt" {
		return time.Time{}, false
	}
	return st.Wait.Until, true
}

// drain applies the News of a transaction, in order, before it commits: a
// session's end goes on its call's timeline, and a <Pay>'s questions and
// end go to its TwiML. What that does may bring more News (the TwiML after
// a <Pay> ends the call, whose end hangs up a session), taken in turn.
func (svc *Service) drain(ctx context.Context, tx tonepay.Tx, w *txn.Work) error {
	for i := 0; i < len(w.News); i++ { // grows as it goes
		n := w.News[i]
		if n.Ended && svc.timelines() {
			// The call's timeline says how the payment ended; before the
			// TwiML's progress, whose <Pay> action follows it.
			if err := addOutcome(ctx, tx, n.Session, n.At); err != nil {
				return err
			}
		}
		if n.Verb {
			if err := svc.payProgress(ctx, tx, w, n); err != nil {
				return err
			}
		}
	}
	return nil
}

// payProgress tells the call's TwiML what its <Pay> session did: each field
// asked (a prompt to play), the wait while the connector works, and the
// end (the action's fields).
func (svc *Service) payProgress(ctx context.Context, tx tonepay.Tx, w *txn.Work, n txn.News) error {
	s, now := n.Session, n.At
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
		if err := svc.legs(ctx, tx, w, call, st, &o, now); err != nil { // the verb after the <Pay> may Dial
			return err
		}
		tl = append(tl, o.Timeline...)
		out = merge(out, o)
		return nil
	}
	for _, a := range n.Asks {
		if err := step(voice.Input{Kind: voice.PayAsk, Ask: a}); err != nil {
			return err
		}
	}
	if n.Action != nil {
		if err := step(voice.Input{Kind: voice.PayEnded, Params: n.Action}); err != nil {
			return err
		}
	} else if end, ok := promptEnd(st); ok {
		if err := svc.Pay.Delay(ctx, tx, s, end); err != nil {
			return err
		}
	}
	out.Timeline = tl
	return svc.saveRun(ctx, tx, w, call, run, st, out, tl, now)
}
