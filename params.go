package tonepay

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// The Payments parameters have one set of rules, whichever door a payment
// comes through: the REST API's create (twilioapi) and TwiML's <Pay> (voice).
// Each door keeps only its wire: the REST door's required parameters (20001),
// its form and Parameter's JSON; <Pay>'s attribute names, postalCode's code
// form, <Prompt>s and the 12200 warnings of the values it tolerates.

// Card types, as ValidCardTypes names them. Append only.
const (
	CardVisa       = "visa"
	CardMastercard = "mastercard"
	CardAmex       = "amex"
	CardMaestro    = "maestro"
	CardDiscover   = "discover"
	CardJCB        = "jcb"
	CardDinersClub = "diners-club"
	CardEnRoute    = "enroute"
	CardOptima     = "optima"
)

// CardTypes lists every name ValidCardTypes accepts.
var CardTypes = []string{CardVisa, CardMastercard, CardAmex, CardMaestro, CardDiscover, CardOptima, CardJCB, CardDinersClub, CardEnRoute}

// InputDTMF is the only Input a payment takes: keys on the caller's keypad.
const InputDTMF = "dtmf"

// Twilio's defaults and bounds of the Payments parameters (twilio-pay.md §1.2).
const (
	DefaultCurrency = "USD"
	DefaultTimeout  = 5   // seconds between digits
	MaxTimeout      = 600 // Twilio's maximum Timeout
	// MaxMinPostalCodeLength bounds MinPostalCodeLength. Twilio's spec puts
	// no maximum on it ("A positive integer"); tonepay accepts up to the
	// longest entry any field has (a card number's 19 digits), since an
	// entry is re-sealed on every key.
	MaxMinPostalCodeLength = 19
)

// DefaultCardTypes returns ValidCardTypes' default: visa mastercard amex.
func DefaultCardTypes() []string { return []string{CardVisa, CardMastercard, CardAmex} }

// ParamNames are the parameters ParseParams reads, spelled as the REST API
// spells them. <Pay> has the same attributes in lower camel case
// (paymentMethod, chargeAmount), except RequireMatchingInputs and
// Confirmation, which it does not have.
var ParamNames = []string{"PaymentMethod", "BankAccountType", "ChargeAmount", "Currency", "Description", "Input",
	"MinPostalCodeLength", "PaymentConnector", "PostalCode", "SecurityCode", "Timeout", "TokenType", "ValidCardTypes",
	"RequireMatchingInputs", "Confirmation"}

// ParamError is one bad Payments parameter: which, the value given, Twilio's
// code for it (64003 ChargeAmount, 64017 BankAccountType with a card, 64020
// any other malformed or unknown value) and why, in words that name other
// parameters as the REST API does.
//
// Tolerable says what kind of value it is. A value that decides what is
// charged or returned (PaymentMethod, BankAccountType, TokenType,
// ChargeAmount, Currency) never is: Twilio documents a failure for each, so
// <Pay> ends with validation-error. A value that only shapes how the caller
// is asked (Input, Timeout, SecurityCode, PostalCode, MinPostalCodeLength,
// ValidCardTypes, RequireMatchingInputs, Confirmation) is: Twilio documents
// no failure for it, so <Pay> runs with Default instead, with a warning. The
// REST API refuses both kinds.
type ParamError struct {
	Param     string // as the REST API names it
	Value     string // as given (for ValidCardTypes and RequireMatchingInputs, the first bad name in it)
	Code      int
	Why       string
	Tolerable bool
	Default   string // what Params holds instead, in words ("5", "true", "visa mastercard amex"); "" when the value is left out
}

func (e *ParamError) Error() string {
	return fmt.Sprintf("Invalid value %q for parameter %s: %s", e.Value, e.Param, e.Why)
}

// Err is the problem as the REST API answers it.
func (e *ParamError) Err() *Error { return &Error{Code: e.Code, Message: e.Error()} }

// ParamErrors are the problems of one request's parameters, in a fixed
// order (the order of ParseParams' checks).
type ParamErrors []*ParamError

// Err returns the first problem as an *Error, or nil when there is none.
func (es ParamErrors) Err() error {
	if len(es) == 0 {
		return nil
	}
	return es[0].Err()
}

// Fatal returns the first problem that is not Tolerable, or nil.
func (es ParamErrors) Fatal() *ParamError {
	for _, e := range es {
		if !e.Tolerable {
			return e
		}
	}
	return nil
}

// Of returns the problems of one parameter.
func (es ParamErrors) Of(param string) ParamErrors {
	var out ParamErrors
	for _, e := range es {
		if e.Param == param {
			out = append(out, e)
		}
	}
	return out
}

// ParseParams applies the rules of the Payments parameters to the values a
// request gives: given holds each parameter of ParamNames the request has,
// by name, as written (a door trims what its wire does not keep). It returns
// the Params with Twilio's defaults for what is not given, with the default
// also in place of each bad value, and every problem found.
//
// An empty enum or text (PaymentMethod, BankAccountType, TokenType, Input,
// Currency, ChargeAmount, PaymentConnector, RequireMatchingInputs) takes its
// default; an empty number, boolean or ValidCardTypes is a bad value. (The
// REST door never gives an empty value: in a form it means absent.)
// BankAccountType given at all with credit-card is 64017.
//
// ChargeAmount is checked against Currency's decimals and returned with
// exactly those ("10" is "10.00" in USD, "" for zero, which tokenizes); for a
// well-formed code that is not a currency, only its form and range are
// checked here and the service refuses the currency (64011). Parameter is
// not read: each door decodes its own form of it.
func ParseParams(given map[string]string) (Params, ParamErrors) {
	var errs ParamErrors
	fatal := func(name, why string, code int) {
		errs = append(errs, &ParamError{Param: name, Value: given[name], Code: code, Why: why})
	}
	tolerate := func(name, value, why, def string) {
		errs = append(errs, &ParamError{Param: name, Value: value, Code: CodeInvalidParameter, Why: why, Tolerable: true, Default: def})
	}
	enum := func(name, def string, allowed ...string) string {
		switch v := given[name]; {
		case v == "":
			return def
		case slices.Contains(allowed, v):
			return v
		}
		fatal(name, "not "+orList(allowed), CodeInvalidParameter)
		return def
	}
	whole := func(name string, def, lo, hi int) int {
		v, ok := given[name]
		if !ok {
			return def
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < lo || n > hi {
			tolerate(name, v, fmt.Sprintf("not a whole number from %d to %d", lo, hi), strconv.Itoa(def))
			return def
		}
		return n
	}
	boolean := func(name string, def bool) bool {
		v, ok := given[name]
		switch {
		case !ok:
			return def
		case strings.EqualFold(v, "true"):
			return true
		case strings.EqualFold(v, "false"):
			return false
		}
		tolerate(name, v, "not true or false", strconv.FormatBool(def))
		return def
	}

	p := Params{Description: given["Description"], PaymentConnector: given["PaymentConnector"]}
	if p.PaymentConnector == "" {
		p.PaymentConnector = DefaultConnector
	}
	p.PaymentMethod = enum("PaymentMethod", CreditCard, CreditCard, ACHDebit)
	// BankAccountType with a card is 64017 whatever its value: the
	// parameter itself is the mistake.
	switch _, ok := given["BankAccountType"]; {
	case len(errs) > 0:
		// An unknown PaymentMethod: no rule between the two can be told.
	case p.PaymentMethod == CreditCard && ok:
		fatal("BankAccountType", "only with PaymentMethod ach-debit", CodeBankAccountType)
	case p.PaymentMethod == ACHDebit:
		p.BankAccountType = enum("BankAccountType", ConsumerChecking, ConsumerChecking, ConsumerSavings, CommercialChecking)
	}
	if v := given["Input"]; v != "" && v != InputDTMF {
		tolerate("Input", v, InputDTMF+" is the only input", InputDTMF)
	}
	p.Input = InputDTMF
	p.MinPostalCodeLength = whole("MinPostalCodeLength", 0, 0, MaxMinPostalCodeLength)
	p.PostalCode = boolean("PostalCode", true)
	p.SecurityCode = boolean("SecurityCode", true)
	p.Timeout = whole("Timeout", DefaultTimeout, 1, MaxTimeout)
	p.TokenType = enum("TokenType", TokenReusable, TokenReusable, TokenOneTime, TokenPaymentMethod)
	p.Confirmation = boolean("Confirmation", false)

	p.ValidCardTypes = DefaultCardTypes()
	if v, ok := given["ValidCardTypes"]; ok {
		known, unknown := SplitCardTypes(v)
		if len(known) > 0 {
			p.ValidCardTypes = known
		}
		if len(unknown) > 0 || len(known) == 0 {
			bad := v
			if len(unknown) > 0 {
				bad = unknown[0]
			}
			// Left out: a card of a type not named is refused, never taken.
			tolerate("ValidCardTypes", bad, "card types are "+strings.Join(CardTypes, " "), strings.Join(p.ValidCardTypes, " "))
		}
	}
	if v := given["RequireMatchingInputs"]; v != "" {
		for _, f := range strings.Split(v, ",") {
			f = strings.TrimSpace(f)
			if !slices.Contains(strings.Split(MatchableCardFields, ","), f) {
				tolerate("RequireMatchingInputs", f, "fields are "+MatchableCardFields, "")
				continue
			}
			p.RequireMatchingInputs = append(p.RequireMatchingInputs, Field(f))
		}
		// A field asked twice must be asked once first.
		kept := p.RequireMatchingInputs[:0]
		for _, f := range p.RequireMatchingInputs {
			if p.Collects(f) {
				kept = append(kept, f)
			} else {
				tolerate("RequireMatchingInputs", string(f), "a field this payment does not collect", "")
			}
		}
		if p.RequireMatchingInputs = kept; len(kept) == 0 {
			p.RequireMatchingInputs = nil
		}
	}

	// Currency first, as the amount's decimals are the currency's, but its
	// problem after the amount's: <Pay> has always named the amount first.
	var currencyErr bool
	p.Currency = DefaultCurrency
	if v := given["Currency"]; v != "" {
		if isCurrencyCode(v) {
			p.Currency = strings.ToUpper(v)
		} else {
			currencyErr = true
		}
	}
	if v := given["ChargeAmount"]; v != "" {
		digits, ok := MinorUnits(p.Currency)
		if currencyErr || !ok {
			digits = -1 // the form and range only
		}
		amount, why := chargeAmount(v, digits, p.Currency)
		if why != "" {
			fatal("ChargeAmount", why, CodeChargeAmount)
		}
		p.ChargeAmount = amount
	}
	if currencyErr {
		fatal("Currency", "not a three-letter ISO 4217 currency code", CodeInvalidParameter)
	}
	return p, errs
}

// SplitCardTypes reads a ValidCardTypes value: space-separated names, in any
// case. It returns the names Twilio lists (lower case) and the others.
func SplitCardTypes(s string) (known, unknown []string) {
	for _, t := range strings.Fields(strings.ToLower(s)) {
		if slices.Contains(CardTypes, t) {
			known = append(known, t)
		} else {
			unknown = append(unknown, t)
		}
	}
	return known, unknown
}

// isCurrencyCode: three ASCII letters, in any case.
func isCurrencyCode(s string) bool {
	if len(s) != 3 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i] | 0x20; c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

// orList writes values as "a, b or c".
func orList(values []string) string {
	if len(values) == 1 {
		return values[0]
	}
	return strings.Join(values[:len(values)-1], ", ") + " or " + values[len(values)-1]
}
