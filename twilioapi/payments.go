package twilioapi

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/tonepay/tonepay"
)

// captures are the values Capture accepts: the fields, then the matchers
// that repeat them.
var captures = func() []string {
	out := []string{}
	for _, f := range []tonepay.Field{tonepay.FieldCardNumber, tonepay.FieldExpiration, tonepay.FieldSecurityCode,
		tonepay.FieldPostalCode, tonepay.FieldRoutingNumber, tonepay.FieldAccountNumber} {
		out = append(out, string(f))
	}
	for _, f := range strings.Split(tonepay.MatchableCardFields, ",") {
		out = append(out, string(tonepay.Field(f).Matcher()))
	}
	return out
}()

// handlePaymentCreate starts a payment session on a call: 201.
func (s *server) handlePaymentCreate(w http.ResponseWriter, r *http.Request, acct *tonepay.Account) error {
	form, p, err := paymentRequest(w, r)
	if err != nil {
		return err
	}
	prm := parseCreate(p)
	if err := s.pathFirst(r, acct, p.err); err != nil {
		return err
	}
	pay, err := s.svc.CreateSession(r.Context(), &tonepay.CreateRequest{
		AccountSid:     acct.Sid,
		OwnerSid:       acct.OwnerSid,
		CallSid:        pathSid(r, "CallSid"),
		Params:         *prm,
		ChargeAmount:   prm.ChargeAmount,
		StatusCallback: form.Get("StatusCallback"),
		IdempotencyKey: answerKey(acct.Sid, r, form.Get("IdempotencyKey"), form),
	})
	if err != nil {
		return inPath(r, err)
	}
	writeJSON(w, http.StatusCreated, encodePayment(pay))
	return nil
}

// paymentRequest reads what every Payments request has: a form and the
// parameters both operations require (20001), whose error it leaves in p.
func paymentRequest(w http.ResponseWriter, r *http.Request) (url.Values, *params, error) {
	form, err := readForm(w, r, tonepay.CodeInvalidParameter)
	if err != nil {
		return nil, nil, err
	}
	p := &params{v: form, bad: tonepay.CodeInvalidParameter}
	p.required("IdempotencyKey")
	p.required("StatusCallback")
	return form, p, nil
}

// parseCreate reads the create parameters into the domain's rules
// (tonepay.ParseParams: Twilio's defaults, each value, the rules between
// them, ChargeAmount's form); the first error is left in p. What is the REST
// API's own stays here: an empty form value is not given, and Parameter is
// JSON. The rules that need a connector are the service's.
func parseCreate(p *params) *tonepay.Params {
	if p.err != nil {
		return nil
	}
	var parameter map[string]string
	if v := p.str("Parameter"); v != "" {
		m, err := parseParameter(v)
		if err != nil {
			p.invalid("Parameter", v, err.Error())
			return nil
		}
		parameter = m
	}
	given := map[string]string{}
	for _, name := range tonepay.ParamNames {
		if v := p.str(name); v != "" {
			given[name] = v
		}
	}
	prm, errs := tonepay.ParseParams(given)
	if err := errs.Err(); err != nil {
		p.fail(err)
		return nil
	}
	prm.Parameter = parameter
	return &prm
}

// parseParameter reads Parameter: a single-level JSON object, or a JSON string
// holding one (twilio-go JSON-encodes a string it is given, so it arrives
// quoted). Either may be written with single quotes, as Twilio's own API
// example is ("{'name':'foobar'}", OAI CreatePayments; a Python dict's repr):
// a value that is not valid JSON is read that way (singleQuoted). Values
// become strings, as the Generic Pay Connector sends them.
func parseParameter(v string) (map[string]string, error) {
	const want = `must be a single-level JSON object, such as {"name":"value"}`
	raw, ok := decodeLoose(v)
	if s, isString := raw.(string); ok && isString {
		raw, ok = decodeLoose(s)
	}
	obj, isObject := raw.(map[string]any)
	if !ok || !isObject {
		return nil, errors.New(want)
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

// decodeLoose decodes v as JSON or, only when it is not valid JSON, as JSON
// written with single quotes.
func decodeLoose(v string) (any, bool) {
	var raw any
	if json.Unmarshal([]byte(v), &raw) == nil {
		return raw, true
	}
	if j, ok := singleQuoted(v); ok && json.Unmarshal([]byte(j), &raw) == nil {
		return raw, true
	}
	return nil, false
}

// singleQuoted rewrites JSON-like text whose strings are in single quotes,
// as Python prints a dict ({'name': 'foobar', 'n': 1, 'ok': True}), as JSON:
// each '…' becomes "…" (\' is an apostrophe; a " inside is escaped), a "…"
// string is kept as it is, and True, False and None outside strings become
// true, false and null. What is still not JSON then (another escape, a bare
// word, a string that does not end) is for json.Unmarshal to refuse; false
// when a string does not end.
func singleQuoted(s string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\'' || c == '"':
			end, ok := quoted(&b, s, i)
			if !ok {
				return "", false
			}
			i = end
		case c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z':
			j := i
			for j < len(s) && (s[j] >= 'A' && s[j] <= 'Z' || s[j] >= 'a' && s[j] <= 'z') {
				j++
			}
			switch w := s[i:j]; w {
			case "True":
				b.WriteString("true")
			case "False":
				b.WriteString("false")
			case "None":
				b.WriteString("null")
			default:
				b.WriteString(w)
			}
			i = j
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String(), true
}

// quoted writes the string that starts with the quote at s[i] as a JSON
// string, and returns the index after its closing quote; false if it does
// not close.
func quoted(b *strings.Builder, s string, i int) (int, bool) {
	q := s[i]
	b.WriteByte('"')
	for i++; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			if i+1 == len(s) {
				return 0, false
			}
			i++
			if s[i] == '\'' {
				b.WriteByte('\'') // \' is not a JSON escape; the apostrophe needs none
			} else {
				b.WriteByte('\\')
				b.WriteByte(s[i])
			}
		case c == q:
			b.WriteByte('"')
			return i + 1, true
		case c == '"': // inside '…' only: inside "…" it closed the string
			b.WriteString(`\"`)
		default:
			b.WriteByte(c)
		}
	}
	return 0, false
}

// handlePaymentUpdate asks for a field (Capture) or ends the session
// (Status=complete|cancel): 202.
func (s *server) handlePaymentUpdate(w http.ResponseWriter, r *http.Request, acct *tonepay.Account) error {
	sid := pathSid(r, "PaymentSid")
	if !tonepay.IsSID(sid, tonepay.PrefixPayment) {
		return errNotFound(r)
	}
	form, p, err := paymentRequest(w, r)
	if err != nil {
		return err
	}
	capture, status := form.Get("Capture"), form.Get("Status")
	if p.err == nil && (capture == "") == (status == "") {
		p.fail(tonepay.Errorf(tonepay.CodeCaptureOrStatus, "Value needed for either Capture or Status parameters, and not both"))
	}
	if p.err == nil {
		p.enum("Capture", "", captures...)
		p.enum("Status", "", "complete", "cancel")
	}
	if err := s.pathFirst(r, acct, p.err); err != nil {
		return err
	}
	pay, err := s.svc.UpdateSession(r.Context(), &tonepay.UpdateRequest{
		AccountSid:     acct.Sid,
		CallSid:        pathSid(r, "CallSid"),
		Sid:            sid,
		Capture:        tonepay.Field(capture),
		Status:         status,
		StatusCallback: form.Get("StatusCallback"),
		IdempotencyKey: answerKey(acct.Sid, r, form.Get("IdempotencyKey"), form),
	})
	if err != nil {
		return inPath(r, err)
	}
	writeJSON(w, http.StatusAccepted, encodePayment(pay))
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
