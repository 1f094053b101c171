package calls

import (
	"context"
	"time"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/internal/txn"
	"github.com/tonepay/tonepay/voice"
)

// The one door for a caller's keys. Every source (the keypad API and a
// call's SendDigits, a media stream, a SIP leg) calls Press; the keys join
// their call's queue, and one worker per call applies the queue in order:
// each burst of keys between two waits is one transaction (pressBurst), then
// the requests to the call's app it caused (settle), before the next burst.
// A real-time source is never blocked by the store's fsync or the app:
// it hands its keys over and goes on. The keypad waits for its own keys.

// maxQueued bounds the keys waiting on one call: a real source cannot press
// faster than a person, so a longer queue is a stuck call or a flood.
const maxQueued = 1024

// queue is one call's keys waiting to be applied, in order.
type queue struct {
	entries []*entry
	keys    int // in entries
}

// entry is one Press's keys on their way, or one Speak's words.
type entry struct {
	ctx  context.Context
	keys tonepay.Keys
	// speech, when set, is what the caller said instead of keys (speech.go);
	// heard is its answer.
	speech *tonepay.Speech
	heard  bool
	done   chan struct{} // closed once applied (or refused): p and err are set
	p      *tonepay.Pressed
	err    error
}

// Press implements tonepay.CallService: the one door for the caller's keys.
// Keys between two waits are one burst, applied in one transaction: to the
// call's agent-assisted session when it is capturing a field (one open of
// the sealed values, an engine step per key, one seal and one write,
// however long the burst); else to the call's TwiML (a listening <Gather>),
// whose unrouted keys go to the session if one is open (it drops and counts
// them) or are dropped. A keypad's answer comes once the TwiML the keys
// caused has run to its next wait; a real-time source's at once.
func (svc *Service) Press(ctx context.Context, k tonepay.Keys) (*tonepay.Pressed, error) {
	for i := range len(k.Digits) {
		if !isKey(k.Digits[i]) {
			return nil, tonepay.Errorf(tonepay.CodeInvalidParameter, "Digits may hold only 0-9, *, # and w, not %q", k.Digits[i])
		}
	}
	return svc.door(ctx, k)
}

// sendDigits is Press for a call's SendDigits, which may also press A-D
// (only TwiML can take them): the keypad's source, through the same door.
func (svc *Service) sendDigits(ctx context.Context, accountSid, callSid, keys string) (*tonepay.Pressed, error) {
	for i := range len(keys) {
		if c := keys[i]; !isKey(c) && (c < 'A' || c > 'D') {
			return nil, tonepay.Errorf(tonepay.CodeInvalidParameter, "SendDigits may hold only 0-9, A-D, *, #, w and W, not %q", c)
		}
	}
	return svc.door(ctx, tonepay.Keys{AccountSid: accountSid, CallSid: callSid, Source: tonepay.KeySourceKeypad, Digits: keys})
}

// door queues k on its call and, for the keypad, waits until it was
// applied. The call's worker starts with the first keys of an empty queue
// and ends when the queue is empty again.
func (svc *Service) door(ctx context.Context, k tonepay.Keys) (*tonepay.Pressed, error) {
	if k.Source == "" {
		k.Source = tonepay.KeySourceKeypad
	}
	e := &entry{ctx: ctx, keys: k, done: make(chan struct{})}
	if k.Realtime() {
		// Not the source's context: the keys outlive the frame that brought
		// them, and end with the runtime.
		e.ctx = svc.runCtx
	}
	if err := svc.enqueue(k.CallSid, e, len(k.Digits), k.Realtime()); err != nil {
		return nil, err
	}
	if k.Realtime() {
		return nil, nil
	}
	select {
	case <-e.done:
		return e.p, e.err
	case <-ctx.Done():
		return nil, ctx.Err() // the worker finds the entry's context done, and skips it
	}
}

// enqueue adds e (n keys) to its call's queue, starting the call's worker
// if the queue was empty.
func (svc *Service) enqueue(callSid string, e *entry, n int, realtime bool) error {
	svc.mu.Lock()
	if realtime && svc.runCtx.Err() != nil {
		svc.mu.Unlock()
		return svc.runCtx.Err() // shutting down: nobody would apply them
	}
	q := svc.doors[callSid]
	if q != nil && q.keys+n > maxQueued {
		svc.mu.Unlock()
		return tonepay.Errorf(tonepay.CodeTooManyRequests, "Too many keys waiting on call %s", callSid)
	}
	start, counted := q == nil, false
	if start {
		q = &queue{}
		svc.doors[callSid] = q
		// Under mu, StopCalls cannot be waiting yet. Once it has stopped the
		// runtime, only a keypad's keys still come (a request finishing
		// during a shutdown), whose request waits for them.
		if counted = svc.runCtx.Err() == nil; counted {
			svc.runs.Add(1)
		}
	}
	q.entries = append(q.entries, e)
	q.keys += n
	svc.mu.Unlock()
	if start {
		go svc.work(callSid, q, counted)
	}
	return nil
}

// work applies a call's queue, entry by entry, until it is empty.
func (svc *Service) work(callSid string, q *queue, counted bool) {
	if counted {
		defer svc.runs.Done()
	}
	for {
		svc.mu.Lock()
		if len(q.entries) == 0 {
			delete(svc.doors, callSid)
			svc.mu.Unlock()
			return
		}
		e := q.entries[0]
		q.entries[0] = nil
		q.entries = q.entries[1:]
		q.keys -= len(e.keys.Digits)
		svc.mu.Unlock()
		if e.speech != nil {
			e.heard, e.err = svc.speak(e.ctx, *e.speech)
			close(e.done)
			continue
		}
		e.p, e.err = svc.pressKeys(e.ctx, e.keys)
		if e.err != nil && e.keys.Realtime() && e.ctx.Err() == nil {
			svc.Logger.Debug("keys from a call leg were not applied", "call", callSid, "source", e.keys.Source, "err", e.err)
		}
		close(e.done)
	}
}

// pressKeys applies one entry's keys: a transaction per burst of keys, then
// the requests the burst caused.
func (svc *Service) pressKeys(ctx context.Context, k tonepay.Keys) (*tonepay.Pressed, error) {
	var p tonepay.Pressed
	for burst := range splitWaits(k.Digits) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if burst == "" {
			if err := svc.Sleep(ctx, 500*time.Millisecond); err != nil {
				return nil, err
			}
			continue
		}
		if k.Source == tonepay.KeySourceKeypad {
			svc.streamKeys(k.CallSid, burst) // the simulated caller's tones, on the call's streams
		}
		now := svc.now()
		w, err := svc.commit(ctx, func(tx tonepay.Tx, w *txn.Work) error {
			return svc.pressBurst(ctx, tx, w, &p, k, burst, now)
		})
		if err != nil {
			return nil, err
		}
		if svc.Hooks.Keys != nil {
			svc.Hooks.Keys(k.Source, len(burst))
		}
		svc.settle(w.Steps)
	}
	return &p, nil
}

// pressBurst routes one burst of keys (see Press).
func (svc *Service) pressBurst(ctx context.Context, tx tonepay.Tx, w *txn.Work, p *tonepay.Pressed, k tonepay.Keys, burst string, now time.Time) error {
	accountSid, callSid := k.AccountSid, k.CallSid
	call, err := findLiveCall(ctx, tx, accountSid, callSid, opKeys)
	if err != nil {
		return err
	}
	if call.Leg.Real() && !k.Realtime() {
		// A real caller's keys come from their phone only: nobody types
		// into a real call's payment through the API.
		return tonepay.Errorf(tonepay.CodeInvalidParameter, "Call %s is a real call (%s): its keys come from the caller's phone, not from the Digits API", callSid, call.Leg)
	}
	s, err := svc.Pay.Open(ctx, tx, callSid)
	if err != nil {
		return err
	}
	capturing := s != nil && s.State.Capture != ""
	var cr *tonepay.CallRun
	var st *voice.State
	if !capturing { // a capture takes the keys whatever the TwiML does: no need to read it
		if cr, st, err = loadRun(ctx, tx, callSid); err != nil {
			return err
		}
	}
	var tl []voice.Entry
	toSession := burst
	if cr != nil {
		// The TwiML listens first; what it does not take is unrouted. The
		// engine decides how each key shows on the timeline (voice.keyEntry):
		// it knows who took the key, and we tell it whether a session is open.
		var out voice.Output
		var unrouted []byte
		for i := 0; i < len(burst); i++ {
			o := svc.Voice.Step(st, voice.Input{Kind: voice.Key, Key: burst[i], Paying: s != nil}, now)
			// This key's Dial leg now, not once for the burst: the next key
			// may end the Dial (and the call) this one began.
			if err := svc.legs(ctx, tx, w, call, st, &o, now); err != nil {
				return err
			}
			tl = append(tl, o.Timeline...)
			out = merge(out, o)
			if o.Unrouted != 0 {
				unrouted = append(unrouted, o.Unrouted)
			} else {
				p.Applied++
			}
		}
		tl = voice.CoalesceKeys(tl) // a burst of masked keys is one row: a count
		out.Timeline = tl
		if err := svc.saveRun(ctx, tx, w, call, cr, st, out, tl, now); err != nil {
			return err
		}
		toSession = string(unrouted)
	} else if svc.timelines() && (capturing || !call.Leg.RunsTwiML()) {
		// No TwiML heard the keys: a field is being captured, or the call's
		// TwiML is not tonepay's to run (a stream's). By the engine's rule
		// (voice.keyEntry) every such key is masked. The run, if any, does
		// not change.
		rows, err := timelineRows(voice.MaskedKeys(now, len(burst)))
		if err != nil {
			return err
		}
		if err := tx.AddTimeline(ctx, callSid, now, rows...); err != nil {
			return err
		}
	}
	return svc.keysToSession(ctx, tx, w, p, s, toSession, now)
}

// keysToSession gives keys to the call's open session, which takes or drops
// each; with no session they are dropped.
func (svc *Service) keysToSession(ctx context.Context, tx tonepay.Tx, w *txn.Work, p *tonepay.Pressed, s *tonepay.Session, keys string, now time.Time) error {
	digits := make([]byte, 0, len(keys))
	for i := 0; i < len(keys); i++ {
		if k := keys[i]; isKey(k) {
			digits = append(digits, k)
		}
	}
	p.Dropped += len(keys) - len(digits) // A-D reach only TwiML
	if s == nil || len(digits) == 0 {
		p.Dropped += len(digits)
		return nil
	}
	dropped, err := svc.Pay.Press(ctx, tx, w, s, string(digits), now)
	if err != nil {
		return err
	}
	p.Dropped += dropped
	p.Applied += len(digits) - dropped
	return nil
}

// merge folds the output of one more step into o: the latest fetch, wait
// and <Pay>, every notify and stream opened or stopped, the end. Never a Dial's leg (Bridged): legs takes
// it from each step before the merge, since a later step may end it.
func merge(o, n voice.Output) voice.Output {
	if n.Fetch != nil {
		o.Fetch = n.Fetch
	}
	if n.Wait != nil {
		o.Wait = n.Wait
	}
	if n.Ended != "" {
		o.Ended = n.Ended
	}
	if n.Pay != nil {
		o.Pay = n.Pay
	}
	o.Notify = append(o.Notify, n.Notify...)
	o.StartStreams = append(o.StartStreams, n.StartStreams...)
	o.StopStreams = append(o.StopStreams, n.StopStreams...)
	return o
}

func isKey(c byte) bool { return '0' <= c && c <= '9' || c == '*' || c == '#' || c == 'w' }

// splitWaits yields the bursts of keys between waits, and "" for each 'w'.
func splitWaits(keys string) func(func(string) bool) {
	return func(yield func(string) bool) {
		start := 0
		for i := 0; i <= len(keys); i++ {
			if i < len(keys) && keys[i] != 'w' {
				continue
			}
			if i > start && !yield(keys[start:i]) {
				return
			}
			if i < len(keys) && !yield("") {
				return
			}
			start = i + 1
		}
	}
}
