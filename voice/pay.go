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

// The checks of <Pay>'s Payments attributes are the domain's
// (tonepay.ParseParams), and fall in two kinds. What Twilio documents as a
// failure stays one, PayVerb.Invalid (validation-error): chargeAmount
// (64003), and what decides what is charged or returned: paymentMethod,
// bankAccountType (64017 with a card), tokenType, currency (64020, Twilio's
// "misspelled or badly formatted values"). Any other bad value (the
// domain's Tolerable ones, and <Pay>'s own: statusCallbackMethod,
// maxAttempts, language, <Prompt>s) runs as its default with a 12200
// warning (parser.tolerate), since what Twilio does with it is not
// documented and published apps carry such values: Twilio's own
// bill-payment sample has <Prompt for="security-date">.

// payAttrs are the <Pay> attributes that are Payments parameters, by the
// parameter's name; trim says the value's spaces are not part of it.
var payAttrs = []struct {
	param string
	trim  bool
}{
	{"PaymentMethod", false}, {"BankAccountType", false}, {"ChargeAmount", true}, {"Currency", true},
	{"Description", false}, {"Input", false}, {"MinPostalCodeLength", true}, {"PaymentConnector", true},
	{"PostalCode", false}, {"SecurityCode", false}, {"Timeout", true}, {"TokenType", false}, {"ValidCardTypes", false},
}

// attrName is a Payments parameter's <Pay> attribute: the same name in
// lower camel case.
func attrName(param string) string { return strings.ToLower(param[:1]) + param[1:] }

// attrNames rewrites the parameters a domain text names as <Pay> names them.
var attrNames = func() *strings.Replacer {
	names := slices.Clone(tonepay.ParamNames)
	// Longest first: PostalCode is inside MinPostalCodeLength.
	slices.SortFunc(names, func(x, y string) int { return len(y) - len(x) })
	var pairs []string
	for _, n := range names {
		pairs = append(pairs, n, attrName(n))
	}
	return strings.NewReplacer(pairs...)
}()

// payGiven is what the <Pay> attributes give the domain's rules. <Pay>'s
// own form of postalCode, the code itself ("94105"), is given by the app
// instead of asked: pv keeps it, and the domain is told false.
func payGiven(a map[string]string, pv *PayVerb) map[string]string {
	given := map[string]string{}
	for _, pa := range payAttrs {
		if v, ok := a[attrName(pa.param)]; ok {
			if pa.trim {
				v = strings.TrimSpace(v)
			}
			given[pa.param] = v
		}
	}
	if pc, ok := a["postalCode"]; ok && !strings.EqualFold(pc, "true") && !strings.EqualFold(pc, "false") && validPostal(pc) {
		pv.PostalCodeValue = strings.TrimSpace(pc)
		given["PostalCode"] = "false"
	}
	return given
}

// payWarn warns about the value of a Payments attribute that runs as its
// default (a Tolerable problem).
func (p *parser) payWarn(a map[string]string, errs tonepay.ParamErrors, param string) {
	for _, e := range errs.Of(param) {
		if !e.Tolerable {
			continue
		}
		attr := attrName(param)
		instead := e.Why + "; " + e.Default + " is used"
		switch param {
		case "PostalCode":
			instead = "not true, false or a postal code; the caller is asked for it"
		case "ValidCardTypes":
			if known, _ := tonepay.SplitCardTypes(a[attr]); len(known) == 0 {
				instead = "no card type <Pay> knows; " + e.Default + " are used"
			} else {
				// Left out: a card of a type not named is refused, never taken.
				instead = "unknown card type " + tonepay.Clip(e.Value, clipAt) + " is left out"
			}
		}
		p.tolerate(CodeSchema, "Pay", attr, a[attr], instead)
	}
}

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
	prm, errs := tonepay.ParseParams(payGiven(a, pv))
	pv.Input = prm.Input
	p.payWarn(a, errs, "Input")
	switch m := strings.ToUpper(def(a["statusCallbackMethod"], "POST")); m {
	case "GET", "POST":
		pv.StatusCallbackMethod = m
	default:
		pv.StatusCallbackMethod = "POST"
		p.tolerate(CodeSchema, "Pay", "statusCallbackMethod", a["statusCallbackMethod"], "not GET or POST; POST is used")
	}
	pv.Timeout = prm.Timeout
	p.payWarn(a, errs, "Timeout")
	pv.MaxAttempts = p.payInt(a, "maxAttempts", 1, 1, 3)
	pv.SecurityCode = prm.SecurityCode
	p.payWarn(a, errs, "SecurityCode")
	pv.PostalCode = prm.PostalCode // false when the app gives the code (payGiven)
	p.payWarn(a, errs, "PostalCode")
	pv.MinPostalCodeLength = prm.MinPostalCodeLength
	p.payWarn(a, errs, "MinPostalCodeLength")
	pv.PaymentConnector, pv.PaymentMethod, pv.BankAccountType = prm.PaymentConnector, prm.PaymentMethod, prm.BankAccountType
	pv.TokenType, pv.Currency, pv.Description = prm.TokenType, prm.Currency, prm.Description
	// As written: the runner normalizes it with the connector's currency.
	pv.ChargeAmount = strings.TrimSpace(a["chargeAmount"])
	if e := errs.Fatal(); e != nil {
		pv.Invalid, pv.InvalidCode = fmt.Sprintf("%s='%s' (%s)", attrName(e.Param), e.Value, attrNames.Replace(e.Why)), e.Code
	}
	pv.Language = "en-US"
	if l, ok := a["language"]; ok {
		if i := slices.IndexFunc(PayLanguages, func(x string) bool { return strings.EqualFold(x, l) }); i >= 0 {
			pv.Language = PayLanguages[i]
		} else {
			p.tolerate(CodeSchema, "Pay", "language", l, "not a language <Pay> speaks; en-US is used")
		}
	}
	pv.ValidCardTypes = prm.ValidCardTypes
	p.payWarn(a, errs, "ValidCardTypes")
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
			unknown("cardType", a["cardType"], "unknown card type "+tonepay.Clip(b, clipAt))
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
			unknown("errorType", a["errorType"], "unknown error type "+tonepay.Clip(e, clipAt))
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
