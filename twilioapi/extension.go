package twilioapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
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

// handleSpeech has a simulated caller say Text (the call runtime's door for
// speech, tonepay.CallService.Speak) and answers once it was applied:
// heard says whether a <Gather> took it. Confidence is optional (0.9).
func (s *server) handleSpeech(w http.ResponseWriter, r *http.Request, acct *tonepay.Account) error {
	form, err := readForm(w, r, tonepay.CodeInvalidParameter)
	if err != nil {
		return s.pathFirst(r, acct, err)
	}
	text, conf := strings.TrimSpace(form.Get("Text")), 0.0
	if text == "" {
		err = errMissing("Text")
	} else if c := strings.TrimSpace(form.Get("Confidence")); c != "" {
		if conf, err = strconv.ParseFloat(c, 64); err != nil || conf <= 0 || conf > 1 {
			err = tonepay.Errorf(tonepay.CodeInvalidParameter, "Invalid value for parameter Confidence: a number above 0 and at most 1")
		}
	}
	if err != nil {
		return s.pathFirst(r, acct, err)
	}
	callSid := pathSid(r, "CallSid")
	heard, err := s.svc.Speak(r.Context(), tonepay.Speech{AccountSid: acct.Sid, CallSid: callSid, Text: text, Confidence: conf})
	switch tonepay.ErrorCode(err) {
	case 0:
	case tonepay.CodeNotFound:
		return errNotFound(r)
	case tonepay.CodeInvalidParameter:
		return s.pathFirst(r, acct, err)
	default:
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"call_sid": callSid, "heard": heard})
	return nil
}

// sessionJSON is a tonepay.SessionView on the wire: the body of a session's
// fetch, of each item of its list, and of each event of the stream.
type sessionJSON struct {
	Sid              string            `json:"sid"`
	AccountSid       string            `json:"account_sid"`
	CallSid          string            `json:"call_sid"`
	Status           string            `json:"status"`
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

func encodeSession(x *tonepay.SessionView) sessionJSON {
	out := sessionJSON{
		Sid: x.Sid, AccountSid: x.AccountSid, CallSid: x.CallSid, Status: string(x.Status), SelfService: x.SelfService,
		PaymentMethod: x.PaymentMethod, PaymentConnector: x.PaymentConnector,
		ChargeAmount: x.ChargeAmount, Currency: x.Currency, TokenType: x.TokenType,
		Capture: string(x.Capture), Typed: x.Typed, Confirmation: x.Confirmation, Required: x.Required, Captured: make(map[string]string, len(x.Captured)),
		CardType: x.CardType, ErrorType: x.ErrorType, ErrorField: string(x.ErrorField), DroppedDigits: x.DroppedDigits, Result: x.Result,
		ConfirmationCode: x.ConfirmationCode, PaymentToken: x.PaymentToken, ProfileID: x.ProfileID,
		PaymentError: x.PaymentError, PayErrorCode: x.PayErrorCode, ConnectorError: x.ConnectorError,
		DateCreated: tonepay.ISODate(x.DateCreated), DateUpdated: tonepay.ISODate(x.DateUpdated),
	}
	if out.Required == nil {
		out.Required = []tonepay.Field{} // [], never null
	}
	for f, v := range x.Captured {
		out.Captured[string(f)] = v
	}
	return out
}

// handleSessionFetch shows the session in the path, or with PaymentSid
// "Current" (tonepay.CurrentSession) the call's open one.
func (s *server) handleSessionFetch(w http.ResponseWriter, r *http.Request, acct *tonepay.Account) error {
	x, err := s.svc.FindSession(r.Context(), acct.Sid, pathSid(r, "CallSid"), pathSid(r, "PaymentSid"))
	if err != nil {
		return inPath(r, err)
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
	call := pathSid(r, "CallSid")
	x, err := s.svc.FindSession(r.Context(), acct.Sid, call, pathSid(r, "PaymentSid"))
	if err != nil {
		return inPath(r, err)
	}
	cbs, err := s.svc.FindCallbacks(r.Context(), acct.Sid, call, x.Sid)
	if err != nil {
		return inPath(r, err)
	}
	out := make([]callbackJSON, 0, len(cbs))
	for _, h := range cbs {
		cb, atts := h.Callback, h.Attempts
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

// handleEvents streams the account's session changes as server-sent events
// ("event: session", data: the session as handleSessionFetch shows it, masked
// values only), for the console. Browsers read it with fetch, which can send
// the Authorization header that EventSource cannot. The views are the
// domain's (tonepay.SessionWatcher); the framing, the pings and when to
// re-check are the stream's, as only a request held open needs them.
//
// A stream is authenticated once but lasts for hours, so every s.recheck it
// checks its credentials again, and ends ("event: end", data: the error
// JSON) when they no longer reach the account: a deleted key, a rotated
// token or a suspended account must cut off what it was watching. It also
// ends when the server closes.
func (s *server) handleEvents(w http.ResponseWriter, r *http.Request, acct *tonepay.Account) error {
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel() // ends the watch
	views, err := s.svc.WatchSessions(ctx, acct.Sid)
	if err != nil {
		return inPath(r, err) // no live changes in this process
	}
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
		case x, ok := <-views:
			if !ok { // r's context is done
				return nil
			}
			b, _ := json.Marshal(encodeSession(x))
			fmt.Fprintf(w, "event: session\ndata: %s\n\n", b)
		}
		if err := rc.Flush(); err != nil {
			return nil
		}
	}
}

// handleSink accepts status callbacks and discards them: a StatusCallback
// for the console's own payments, which watches the session instead.
func handleSink() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, io.LimitReader(r.Body, 64<<10))
		w.WriteHeader(http.StatusNoContent)
	})
}
