package capture

import (
	"net/url"
	"strconv"
	"time"

	"github.com/tonepay/tonepay"
)

// A <Pay> session (Params.Verb) runs the IVR by itself: it asks for each
// field in Params.Fields() order, retries a failed one up to MaxAttempts,
// processes after the last, and reports each step in <Pay>'s statusCallback
// format (For, Attempt, ErrorType; no per-digit callbacks). Its end gives
// the action request's fields (Output.Action) and no callback.

// forProcessing is <Pay>'s For value while the connector is called.
const forProcessing = "payment-processing"

// StartVerb starts a <Pay> session created at now: it asks for the first
// field (attempt 1), waiting Params.Timeout seconds for the first digit as
// <Pay> does, and returns that ask and its status callback. On a session
// that is not a <Pay> one it does what Start does.
func (e Engine) StartVerb(s *tonepay.Session, now time.Time) Output {
	if !s.Params.Verb {
		return Output{Callbacks: e.Start(s, now)}
	}
	s.State.Attempt = 1
	return e.ask(s, s.Required()[0], "", now)
}

// ask asks the caller for f at s.State.Attempt; errType is why the last
// attempt failed, "" if none did. The entry must already be stopped.
func (e Engine) ask(s *tonepay.Session, f tonepay.Field, errType string, now time.Time) Output {
	s.State.Capture, s.State.Typed = f, 0
	s.DateUpdated = now
	s.Deadline = now.Add(verbTimeout(s))
	return Output{
		Callbacks: verbCallbacks(s, f.Base(), s.State.Attempt, errType),
		Ask:       &tonepay.PayAsk{Field: f, Attempt: s.State.Attempt, ErrorType: errType, CardType: s.State.CardType},
	}
}

// verbTimeout is <Pay timeout>: the wait for the first digit as well as
// between digits.
func verbTimeout(s *tonepay.Session) time.Duration {
	if s.Params.Timeout <= 0 {
		return 5 * time.Second // <Pay>'s default
	}
	return time.Duration(s.Params.Timeout) * time.Second
}

func maxAttempts(s *tonepay.Session) int {
	if s.Params.MaxAttempts < 1 {
		return 1
	}
	return s.Params.MaxAttempts
}

// verbFinish ends the entry being typed in a <Pay> session: keep a valid
// value and ask the next field (or process after the last), else fail it.
func (e Engine) verbFinish(s *tonepay.Session, sec *Secrets, now time.Time) Output {
	f, entry, brand, errType := endEntry(s, sec, now)
	if errType != "" {
		return e.verbFail(s, sec, f, errType, now)
	}
	keep(s, sec, f, entry, brand)
	r := s.Required()
	if len(r) == 0 {
		// The connector is called once (retries are deduped): one attempt.
		s.State.Attempt = 1
		return e.process(s, now, verbCallbacks(s, forProcessing, 1, ""))
	}
	// A matcher is the second half of its field's step, which keeps its
	// attempts: a mismatch then counts against the field, and a caller who
	// never matches cannot loop for ever.
	if !r[0].IsMatcher() {
		s.State.Attempt = 1
	}
	return e.ask(s, r[0], "", now)
}

// verbFail counts a failed attempt at f (the entry already stopped): the
// first field still required is asked again, or the session ends after
// MaxAttempts. A failed matcher thus asks its base field again.
func (e Engine) verbFail(s *tonepay.Session, sec *Secrets, f tonepay.Field, errType string, now time.Time) Output {
	s.State.ErrorType, s.State.ErrorField = errType, f
	s.State.Attempt++
	if s.State.Attempt > maxAttempts(s) {
		// The last failure is still a step the app hears about; the end
		// itself goes to the action.
		cbs := verbCallbacks(s, f.Base(), s.State.Attempt-1, errType)
		o := end(s, sec, tonepay.ResultTooManyAttempts, now, nil)
		o.Callbacks = cbs
		return o
	}
	next := f
	if r := s.Required(); len(r) > 0 {
		next = r[0]
	}
	return e.ask(s, next, errType, now)
}

// keep stores a valid entry of f: in clear in the secrets, masked in State.
func keep(s *tonepay.Session, sec *Secrets, f tonepay.Field, entry, brand string) {
	if s.State.Captured == nil {
		s.State.Captured = map[tonepay.Field]string{}
	}
	if sec.Values == nil {
		sec.Values = map[tonepay.Field]string{}
	}
	sec.Values[f] = entry
	s.State.Captured[f] = maskFinal(f, entry)
	s.State.ErrorType, s.State.ErrorField = "", ""
	if f == tonepay.FieldCardNumber {
		s.State.CardType = brand
	}
}

// verbCallbacks is one <Pay> statusCallback (twilio-pay.md §3.9), or none
// when the <Pay> has no statusCallback.
func verbCallbacks(s *tonepay.Session, forField tonepay.Field, attempt int, errType string) []*tonepay.Callback {
	if s.State.StatusCallback == "" {
		return nil
	}
	f := url.Values{
		"AccountSid":       {s.AccountSid},
		"CallSid":          {s.CallSid},
		"For":              {string(forField)},
		"Attempt":          {strconv.Itoa(attempt)},
		"PaymentConnector": {s.Params.PaymentConnector},
		"PaymentMethod":    {s.Params.PaymentMethod},
	}
	if errType != "" {
		f.Set("ErrorType", errType)
	}
	addTerms(s, f)
	addMasked(s, f)
	return []*tonepay.Callback{{AccountSid: s.AccountSid, Chain: s.Sid, URL: s.State.StatusCallback, Form: f}}
}

// action is what <Pay>'s action request adds to the voice parameters when
// the session has ended; add holds the failure's fields, if any.
func action(s *tonepay.Session, add url.Values) url.Values {
	a := url.Values{"Result": {s.State.Result}, "PaymentMethod": {s.Params.PaymentMethod}}
	// Unused token fields are empty strings, as in the callbacks.
	if s.Params.Charging() {
		a.Set("PaymentConfirmationCode", s.State.ConfirmationCode)
	} else {
		a.Set("PaymentToken", s.State.Token)
		a.Set("ProfileId", s.State.ProfileID)
	}
	if s.Params.PaymentMethod == tonepay.ACHDebit {
		a.Set("BankAccountType", s.Params.BankAccountType)
	}
	addMasked(s, a)
	for _, k := range []string{"PaymentError", "PayErrorCode", "ConnectorError"} {
		if v := add.Get(k); v != "" {
			a.Set(k, v)
		}
	}
	for k, v := range s.State.Parameters {
		a.Set("PayConnector_"+k, v)
	}
	return a
}
