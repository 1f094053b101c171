// Package sqlrow is the row shape the SQL stores (store/sqlite,
// store/postgres) share: column lists, scanning into domain types, and the
// stored forms of times and session JSON. The stores differ in SQL dialect,
// locking and connection handling; what a row holds is the same.
package sqlrow

import (
	"encoding/json"
	"net/url"
	"strings"
	"time"

	"github.com/tonepay/tonepay"
)

// Scanner is what a row of either driver offers.
type Scanner interface{ Scan(dest ...any) error }

// Ts is a time in its stored form: Unix nanoseconds (exact, in both
// databases), with 0 for the zero time.
func Ts(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// Tm reads a stored time back, in UTC.
func Tm(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// SessionJSON returns a session's stored Params and State.
func SessionJSON(s *tonepay.Session) (params, state string, err error) {
	p, err := json.Marshal(s.Params)
	if err != nil {
		return "", "", err
	}
	st, err := json.Marshal(s.State)
	return string(p), string(st), err
}

// AccountCols are the columns ScanAccount reads, in order.
const AccountCols = `sid, owner_sid, friendly_name, status, auth_token, date_created, date_updated`

// ScanAccount reads one row.
func ScanAccount(s Scanner) (*tonepay.Account, error) {
	var a tonepay.Account
	var token string
	var created, updated int64
	if err := s.Scan(&a.Sid, &a.OwnerSid, &a.FriendlyName, &a.Status, &token, &created, &updated); err != nil {
		return nil, err
	}
	a.AuthToken, a.DateCreated, a.DateUpdated = tonepay.NewSecret(token), Tm(created), Tm(updated)
	return &a, nil
}

// APIAPIKeyCols are the columns ScanAPIKey reads.
const APIKeyCols = `sid, account_sid, friendly_name, secret_hash, date_created, date_updated`

// ScanAPIKey reads one row.
func ScanAPIKey(s Scanner) (*tonepay.APIKey, error) {
	var k tonepay.APIKey
	var created, updated int64
	if err := s.Scan(&k.Sid, &k.AccountSid, &k.FriendlyName, &k.SecretHash, &created, &updated); err != nil {
		return nil, err
	}
	k.DateCreated, k.DateUpdated = Tm(created), Tm(updated)
	return &k, nil
}

// CallCols are the columns ScanCall reads.
const CallCols = `sid, account_sid, to_number, from_number, url, status, direction, start_time, end_time, date_created, date_updated,
	method, twiml, fallback_url, fallback_method, status_callback, status_callback_method, status_callback_events, timeout, send_digits, parent_call_sid,
	phone_number_sid, forwarded_from, leg, leg_lease`

// ScanCall reads one row.
func ScanCall(s Scanner) (*tonepay.Call, error) {
	var c tonepay.Call
	var start, end, created, updated, lease int64
	var events, leg string
	if err := s.Scan(&c.Sid, &c.AccountSid, &c.To, &c.From, &c.URL, &c.Status, &c.Direction, &start, &end, &created, &updated,
		&c.Method, &c.Twiml, &c.FallbackURL, &c.FallbackMethod, &c.StatusCallback, &c.StatusCallbackMethod, &events, &c.Timeout, &c.SendDigits, &c.ParentCallSid,
		&c.PhoneNumberSid, &c.ForwardedFrom, &leg, &lease); err != nil {
		return nil, err
	}
	c.Leg = tonepay.Leg(leg)
	c.StartTime, c.EndTime, c.DateCreated, c.DateUpdated, c.LegLease = Tm(start), Tm(end), Tm(created), Tm(updated), Tm(lease)
	if events != "" { // none asked for reads back as nil, as it was written
		c.StatusCallbackEvents = strings.Fields(events)
	}
	return &c, nil
}

// CallArgs are a call's values in the order of CallCols.
func CallArgs(c *tonepay.Call) []any {
	return []any{c.Sid, c.AccountSid, c.To, c.From, c.URL, c.Status, c.Direction, Ts(c.StartTime), Ts(c.EndTime), Ts(c.DateCreated), Ts(c.DateUpdated),
		c.Method, c.Twiml, c.FallbackURL, c.FallbackMethod, c.StatusCallback, c.StatusCallbackMethod, strings.Join(c.StatusCallbackEvents, " "), c.Timeout, c.SendDigits, c.ParentCallSid,
		c.PhoneNumberSid, c.ForwardedFrom, string(c.Leg), Ts(c.LegLease)}
}

// CallUpdateArgs are the values an UpdateCall saves, then the sid.
func CallUpdateArgs(c *tonepay.Call) []any {
	return []any{c.Status, Ts(c.EndTime), Ts(c.DateUpdated), c.URL, c.Method, c.Twiml, c.StatusCallback, c.StatusCallbackMethod, c.Sid}
}

// SessionCols are the columns ScanSession reads.
const SessionCols = `sid, account_sid, call_sid, status, params, state, sealed, deadline, date_created, date_updated`

// ScanSession reads one row.
func ScanSession(s Scanner) (*tonepay.Session, error) {
	var x tonepay.Session
	var params, state []byte // TEXT in SQLite, jsonb in PostgreSQL
	var deadline, created, updated int64
	if err := s.Scan(&x.Sid, &x.AccountSid, &x.CallSid, &x.Status, &params, &state, &x.Sealed, &deadline, &created, &updated); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(params, &x.Params); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(state, &x.State); err != nil {
		return nil, err
	}
	x.Deadline, x.DateCreated, x.DateUpdated = Tm(deadline), Tm(created), Tm(updated)
	return &x, nil
}

// CallbackCols are the columns ScanCallback reads.
const CallbackCols = `id, token, account_sid, session_sid, url, form, status, attempts, next_attempt_at, leased_until, date_created, date_updated, method`

// ScanCallback reads one row.
func ScanCallback(s Scanner) (*tonepay.Callback, error) {
	var c tonepay.Callback
	var form string
	var next, leased, created, updated int64
	if err := s.Scan(&c.ID, &c.Token, &c.AccountSid, &c.Chain, &c.URL, &form, &c.Status, &c.Attempts, &next, &leased, &created, &updated, &c.Method); err != nil {
		return nil, err
	}
	var err error
	if c.Form, err = url.ParseQuery(form); err != nil {
		return nil, err
	}
	c.NextAttemptAt, c.ClaimedUntil, c.DateCreated, c.DateUpdated = Tm(next), Tm(leased), Tm(created), Tm(updated)
	return &c, nil
}

// ScanAttempt reads one row.
func ScanAttempt(s Scanner) (*tonepay.Attempt, error) {
	var a tonepay.Attempt
	var at, d int64
	if err := s.Scan(&a.CallbackID, &a.N, &at, &d, &a.StatusCode, &a.Error); err != nil {
		return nil, err
	}
	a.At, a.Duration = Tm(at), time.Duration(d)
	return &a, nil
}

// ScanAnswer reads one row.
func ScanAnswer(s Scanner) (*tonepay.Answer, error) {
	var a tonepay.Answer
	var created int64
	if err := s.Scan(&a.Key, &a.Format, &a.Body, &created); err != nil {
		return nil, err
	}
	a.DateCreated = Tm(created)
	return &a, nil
}

// KeepClaims is the store's decision of which of cbs the committing process
// may deliver at once (tonepay.Tx.AddCallbacks): a session's callbacks keep
// ClaimedUntil only if pending says that session has no callback pending
// already. pending is asked once per session, before any of cbs is inserted.
func KeepClaims(cbs []*tonepay.Callback, pending func(sessionSid string) (bool, error)) error {
	keep := map[string]bool{}
	for _, c := range cbs {
		if c.ClaimedUntil.IsZero() {
			continue
		}
		ok, seen := keep[c.Chain]
		if !seen {
			busy, err := pending(c.Chain)
			if err != nil {
				return err
			}
			ok = !busy
			keep[c.Chain] = ok
		}
		if !ok {
			c.ClaimedUntil = time.Time{}
		}
	}
	return nil
}
