// Package session runs payment sessions against a Store: it loads a session,
// applies a capture engine event, and writes the new state, the callbacks the
// event caused and the idempotent answer in one transaction. Delivery of the
// callbacks starts after commit (the outbox), never inside the transaction.
package session

import (
	"context"
	"errors"
	"time"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/capture"
)

var _ tonepay.SessionService = (*Service)(nil)

// Service implements tonepay.SessionService.
type Service struct {
	Store    tonepay.Store
	Notifier tonepay.Notifier           // told after each commit that queued callbacks
	Now      func() time.Time           // injected clock
	NewSID   func(prefix string) string // injected ids
}

// New returns a Service with the real clock and random SIDs.
func New(store tonepay.Store, n tonepay.Notifier) *Service {
	return &Service{Store: store, Notifier: n, Now: time.Now, NewSID: tonepay.NewSID}
}

// CreateSession implements tonepay.SessionService.
func (svc *Service) CreateSession(ctx context.Context, req *tonepay.CreateRequest) (*tonepay.Answer, error) {
	now := svc.Now().UTC()
	s := &tonepay.Session{
		Sid:         svc.NewSID(tonepay.PrefixPayment),
		AccountSid:  req.AccountSid,
		CallSid:     req.CallSid,
		Status:      tonepay.SessionOpen,
		Params:      req.Params,
		State:       tonepay.State{StatusCallback: req.StatusCallback},
		DateCreated: now,
		DateUpdated: now,
	}
	return svc.run(ctx, req.IdempotencyKey, 201, now, func(tx tonepay.Tx) (*tonepay.Session, []*tonepay.Callback, error) {
		if _, err := findLiveCall(ctx, tx, req.AccountSid, req.CallSid); err != nil {
			return nil, nil, err
		}
		if _, err := tx.FindOpenSession(ctx, req.CallSid); err == nil {
			return nil, nil, errOpenSession
		} else if !errors.Is(err, tonepay.ErrNotFound) {
			return nil, nil, err
		}
		if err := tx.CreateSession(ctx, s); err != nil {
			if errors.Is(err, tonepay.ErrConflict) {
				return nil, nil, errOpenSession
			}
			return nil, nil, err
		}
		return s, capture.Start(s), nil
	}, req.Render)
}

var errOpenSession = tonepay.Errorf(tonepay.CodeInvalidOperation, "Start operation on already started Pay session")

// UpdateSession implements tonepay.SessionService.
func (svc *Service) UpdateSession(ctx context.Context, req *tonepay.UpdateRequest) (*tonepay.Answer, error) {
	ev := capture.Event{Kind: capture.RequestCapture, Field: req.Capture, StatusCallback: req.StatusCallback}
	switch req.Status {
	case "complete":
		ev.Kind = capture.Complete
	case "cancel":
		ev.Kind = capture.Cancel
	}
	now := svc.Now().UTC()
	return svc.run(ctx, req.IdempotencyKey, 202, now, func(tx tonepay.Tx) (*tonepay.Session, []*tonepay.Callback, error) {
		s, err := tx.FindSession(ctx, req.Sid)
		if errors.Is(err, tonepay.ErrNotFound) || err == nil && (s.AccountSid != req.AccountSid || s.CallSid != req.CallSid) {
			return nil, nil, tonepay.Errorf(tonepay.CodeNotFound, "Payment session %s was not found on call %s", req.Sid, req.CallSid)
		} else if err != nil {
			return nil, nil, err
		}
		cbs, err := capture.Apply(s, ev, now)
		if err != nil {
			return nil, nil, err
		}
		return s, cbs, tx.UpdateSession(ctx, s)
	}, req.Render)
}

// HangUp implements tonepay.SessionService.
func (svc *Service) HangUp(ctx context.Context, accountSid, callSid string) (*tonepay.Call, error) {
	now := svc.Now().UTC()
	var call *tonepay.Call
	var queued bool
	err := svc.Store.Update(ctx, func(tx tonepay.Tx) error {
		var err error
		if call, err = findLiveCall(ctx, tx, accountSid, callSid); err != nil {
			return err
		}
		call.Status, call.EndTime, call.DateUpdated = tonepay.CallCompleted, now, now
		if err := tx.UpdateCall(ctx, call); err != nil {
			return err
		}
		s, err := tx.FindOpenSession(ctx, callSid)
		if errors.Is(err, tonepay.ErrNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		cbs, err := capture.Apply(s, capture.Event{Kind: capture.HangUp}, now)
		if err != nil {
			return err
		}
		if err := tx.UpdateSession(ctx, s); err != nil {
			return err
		}
		queued = len(cbs) > 0
		return svc.queue(ctx, tx, now, cbs)
	})
	if err != nil {
		return nil, err
	}
	if queued {
		svc.Notifier.Notify()
	}
	return call, nil
}

// run is the shape of every idempotent session request: replay a stored
// answer, or apply fn, queue its callbacks, render and store the answer, all
// in one transaction; then wake the dispatcher.
func (svc *Service) run(ctx context.Context, key string, status int, now time.Time,
	fn func(tonepay.Tx) (*tonepay.Session, []*tonepay.Callback, error), render tonepay.Render) (*tonepay.Answer, error) {
	var ans *tonepay.Answer
	var queued bool
	err := svc.Store.Update(ctx, func(tx tonepay.Tx) error {
		if key != "" {
			a, err := tx.FindAnswer(ctx, key, now.Add(-tonepay.AnswerTTL))
			if err == nil {
				ans = a
				return nil
			} else if !errors.Is(err, tonepay.ErrNotFound) {
				return err
			}
		}
		s, cbs, err := fn(tx)
		if err != nil {
			return err
		}
		if err := svc.queue(ctx, tx, now, cbs); err != nil {
			return err
		}
		queued = len(cbs) > 0
		body, err := render(s)
		if err != nil {
			return err
		}
		ans = &tonepay.Answer{Key: key, Status: status, Body: body, DateCreated: now}
		if key == "" {
			return nil
		}
		return tx.AddAnswer(ctx, ans)
	})
	if err != nil {
		return nil, err
	}
	if queued {
		svc.Notifier.Notify()
	}
	return ans, nil
}

// queue fills in what the engine leaves to I/O (tokens, times) and adds the
// callbacks to the outbox.
func (svc *Service) queue(ctx context.Context, tx tonepay.Tx, now time.Time, cbs []*tonepay.Callback) error {
	if len(cbs) == 0 {
		return nil
	}
	for _, cb := range cbs {
		// The token is the receiver's dedupe key: unique per callback, the same
		// on every retry of it.
		cb.Token = tonepay.RandomHex(16)
		cb.Status = tonepay.CallbackPending
		cb.NextAttemptAt, cb.DateCreated, cb.DateUpdated = now, now, now
	}
	return tx.AddCallbacks(ctx, cbs...)
}

// findLiveCall returns the account's call, or 20404, or 21220 if it has ended.
func findLiveCall(ctx context.Context, tx tonepay.Tx, accountSid, callSid string) (*tonepay.Call, error) {
	c, err := tx.FindCall(ctx, callSid)
	if errors.Is(err, tonepay.ErrNotFound) || err == nil && c.AccountSid != accountSid {
		return nil, tonepay.Errorf(tonepay.CodeNotFound, "Call %s was not found", callSid)
	} else if err != nil {
		return nil, err
	}
	if c.Status != tonepay.CallInProgress {
		return nil, tonepay.Errorf(tonepay.CodeCallNotInProgress, "Call is not in-progress. Cannot process a payment on call %s", callSid)
	}
	return c, nil
}
