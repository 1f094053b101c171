package tonepay

import (
	"context"
	"fmt"
)

// Tenant reads the resources of one account. To a tenant, another account's
// resource does not exist: it is ErrNotFound, exactly as a missing one is
// (DESIGN §3: an unknown or foreign SID is 20404; a 403 would tell whoever
// guesses SIDs that one is real). Every read of a resource that a client
// names goes through a Tenant, so that this rule has one home: the
// services' reads for the API, and their transactions, which read the
// request's call or session through one made on their Tx.
//
// The errors wrap ErrNotFound with the resource and its SID ("call CA…:
// …"); the wire layer names the path instead.
type Tenant struct {
	rd  Reader
	sid string
}

// NewTenant returns the reads of account accountSid through rd: a Store, or
// a Tx inside a transaction.
func NewTenant(rd Reader, accountSid string) Tenant { return Tenant{rd: rd, sid: accountSid} }

// AccountSid is the account whose resources t reads.
func (t Tenant) AccountSid() string { return t.sid }

// owned returns v if err is nil and v belongs to the account, else an error
// wrapping ErrNotFound (or the store's error) that names what was asked.
func owned[T any](t Tenant, what, sid string, v *T, err error, account func(*T) string) (*T, error) {
	if err == nil && account(v) != t.sid {
		err = ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", what, sid, err)
	}
	return v, nil
}

// FindAccounts lists what an account sees of accounts, oldest first: a
// main account, itself and its subaccounts; a subaccount, itself alone
// (when the filter matches it, on the first page). f.OwnerSid and f.Main
// are set here.
func (t Tenant) FindAccounts(ctx context.Context, f AccountFilter) ([]*Account, error) {
	a, err := t.rd.FindAccount(ctx, t.sid)
	if err != nil {
		return nil, fmt.Errorf("account %s: %w", t.sid, err)
	}
	if !a.IsMain() {
		if f.Offset == 0 && (f.FriendlyName == "" || f.FriendlyName == a.FriendlyName) && (f.Status == "" || f.Status == a.Status) {
			return []*Account{a}, nil
		}
		return nil, nil
	}
	f.OwnerSid, f.Main = a.Sid, false
	return t.rd.FindAccounts(ctx, f)
}

// FindAPIKey returns the account's API key sid.
func (t Tenant) FindAPIKey(ctx context.Context, sid string) (*APIKey, error) {
	k, err := t.rd.FindAPIKey(ctx, sid)
	return owned(t, "key", sid, k, err, func(k *APIKey) string { return k.AccountSid })
}

// FindAPIKeys lists the account's API keys, oldest first; f.AccountSid is
// set here.
func (t Tenant) FindAPIKeys(ctx context.Context, f APIKeyFilter) ([]*APIKey, error) {
	f.AccountSid = t.sid
	return t.rd.FindAPIKeys(ctx, f)
}

// FindCall returns the account's call sid.
func (t Tenant) FindCall(ctx context.Context, sid string) (*Call, error) {
	c, err := t.rd.FindCall(ctx, sid)
	return owned(t, "call", sid, c, err, func(c *Call) string { return c.AccountSid })
}

// FindCalls lists the account's calls, newest first; f.AccountSid is set
// here.
func (t Tenant) FindCalls(ctx context.Context, f CallFilter) ([]*Call, error) {
	f.AccountSid = t.sid
	return t.rd.FindCalls(ctx, f)
}

// FindNumber returns the account's IncomingPhoneNumber sid.
func (t Tenant) FindNumber(ctx context.Context, sid string) (*PhoneNumber, error) {
	n, err := t.rd.FindNumber(ctx, sid)
	return owned(t, "number", sid, n, err, func(n *PhoneNumber) string { return n.AccountSid })
}

// FindNumbers lists the account's IncomingPhoneNumbers, oldest first;
// f.AccountSid is set here.
func (t Tenant) FindNumbers(ctx context.Context, f NumberFilter) ([]*PhoneNumber, error) {
	f.AccountSid = t.sid
	return t.rd.FindNumbers(ctx, f)
}

// FindSession returns the account's session sid on call callSid: a session
// on another call is ErrNotFound too. callSid "" skips that check, for a
// session named by its SID alone (as a SessionChanged names it).
func (t Tenant) FindSession(ctx context.Context, callSid, sid string) (*Session, error) {
	s, err := t.rd.FindSession(ctx, sid)
	if err == nil && callSid != "" && s.CallSid != callSid {
		err = ErrNotFound
	}
	return owned(t, "session", sid, s, err, func(s *Session) string { return s.AccountSid })
}

// FindOpenSession returns the open session of the account's call callSid.
func (t Tenant) FindOpenSession(ctx context.Context, callSid string) (*Session, error) {
	s, err := t.rd.FindOpenSession(ctx, callSid)
	return owned(t, "open session of call", callSid, s, err, func(s *Session) string { return s.AccountSid })
}

// FindSessions lists the sessions of the account's call f.CallSid, newest
// first, ended ones included. The call is read first, so that another
// account's call is ErrNotFound whatever it holds.
func (t Tenant) FindSessions(ctx context.Context, f SessionFilter) ([]*Session, error) {
	if _, err := t.FindCall(ctx, f.CallSid); err != nil {
		return nil, err
	}
	return t.rd.FindSessions(ctx, f)
}

// CallbackHistory is a status callback and every attempt at delivering it,
// in order.
type CallbackHistory struct {
	Callback *Callback
	Attempts []*Attempt
}

// FindCallbacks lists the callbacks of the account's session sid on call
// callSid (as FindSession finds it) in delivery order, each with its
// attempts.
func (t Tenant) FindCallbacks(ctx context.Context, callSid, sid string) ([]CallbackHistory, error) {
	if _, err := t.FindSession(ctx, callSid, sid); err != nil {
		return nil, err
	}
	cbs, err := t.rd.FindCallbacks(ctx, sid)
	if err != nil {
		return nil, err
	}
	out := make([]CallbackHistory, 0, len(cbs))
	for _, cb := range cbs {
		atts, err := t.rd.FindAttempts(ctx, cb.ID)
		if err != nil {
			return nil, err
		}
		out = append(out, CallbackHistory{Callback: cb, Attempts: atts})
	}
	return out, nil
}

// FindTimeline lists what happened on the account's call callSid: entries
// with Seq after afterSeq, at most limit (0: all), in order.
func (t Tenant) FindTimeline(ctx context.Context, callSid string, afterSeq int64, limit int) ([]*TimelineEntry, error) {
	if _, err := t.FindCall(ctx, callSid); err != nil {
		return nil, err
	}
	return t.rd.FindTimeline(ctx, callSid, afterSeq, limit)
}
