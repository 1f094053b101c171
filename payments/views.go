package payments

import (
	"context"
	"fmt"

	"github.com/tonepay/tonepay"
)

// The read side of sessions: what an account may see of its own, masked
// (tonepay.SessionView), for the extension API, the console's stream and an
// MCP server alike.

// FindSession implements tonepay.SessionService.
func (svc *Service) FindSession(ctx context.Context, accountSid, callSid, sid string) (*tonepay.SessionView, error) {
	s, err := svc.findSession(ctx, accountSid, callSid, sid)
	if err != nil {
		return nil, err
	}
	return tonepay.ViewSession(s), nil
}

// findSession finds a session to show: sid may be tonepay.CurrentSession.
func (svc *Service) findSession(ctx context.Context, accountSid, callSid, sid string) (*tonepay.Session, error) {
	t := tonepay.NewTenant(svc.Tx.Store, accountSid)
	if sid == tonepay.CurrentSession {
		return t.FindOpenSession(ctx, callSid)
	}
	return t.FindSession(ctx, callSid, sid)
}

// FindSessions implements tonepay.SessionService.
func (svc *Service) FindSessions(ctx context.Context, accountSid string, f tonepay.SessionFilter) ([]*tonepay.SessionView, error) {
	list, err := tonepay.NewTenant(svc.Tx.Store, accountSid).FindSessions(ctx, f)
	if err != nil {
		return nil, err
	}
	out := make([]*tonepay.SessionView, len(list))
	for i, s := range list {
		out[i] = tonepay.ViewSession(s)
	}
	return out, nil
}

// FindCallbacks implements tonepay.SessionService.
func (svc *Service) FindCallbacks(ctx context.Context, accountSid, callSid, sid string) ([]tonepay.CallbackHistory, error) {
	if sid == tonepay.CurrentSession {
		s, err := svc.findSession(ctx, accountSid, callSid, sid)
		if err != nil {
			return nil, err
		}
		sid = s.Sid
	}
	return tonepay.NewTenant(svc.Tx.Store, accountSid).FindCallbacks(ctx, callSid, sid)
}

// WatchSessions implements tonepay.SessionWatcher. A change names a session
// only; its view is read here, after the change, through the account's
// Tenant: a change of another account's session, if one ever reached this
// subscription, shows nothing.
func (svc *Service) WatchSessions(ctx context.Context, accountSid string) (<-chan *tonepay.SessionView, error) {
	if svc.Subscribe == nil {
		return nil, fmt.Errorf("session changes: %w", tonepay.ErrNotFound)
	}
	changes, stop := svc.Subscribe(accountSid)
	out := make(chan *tonepay.SessionView)
	t := tonepay.NewTenant(svc.Tx.Store, accountSid)
	go func() {
		defer close(out)
		defer stop()
		for {
			select {
			case <-ctx.Done():
				return
			case c := <-changes:
				s, err := t.FindSession(ctx, "", c.SessionSid)
				if err != nil {
					// Not the account's, or a failed read: the session's
					// next change shows it.
					continue
				}
				select {
				case out <- tonepay.ViewSession(s):
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out, nil
}
