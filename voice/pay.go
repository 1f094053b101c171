package voice

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/card"
)

// PayVerb is a parsed <Pay> (DESIGN §10), defaults applied. A bad value
// Twilio fails is not a TwiML error: Twilio runs the verb and ends it at
// once with Result=validation-error, so Parse records it in Invalid
// instead; any other bad value runs as its default, with a warning.
type PayVerb struct {
	Input                string `json:"input"`
	StatusCallback       string `json:"statusCallback,omitempty"` // resolved
	StatusCallbackMethod string `json:"statusCallbackMethod"`
	Timeout              int    `json:"timeout"`
	MaxAttempts          int    `json:"maxAttempts"`
	SecurityCode         bool   `json:"securityCode"`
	PostalCode           bool   `json:"postalCode"`                // collected from the caller
	PostalCodeValue      string `json:"postalCodeValue,omitempty"` // postalCode="94105": given, not collected
	MinPostalCodeLength  int    `json:"minPostalCodeLength,omitempty"`
	PaymentConnector     string `json:"paymentConnector"`
	PaymentMethod        string `json:"paymentMethod"`
	BankAccountType      string `json:"bankAccountType,omitempty"`
	TokenType            string `json:"tokenType"`
	// ChargeAmount is as written: the runner normalizes it with the
	// connector's currency rules ("" or zero tokenizes).
	ChargeAmount   string         `json:"chargeAmount,omitempty"`
	Currency       string         `json:"currency"` // upper-case
	Language       string         `json:"language"`
	Description    string         `json:"description,omitempty"`
	ValidCardTypes []string       `json:"validCardTypes"`
	Prompts        []PayPrompt    `json:"prompts,omitempty"`
	Parameters     []PayParameter `json:"parameters,omitempty"`
	// Invalid is the PaymentError of a bad attribute value that Twilio
	// fails (the first one), InvalidCode its PayErrorCode (64003 charge
	// amount, 64017 bankAccountType with a card, else 64020). Other bad
	// values run as their defaults, with a warning (see parser.tolerate).
	Invalid     string `json:"invalid,omitempty"`
	InvalidCode int    `json:"invalidCode,omitempty"`
}

// PayPrompt is a <Prompt>: what to play for one step of the session.
// Empty lists match any value.
type PayPrompt struct {
	For                   string   `json:"for"`
	CardTypes             []string `json:"cardTypes,omitempty"`
	Attempts              []int    `json:"attempts,omitempty"`
	ErrorTypes            []string `json:"errorTypes,omitempty"`
	RequireMatchingInputs bool     `json:"requireMatchingInputs,omitempty"`
	Verbs                 []Verb   `json:"verbs"` // Say, Play, Pause
}

// PayParameter is a <Parameter>, sent to a Generic Pay Connector.
type PayParameter struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// ForProcessing is the <Prompt for> of the wait while the connector charges.
const ForProcessing = "payment-processing"

// PayLanguages are the languages <Pay> speaks (twilio-pay.md §3.9).
var PayLanguages = []string{"en-AU", "en-CA", "en-GB", "en-IN", "en-US", "es-ES", "es-MX", "fr-CA", "fr-FR", "de-DE", "it-IT"}

var payFors = []string{string(tonepay.FieldCardNumber), string(tonepay.FieldExpiration), string(tonepay.FieldSecurityCode),
	string(tonepay.FieldPostalCode), string(tonepay.FieldRoutingNumber), string(tonepay.FieldAccountNumber), ForProcessing}

// promptErrorTypes are <Prompt errorType> values; "timeout" is the
// session's input-timeout.
var promptErrorTypes = []string{"timeout", "input-timeout", card.InvalidNumber, card.InvalidType, card.InvalidDate,
	card.InvalidSecurityCode, card.InvalidPostalCode, card.InvalidRoutingNumber, card.InvalidAccountNumber, "input-matching-failed"}

// Params are the session parameters the runner creates the <Pay> session
// with (ChargeAmount is left to the runner: see PayVerb.ChargeAmount).
func (p *PayVerb) Params() tonepay.Params {
	q := tonepay.Params{
		PaymentMethod: p.PaymentMethod, BankAccountType: p.BankAccountType, Currency: p.Currency,
		Description: p.Description, Input: p.Input, MinPostalCodeLength: p.MinPostalCodeLength,
		PaymentConnector: p.PaymentConnector, PostalCode: p.PostalCode, SecurityCode: p.SecurityCode,
		Timeout: p.Timeout, TokenType: p.TokenType, ValidCardTypes: slices.Clone(p.ValidCardTypes),
		Verb: true, MaxAttempts: p.MaxAttempts, PostalCodeValue: p.PostalCodeValue,
	}
	for _, x := range p.Parameters {
		if q.Parameter == nil {
			q.Parameter = map[string]string{}
		}
		q.Parameter[x.Name] = x.Value
	}
	// A <Prompt requireMatchingInputs="true"> asks for its field twice.
	for _, pr := range p.Prompts {
		if f := tonepay.Field(pr.For); pr.RequireMatchingInputs && pr.For != ForProcessing && !slices.Contains(q.RequireMatchingInputs, f) {
			q.RequireMatchingInputs = append(q.RequireMatchingInputs, f)
		}
	}
	return q
}

func (p *PayVerb) invalid(code int, attr, value, why string) {
	if p.Invalid == "" {
		p.Invalid, p.InvalidCode = fmt.Sprintf("%s='%s' (%s)", attr, value, why), code
	}
}

// The checks of <Pay> and its nouns fall in two kinds. What Twilio documents
// as a failure stays one, PayVerb.Invalid (validation-error): chargeAmount
// (64003), and what decides what is charged or returned: paymentMethod,
// bankAccountType (64017 with a card), tokenType, currency (64020, Twilio's
// "misspelled or badly formatted values"). Any other bad value runs as its
// default with a 12200 warning (parser.tolerate), since what Twilio does
// with it is not documented and published apps carry such values: Twilio's
// own bill-payment sample has <Prompt for="security-date">.

// payBool reads a true/false attribute; anything else runs as d.
func (p *parser) payBool(elem string, a map[string]string, name string, d bool) bool {
	switch v, ok := a[name]; {
	case !ok:
		return d
	case strings.EqualFold(v, "true"):
		return true
	case strings.EqualFold(v, "false"):
		return false
	default:
		p.tolerate(CodeSchema, elem, name, v, fmt.Sprintf("not true or false; %t is used", d))
		return d
	}
}

// payInt reads a whole number from lo to hi; anything else runs as d.
func (p *parser) payInt(a map[string]string, name string, d, lo, hi int) int {
	v, ok := a[name]
	if !ok {
		return d
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < lo || n > hi {
		p.tolerate(CodeSchema, "Pay", name, v, fmt.Sprintf("not a whole number from %d to %d; %d is used", lo, hi, d))
		return d
	}
	return n
}

func (p *parser) pay(n *node, v *Verb) *Error {
	a := p.attrs(n, "input", "action", "statusCallback", "statusCallbackMethod", "timeout", "maxAttempts", "securityCode",
		"postalCode", "minPostalCodeLength", "paymentConnector", "paymentMethod", "bankAccountType", "tokenType",
		"chargeAmount", "currency", "language", "description", "validCardTypes")
	pv := &PayVerb{}
	v.Pay, v.Method = pv, "POST" // the action is always POSTed
	var err *Error
	if a["action"] != "" {
		// Twilio's 15004 names action URLs (Gather, Record, Pay): an error.
		if v.Action, err = p.resolve(a["action"], CodeRelativeAction, "Pay"); err != nil {
			return err
		}
	}
	if sc := a["statusCallback"]; sc != "" {
		if pv.StatusCallback, err = p.resolve(sc, CodeRelativeAction, "Pay"); err != nil {
			p.tolerate(CodeSchema, "Pay", "statusCallback", sc, "cannot be resolved; no statusCallback is sent")
		}
	}
	pv.Input = "dtmf"
	if in := a["input"]; in != "" && in != "dtmf" {
		p.tolerate(CodeSchema, "Pay", "input", in, "dtmf is the only input; dtmf is used")
	}
	switch m := strings.ToUpper(def(a["statusCallbackMethod"], "POST")); m {
	case "GET", "POST":
		pv.StatusCallbackMethod = m
	default:
		pv.StatusCallbackMethod = "POST"
		p.tolerate(CodeSchema, "Pay", "statusCallbackMethod", a["statusCallbackMethod"], "not GET or POST; POST is used")
	}
	pv.Timeout = p.payInt(a, "timeout", 5, 1, 600)
	pv.MaxAttempts = p.payInt(a, "maxAttempts", 1, 1, 3)
	pv.SecurityCode = p.payBool("Pay", a, "securityCode", true)
	switch pc, ok := a["postalCode"]; {
	case !ok || strings.EqualFold(pc, "true"):
		pv.PostalCode = true
	case strings.EqualFold(pc, "false"):
	case validPostal(pc):
		pv.PostalCodeValue = strings.TrimSpace(pc)
	default:
		pv.PostalCode = true
		p.tolerate(CodeSchema, "Pay", "postalCode", pc, "not true, false or a postal code; the caller is asked for it")
	}
	pv.MinPostalCodeLength = p.payInt(a, "minPostalCodeLength", 0, 0, card.MaxMinPostalCodeLength)
	pv.PaymentConnector = def(strings.TrimSpace(a["paymentConnector"]), "Default")
	switch pv.PaymentMethod = def(a["paymentMethod"], tonepay.CreditCard); pv.PaymentMethod {
	case tonepay.CreditCard:
		if bt, ok := a["bankAccountType"]; ok {
			pv.invalid(tonepay.CodeBankAccountType, "bankAccountType", bt, "only with paymentMethod ach-debit")
		}
	case tonepay.ACHDebit:
		switch pv.BankAccountType = def(a["bankAccountType"], tonepay.ConsumerChecking); pv.BankAccountType {
		case tonepay.ConsumerChecking, tonepay.ConsumerSavings, tonepay.CommercialChecking:
		default:
			pv.invalid(64020, "bankAccountType", pv.BankAccountType, "not consumer-checking, consumer-savings or commercial-checking")
		}
	default:
		pv.invalid(64020, "paymentMethod", pv.PaymentMethod, "not credit-card or ach-debit")
	}
	switch pv.TokenType = def(a["tokenType"], tonepay.TokenReusable); pv.TokenType {
	case tonepay.TokenReusable, tonepay.TokenOneTime, tonepay.TokenPaymentMethod:
	default:
		pv.invalid(64020, "tokenType", pv.TokenType, "not reusable, one-time or payment-method")
	}
	if pv.ChargeAmount = strings.TrimSpace(a["chargeAmount"]); pv.ChargeAmount != "" && !validAmount(pv.ChargeAmount) {
		pv.invalid(64003, "chargeAmount", pv.ChargeAmount, "not a number between 0.00 - 1,000,000.00")
	}
	pv.Currency = strings.ToUpper(def(strings.TrimSpace(a["currency"]), "usd"))
	if len(pv.Currency) != 3 || strings.Trim(pv.Currency, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
		pv.invalid(64020, "currency", a["currency"], "not an ISO 4217 currency code")
	}
	pv.Language = "en-US"
	if l, ok := a["language"]; ok {
		if i := slices.IndexFunc(PayLanguages, func(x string) bool { return strings.EqualFold(x, l) }); i >= 0 {
			pv.Language = PayLanguages[i]
		} else {
			p.tolerate(CodeSchema, "Pay", "language", l, "not a language <Pay> speaks; en-US is used")
		}
	}
	pv.Description = a["description"]
	pv.ValidCardTypes = []string{card.Visa, card.Mastercard, card.Amex}
	if vt, ok := a["validCardTypes"]; ok {
		var known, unknown []string
		for _, b := range strings.Fields(strings.ToLower(vt)) {
			if slices.Contains(card.Brands, b) {
				known = append(known, b)
			} else {
				unknown = append(unknown, b)
			}
		}
		switch {
		case len(known) == 0:
			p.tolerate(CodeSchema, "Pay", "validCardTypes", vt, "no card type <Pay> knows; visa mastercard amex are used")
		case len(unknown) > 0:
			// Left out: a card of a type not named is refused, never taken.
			p.tolerate(CodeSchema, "Pay", "validCardTypes", vt, "unknown card type "+clip(unknown[0])+" is left out")
			fallthrough
		default:
			pv.ValidCardTypes = known
		}
	}
	for _, c := range n.Nodes {
		switch c.Name {
		case "Prompt":
			pr, ok, err := p.payPrompt(c)
			if err != nil {
				return err
			}
			if ok {
				pv.Prompts = append(pv.Prompts, pr)
			}
		case "Parameter":
			pa := p.attrs(c, "name", "value")
			if pa["name"] == "" {
				p.tolerate(CodeSchema, "Parameter", "name", "", "a <Parameter> with no name is ignored")
				continue
			}
			pv.Parameters = append(pv.Parameters, PayParameter{Name: pa["name"], Value: pa["value"]})
		default:
			return errorf(CodeSchema, "Pay: <%s> cannot be nested in <Pay>", c.Name)
		}
	}
	return nil
}

// payPrompt reads a <Prompt>. One with a for, cardType, errorType or
// attempt value Twilio does not list can never be chosen: it is left out
// (ok false), with a warning, and the step it was written for gets the
// other prompts or the default words.
func (p *parser) payPrompt(n *node) (pr PayPrompt, ok bool, _ *Error) {
	a := p.attrs(n, "for", "for_", "cardType", "attempt", "errorType", "requireMatchingInputs")
	if _, has := a["for"]; !has {
		// twilio-go's twiml package writes VoicePrompt.For_ as for_: run
		// what real apps generate.
		a["for"] = a["for_"]
	}
	ok = true
	unknown := func(attr, value, why string) {
		if ok {
			p.tolerate(CodeSchema, "Prompt", attr, value, why+"; the <Prompt> is ignored")
		}
		ok = false
	}
	pr.For = a["for"]
	if !slices.Contains(payFors, pr.For) {
		unknown("for", pr.For, "not a step Twilio lists")
	}
	pr.CardTypes = strings.Fields(strings.ToLower(a["cardType"]))
	for _, b := range pr.CardTypes {
		if !slices.Contains(card.Brands, b) {
			unknown("cardType", a["cardType"], "unknown card type "+clip(b))
		}
	}
	for _, s := range strings.Fields(a["attempt"]) {
		k, err := strconv.Atoi(s)
		if err != nil || k < 1 || k > 10 {
			unknown("attempt", a["attempt"], "not whole numbers from 1 to 10")
			continue
		}
		pr.Attempts = append(pr.Attempts, k)
	}
	pr.ErrorTypes = strings.Fields(a["errorType"])
	for _, e := range pr.ErrorTypes {
		if !slices.Contains(promptErrorTypes, e) {
			unknown("errorType", a["errorType"], "unknown error type "+clip(e))
		}
	}
	pr.RequireMatchingInputs = p.payBool("Prompt", a, "requireMatchingInputs", false)
	for _, c := range n.Nodes {
		if k := c.Name; k != "Say" && k != "Play" && k != "Pause" {
			return pr, false, errorf(CodeSchema, "Pay: <%s> cannot be nested in <Prompt>", k)
		}
		v, err := p.verb(c, true)
		if err != nil {
			return pr, false, err
		}
		pr.Verbs = append(pr.Verbs, v)
	}
	return pr, ok, nil
}

// validPostal: a postal code given in the TwiML (letters, digits, one
// space or hyphen, as in "SW1A 1AA" or "12345-6789").
func validPostal(s string) bool {
	s = strings.TrimSpace(s)
	if len(s) < 3 || len(s) > 10 {
		return false
	}
	return strings.Trim(strings.ToUpper(s), "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -") == ""
}

// validAmount: a plain decimal from 0 to 1,000,000 (the runner applies
// the currency's decimals).
func validAmount(s string) bool {
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" || strings.Trim(whole, "0123456789") != "" || strings.Trim(frac, "0123456789") != "" || (strings.Contains(s, ".") && frac == "") {
		return false
	}
	f, err := strconv.ParseFloat(s, 64)
	return err == nil && f <= 1_000_000
}

// pay begins a <Pay>: the runner starts the session (Output.Pay), unless an
// attribute is bad, which ends the verb at once as Twilio does.
func (r *run) pay(v Verb) {
	s := r.s
	r.log(Entry{Kind: "verb", Verb: v.Name})
	s.Current, s.Hops, s.Playing, s.Prompt = &v, 0, nil, 0
	if v.Pay.Invalid != "" {
		r.payEnd(url.Values{"Result": {tonepay.ResultValidationError}, "PaymentError": {v.Pay.Invalid},
			"PayErrorCode": {strconv.Itoa(v.Pay.InvalidCode)}})
		return
	}
	r.out.Pay = &v
}

// payAsk plays the prompt for the step the session asks for: the chosen
// <Prompt> (after the default words for what went wrong, when the prompt
// is not written for the error or the attempt), else the default words.
func (r *run) payAsk(ask tonepay.PayAsk) {
	s := r.s
	pv := s.Current.Pay
	var play []Verb
	if i := choosePrompt(pv.Prompts, ask); i >= 0 {
		p := pv.Prompts[i]
		if len(p.ErrorTypes) == 0 && len(p.Attempts) == 0 {
			if e := errorWords(pv.Language, ask.ErrorType); e != "" {
				play = append(play, Verb{Name: "Say", Text: e, Language: pv.Language, Loop: 1})
			}
		}
		play = append(play, p.Verbs...)
	} else {
		play = []Verb{{Name: "Say", Text: DefaultPrompt(pv.Language, ask), Language: pv.Language, Loop: 1}}
	}
	s.Playing, s.Prompt, s.Wait = play, 0, nil
	r.payPrompts()
}

// payPrompts plays s.Playing from s.Prompt, stopping at one that takes
// time. The session keeps its own timeout; this Wait only paces the words.
func (r *run) payPrompts() {
	s := r.s
	for s.Prompt < len(s.Playing) {
		p := s.Playing[s.Prompt]
		s.Prompt++
		if d := r.prompt(p, false); d > 0 {
			s.Wait = &Wait{For: "pay-prompt", Until: r.now.Add(d)}
			return
		}
	}
	s.Playing, s.Prompt = nil, 0
}

// payEnd ends the <Pay>: its action with the session's fields, else the
// next verb.
func (r *run) payEnd(params url.Values) {
	s := r.s
	v := *s.Current
	s.Current, s.Wait, s.Playing, s.Prompt = nil, nil, nil, 0
	r.log(Entry{Kind: "verb", Verb: "Pay", Text: "ended: Result=" + params.Get("Result")})
	if v.Action == "" {
		r.continueDoc()
		return
	}
	r.fetch("pay-action", v.Action, "POST", params)
}
