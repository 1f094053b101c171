// Package payments runs payment sessions (Twilio's Payments resource of a
// call, an agent's or a <Pay>'s) against a Store. Each event (a request, a
// key, a timeout, a connector's answer) is one transaction: load the
// session, open its sealed values, apply the capture engine, seal again,
// and write the new state with the callbacks it caused. Callbacks are
// delivered after commit (the outbox), and the connector is called after
// commit too, never inside a transaction.
//
// The call runtime (package calls) reaches sessions through the methods of
// verb.go (calls.Payments, the one bridge): each works inside the
// runtime's transaction and never calls the runtime back. What a session
// tells its call (it ended; a <Pay>'s next question, its end) is written
// into the transaction's txn.Work as News, which the runtime applies
// before commit.
package payments

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
	"github.com/tonepay/tonepay/internal/txn"
	"github.com/tonepay/tonepay/voice"
)

var _ tonepay.SessionService = (*Service)(nil)

// Service implements tonepay.SessionService, and calls.Payments for the
// call runtime.
type Service struct {
	Tx         *txn.Runner                // the store, the clock, the outbox; shared with the call runtime
	Sealer     tonepay.Sealer             // encrypts captured values at rest
	Connectors tonepay.Connectors         // by name
	Engine     capture.Engine             // timeouts and leases
	NewSID     func(prefix string) string // injected ids
	Logger     *slog.Logger
	// Publish, if set, is told after each commit which sessions changed (for
	// live views such as the console).
	Publish func(tonepay.SessionChanged)
	// Subscribe, if set, gives the sessions of an account that change (in
	// this process, or in any, with a SessionListener feeding the hub) and
	// a function that ends the subscription: WatchSessions' source. Without
	// it, WatchSessions is ErrNotFound.
	Subscribe func(accountSid string) (<-chan tonepay.SessionChanged, func())
	// Hooks are told what happened, after commit, for metrics; nil ones
	// are skipped.
	Hooks Hooks
	// RequireHTTPS refuses a <Pay> whose action or statusCallback is not
	// https (Twilio's 64016); off, http works too (tests on loopback).
	RequireHTTPS bool
	// PruneEvery is how often RunPruner looks for sessions past their
	// retention; 0 is every minute.
	PruneEvery time.Duration

	mu      sync.Mutex
	paying  map[string]bool // sessions whose connector call runs in this process
	payment sync.WaitGroup
}

// Hooks observe the service for metrics. Each is called after the commit
// that made it true (a rolled-back transaction is never counted), on the
// caller's goroutine: it must be quick and must not block. No argument
// carries an account, call, session or card value.
type Hooks struct {
	// Ended is told the Result of each session that ended.
	Ended func(result string)
	// Connector is told each connector call: the configured connector's
	// name, its outcome ("ok", "declined": a refusal, "error": outcome
	// unknown, to be retried) and how long it took.
	Connector func(name, outcome string, d time.Duration)
}

// New returns a Service with random SIDs and the default engine, whose
// transaction ids are NewSID("TX"), running its transactions through r
// (whose commits it is told of).
func New(r *txn.Runner, sealer tonepay.Sealer, connectors tonepay.Connectors, log *slog.Logger) *Service {
	svc := &Service{Tx: r, Sealer: sealer, Connectors: connectors, Engine: capture.DefaultEngine, NewSID: tonepay.NewSID, Logger: log}
	// Through svc, so that an injected NewSID draws them too.
	svc.Engine.NewTxID = func() string { return svc.NewSID("TX") }
	r.OnCommit(svc.committed)
	return svc
}

func (svc *Service) now() time.Time { return svc.Tx.Now().UTC() }

// CreateSession implements tonepay.SessionService.
func (svc *Service) CreateSession(ctx context.Context, req *tonepay.CreateRequest) (*tonepay.Payment, error) {
	now := svc.now()
	s := &tonepay.Session{
		Sid:         svc.NewSID(tonepay.PrefixPayment),
		AccountSid:  req.AccountSid,
		CallSid:     req.CallSid,
		Status:      tonepay.SessionOpen,
		Params:      req.Params,
		DateCreated: now,
		DateUpdated: now,
	}
	return svc.answer(ctx, req.IdempotencyKey, now, func(tx tonepay.Tx, w *txn.Work) (*tonepay.Session, error) {
		call, err := tonepay.NewTenant(tx, req.AccountSid).FindCall(ctx, req.CallSid)
		if err != nil {
			return nil, err
		}
		if err := svc.checkCreate(&s.Params, req); err != nil {
			return nil, err
		}
		if s.State.StatusCallback, err = optionalCallback(call, req.StatusCallback); err != nil {
			return nil, err
		}
		if err := call.InProgress(opPay); err != nil {
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
		w.Callbacks = append(w.Callbacks, svc.Engine.Start(s, now)...)
		w.Touched = append(w.Touched, tonepay.SessionChanged{AccountSid: s.AccountSid, SessionSid: s.Sid})
		w.SetCapture(s)
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
	now := svc.now()
	return svc.answer(ctx, key, now, func(tx tonepay.Tx, w *txn.Work) (*tonepay.Session, error) {
		call, err := tonepay.NewTenant(tx, req.AccountSid).FindCall(ctx, req.CallSid)
		if err != nil {
			return nil, err
		}
		if in.StatusCallback, err = optionalCallback(call, req.StatusCallback); err != nil {
			return nil, err
		}
		s, err := tonepay.NewTenant(tx, req.AccountSid).FindSession(ctx, req.CallSid, req.Sid)
		if errors.Is(err, tonepay.ErrNotFound) {
			return nil, tonepay.Errorf(tonepay.CodeNotFound, "Payment session %s was not found on call %s", req.Sid, req.CallSid)
		} else if err != nil {
			return nil, err
		}
		return s, svc.apply(ctx, tx, w, s, now, in)
	})
}

// Sweep applies the Timeout event to every session whose deadline has
// passed: entries that timed out, confirmations not given, and connector
// calls whose lease ran out (a crash, or a processor that did not answer).
// It returns how many sessions it looked at. A <Pay> that timed out goes
// on: the call runtime makes its requests after each commit.
func (svc *Service) Sweep(ctx context.Context) (int, error) {
	now := svc.now()
	sids, err := svc.Tx.Store.FindDueSessions(ctx, now, 100)
	if err != nil {
		return 0, err
	}
	for _, sid := range sids {
		_, err := svc.Tx.Update(ctx, func(tx tonepay.Tx, w *txn.Work) error {
			s, err := tx.FindSession(ctx, sid)
			if err != nil {
				return err
			}
			// Apply re-checks the deadline inside the transaction, so a sweep
			// racing a key press or another process does nothing twice.
			return svc.apply(ctx, tx, w, s, now, capture.Input{Kind: capture.Timeout})
		})
		if err != nil {
			return 0, err
		}
	}
	return len(sids), nil
}

// RunSweeper sweeps sessions every interval until ctx is done.
func (svc *Service) RunSweeper(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := svc.Sweep(ctx); err != nil && ctx.Err() == nil {
			svc.Logger.Error("sweeping session deadlines", "err", err)
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

// apply runs the engine on s inside tx, one step per input in order, and
// saves the result once: one open, one seal, one write. What s tells its
// call (its end, a <Pay>'s questions) goes into w as News.
func (svc *Service) apply(ctx context.Context, tx tonepay.Tx, w *txn.Work, s *tonepay.Session, now time.Time, ins ...capture.Input) error {
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
			w.Ended = append(w.Ended, s.State.Result)
		}
		w.Callbacks = append(w.Callbacks, withMethod(s, out.Callbacks)...)
		if out.Pay {
			w.Charge = append(w.Charge, s.Sid)
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
	w.Touched = append(w.Touched, tonepay.SessionChanged{AccountSid: s.AccountSid, SessionSid: s.Sid})
	w.SetCapture(s)
	n := txn.News{Session: s, At: now, Ended: !ended && s.Status == tonepay.SessionEnded, Asks: asks, Action: action}
	n.Verb = (len(asks) > 0 || action != nil) && verbInputs(s, ins)
	if n.Ended || n.Verb {
		w.News = append(w.News, n)
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

// answer runs an idempotent request: replay a stored answer, or run fn
// and store the Payment it produced, in the same transaction.
func (svc *Service) answer(ctx context.Context, key string, now time.Time,
	fn func(tonepay.Tx, *txn.Work) (*tonepay.Session, error)) (*tonepay.Payment, error) {
	p, err := svc.tryAnswer(ctx, key, now, fn)
	if key != "" && tonepay.ErrorCode(err) == tonepay.CodeInvalidOperation {
		// The same request racing itself in another process: the loser hit
		// the winner's session, whose answer has committed with it. Reading
		// it is enough; running the request again would decide it all twice.
		if a, ferr := svc.Tx.Store.FindAnswer(ctx, key, now.Add(-tonepay.AnswerTTL)); ferr == nil {
			if p, ok := decodeAnswer(a); ok {
				return p, nil
			}
		}
	}
	return p, err
}

func (svc *Service) tryAnswer(ctx context.Context, key string, now time.Time,
	fn func(tonepay.Tx, *txn.Work) (*tonepay.Session, error)) (*tonepay.Payment, error) {
	var p *tonepay.Payment
	_, err := svc.Tx.Update(ctx, func(tx tonepay.Tx, w *txn.Work) error {
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
		s, err := fn(tx, w)
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
		return tx.AddAnswer(ctx, &tonepay.Answer{Key: key, Format: tonepay.AnswerPayment, Body: body, DateCreated: now})
	})
	return p, err
}

// decodeAnswer returns the Payment a stored answer holds. One in another
// format is not replayed: the request runs again, and finds what the first
// one did (an open session, an ended one), never a second charge.
func decodeAnswer(a *tonepay.Answer) (*tonepay.Payment, bool) {
	if a == nil || a.Format != tonepay.AnswerPayment {
		return nil, false
	}
	var p tonepay.Payment
	if json.Unmarshal(a.Body, &p) != nil {
		return nil, false
	}
	return &p, true
}

// committed acts on payments' part of a committed transaction: live views,
// metrics, connector calls.
func (svc *Service) committed(w *txn.Work) {
	if svc.Publish != nil {
		seen := map[string]bool{}
		publish := func(e tonepay.SessionChanged) {
			if !seen[e.SessionSid] && tonepay.IsSID(e.SessionSid, tonepay.PrefixPayment) { // not a call's progress
				seen[e.SessionSid] = true
				svc.Publish(e)
			}
		}
		for _, cb := range w.Callbacks {
			publish(tonepay.SessionChanged{AccountSid: cb.AccountSid, SessionSid: cb.Chain})
		}
		for _, e := range w.Touched {
			publish(e)
		}
	}
	for _, result := range w.Ended {
		svc.Hooks.Ended(result)
	}
	for _, sid := range w.Charge {
		svc.startPay(sid)
	}
}

// opPay names a payment on a call that has ended (21220).
const opPay = "process a payment"

// optionalCallback is resolveCallback for a door where StatusCallback is
// optional (DESIGN §12: an MCP agent follows the session through its
// resource): "" stays "", and such a session sends no callbacks
// (capture's sendable). The REST door requires one (20001) before this is
// reached.
func optionalCallback(call *tonepay.Call, cb string) (string, error) {
	if cb == "" {
		return "", nil
	}
	return resolveCallback(call, cb)
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
