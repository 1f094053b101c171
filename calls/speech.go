package calls

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/internal/txn"
	"github.com/tonepay/tonepay/voice"
)

// opSpeak is what 21220 names for speech on a call that has ended.
const opSpeak = "say words"

// PartialChain is the outbox chain of a call's partialResultCallbacks: one
// of their own, so that they are never held behind the call's progress
// callbacks (a StatusCallback that fails is retried for a day).
func PartialChain(callSid string) string { return callSid + ":partial" }

// partialWaitMax bounds how long a Gather's action waits for its partial
// results to be delivered: a request's time limit (Twilio's 15 s).
const partialWaitMax = 15 * time.Second

// Speak implements tonepay.CallService: what a simulated caller says goes
// through the call's one queue, after any keys pressed before it, so that a
// script that presses then speaks is heard in that order.
func (svc *Service) Speak(ctx context.Context, sp tonepay.Speech) (bool, error) {
	sp.Text = strings.TrimSpace(sp.Text)
	switch {
	case sp.Text == "":
		return false, tonepay.Errorf(tonepay.CodeInvalidParameter, "Invalid value for parameter Text: no words")
	case len(sp.Text) > tonepay.MaxSpeechText || !utf8.ValidString(sp.Text):
		return false, tonepay.Errorf(tonepay.CodeInvalidParameter, "Invalid value for parameter Text: at most %d bytes of UTF-8", tonepay.MaxSpeechText)
	case !(sp.Confidence >= 0 && sp.Confidence <= 1): // NaN too
		return false, tonepay.Errorf(tonepay.CodeInvalidParameter, "Invalid value for parameter Confidence: a number from 0 to 1")
	}
	if sp.Confidence == 0 {
		sp.Confidence = tonepay.DefaultSpeechConfidence
	}
	e := &entry{ctx: ctx, speech: &sp, done: make(chan struct{})}
	if err := svc.enqueue(sp.CallSid, e, 0, false); err != nil {
		return false, err
	}
	select {
	case <-e.done:
		return e.heard, e.err
	case <-ctx.Done():
		return false, ctx.Err() // the worker finds the entry's context done, and skips it
	}
}

// speak applies one utterance in a transaction, then the requests it
// caused (the Gather's action), as a burst of keys is applied.
func (svc *Service) speak(ctx context.Context, sp tonepay.Speech) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	now := svc.now()
	var heard bool
	pw, unwatch := svc.watchPartials(sp.CallSid) // before commit: delivery starts with it
	defer unwatch()
	w, err := svc.commit(ctx, func(tx tonepay.Tx, w *txn.Work) error {
		heard = false // commit may run this again
		call, err := findLiveCall(ctx, tx, sp.AccountSid, sp.CallSid, opSpeak)
		if err != nil {
			return err
		}
		if call.Leg.Real() {
			return tonepay.Errorf(tonepay.CodeInvalidParameter, "Call %s is a real call (%s): its caller speaks for themself, not through the Speech API", call.Sid, call.Leg)
		}
		s, err := svc.Pay.Open(ctx, tx, call.Sid)
		if err != nil {
			return err
		}
		cr, st, err := loadRun(ctx, tx, call.Sid)
		if err != nil {
			return err
		}
		u := &voice.Utterance{Text: sp.Text, Confidence: sp.Confidence}
		if cr == nil {
			// The call runs no TwiML (it holds, or a stream's app runs it):
			// nobody listens. The engine's rule shows the words, or hides them
			// while a session is open.
			if !svc.timelines() {
				return nil
			}
			out := svc.Voice.Step(&voice.State{Status: call.Status}, voice.Input{Kind: voice.Said, Utterance: u, Paying: s != nil}, now)
			rows, err := timelineRows(out.Timeline...)
			if err != nil {
				return err
			}
			return tx.AddTimeline(ctx, call.Sid, now, rows...)
		}
		out := svc.Voice.Step(st, voice.Input{Kind: voice.Said, Utterance: u, Paying: s != nil}, now)
		if out.Speech != nil {
			heard = true
			// Queued with the step, before its action is requested: the
			// outbox sends them signed, retried, in order on the call's chain.
			for _, p := range out.Speech.Partials {
				w.Callbacks = append(w.Callbacks, &tonepay.Callback{AccountSid: call.AccountSid, Chain: PartialChain(call.Sid),
					URL: p.URL, Method: p.Method, Form: p.Params})
			}
		}
		return svc.saveRun(ctx, tx, w, call, cr, st, out, out.Timeline, now)
	})
	if err != nil {
		return false, err
	}
	// Twilio's partial results come while the caller speaks, so before the
	// action: the action waits for the first attempt of each partial this
	// process was handed to deliver at once. Those the store kept for later
	// (a partial of this call still pending) or another process delivers
	// are not waited for.
	n := 0
	for _, cb := range w.Callbacks {
		if cb.Chain == PartialChain(sp.CallSid) && !cb.ClaimedUntil.IsZero() {
			n++
		}
	}
	svc.awaitPartials(ctx, pw, n)
	svc.settle(w.Steps)
	return heard, nil
}

// partialWait counts the attempts of a call's partial results on record.
type partialWait struct {
	answered int
	wake     chan struct{} // a new answer; capacity 1
}

// watchPartials starts counting callSid's partial results answered (one
// Speak at a time per call: the call's queue).
func (svc *Service) watchPartials(callSid string) (*partialWait, func()) {
	pw := &partialWait{wake: make(chan struct{}, 1)}
	svc.mu.Lock()
	if svc.partials == nil {
		svc.partials = map[string]*partialWait{}
	}
	svc.partials[callSid] = pw
	svc.mu.Unlock()
	return pw, func() {
		svc.mu.Lock()
		if svc.partials[callSid] == pw {
			delete(svc.partials, callSid)
		}
		svc.mu.Unlock()
	}
}

// partialAnswered counts one attempt of callSid's partial results
// (CallbackAnswered, on the delivering goroutine: it never blocks).
func (svc *Service) partialAnswered(callSid string) {
	svc.mu.Lock()
	if pw := svc.partials[callSid]; pw != nil {
		pw.answered++
		select {
		case pw.wake <- struct{}{}:
		default:
		}
	}
	svc.mu.Unlock()
}

// awaitPartials waits until n attempts are on record, partialWaitMax at most.
func (svc *Service) awaitPartials(ctx context.Context, pw *partialWait, n int) {
	if n == 0 {
		return
	}
	t := time.NewTimer(partialWaitMax)
	defer t.Stop()
	for {
		svc.mu.Lock()
		done := pw.answered >= n
		svc.mu.Unlock()
		if done {
			return
		}
		select {
		case <-pw.wake:
		case <-t.C:
			return
		case <-ctx.Done():
			return
		}
	}
}
