package twilioapi

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/tonepay/tonepay"
)

// Values the Payments parameters accept.
var (
	cardTypes = []string{"visa", "mastercard", "amex", "maestro", "discover", "optima", "jcb", "diners-club", "enroute"}
	captures  = []string{
		"payment-card-number", "expiration-date", "security-code", "postal-code",
		"bank-routing-number", "bank-account-number",
		"payment-card-number-matcher", "expiration-date-matcher", "security-code-matcher", "postal-code-matcher",
	}
	matchable = strings.Split(tonepay.MatchableCardFields, ",")
)

// handlePaymentCreate starts a payment session on a call: 201.
func (s *server) handlePaymentCreate(w http.ResponseWriter, r *http.Request, acct *tonepay.Account) error {
	form, call, p, err := s.paymentRequest(w, r, acct)
	if err != nil {
		return err
	}
	key, callback := form.Get("IdempotencyKey"), form.Get("StatusCallback")
	prm, err := s.parseCreate(p, acct)
	if err != nil {
		return err
	}
	if callback, err = resolveCallback(call, callback); err != nil {
		return err
	}
	ans, err := s.sessions.CreateSession(r.Context(), &tonepay.CreateRequest{
		AccountSid:     acct.Sid,
		CallSid:        call.Sid,
		Params:         *prm,
		StatusCallback: callback,
		IdempotencyKey: answerKey(acct.Sid, r, key, form),
		Render:         renderPayment,
	})
	if err != nil {
		return err
	}
	writeBody(w, ans.Status, ans.Body)
	return nil
}

// paymentRequest reads what every Payments request has: a form, the call in
// the path (20404), and the parameters both operations require (20001).
func (s *server) paymentRequest(w http.ResponseWriter, r *http.Request, acct *tonepay.Account) (url.Values, *tonepay.Call, *params, error) {
	form, err := readForm(w, r, tonepay.CodeInvalidParameter)
	if err != nil {
		return nil, nil, nil, err
	}
	call, err := s.findCall(r, acct)
	if err != nil {
		return nil, nil, nil, err
	}
	p := &params{v: form, bad: tonepay.CodeInvalidParameter}
	p.required("IdempotencyKey")
	p.required("StatusCallback")
	return form, call, p, p.err
}

// parseCreate reads and validates the create parameters, with Twilio's
// defaults for those not given.
func (s *server) parseCreate(p *params, acct *tonepay.Account) (*tonepay.Params, error) {
	prm := &tonepay.Params{
		PaymentMethod:       p.enum("PaymentMethod", tonepay.CreditCard, tonepay.CreditCard, tonepay.ACHDebit),
		BankAccountType:     p.enum("BankAccountType", "", tonepay.ConsumerChecking, tonepay.ConsumerSavings, tonepay.CommercialChecking),
		Currency:            strings.ToUpper(p.str("Currency")),
		Description:         p.str("Description"),
		Input:               p.enum("Input", "dtmf", "dtmf"),
		MinPostalCodeLength: p.integer("MinPostalCodeLength", 0, 0, 10),
		PaymentConnector:    p.str("PaymentConnector"),
		PostalCode:          p.boolean("PostalCode", true),
		SecurityCode:        p.boolean("SecurityCode", true),
		Timeout:             p.integer("Timeout", 5, 1, 600),
		TokenType:           p.enum("TokenType", tonepay.TokenReusable, tonepay.TokenOneTime, tonepay.TokenReusable, tonepay.TokenPaymentMethod),
		ValidCardTypes:      []string{"visa", "mastercard", "amex"},
		Confirmation:        p.boolean("Confirmation", false),
	}
	if v := p.str("ValidCardTypes"); v != "" {
		prm.ValidCardTypes = strings.Fields(v)
		for _, t := range prm.ValidCardTypes {
			if !slices.Contains(cardTypes, t) {
				p.invalid("ValidCardTypes", t, "card types are "+strings.Join(cardTypes, " "))
			}
		}
	}
	if v := p.str("RequireMatchingInputs"); v != "" {
		for _, f := range strings.Split(v, ",") {
			f = strings.TrimSpace(f)
			if !slices.Contains(matchable, f) {
				p.invalid("RequireMatchingInputs", f, "fields are "+tonepay.MatchableCardFields)
			}
			prm.RequireMatchingInputs = append(prm.RequireMatchingInputs, tonepay.Field(f))
		}
	}
	if v := p.str("Parameter"); v != "" {
		m, err := parseParameter(v)
		if err != nil {
			p.invalid("Parameter", v, err.Error())
		}
		prm.Parameter = m
	}
	if p.err != nil {
		return nil, p.err
	}
	// Rules between parameters, after each one is known to be well formed.
	switch {
	case prm.PaymentMethod == tonepay.CreditCard && prm.BankAccountType != "":
		return nil, tonepay.Errorf(tonepay.CodeBankAccountType, "BankAccountType is not supported with PaymentMethod credit-card")
	case prm.PaymentMethod == tonepay.ACHDebit && prm.BankAccountType == "":
		prm.BankAccountType = tonepay.ConsumerChecking
	}
	for _, f := range prm.RequireMatchingInputs {
		if !prm.Collects(f) {
			return nil, tonepay.Errorf(tonepay.CodeInvalidParameter, "RequireMatchingInputs names %s, which this payment does not collect", f)
		}
	}
	if prm.Currency == "" {
		prm.Currency = "USD"
	}
	if prm.PaymentConnector == "" {
		prm.PaymentConnector = tonepay.DefaultConnector
	}
	conn, ok := s.connectors[prm.PaymentConnector]
	if l, limited := conn.(tonepay.AccountLimiter); limited && !l.Allows(acct.Sid, acct.OwnerSid) {
		ok = false
	}
	if !ok {
		return nil, tonepay.Errorf(tonepay.CodeUnknownConnector, "Invalid PaymentConnector %q: no connector has that name", prm.PaymentConnector)
	}
	amount, err := tonepay.ParseChargeAmount(p.str("ChargeAmount"), prm.Currency)
	if err != nil {
		return nil, err
	}
	prm.ChargeAmount = amount
	if err := conn.Capabilities().Check(prm); err != nil {
		return nil, err
	}
	return prm, nil
}

// parseParameter reads Parameter: a single-level JSON object, or a JSON string
// holding one (twilio-go JSON-encodes a string it is given, so it arrives
// quoted). Values become strings, as the Generic Pay Connector sends them.
func parseParameter(v string) (map[string]string, error) {
	var raw any
	if err := json.Unmarshal([]byte(v), &raw); err != nil {
		return nil, fmt.Errorf("must be a JSON object")
	}
	if s, ok := raw.(string); ok {
		if err := json.Unmarshal([]byte(s), &raw); err != nil {
			return nil, fmt.Errorf("must be a JSON object")
		}
	}
	obj, ok := raw.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("must be a JSON object")
	}
	m := make(map[string]string, len(obj))
	for k, val := range obj {
		// JSON can spell a NUL (\u0000) that the form check cannot see, and
		// PostgreSQL's jsonb refuses it.
		if !isText(k) {
			return nil, fmt.Errorf("must not hold NUL characters")
		}
		switch val := val.(type) {
		case string:
			if !isText(val) {
				return nil, fmt.Errorf("must not hold NUL characters (%s)", clip(k, 64))
			}
			m[k] = val
		case float64, bool:
			m[k] = fmt.Sprint(val)
		case nil:
			m[k] = ""
		default:
			return nil, fmt.Errorf("must be a single-level JSON object (%s is nested)", k)
		}
	}
	return m, nil
}

// handlePaymentUpdate asks for a field (Capture) or ends the session
// (Status=complete|cancel): 202.
func (s *server) handlePaymentUpdate(w http.ResponseWriter, r *http.Request, acct *tonepay.Account) error {
	sid := pathSid(r, "PaymentSid")
	if !tonepay.IsSID(sid, tonepay.PrefixPayment) {
		return errNotFound(r)
	}
	form, call, p, err := s.paymentRequest(w, r, acct)
	if err != nil {
		return err
	}
	key, callback := form.Get("IdempotencyKey"), form.Get("StatusCallback")
	capture, status := form.Get("Capture"), form.Get("Status")
	if (capture == "") == (status == "") {
		return tonepay.Errorf(tonepay.CodeCaptureOrStatus, "Value needed for either Capture or Status parameters, and not both")
	}
	p.enum("Capture", "", captures...)
	p.enum("Status", "", "complete", "cancel")
	if p.err != nil {
		return p.err
	}
	if callback, err = resolveCallback(call, callback); err != nil {
		return err
	}
	req := &tonepay.UpdateRequest{
		AccountSid:     acct.Sid,
		CallSid:        call.Sid,
		Sid:            sid,
		Capture:        tonepay.Field(capture),
		Status:         status,
		StatusCallback: callback,
		Render:         renderPayment,
	}
	// Capture always runs: asking for a field again is how an agent retries it.
	if status != "" {
		req.IdempotencyKey = answerKey(acct.Sid, r, key, form)
	}
	ans, err := s.sessions.UpdateSession(r.Context(), req)
	if err != nil {
		return err
	}
	writeBody(w, ans.Status, ans.Body)
	return nil
}

// answerKey identifies an idempotent request: the same account, path,
// IdempotencyKey and body. Real clients reuse one key for every request on a
// call, so a different body with the same key is a different request.
func answerKey(account string, r *http.Request, key string, form url.Values) string {
	h := sha256.New()
	for _, part := range []string{account, r.Method, r.URL.Path, key, form.Encode()} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// resolveCallback makes StatusCallback absolute: Twilio accepts a relative
// URL, which we resolve against the call's Url.
func resolveCallback(call *tonepay.Call, cb string) (string, error) {
	u, err := url.Parse(cb)
	if err == nil && u.IsAbs() && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" {
		if u.Path == "" && u.RawPath == "" {
			// An HTTP request always has a path: the receiver sees "/" and
			// checks the signature against a URL with it.
			u.Path = "/"
			return u.String(), nil
		}
		return cb, nil // as given: receivers check signatures over the exact URL
	}
	if err == nil && call.URL != "" {
		var base *url.URL
		if base, err = url.Parse(call.URL); err == nil {
			u = base.ResolveReference(u)
		}
	}
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", tonepay.Errorf(tonepay.CodeInvalidParameter, "Invalid value %q for parameter StatusCallback: must be an absolute http or https URL, or relative to the call's Url", tonepay.RedactURL(cb))
	}
	return u.String(), nil
}
