// Package session runs payment sessions against a Store. Each event (a
// request, a key press, a timeout, a connector's answer) is one transaction:
// load the session, open its sealed values, apply the capture engine, seal
// again, and write the new state with the callbacks it caused. Callbacks are
// delivered after commit (the outbox), and the connector is called after
// commit too, never inside a transaction.
package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"time"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/capture"
	"github.com/tonepay/tonepay/internal/wait"
	"github.com/tonepay/tonepay/voice"
)

var _ tonepay.SessionService = (*Service)(nil)

// Service implements tonepay.SessionService.
type Service struct {
	Store      tonepay.Store
	Courier    tonepay.Courier                            // told after each commit the callbacks it queued
	Sealer     tonepay.Sealer                             // encrypts captured values at rest
	Connectors tonepay.Connectors                         // by name
	Engine     capture.Engine                             // timeouts and leases
	Now        func() time.Time                           // injected clock
	NewSID     func(prefix string) string                 // injected ids
	Sleep      func(context.Context, time.Duration) error // the 'w' key; injected so tests need not wait
	Logger     *slog.Logger
	// Publish, if set, is told after each commit which sessions changed (for
	// live views such as the console).
	Publish func(tonepay.Event)
	// Hooks are told what happened, after commit, for metrics; nil ones
	// are skipped.
	Hooks Hooks

	// Voice runs calls' TwiML; Fetcher makes its requests. With no Fetcher,
	// calls run no TwiML: they hold until hung up (see run.go).
	Voice   voice.Engine
	Fetcher tonepay.Fetcher
	// AppError, if set, is told each error a call's app caused (the
	// document could not be fetched or run: a timeline entry of kind
	// error) after the commit that recorded it, with Twilio's code (0 if
	// none) and the URL as the call asked for it ("" for inline Twiml); serve
	// logs them. It runs on the runner's goroutine and must be quick.
	AppError func(callSid string, code int, url string)
	// RequireHTTPS refuses a <Pay> whose action or statusCallback is not
	// https (Twilio's 64016); off, http works too (tests on loopback).
	RequireHTTPS bool

	mu      sync.Mutex
	paying  map[string]bool // sessions whose connector call runs in this process
	payment sync.WaitGroup

	timers   map[string]*time.Timer // the calls waiting in this process (run.go)
	runCtx   context.Context        // the runner's requests; canceled by StopCalls
	stopRuns context.CancelFunc
	runs     sync.WaitGroup // timers firing
	// orphansAt is when SweepCalls next looks for orphan legs (run.go).
	orphansAt time.Time
}

// Hooks observe the service for metrics. Each is called after the commit
// that made it true (a rolled-back transaction is never counted), on the
// caller's goroutine: it must be quick and must not block. No argument
// carries an account, call, session or card value.
type Hooks struct {
	// Ended is told the Result of each session that ended.
	Ended func(result string)
	// Keys is told how many keys a source delivered to calls, whether a
	// session took them or dropped them. The source is "keypad" (the
	// Digits API) for now.
	Keys func(source string, n int)
	// Connector is told each connector call: the configured connector's
	// name, its outcome ("ok", "declined": a refusal, "error": outcome
	// unknown, to be retried) and how long it took.
	Connector func(name, outcome string, d time.Duration)
}

// KeySourceKeypad is the source of keys pressed through the Digits API.
const KeySourceKeypad = "keypad"

// New returns a Service with the real clock, random SIDs and default engine,
// whose transaction ids are NewSID("TX").
func New(store tonepay.Store, courier tonepay.Courier, sealer tonepay.Sealer, connectors tonepay.Connectors, log *slog.Logger) *Service {
	svc := &Service{Store: store, Courier: courier, Sealer: sealer, Connectors: connectors, Engine: capture.DefaultEngine,
		Now: time.Now, NewSID: tonepay.NewSID, Sleep: wait.Sleep, Logger: log, Voice: voice.Engine{Instant: true},
		timers: map[string]*time.Timer{}}
	svc.runCtx, svc.stopRuns = context.WithCancel(context.Background())
	// Through svc, so that an injected NewSID draws them too.
	svc.Engine.NewTxID = func() string { return svc.NewSID("TX") }
	return svc
}

// CreateSession implements tonepay.SessionService.
func (svc *Service) CreateSession(ctx context.Context, req *tonepay.CreateRequest) (*tonepay.Payment, error) {
	now := svc.Now().UTC()
	s := &tonepay.Session{
		Sid:         svc.NewSID(tonepay.PrefixPayment),
		AccountSid:  req.AccountSid,
		CallSid:     req.CallSid,
		Status:      tonepay.SessionOpen,
		Params:      req.Params,
		DateCreated: now,
		DateUpdated: now,
	}
	return svc.answer(ctx, req.IdempotencyKey, now, func(tx tonepay.Tx, c *changes) (*tonepay.Session, error) {
		call, err := findCall(ctx, tx, req.AccountSid, req.CallSid)
		if err != nil {
			return nil, err
		}
		if err := svc.checkCreate(&s.Params, req); err != nil {
			return nil, err
		}
		if s.State.StatusCallback, err = resolveCallback(call, req.StatusCallback); err != nil {
			return nil, err
		}
		if err := checkLive(call, opPay); err != nil {
			return nil, err
		}
		// The store refuses a second open session on the call (ErrConflict):
		// no need to look first.
		if err := tx.CreateSession(ctx, s); err != nil {
			if errors.Is(err, tonepay.ErrConflict) {
				return nil, errOpenSession
			}
			return nil, err
		}
		c.callbacks = append(c.callbacks, svc.Engine.Start(s, now)...)
		return s, nil
	})
}

// checkCreate picks the connector (64004 unknown, or not for this account),
// sets the charge amount (64003) and checks that the connector can serve the
// request.
func (svc *Service) checkCreate(prm *tonepay.Params, req *tonepay.CreateRequest) error {
	if prm.PaymentConnector == "" {
		prm.PaymentConnector = tonepay.DefaultConnector
	}
	conn, ok := svc.Connectors[prm.PaymentConnector]
	if l, limited := conn.(tonepay.AccountLimiter); limited && !l.Allows(req.AccountSid, req.OwnerSid) {
		ok = false
	}
	if !ok {
		return tonepay.Errorf(tonepay.CodeUnknownConnector, "Invalid PaymentConnector %q: no connector has that name", prm.PaymentConnector)
	}
	amount, err := tonepay.ParseChargeAmount(req.ChargeAmount, prm.Currency)
	if err != nil {
		return err
	}
	prm.ChargeAmount = amount
	return conn.Capabilities().Check(prm)
}

var errOpenSession = tonepay.Errorf(tonepay.CodeInvalidOperation, "Start operation on already started Pay session")

// UpdateSession implements tonepay.SessionService.
func (svc *Service) UpdateSession(ctx context.Context, req *tonepay.UpdateRequest) (*tonepay.Payment, error) {
	in := capture.Input{Kind: capture.RequestCapture, Field: req.Capture}
	key := ""
	switch req.Status {
	case "complete":
		in.Kind, key = capture.Complete, req.IdempotencyKey
	case "cancel":
		in.Kind, key = capture.Cancel, req.IdempotencyKey
	}
	now := svc.Now().UTC()
	return svc.answer(ctx, key, now, func(tx tonepay.Tx, c *changes) (*tonepay.Session, error) {
		call, err := findCall(ctx, tx, req.AccountSid, req.CallSid)
		if err != nil {
			return nil, err
		}
		if in.StatusCallback, err = resolveCallback(call, req.StatusCallback); err != nil {
			return nil, err
		}
		s, err := tx.FindSession(ctx, req.Sid)
		if errors.Is(err, tonepay.ErrNotFound) || err == nil && (s.AccountSid != req.AccountSid || s.CallSid != req.CallSid) {
			return nil, tonepay.Errorf(tonepay.CodeNotFound, "Payment session %s was not found on call %s", req.Sid, req.CallSid)
		} else if err != nil {
			return nil, err
		}
		return s, svc.apply(ctx, tx, c, s, now, in)
	})
}

// HangUp implements tonepay.SessionService.
func (svc *Service) HangUp(ctx context.Context, accountSid, callSid string) (*tonepay.Call, error) {
	now := svc.Now().UTC()
	var call *tonepay.Call
	c, err := svc.commit(ctx, func(tx tonepay.Tx, c *changes) error {
		var err error
		if call, err = findLiveCall(ctx, tx, accountSid, callSid, opHangUp); err != nil {
			return err
		}
		return svc.hangUp(ctx, tx, c, call, now)
	})
	svc.settle(c.calls)
	return call, err
}

// hangUp ends a live call, its TwiML and its open session.
func (svc *Service) hangUp(ctx context.Context, tx tonepay.Tx, c *changes, call *tonepay.Call, now time.Time) error {
	run, st, err := loadRun(ctx, tx, call.Sid)
	if err != nil {
		return err
	}
	if run == nil {
		if err := svc.endCall(ctx, tx, c, call, nil, tonepay.CallCompleted, now); err != nil || call.ParentCallSid == "" {
			return err
		}
		return svc.farEndLeft(ctx, tx, c, call, now) // a Dial's far end hung up: the parent goes on
	}
	out := svc.Voice.Step(st, voice.Input{Kind: voice.CallerHangUp}, now)
	return svc.saveRun(ctx, tx, c, call, run, st, out, out.Timeline, now)
}

// Press implements tonepay.SessionService: the one door for the caller's
// keys. Keys between two waits are one run, applied in one transaction: to
// the call's agent-assisted session when it is capturing a field (one open
// of the sealed values, an engine step per key, one seal and one write,
// however long the run); else to the call's TwiML (a listening <Gather>),
// whose unrouted keys go to the session if one is open (it drops and counts
// them) or are dropped. The answer comes once the TwiML the keys caused has
// run to its next wait.
func (svc *Service) Press(ctx context.Context, accountSid, callSid, keys string) (*tonepay.Pressed, error) {
	for i := 0; i < len(keys); i++ {
		if !isKey(keys[i]) {
			return nil, tonepay.Errorf(tonepay.CodeInvalidParameter, "Digits may hold only 0-9, *, # and w, not %q", keys[i])
		}
	}
	return svc.press(ctx, accountSid, callSid, keys)
}

// press is Press without the check of the keys: SendDigits may also press A-D
// (only TwiML can take them).
func (svc *Service) press(ctx context.Context, accountSid, callSid, keys string) (*tonepay.Pressed, error) {
	var p tonepay.Pressed
	for run := range splitWaits(keys) {
		if run == "" {
			if err := svc.Sleep(ctx, 500*time.Millisecond); err != nil {
				return nil, err
			}
			continue
		}
		now := svc.Now().UTC()
		c, err := svc.commit(ctx, func(tx tonepay.Tx, c *changes) error {
			return svc.pressRun(ctx, tx, c, &p, accountSid, callSid, run, now)
		})
		if err != nil {
			return nil, err
		}
		if svc.Hooks.Keys != nil {
			svc.Hooks.Keys(KeySourceKeypad, len(run))
		}
		svc.settle(c.calls)
	}
	return &p, nil
}

// pressRun routes one run of keys (see Press).
func (svc *Service) pressRun(ctx context.Context, tx tonepay.Tx, c *changes, p *tonepay.Pressed, accountSid, callSid, run string, now time.Time) error {
	call, err := findLiveCall(ctx, tx, accountSid, callSid, opKeys)
	if err != nil {
		return err
	}
	s, err := tx.FindOpenSession(ctx, callSid)
	if errors.Is(err, tonepay.ErrNotFound) {
		s = nil
	} else if err != nil {
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
	toSession := run
	if cr != nil {
		// The TwiML listens first; what it does not take is unrouted. The
		// engine decides how each key shows on the timeline (voice.keyEntry):
		// it knows who took the key, and we tell it whether a session is open.
		var out voice.Output
		var unrouted []byte
		for i := 0; i < len(run); i++ {
			o := svc.Voice.Step(st, voice.Input{Kind: voice.Key, Key: run[i], Paying: s != nil}, now)
			// This key's Dial leg now, not once for the run: the next key
			// may end the Dial (and the call) this one began.
			if err := svc.legs(ctx, tx, c, call, st, &o, now); err != nil {
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
		tl = voice.CoalesceKeys(tl) // a run of masked keys is one row: a count
		out.Timeline = tl
		if err := svc.saveRun(ctx, tx, c, call, cr, st, out, tl, now); err != nil {
			return err
		}
		toSession = string(unrouted)
	} else if capturing && svc.runsTwiml() {
		// A field is being captured, so a session is open: by the engine's
		// rule (voice.keyEntry) every key is masked. The run itself does not
		// change.
		rows, err := timelineRows(voice.MaskedKeys(now, len(run)))
		if err != nil {
			return err
		}
		if err := tx.AddTimeline(ctx, callSid, now, rows...); err != nil {
			return err
		}
	}
	return svc.keysToSession(ctx, tx, c, p, s, toSession, now)
}

// keysToSession gives keys to the call's open session, which takes or drops
// each; with no session they are dropped.
func (svc *Service) keysToSession(ctx context.Context, tx tonepay.Tx, c *changes, p *tonepay.Pressed, s *tonepay.Session, keys string, now time.Time) error {
	var ins []capture.Input
	for i := 0; i < len(keys); i++ {
		if k := keys[i]; isKey(k) {
			ins = append(ins, capture.Input{Kind: capture.Digit, Key: k})
		}
	}
	p.Dropped += len(keys) - len(ins) // A-D reach only TwiML
	if s == nil || len(ins) == 0 {
		p.Dropped += len(ins)
		return nil
	}
	before := s.State.Dropped
	if err := svc.apply(ctx, tx, c, s, now, ins...); err != nil {
		return err
	}
	dropped := s.State.Dropped - before
	p.Dropped += dropped
	p.Applied += len(ins) - dropped
	return nil
}

// merge folds the output of one more step into o: the latest fetch, wait
// and <Pay>, every notify, the end. Never a Dial's leg (Bridged): legs takes
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
	return o
}

func isKey(c byte) bool { return '0' <= c && c <= '9' || c == '*' || c == '#' || c == 'w' }

// splitWaits yields the runs of keys between waits, and "" for each 'w'.
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

// Sweep applies the Timeout event to every session whose deadline has
// passed: entries that timed out, confirmations not given, and connector
// calls whose lease ran out (a crash, or a processor that did not answer).
// It returns how many sessions it looked at.
func (svc *Service) Sweep(ctx context.Context) (int, error) {
	now := svc.Now().UTC()
	sids, err := svc.Store.FindDueSessions(ctx, now, 100)
	if err != nil {
		return 0, err
	}
	for _, sid := range sids {
		c, err := svc.commit(ctx, func(tx tonepay.Tx, c *changes) error {
			s, err := tx.FindSession(ctx, sid)
			if err != nil {
				return err
			}
			// Apply re-checks the deadline inside the transaction, so a sweep
			// racing a key press or another process does nothing twice.
			return svc.apply(ctx, tx, c, s, now, capture.Input{Kind: capture.Timeout})
		})
		if err != nil {
			return 0, err
		}
		svc.settle(c.calls) // a <Pay> that timed out goes on
	}
	return len(sids), nil
}

// RunSweeper sweeps sessions and calls every interval until ctx is done.
func (svc *Service) RunSweeper(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := svc.Sweep(ctx); err != nil && ctx.Err() == nil {
			svc.Logger.Error("sweeping session deadlines", "err", err)
		}
		if _, err := svc.SweepCalls(ctx, false); err != nil && ctx.Err() == nil {
			svc.Logger.Error("sweeping call deadlines", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Wait waits for connector calls in flight, for a graceful shutdown.
func (svc *Service) Wait() { svc.payment.Wait() }

// changes collects what a transaction did, to act on after commit.
type changes struct {
	callbacks []*tonepay.Callback
	pay       []string // sessions to send to their connector
	ended     []string // the Results of sessions that ended
	calls     []callEffect
	touched   []tonepay.Event // sessions written, for Publish (a <Pay> may queue no callback)
}

// apply runs the engine on s inside tx, one step per input in order, and
// saves the result once: one open, one seal, one write.
func (svc *Service) apply(ctx context.Context, tx tonepay.Tx, c *changes, s *tonepay.Session, now time.Time, ins ...capture.Input) error {
	sec, err := svc.open(s)
	if err != nil {
		return err
	}
	var asks []*tonepay.PayAsk
	var action url.Values
	ended := s.Status == tonepay.SessionEnded
	for _, in := range ins {
		was := s.Status
		out, err := svc.Engine.Apply(s, sec, in, now)
		if err != nil {
			return err
		}
		if was != tonepay.SessionEnded && s.Status == tonepay.SessionEnded && svc.Hooks.Ended != nil {
			c.ended = append(c.ended, s.State.Result)
		}
		c.callbacks = append(c.callbacks, withMethod(s, out.Callbacks)...)
		if out.Pay {
			c.pay = append(c.pay, s.Sid)
		}
		if out.Ask != nil {
			asks = append(asks, out.Ask)
		}
		if s.Params.Verb && was != tonepay.SessionProcessing && s.Status == tonepay.SessionProcessing {
			asks = append(asks, &tonepay.PayAsk{Field: voice.ForProcessing}) // "please wait"
		}
		if out.Action != nil {
			action = out.Action
		}
	}
	if err := svc.seal(s, sec); err != nil {
		return err
	}
	if err := tx.UpdateSession(ctx, s); err != nil {
		return err
	}
	c.touched = append(c.touched, tonepay.Event{AccountSid: s.AccountSid, SessionSid: s.Sid})
	if !ended && s.Status == tonepay.SessionEnded && svc.runsTwiml() {
		// The call's timeline says how the payment ended (a call with no
		// TwiML has none); before payProgress, whose <Pay> action follows it.
		if err := addOutcome(ctx, tx, s, now); err != nil {
			return err
		}
	}
	if (len(asks) > 0 || action != nil) && verbInputs(s, ins) {
		return svc.payProgress(ctx, tx, c, s, asks, action, now)
	}
	return nil
}

// open returns the session's captured values in clear.
func (svc *Service) open(s *tonepay.Session) (*capture.Secrets, error) {
	sec := &capture.Secrets{}
	if len(s.Sealed) == 0 {
		return sec, nil
	}
	b, err := svc.Sealer.Open(s.Sid, s.Sealed)
	if err != nil {
		return nil, fmt.Errorf("session %s: %w", s.Sid, err)
	}
	return sec, json.Unmarshal(b, sec)
}

// seal stores the captured values encrypted, or erases them once the
// session has ended: card data does not outlive the session.
func (svc *Service) seal(s *tonepay.Session, sec *capture.Secrets) error {
	if s.Status == tonepay.SessionEnded || sec.Entry == "" && len(sec.Values) == 0 {
		s.Sealed = nil
		return nil
	}
	b, err := json.Marshal(sec)
	if err != nil {
		return err
	}
	s.Sealed = svc.Sealer.Seal(s.Sid, b)
	return nil
}

// update runs fn in a transaction, then queues nothing twice: after commit
// it reports the callbacks to the Courier and starts the connector calls fn
// asked for.
func (svc *Service) update(ctx context.Context, fn func(tonepay.Tx, *changes) error) error {
	_, err := svc.commit(ctx, fn)
	return err
}

// commit is update returning what the transaction did.
func (svc *Service) commit(ctx context.Context, fn func(tonepay.Tx, *changes) error) (changes, error) {
	var c changes
	now := svc.Now().UTC()
	err := svc.Store.Update(ctx, func(tx tonepay.Tx) error {
		c = changes{}
		if err := fn(tx, &c); err != nil {
			return err
		}
		return svc.queue(ctx, tx, now, c.callbacks)
	})
	if err != nil {
		return changes{}, err
	}
	svc.afterCommit(c)
	return c, nil
}

// answer is update for an idempotent request: replay a stored answer, or run
// fn and store the Payment it produced, in the same transaction.
func (svc *Service) answer(ctx context.Context, key string, now time.Time,
	fn func(tonepay.Tx, *changes) (*tonepay.Session, error)) (*tonepay.Payment, error) {
	p, err := svc.tryAnswer(ctx, key, now, fn)
	if key != "" && tonepay.ErrorCode(err) == tonepay.CodeInvalidOperation {
		// The same request racing itself in another process: the loser hit
		// the winner's session, whose answer has committed with it. Reading
		// it is enough; running the request again would decide it all twice.
		if a, ferr := svc.Store.FindAnswer(ctx, key, now.Add(-tonepay.AnswerTTL)); ferr == nil {
			if p, ok := decodeAnswer(a); ok {
				return p, nil
			}
		}
	}
	return p, err
}

func (svc *Service) tryAnswer(ctx context.Context, key string, now time.Time,
	fn func(tonepay.Tx, *changes) (*tonepay.Session, error)) (*tonepay.Payment, error) {
	var p *tonepay.Payment
	err := svc.update(ctx, func(tx tonepay.Tx, c *changes) error {
		if key != "" {
			a, err := tx.FindAnswer(ctx, key, now.Add(-tonepay.AnswerTTL))
			if err != nil && !errors.Is(err, tonepay.ErrNotFound) {
				return err
			}
			var ok bool
			if p, ok = decodeAnswer(a); ok {
				return nil
			}
		}
		s, err := fn(tx, c)
		if err != nil {
			return err
		}
		p = &tonepay.Payment{Sid: s.Sid, AccountSid: s.AccountSid, CallSid: s.CallSid, DateCreated: s.DateCreated, DateUpdated: s.DateUpdated}
		if key == "" {
			return nil
		}
		body, err := json.Marshal(p)
		if err != nil {
			return err
		}
		return tx.AddAnswer(ctx, &tonepay.Answer{Key: key, Status: tonepay.AnswerPayment, Body: body, DateCreated: now})
	})
	return p, err
}

// decodeAnswer returns the Payment a stored answer holds. One in another
// format is not replayed: the request runs again, and finds what the first
// one did (an open session, an ended one), never a second charge.
func decodeAnswer(a *tonepay.Answer) (*tonepay.Payment, bool) {
	if a == nil || a.Status != tonepay.AnswerPayment {
		return nil, false
	}
	var p tonepay.Payment
	if json.Unmarshal(a.Body, &p) != nil {
		return nil, false
	}
	return &p, true
}

func (svc *Service) afterCommit(c changes) {
	if len(c.callbacks) > 0 {
		svc.Courier.Committed(c.callbacks)
	}
	if svc.Publish != nil {
		seen := map[string]bool{}
		publish := func(e tonepay.Event) {
			if !seen[e.SessionSid] && tonepay.IsSID(e.SessionSid, tonepay.PrefixPayment) { // not a call's progress
				seen[e.SessionSid] = true
				svc.Publish(e)
			}
		}
		for _, cb := range c.callbacks {
			publish(tonepay.Event{AccountSid: cb.AccountSid, SessionSid: cb.SessionSid})
		}
		for _, e := range c.touched {
			publish(e)
		}
	}
	for _, result := range c.ended {
		svc.Hooks.Ended(result)
	}
	for _, sid := range c.pay {
		svc.startPay(sid)
	}
	if len(c.calls) > 0 {
		svc.armTimers(c.calls)
	}
	if svc.AppError != nil {
		for _, e := range c.calls {
			for _, en := range e.errs {
				svc.AppError(e.sid, en.Code, en.URL)
			}
		}
	}
}

// queue fills in what the engine leaves to I/O (tokens, times) and adds the
// callbacks to the outbox.
func (svc *Service) queue(ctx context.Context, tx tonepay.Tx, now time.Time, cbs []*tonepay.Callback) error {
	if len(cbs) == 0 {
		return nil
	}
	// Asked claimed for this process's courier; the store decides which
	// stay so (see tonepay.Tx.AddCallbacks).
	var claimedUntil time.Time
	if d := svc.Courier.HandOver(); d > 0 {
		claimedUntil = now.Add(d)
	}
	for _, cb := range cbs {
		// The token is the receiver's dedupe key: unique per callback, the same
		// on every retry of it.
		cb.Token = tonepay.RandomHex(16)
		cb.Status = tonepay.CallbackPending
		cb.NextAttemptAt, cb.DateCreated, cb.DateUpdated = now, now, now
		cb.ClaimedUntil = claimedUntil
	}
	return tx.AddCallbacks(ctx, cbs...)
}

// findLiveCall returns the account's call, or 20404, or 21220 naming op if
// it has ended.
func findLiveCall(ctx context.Context, tx tonepay.Tx, accountSid, callSid, op string) (*tonepay.Call, error) {
	c, err := tx.FindCall(ctx, callSid)
	if errors.Is(err, tonepay.ErrNotFound) || err == nil && c.AccountSid != accountSid {
		return nil, tonepay.Errorf(tonepay.CodeNotFound, "Call %s was not found", callSid)
	} else if err != nil {
		return nil, err
	}
	return c, checkLive(c, op)
}

// Operations a call that has ended refuses (21220 names the one tried).
const (
	opPay    = "process a payment"
	opKeys   = "press keys"
	opHangUp = "hang up"
)

// checkLive returns 21220 naming op unless the call is in progress.
func checkLive(c *tonepay.Call, op string) error {
	if c.Status != tonepay.CallInProgress {
		return tonepay.CallNotInProgress(op)
	}
	return nil
}

// resolveCallback makes StatusCallback absolute: Twilio accepts a relative
// URL, which we resolve against the call's Url.
func resolveCallback(call *tonepay.Call, cb string) (string, error) {
	u, err := url.Parse(cb)
	if err == nil && u.IsAbs() && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" {
		if u.Path == "" && u.RawPath == "" {
			// An HTTP request always has a path: the receiver sees "/" and
			// checks the signature against a URL with it.
			u.Path = "/"
			return u.String(), nil
		}
		return cb, nil // as given: receivers check signatures over the exact URL
	}
	if err == nil && call.URL != "" {
		var base *url.URL
		if base, err = url.Parse(call.URL); err == nil {
			u = base.ResolveReference(u)
		}
	}
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", tonepay.Errorf(tonepay.CodeInvalidParameter, "Invalid value %q for parameter StatusCallback: must be an absolute http or https URL, or relative to the call's Url", tonepay.RedactURL(cb))
	}
	return u.String(), nil
}
