// Package capture is the pure payment-session engine: a session and an event
// go in; the new state and the status callbacks to send come out. It does no
// I/O and reads no clock: the caller passes the time, the store and the
// network live elsewhere. That keeps every transition table-testable.
package capture

import (
	"net/url"
	"strings"
	"time"

	"github.com/tonepay/tonepay"
)

// Kind is the kind of an Event.
type Kind int

// Event kinds.
const (
	RequestCapture Kind = iota + 1 // the agent asks for a field (Capture=)
	Complete                       // the agent asks to process the payment (Status=complete)
	Cancel                         // the agent ends the session (Status=cancel)
	HangUp                         // the call ended
)

// Event is something that happens to a session.
type Event struct {
	Kind           Kind
	Field          tonepay.Field // RequestCapture: the field asked for
	StatusCallback string        // the request's StatusCallback; later callbacks go there too
}

// Start returns the "session created" callback of a new session s.
func Start(s *tonepay.Session) []*tonepay.Callback {
	return []*tonepay.Callback{callback(s, nil)}
}

// Apply applies ev to s at now and returns the callbacks it causes. On error
// (a *tonepay.Error) s is left unchanged.
func Apply(s *tonepay.Session, ev Event, now time.Time) ([]*tonepay.Callback, error) {
	if s.Status == tonepay.SessionEnded {
		return nil, tonepay.Errorf(tonepay.CodeInvalidOperation, "Payment session %s has already ended", s.Sid)
	}
	switch ev.Kind {
	case RequestCapture:
		if !s.Params.Collects(ev.Field) {
			return nil, tonepay.Errorf(tonepay.CodeInvalidParameter, "Capture %q is not a field of this payment session", ev.Field)
		}
		setCallback(s, ev)
		// Asking again for a field is how an agent retries it: the old value goes.
		delete(s.State.Captured, ev.Field)
		s.State.Capture = ev.Field
		s.DateUpdated = now
		return []*tonepay.Callback{callback(s, url.Values{
			"Capture":       {string(ev.Field)},
			"PartialResult": {"false"},
			"Required":      {required(s)},
			"DateUpdated":   {isoDate(now)},
		})}, nil

	case Complete:
		if r := required(s); r != "" {
			return nil, tonepay.Errorf(tonepay.CodeIncomplete, "Status parameter value was set to \"complete\" before all payment information was captured (still required: %s)", r)
		}
		// Sending the data to a connector comes with the connector engine;
		// until then nothing can be captured, so Required is never empty here.
		return nil, tonepay.Errorf(tonepay.CodePayUnavailable, "Processing payments is not available")

	case Cancel:
		setCallback(s, ev)
		return end(s, tonepay.ResultCancelled, now), nil

	case HangUp:
		return end(s, tonepay.ResultHungUp, now), nil
	}
	return nil, tonepay.Errorf(tonepay.CodeInternal, "unknown event kind %d", ev.Kind)
}

// end ends the session with result and returns its last callback.
func end(s *tonepay.Session, result string, now time.Time) []*tonepay.Callback {
	s.Status = tonepay.SessionEnded
	s.State.Capture = ""
	s.State.Result = result
	s.DateUpdated = now
	f := url.Values{"Result": {result}, "DateUpdated": {isoDate(now)}}
	addMasked(s, f)
	// Unused token fields are sent as empty strings, as Twilio does.
	if s.Params.Charging() {
		f.Set("PaymentConfirmationCode", "")
	} else {
		f.Set("PaymentToken", "")
		f.Set("ProfileId", "")
	}
	return []*tonepay.Callback{callback(s, f)}
}

func setCallback(s *tonepay.Session, ev Event) {
	if ev.StatusCallback != "" {
		s.State.StatusCallback = ev.StatusCallback
	}
}

// callback builds a callback to the session's current StatusCallback: the
// fields every callback carries, plus added.
func callback(s *tonepay.Session, added url.Values) *tonepay.Callback {
	f := url.Values{
		"AccountSid":       {s.AccountSid},
		"CallSid":          {s.CallSid},
		"Sid":              {s.Sid},
		"DateCreated":      {isoDate(s.DateCreated)},
		"PaymentConnector": {s.Params.PaymentConnector},
		"PaymentMethod":    {s.Params.PaymentMethod},
	}
	if s.Params.Charging() {
		f.Set("ChargeAmount", s.Params.ChargeAmount)
	} else {
		f.Set("TokenType", s.Params.TokenType)
	}
	if s.Params.PaymentMethod == tonepay.ACHDebit {
		f.Set("BankAccountType", s.Params.BankAccountType)
	}
	for k, v := range added {
		f[k] = v
	}
	return &tonepay.Callback{
		AccountSid: s.AccountSid,
		SessionSid: s.Sid,
		URL:        s.State.StatusCallback,
		Form:       f,
	}
}

// callbackNames maps fields to the callback parameters that carry their
// masked values. Matchers are not reported: they repeat their field.
var callbackNames = map[tonepay.Field]string{
	tonepay.FieldCardNumber:    "PaymentCardNumber",
	tonepay.FieldExpiration:    "ExpirationDate",
	tonepay.FieldSecurityCode:  "SecurityCode",
	tonepay.FieldPostalCode:    "PaymentCardPostalCode",
	tonepay.FieldRoutingNumber: "BankRoutingNumber",
	tonepay.FieldAccountNumber: "BankAccountNumber",
}

func addMasked(s *tonepay.Session, f url.Values) {
	for field, v := range s.State.Captured {
		if name, ok := callbackNames[field]; ok {
			f.Set(name, v)
		}
	}
	if s.State.CardType != "" {
		f.Set("PaymentCardType", s.State.CardType)
	}
}

// required is the Required callback value: missing fields, comma-separated.
func required(s *tonepay.Session) string {
	r := s.Required()
	names := make([]string, len(r))
	for i, f := range r {
		names[i] = string(f)
	}
	return strings.Join(names, ",")
}

// isoDate formats callback dates as Twilio does: ISO 8601, UTC, milliseconds.
func isoDate(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }
