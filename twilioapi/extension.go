package twilioapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/tonepay/tonepay"
)

// The /_tonepay routes are ours, not Twilio's: the simulated caller's keypad,
// and views of a session and its callbacks for tests and the console. They
// use the same Basic auth and error JSON as the Twilio routes.

// Bounds of one Digits request, which holds its request open while it plays:
// a card number, expiry, code and postal code with pauses between them take
// well under a hundred keys and a few seconds.
const (
	maxDigits = 256
	maxWaits  = 120 // a minute of 'w'
)

// handleDigits presses keys on a simulated caller's keypad (the call
// runtime's one door, source keypad) and answers once they have been applied.
func (s *server) handleDigits(w http.ResponseWriter, r *http.Request, acct *tonepay.Account) error {
	form, err := readForm(w, r, tonepay.CodeInvalidParameter)
	if err != nil {
		return s.pathFirst(r, acct, err)
	}
	keys := form.Get("Digits")
	switch {
	case keys == "":
		err = errMissing("Digits")
	case len(keys) > maxDigits: // the request waits while the keys are played: bound how long
		err = tonepay.Errorf(tonepay.CodeInvalidParameter, "Invalid value for parameter Digits: at most %d keys at once", maxDigits)
	case strings.Count(keys, "w") > maxWaits:
		err = tonepay.Errorf(tonepay.CodeInvalidParameter, "Invalid value for parameter Digits: at most %d waits (w, half a second each) at once, not %d", maxWaits, strings.Count(keys, "w"))
	}
	if err != nil {
		return s.pathFirst(r, acct, err)
	}
	// The call is read once, in Press's transaction.
	callSid := pathSid(r, "CallSid")
	p, err := s.svc.Press(r.Context(), tonepay.Keys{AccountSid: acct.Sid, CallSid: callSid, Source: tonepay.KeySourceKeypad, Digits: keys})
	switch tonepay.ErrorCode(err) {
	case 0:
	case tonepay.CodeNotFound:
		return errNotFound(r)
	case tonepay.CodeInvalidParameter: // a key that is not one; the path first, as above
		return s.pathFirst(r, acct, err)
	default:
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"call_sid": callSid, "applied": p.Applied, "dropped": p.Dropped})
	return nil
}

type sessionJSON struct {
	Sid        string `json:"sid"`
	AccountSid string `json:"account_sid"`
	CallSid    string `json:"call_sid"`
	Status     string `json:"status"`
	// SelfService marks a <Pay> session: the IVR asks the caller for each
	// field itself, so an agent's Capture or Status=complete gets 64021.
	SelfService      bool              `json:"self_service"`
	PaymentMethod    string            `json:"payment_method"`
	PaymentConnector string            `json:"payment_connector"`
	ChargeAmount     string            `json:"charge_amount,omitempty"`
	Currency         string            `json:"currency"`
	TokenType        string            `json:"token_type,omitempty"`
	Capture          string            `json:"capture"`
	Confirmation     bool              `json:"confirmation"`
	Typed            int               `json:"typed"`
	Required         []tonepay.Field   `json:"required"`
	Captured         map[string]string `json:"captured"` // field -> masked value
	CardType         string            `json:"card_type,omitempty"`
	ErrorType        string            `json:"error_type,omitempty"`
	ErrorField       string            `json:"error_field,omitempty"`
	DroppedDigits    int               `json:"dropped_digits"`
	Result           string            `json:"result,omitempty"`
	ConfirmationCode string            `json:"payment_confirmation_code,omitempty"`
	PaymentToken     string            `json:"payment_token,omitempty"`
	ProfileID        string            `json:"profile_id,omitempty"`
	PaymentError     string            `json:"payment_error,omitempty"`
	PayErrorCode     int               `json:"pay_error_code,omitempty"`
	ConnectorError   string            `json:"connector_error,omitempty"`
	DateCreated      string            `json:"date_created"`
	DateUpdated      string            `json:"date_updated"`
}

func encodeSession(x *tonepay.Session) sessionJSON {
	out := sessionJSON{
		Sid: x.Sid, AccountSid: x.AccountSid, CallSid: x.CallSid, Status: string(x.Status), SelfService: x.Params.Verb,
		PaymentMethod: x.Params.PaymentMethod, PaymentConnector: x.Params.PaymentConnector,
		ChargeAmount: x.Params.ChargeAmount, Currency: x.Params.Currency,
		Capture: string(x.State.Capture), Typed: x.State.Typed, Confirmation: x.Params.Confirmation, Required: x.Required(), Captured: map[string]string{},
		CardType: x.State.CardType, ErrorType: x.State.ErrorType, ErrorField: string(x.State.ErrorField), DroppedDigits: x.State.Dropped, Result: x.State.Result,
		ConfirmationCode: x.State.ConfirmationCode, PaymentToken: x.State.Token, ProfileID: x.State.ProfileID,
		PaymentError: x.State.PaymentError, PayErrorCode: x.State.PayErrorCode, ConnectorError: x.State.ConnectorError,
		DateCreated: tonepay.ISODate(x.DateCreated), DateUpdated: tonepay.ISODate(x.DateUpdated),
	}
	if !x.Params.Charging() {
		out.TokenType = x.Params.TokenType
	}
	if out.Required == nil {
		out.Required = []tonepay.Field{}
	}
	for f, v := range x.State.Captured {
		out.Captured[string(f)] = v
	}
	return out
}

func (s *server) handleSessionFetch(w http.ResponseWriter, r *http.Request, acct *tonepay.Account) error {
	x, err := s.findSession(r, acct)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, encodeSession(x))
	return nil
}

// handleSessionList lists the call's sessions, newest first, ended ones
// included, each as handleSessionFetch shows it (masked values only), in
// Twilio's paging envelope under "payments". Current is gone once a session
// ends; this is how a client (the console, after a reload) finds how the
// call's last payment ended and its confirmation code.
func (s *server) handleSessionList(w http.ResponseWriter, r *http.Request, acct *tonepay.Account) error {
	_, p, err := parseList(w, r)
	if err := s.pathFirst(r, acct, err); err != nil {
		return err
	}
	call := pathSid(r, "CallSid")
	list, err := s.svc.FindSessions(r.Context(), acct.Sid, tonepay.SessionFilter{CallSid: call, Offset: p.offset(), Limit: p.limit()})
	if err != nil {
		return inPath(r, err)
	}
	out := make([]sessionJSON, len(list))
	for i, x := range list {
		out[i] = encodeSession(x)
	}
	writePage(w, "/_tonepay/Accounts/"+acct.Sid+"/Calls/"+call+"/Payments", "payments", nil, p, out)
	return nil
}

type attemptJSON struct {
	N          int    `json:"n"`
	At         string `json:"at"`
	DurationMS int64  `json:"duration_ms"`
	StatusCode int    `json:"status_code"`
	Error      string `json:"error,omitempty"`
}

type callbackJSON struct {
	ID            int64             `json:"id"`
	Token         string            `json:"idempotency_token"`
	URL           string            `json:"url"`
	Status        string            `json:"status"`
	Params        map[string]string `json:"params"` // masked values only
	NextAttemptAt string            `json:"next_attempt_at,omitempty"`
	DateCreated   string            `json:"date_created"`
	Attempts      []attemptJSON     `json:"attempts"`
}

// handleSessionCallbacks lists a session's callbacks in order, with every
// delivery attempt and its outcome.
func (s *server) handleSessionCallbacks(w http.ResponseWriter, r *http.Request, acct *tonepay.Account) error {
	x, err := s.findSession(r, acct)
	if err != nil {
		return err
	}
	cbs, err := s.store.FindCallbacks(r.Context(), x.Sid)
	if err != nil {
		return err
	}
	out := make([]callbackJSON, 0, len(cbs))
	for _, cb := range cbs {
		atts, err := s.store.FindAttempts(r.Context(), cb.ID)
		if err != nil {
			return err
		}
		j := callbackJSON{ID: cb.ID, Token: cb.Token, URL: tonepay.RedactURL(cb.URL), // never the credentials in it
			Status: string(cb.Status), Params: map[string]string{},
			DateCreated: tonepay.ISODate(cb.DateCreated), Attempts: make([]attemptJSON, 0, len(atts))}
		if cb.Status == tonepay.CallbackPending {
			j.NextAttemptAt = tonepay.ISODate(cb.NextAttemptAt)
		}
		for k := range cb.Form {
			j.Params[k] = cb.Form.Get(k)
		}
		for _, a := range atts {
			j.Attempts = append(j.Attempts, attemptJSON{N: a.N, At: tonepay.ISODate(a.At), DurationMS: a.Duration.Milliseconds(), StatusCode: a.StatusCode, Error: a.Error})
		}
		out = append(out, j)
	}
	writeJSON(w, http.StatusOK, map[string]any{"payment_sid": x.Sid, "callbacks": out})
	return nil
}

// currentSession in a session's path stands for the call's open session: a
// <Pay> with no statusCallback queues no callbacks, so no event tells the
// console its SID.
const currentSession = "Current"

// findSession returns the session in the path if it is on the call in the
// path and belongs to acct, else 20404.
func (s *server) findSession(r *http.Request, acct *tonepay.Account) (*tonepay.Session, error) {
	sid := pathSid(r, "PaymentSid")
	var x *tonepay.Session
	var err error
	if sid == currentSession {
		x, err = s.store.FindOpenSession(r.Context(), pathSid(r, "CallSid"))
	} else {
		x, err = s.store.FindSession(r.Context(), sid)
	}
	if errors.Is(err, tonepay.ErrNotFound) || err == nil && (x.AccountSid != acct.Sid || x.CallSid != pathSid(r, "CallSid")) {
		return nil, errNotFound(r)
	}
	return x, err
}

// handleEvents streams the account's session changes as server-sent events
// ("event: session", data: the session as handleSessionFetch shows it, masked
// values only), for the console. Browsers read it with fetch, which can send
// the Authorization header that EventSource cannot.
//
// A stream is authenticated once but lasts for hours, so every s.recheck it
// checks its credentials again, and ends ("event: end", data: the error
// JSON) when they no longer reach the account: a deleted key, a rotated
// token or a suspended account must cut off what it was watching. It also
// ends when the server closes.
func (s *server) handleEvents(w http.ResponseWriter, r *http.Request, acct *tonepay.Account) error {
	if s.subscribe == nil {
		return errNotFound(r)
	}
	events, stop := s.subscribe(acct.Sid)
	defer stop()
	rc := http.NewResponseController(w)
	// The server's read and write timeouts are for requests, not for a
	// stream that lasts as long as the console is open: it is bounded by
	// its re-checks and by Closing instead. (Not every ResponseWriter has
	// deadlines; without them there is nothing to lift.)
	rc.SetReadDeadline(time.Time{})
	rc.SetWriteDeadline(time.Time{})
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no") // proxies must not hold events back
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, "retry: 1000\nevent: ready\ndata: {}\n\n")
	if err := rc.Flush(); err != nil {
		return nil
	}
	ping := time.NewTicker(15 * time.Second)
	defer ping.Stop()
	recheck := time.NewTicker(s.recheck)
	defer recheck.Stop()
	for {
		select {
		case <-r.Context().Done():
			return nil
		case <-s.closing: // nil without Options.Closing: never ready
			return nil
		case <-ping.C:
			fmt.Fprint(w, ": ping\n\n")
		case <-recheck.C:
			if err := s.stillAuthorized(r, acct.Sid); err != nil {
				if tonepay.ErrorCode(err) == tonepay.CodeInternal {
					// Fail closed, but say why in the log: the client
					// reconnects and is checked afresh.
					if r.Context().Err() == nil {
						s.log.Warn("event stream ended: credentials could not be checked", "account", acct.Sid, "err", err)
					}
					err = tonepay.Errorf(tonepay.CodeInternal, "Internal error")
				}
				b, _ := json.Marshal(restError{Code: tonepay.ErrorCode(err), Message: tonepay.ErrorMessage(err),
					MoreInfo: moreInfo(tonepay.ErrorCode(err)), Status: httpStatus[tonepay.ErrorCode(err)]})
				fmt.Fprintf(w, "event: end\ndata: %s\n\n", b)
				rc.Flush()
				return nil
			}
		case e := <-events:
			x, err := s.store.FindSession(r.Context(), e.SessionSid)
			if err != nil || x.AccountSid != acct.Sid {
				continue
			}
			b, _ := json.Marshal(encodeSession(x))
			fmt.Fprintf(w, "event: session\ndata: %s\n\n", b)
		}
		if err := rc.Flush(); err != nil {
			return nil
		}
	}
}

// stillAuthorized checks a long-lived request's credentials again, as at its
// start: they authenticate, reach the account, and the account is active.
// It is a few primary-key reads and one SHA-256, cheap enough for every
// stream every few seconds; it bypasses the failed-authentication limit,
// since the stream is not a guess.
func (s *server) stillAuthorized(r *http.Request, account string) error {
	c, err := s.authenticate(r.Context(), r)
	if err != nil {
		return err
	}
	a, err := s.authorize(r.Context(), c, account)
	if err != nil {
		return err
	}
	if a.Status != tonepay.AccountActive {
		return tonepay.Errorf(tonepay.CodeAuthenticate, "Authenticate: account %s is %s", a.Sid, a.Status)
	}
	return nil
}

// handleSink accepts status callbacks and discards them: a StatusCallback
// for the console's own payments, which watches the session instead.
func handleSink() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, io.LimitReader(r.Body, 64<<10))
		w.WriteHeader(http.StatusNoContent)
	})
}
