// Package servicetest wires the domain services of one tonepay process over
// a store, as cmd/tonepay wires them, for tests of the services and of the
// packages that use them (twilioapi, metrics). For tests only.
package servicetest

import (
	"context"
	"log/slog"
	"time"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/accounts"
	"github.com/tonepay/tonepay/calls"
	"github.com/tonepay/tonepay/internal/txn"
	"github.com/tonepay/tonepay/payments"
)

// Process is one process's services over a shared store. The call runtime
// is embedded (Press, CreateCall, Fetcher, Voice, ...); payments' methods
// that tests use are forwarded. Its clock is Tx.Now, shared by all.
type Process struct {
	*calls.Service
	Payments *payments.Service
	Accounts *accounts.Service
}

// New wires a process: its calls run no TwiML until a Fetcher is set.
func New(store tonepay.Store, courier tonepay.Courier, sealer tonepay.Sealer, connectors tonepay.Connectors, log *slog.Logger) *Process {
	r := txn.NewRunner(store, courier)
	pay := payments.New(r, sealer, connectors, log)
	p := &Process{Service: calls.New(r, pay, log), Payments: pay, Accounts: accounts.New(store)}
	p.Accounts.Now = func() time.Time { return r.Now() }
	return p
}

// Services are the process's services as an API takes them.
func (p *Process) Services() tonepay.Services {
	return tonepay.Services{Authenticator: p.Accounts, AccountService: p.Accounts, APIKeyService: p.Accounts,
		NumberService: p.Accounts, CallService: p.Service, SessionService: p.Payments}
}

// Keypad presses keys on a simulated caller's keypad (Press, source keypad).
func (p *Process) Keypad(ctx context.Context, accountSid, callSid, digits string) (*tonepay.Pressed, error) {
	return p.Press(ctx, tonepay.Keys{AccountSid: accountSid, CallSid: callSid, Source: tonepay.KeySourceKeypad, Digits: digits})
}

// CreateSession is payments'.
func (p *Process) CreateSession(ctx context.Context, req *tonepay.CreateRequest) (*tonepay.Payment, error) {
	return p.Payments.CreateSession(ctx, req)
}

// UpdateSession is payments'.
func (p *Process) UpdateSession(ctx context.Context, req *tonepay.UpdateRequest) (*tonepay.Payment, error) {
	return p.Payments.UpdateSession(ctx, req)
}

// FindSessions is payments'.
func (p *Process) FindSessions(ctx context.Context, accountSid string, f tonepay.SessionFilter) ([]*tonepay.SessionView, error) {
	return p.Payments.FindSessions(ctx, accountSid, f)
}

// Sweep is payments' session sweep.
func (p *Process) Sweep(ctx context.Context) (int, error) { return p.Payments.Sweep(ctx) }

// Wait waits for payments' connector calls in flight.
func (p *Process) Wait() { p.Payments.Wait() }
