// Package capture is the pure payment-session engine: a session, its
// captured values and an event go in; the new state, the status callbacks to
// send and whether to call the connector come out. It does no I/O and reads
// no clock: the caller passes the time and the ids. That keeps every
// transition table-testable.
package capture

import (
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/card"
)

// Kind is the kind of an Input.
type Kind int

// Input kinds.
const (
	RequestCapture Kind = iota + 1 // the agent asks for a field (Capture=)
	Complete                       // the agent asks to process the payment (Status=complete)
	Cancel                         // the agent ends the session (Status=cancel)
	HangUp                         // the call ended
	Digit                          // the caller pressed a key
	Timeout                        // the session's Deadline passed
	Paid                           // the connector answered
)

// Input is what the engine is fed: something that happened to a session (a
// request, a key, a timeout, a connector's answer). It is not a
// tonepay.SessionChanged, which tells listeners after commit that a session
// changed.
type Input struct {
	Kind           Kind
	Field          tonepay.Field      // RequestCapture: the field asked for
	Key            byte               // Digit: '0'-'9', '*' or '#'
	StatusCallback string             // the request's StatusCallback; later callbacks go there too
	Result         *tonepay.PayResult // Paid
}

// Secrets are a session's captured values in clear. The caller opens them
// from Session.Sealed before an event and seals them again after; the engine
// never puts them in State or in a callback.
type Secrets struct {
	Entry  string                   `json:"entry,omitempty"` // what the caller has typed for State.Capture
	Values map[tonepay.Field]string `json:"values,omitempty"`
}

// Output is what an event causes besides the new state.
type Output struct {
	Callbacks []*tonepay.Callback
	// Pay asks the caller to call the connector now, with the session's
	// TransactionID, and to feed its answer back as a Paid event.
	Pay bool
	// Ask (a <Pay> session only) is the field the caller is asked for now,
	// with the attempt and why the last one failed: the call runtime plays
	// its prompt. Nil when nothing new is asked.
	Ask *tonepay.PayAsk
	// Action (a <Pay> session only) is set when the session ends: the
	// fields <Pay>'s action request adds to the voice parameters. A <Pay>
	// session's end has no status callback.
	Action url.Values
}

// Engine holds the settings that are the server's, not the session's.
type Engine struct {
	FirstDigit time.Duration // wait for the first digit of an entry (and for a confirmation key)
	Lease      time.Duration // how long one connector attempt may take before it is tried again
	GiveUp     time.Duration // after this long processing, end with internal-error
	// Idle ends an open session that has had no capture in progress for
	// this long (ResultCancelled, PaymentError saying why), so that sealed
	// values never wait for a call that never ends. Zero never expires.
	Idle time.Duration
	// NewTxID draws the transaction id of a session that starts processing
	// (the connector's dedupe key; a retry keeps it). Injected, so that the
	// engine stays pure and only the input that starts processing draws one.
	NewTxID func() string
}

// DefaultEngine has the documented defaults; its NewTxID is the caller's to set.
var DefaultEngine = Engine{FirstDigit: 30 * time.Second, Lease: time.Minute, GiveUp: 5 * time.Minute, Idle: 15 * time.Minute}

// maxLen is where an entry ends by itself; the security code's depends on the brand.
var maxLen = map[tonepay.Field]int{
	tonepay.FieldCardNumber:    19,
	tonepay.FieldExpiration:    4,
	tonepay.FieldPostalCode:    card.PostalCodeMax, // or MinPostalCodeLength: entryMax
	tonepay.FieldRoutingNumber: 9,
	tonepay.FieldAccountNumber: 17,
}

// Start returns the "session created" callback of a new session, created at
// now, and starts its idle clock. A <Pay> session (Params.Verb) has no
// "session created" callback: Start then does what StartVerb does and
// returns its callbacks only, so use StartVerb for those, which also says
// what to ask.
func (e Engine) Start(s *tonepay.Session, now time.Time) []*tonepay.Callback {
	if s.Params.Verb {
		return e.StartVerb(s, now).Callbacks
	}
	e.idle(s, now)
	return sendable(s, []*tonepay.Callback{callback(s, nil)})
}

// Apply applies ev to s and sec at now. On error (a *tonepay.Error) s and sec
// are left unchanged: every input checks before it changes anything.
func (e Engine) Apply(s *tonepay.Session, sec *Secrets, ev Input, now time.Time) (Output, error) {
	o, err := e.apply(s, sec, ev, now)
	if err == nil {
		e.idle(s, now)
	}
	o.Callbacks = sendable(s, o.Callbacks)
	return o, err
}

// sendable is cbs, or none when the session has no StatusCallback (a door
// where it is optional, DESIGN §12): there is nowhere to send them, as for
// a <Pay> without one (verbCallbacks).
func sendable(s *tonepay.Session, cbs []*tonepay.Callback) []*tonepay.Callback {
	if s.State.StatusCallback == "" {
		return nil
	}
	return cbs
}

// idle starts the idle clock of an open session that has just stopped
// capturing. Only that moment counts: keys pressed while nothing is being
// captured are dropped and keep nothing alive.
func (e Engine) idle(s *tonepay.Session, now time.Time) {
	if e.Idle > 0 && s.Status == tonepay.SessionOpen && s.State.Capture == "" && s.Deadline.IsZero() {
		s.Deadline = now.Add(e.Idle)
	}
}

func (e Engine) apply(s *tonepay.Session, sec *Secrets, ev Input, now time.Time) (Output, error) {
	switch ev.Kind {
	case RequestCapture, Complete:
		if s.Params.Verb {
			// <Pay> asks and completes by itself; an agent has no say.
			return Output{}, tonepay.Errorf(tonepay.CodeInvalidOperation, "Payment session %s is run by <Pay> and takes no Capture or Status=complete", s.Sid)
		}
		if ev.Kind == Complete {
			return e.complete(s, sec, ev, now)
		}
		return e.requestCapture(s, sec, ev, now)
	case Cancel:
		switch s.Status {
		case tonepay.SessionOpen, tonepay.SessionConfirming:
			setCallback(s, ev)
			return end(s, sec, tonepay.ResultCancelled, now, nil), nil
		case tonepay.SessionProcessing:
			return Output{}, tonepay.Errorf(tonepay.CodeInvalidOperation, "Payment session %s is already being processed", s.Sid)
		}
		return Output{}, errEnded(s)
	case HangUp:
		if s.Status == tonepay.SessionOpen || s.Status == tonepay.SessionConfirming {
			return end(s, sec, tonepay.ResultHungUp, now, nil), nil
		}
		return Output{}, nil // processing finishes without the caller; ended stays ended
	case Digit:
		return e.digit(s, sec, ev, now), nil
	case Timeout:
		return e.timeout(s, sec, ev, now), nil
	case Paid:
		if s.Status != tonepay.SessionProcessing {
			return Output{}, nil // a late answer to a session that ended otherwise
		}
		return paid(s, sec, ev.Result, now), nil
	}
	return Output{}, tonepay.Errorf(tonepay.CodeInternal, "unknown event kind %d", ev.Kind)
}

func errEnded(s *tonepay.Session) error {
	return tonepay.Errorf(tonepay.CodeInvalidOperation, "Payment session %s has already ended", s.Sid)
}

func out(cb *tonepay.Callback) Output { return Output{Callbacks: []*tonepay.Callback{cb}} }

// finishOut ends the entry being typed, the agent's way or <Pay>'s.
func (e Engine) finishOut(s *tonepay.Session, sec *Secrets, now time.Time) Output {
	if s.Params.Verb {
		return e.verbFinish(s, sec, now)
	}
	return out(e.finish(s, sec, now))
}

func (e Engine) requestCapture(s *tonepay.Session, sec *Secrets, ev Input, now time.Time) (Output, error) {
	switch {
	case s.Status == tonepay.SessionEnded:
		return Output{}, errEnded(s)
	case s.Status != tonepay.SessionOpen:
		return Output{}, tonepay.Errorf(tonepay.CodeInvalidOperation, "Payment session %s is %s and captures nothing more", s.Sid, s.Status)
	case !s.Params.Collects(ev.Field):
		return Output{}, tonepay.Errorf(tonepay.CodeInvalidParameter, "Capture %q is not a field of this payment session", ev.Field)
	}
	setCallback(s, ev)
	s.DateUpdated = now
	// The security code is checked against the card's brand, so it needs the
	// card number first; say so now rather than after the caller typed it.
	if ev.Field.Base() == tonepay.FieldSecurityCode && s.State.Captured[tonepay.FieldCardNumber] == "" {
		stopEntry(s, sec)
		return out(fieldError(s, ev.Field, "invalid-card-number-security-code-capture-sequence", now)), nil
	}
	// Asking again for a field is how an agent retries it: the old value goes,
	// and so does its matcher's, which must be typed again to match the new one.
	forget(s, sec, ev.Field)
	if !ev.Field.IsMatcher() && s.Params.Collects(ev.Field.Matcher()) {
		forget(s, sec, ev.Field.Matcher())
	}
	s.State.Capture, s.State.Typed, s.State.ErrorType, s.State.ErrorField = ev.Field, 0, "", ""
	sec.Entry = ""
	s.Deadline = now.Add(e.FirstDigit)
	return out(callback(s, fields(
		"Capture", string(ev.Field),
		"PartialResult", "false",
		"Required", required(s),
		"DateUpdated", tonepay.ISODate(now),
	))), nil
}

func (e Engine) complete(s *tonepay.Session, sec *Secrets, ev Input, now time.Time) (Output, error) {
	switch s.Status {
	case tonepay.SessionEnded:
		return Output{}, errEnded(s)
	case tonepay.SessionConfirming, tonepay.SessionProcessing:
		return Output{}, tonepay.Errorf(tonepay.CodeInvalidOperation, "Payment session %s is already being completed", s.Sid)
	}
	if r := required(s); r != "" {
		return Output{}, tonepay.Errorf(tonepay.CodeIncomplete, "Status parameter value was set to \"complete\" before all payment information was captured (still required: %s)", r)
	}
	setCallback(s, ev)
	stopEntry(s, sec)
	s.DateUpdated = now
	if s.Params.Confirmation {
		// The caller hears the last digits and presses 1 to go ahead or 2 to
		// cancel; nothing reaches the connector before that. Twilio documents
		// no callback field for this (reference twilio-pay.md §1.2: which
		// fields Confirmation produces is unconfirmed), so none is invented:
		// the update's callback says only that nothing is required, the
		// caller's 1 sends none, and a 2 or no key ends the session with
		// Twilio's fields, PaymentError saying why.
		s.Status = tonepay.SessionConfirming
		s.Deadline = now.Add(e.FirstDigit)
		return out(callback(s, fields("Required", "", "DateUpdated", tonepay.ISODate(now)))), nil
	}
	return e.process(s, now, nil), nil
}

// process moves the session to processing and asks for the connector call.
func (e Engine) process(s *tonepay.Session, now time.Time, cbs []*tonepay.Callback) Output {
	s.Status = tonepay.SessionProcessing
	s.State.TransactionID = e.NewTxID()
	s.State.ProcessingSince = now
	s.Deadline = now.Add(e.Lease)
	return Output{Callbacks: cbs, Pay: true}
}

func (e Engine) digit(s *tonepay.Session, sec *Secrets, ev Input, now time.Time) Output {
	switch {
	case s.Status == tonepay.SessionConfirming:
		switch ev.Key {
		case '1':
			s.DateUpdated = now
			return e.process(s, now, nil)
		case '2':
			return notConfirmed(s, sec, now, "The caller pressed 2 to cancel the payment at the confirmation")
		case '*':
			return end(s, sec, tonepay.ResultStar, now, nil)
		}
		s.State.Dropped++
		return Output{}
	case s.Status != tonepay.SessionOpen:
		s.State.Dropped++
		return Output{}
	case ev.Key == '*':
		return end(s, sec, tonepay.ResultStar, now, nil)
	case s.State.Capture == "":
		s.State.Dropped++ // digits reach a session only while a field is being captured
		return Output{}
	case ev.Key == '#' && s.Params.Verb && sec.Entry == "":
		// A <Pay> asks the next field as soon as a fixed-length one is full,
		// so a # the caller adds after an expiry or a security code lands
		// here: it ends nothing (DESIGN §10: that # is not needed).
		s.State.Dropped++
		return Output{}
	case ev.Key == '#':
		return e.finishOut(s, sec, now)
	case ev.Key < '0' || ev.Key > '9':
		s.State.Dropped++
		return Output{}
	}
	sec.Entry += string(ev.Key)
	s.State.Typed = len(sec.Entry)
	s.DateUpdated = now
	if len(sec.Entry) >= entryMax(s, s.State.Capture) {
		return e.finishOut(s, sec, now)
	}
	s.Deadline = now.Add(time.Duration(s.Params.Timeout) * time.Second)
	if s.Params.Verb {
		return Output{} // <Pay> reports fields, not digits
	}
	return out(callback(s, fields(
		"Capture", string(s.State.Capture),
		"PartialResult", "true",
		paramName(s.State.Capture), maskPartial(s.State.Capture, sec.Entry),
		"Required", required(s),
		"DateUpdated", tonepay.ISODate(now),
	)))
}

// notConfirmed ends a session whose caller did not confirm it.
func notConfirmed(s *tonepay.Session, sec *Secrets, now time.Time, why string) Output {
	s.State.PaymentError = why
	return end(s, sec, tonepay.ResultCancelled, now, fields("PaymentError", why))
}

func entryMax(s *tonepay.Session, f tonepay.Field) int {
	switch f.Base() {
	case tonepay.FieldSecurityCode:
		return card.SecurityCodeLength(s.State.CardType)
	case tonepay.FieldPostalCode:
		return card.PostalCodeLimit(s.Params.MinPostalCodeLength)
	}
	return maxLen[f.Base()]
}

func (e Engine) timeout(s *tonepay.Session, sec *Secrets, ev Input, now time.Time) Output {
	if s.Deadline.IsZero() || now.Before(s.Deadline) {
		return Output{} // a stale sweep: something else happened first
	}
	switch s.Status {
	case tonepay.SessionOpen:
		if s.State.Capture == "" {
			if e.Idle <= 0 {
				s.Deadline = time.Time{}
				return Output{}
			}
			// Nothing was asked of the caller for Idle: the agent is gone.
			s.State.PaymentError = "The payment session was idle for " + e.Idle.String() + " with nothing being captured, and was ended"
			return end(s, sec, tonepay.ResultCancelled, now, fields("PaymentError", s.State.PaymentError))
		}
		if sec.Entry == "" {
			f := s.State.Capture
			stopEntry(s, sec)
			s.DateUpdated = now
			if s.Params.Verb {
				return e.verbFail(s, sec, f, "input-timeout", now)
			}
			return out(fieldError(s, f, "input-timeout", now))
		}
		// Timeout seconds after the last digit the entry is over: validate it.
		return e.finishOut(s, sec, now)
	case tonepay.SessionConfirming:
		return notConfirmed(s, sec, now, "The caller pressed no key at the confirmation within "+e.FirstDigit.String())
	case tonepay.SessionProcessing:
		if now.Sub(s.State.ProcessingSince) >= e.GiveUp {
			// The connector never answered: the outcome is unknown, and we say so.
			return end(s, sec, tonepay.ResultInternalError, now, fields(
				"PaymentError", "The payment connector did not answer; transaction "+s.State.TransactionID+" may or may not have gone through",
				"PayErrorCode", "64002",
				"ConnectorError", ""))
		}
		// The attempt's lease ran out (a crash, or a slow processor): try
		// again with the same transaction id, which the connector dedupes.
		s.Deadline = now.Add(e.Lease)
		return Output{Pay: true}
	}
	s.Deadline = time.Time{}
	return Output{}
}

// finish ends the entry of the field being captured: validate, then keep the
// value or report why not.
func (e Engine) finish(s *tonepay.Session, sec *Secrets, now time.Time) *tonepay.Callback {
	f, entry, brand, errType := endEntry(s, sec, now)
	if errType != "" {
		return fieldError(s, f, errType, now)
	}
	keep(s, sec, f, entry, brand)
	add := fields(
		"Capture", string(f),
		"PartialResult", "false",
		paramName(f), s.State.Captured[f],
		"Required", required(s),
		"DateUpdated", tonepay.ISODate(now),
	)
	if f == tonepay.FieldCardNumber {
		add["PaymentCardType"] = []string{brand}
	}
	return callback(s, add)
}

// endEntry stops the entry of the field being captured and validates it
// (both kinds of session): the field, what was typed, the card's brand and
// the ErrorType ("" if valid). A failed match forgets both entries: both
// are required again.
func endEntry(s *tonepay.Session, sec *Secrets, now time.Time) (f tonepay.Field, entry, brand, errType string) {
	f, entry = s.State.Capture, sec.Entry
	stopEntry(s, sec)
	s.DateUpdated = now
	brand, errType = validate(s, sec, f, entry, now)
	if errType == "input-matching-failed" {
		forget(s, sec, f)
		forget(s, sec, f.Base())
	}
	return f, entry, brand, errType
}

// validate returns the brand (card numbers) and the ErrorType, "" if valid.
func validate(s *tonepay.Session, sec *Secrets, f tonepay.Field, entry string, now time.Time) (string, string) {
	if f.IsMatcher() {
		if v, ok := sec.Values[f.Base()]; !ok || v != entry {
			return "", "input-matching-failed"
		}
		return "", ""
	}
	switch f {
	case tonepay.FieldCardNumber:
		brand, errType := card.CheckNumber(entry, s.Params.ValidCardTypes)
		return brand, errType
	case tonepay.FieldExpiration:
		return "", card.CheckExpiry(entry, now)
	case tonepay.FieldSecurityCode:
		return "", card.CheckSecurityCode(entry, s.State.CardType)
	case tonepay.FieldPostalCode:
		return "", card.CheckPostalCode(entry, s.Params.MinPostalCodeLength)
	case tonepay.FieldRoutingNumber:
		return "", card.CheckRoutingNumber(entry)
	case tonepay.FieldAccountNumber:
		return "", card.CheckAccountNumber(entry)
	}
	return "", "internal-error"
}

func fieldError(s *tonepay.Session, f tonepay.Field, errType string, now time.Time) *tonepay.Callback {
	s.State.ErrorType, s.State.ErrorField = errType, f
	return callback(s, fields(
		"Capture", string(f),
		"PartialResult", "false",
		"ErrorType", errType,
		"Required", required(s),
		"DateUpdated", tonepay.ISODate(now),
	))
}

// stopEntry ends capturing: later digits are dropped until the next Capture.
func stopEntry(s *tonepay.Session, sec *Secrets) {
	s.State.Capture, s.State.Typed = "", 0
	sec.Entry = ""
	s.Deadline = time.Time{}
}

func forget(s *tonepay.Session, sec *Secrets, f tonepay.Field) {
	delete(s.State.Captured, f)
	delete(sec.Values, f)
	if f == tonepay.FieldCardNumber {
		s.State.CardType = ""
	}
}

// paid ends a processing session with the connector's answer.
func paid(s *tonepay.Session, sec *Secrets, r *tonepay.PayResult, now time.Time) Output {
	if s.Params.Verb && len(r.Parameters) > 0 {
		s.State.Parameters = r.Parameters
	}
	if r.ErrorCode != 0 {
		s.State.PaymentError, s.State.PayErrorCode, s.State.ConnectorError = r.Message, r.ErrorCode, r.ConnectorError
		return end(s, sec, tonepay.ResultConnectorError, now, fields(
			"PaymentError", r.Message,
			"PayErrorCode", strconv.Itoa(r.ErrorCode),
			"ConnectorError", r.ConnectorError))
	}
	s.State.ConfirmationCode, s.State.Token, s.State.ProfileID = r.ConfirmationCode, r.Token, r.ProfileID
	return end(s, sec, tonepay.ResultSuccess, now, nil)
}

// end ends the session with result and returns its last callback, or for
// a <Pay> session its action fields. The captured values are erased:
// nothing in clear outlives the session.
func end(s *tonepay.Session, sec *Secrets, result string, now time.Time, add map[string][]string) Output {
	stopEntry(s, sec)
	sec.Values = map[tonepay.Field]string{}
	s.Status = tonepay.SessionEnded
	s.State.Result = result
	s.DateUpdated = now
	if s.Params.Verb {
		return Output{Action: action(s, add)}
	}
	f := fields("Result", result, "DateUpdated", tonepay.ISODate(now))
	for k, v := range add {
		f[k] = v
	}
	addMasked(s, f)
	// Unused token fields are sent as empty strings, as Twilio does.
	if s.Params.Charging() {
		f.Set("PaymentConfirmationCode", s.State.ConfirmationCode)
	} else {
		f.Set("PaymentToken", s.State.Token)
		f.Set("ProfileId", s.State.ProfileID)
	}
	return out(callback(s, f))
}

func setCallback(s *tonepay.Session, ev Input) {
	if ev.StatusCallback != "" {
		s.State.StatusCallback = ev.StatusCallback
	}
}

// required is the Required field: comma-separated without spaces. Twilio
// does not document the separator; its clients test the list with
// includes(field) and === "" (docs/twilio-compat.md).
func required(s *tonepay.Session) string {
	r := s.Required()
	names := make([]string, len(r))
	for i, f := range r {
		names[i] = string(f)
	}
	return strings.Join(names, ",")
}
