package voice

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/tonepay/tonepay"
)

func parsePay(t *testing.T, body string) *PayVerb {
	t.Helper()
	doc, err := Parse([]byte(body), docURL)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	if len(doc.Verbs) != 1 || doc.Verbs[0].Pay == nil {
		t.Fatalf("verbs %+v", doc.Verbs)
	}
	return doc.Verbs[0].Pay
}

func TestParsePay(t *testing.T) {
	d := parsePay(t, `<Response><Pay/></Response>`)
	want := &PayVerb{Input: "dtmf", StatusCallbackMethod: "POST", Timeout: 5, MaxAttempts: 1, SecurityCode: true, PostalCode: true,
		PaymentConnector: tonepay.DefaultConnector, PaymentMethod: "credit-card", TokenType: "reusable", Currency: "USD", Language: "en-US",
		ValidCardTypes: []string{"visa", "mastercard", "amex"}}
	if !reflect.DeepEqual(d, want) {
		t.Fatalf("defaults\n got %+v\nwant %+v", d, want)
	}
	full := parsePay(t, `<Response><Pay input="dtmf" action="paid" statusCallback="/status" statusCallbackMethod="get" timeout="9" maxAttempts="3"
		securityCode="false" postalCode="SW1A 1AA" minPostalCodeLength="5" paymentConnector="Stripe_Live" tokenType="one-time"
		chargeAmount="12.50" currency="gbp" language="en-gb" description="Order 7" validCardTypes="visa maestro" colour="red">
		<Prompt for="payment-card-number" attempt="1 2" cardType="visa" errorType="invalid-card-number timeout"><Say>Card</Say><Pause/></Prompt>
		<Parameter name="order" value="7"/><Parameter name="shop" value="x"/></Pay></Response>`)
	want = &PayVerb{Input: "dtmf", StatusCallback: "https://ivr.acme.io/status", StatusCallbackMethod: "GET", Timeout: 9, MaxAttempts: 3,
		PostalCodeValue: "SW1A 1AA", MinPostalCodeLength: 5, PaymentConnector: "Stripe_Live", PaymentMethod: "credit-card",
		TokenType: "one-time", ChargeAmount: "12.50", Currency: "GBP", Language: "en-GB", Description: "Order 7",
		ValidCardTypes: []string{"visa", "maestro"},
		Prompts: []PayPrompt{{For: "payment-card-number", Attempts: []int{1, 2}, CardTypes: []string{"visa"}, ErrorTypes: []string{"invalid-card-number", "timeout"},
			Verbs: []Verb{{Name: "Say", Text: "Card", Language: "en-US", Loop: 1}, {Name: "Pause", Length: 1}}}},
		Parameters: []PayParameter{{"order", "7"}, {"shop", "x"}}}
	if !reflect.DeepEqual(full, want) {
		t.Fatalf("full\n got %+v\nwant %+v", full, want)
	}
	doc, _ := Parse([]byte(`<Response><Pay action="paid" colour="red"/></Response>`), docURL)
	if doc.Verbs[0].Action != "https://ivr.acme.io/ivr/paid" || doc.Verbs[0].Method != "POST" || len(doc.Warnings) != 1 {
		t.Fatalf("action %q warnings %v", doc.Verbs[0].Action, doc.Warnings)
	}
	ach := parsePay(t, `<Response><Pay paymentMethod="ach-debit"/></Response>`)
	if ach.BankAccountType != "consumer-checking" {
		t.Fatalf("ach default %q", ach.BankAccountType)
	}
	if _, err := Parse([]byte(`<Response><Pay action="paid"/></Response>`), ""); err == nil || err.Code != CodeRelativeAction {
		t.Fatalf("relative action inline: %v", err)
	}
	if _, err := Parse([]byte(`<Response><Pay><Gather/></Pay></Response>`), docURL); err == nil || err.Code != CodeSchema {
		t.Fatalf("Gather in Pay: %v", err)
	}
}

// TestParsePayInvalid: the values Twilio fails end the <Pay> at once with
// validation-error and the PaymentError that names them.
func TestParsePayInvalid(t *testing.T) {
	tests := []struct {
		attrs, want string
		code        int
	}{
		{`chargeAmount="-0.5"`, "chargeAmount='-0.5' (not a number between 0.00 - 1,000,000.00)", tonepay.CodeChargeAmount},
		{`chargeAmount="1000000.01"`, "chargeAmount=", tonepay.CodeChargeAmount},
		{`chargeAmount="ten"`, "chargeAmount=", tonepay.CodeChargeAmount},
		// The rules are the REST API's (tonepay.ParseParams), which once
		// disagreed: 1,000,000 passed <Pay>; currency's form was checked
		// only here; the decimals only after the connector.
		{`chargeAmount="1000000"`, "chargeAmount='1000000'", tonepay.CodeChargeAmount},
		{`chargeAmount=" 1000000.00 "`, "chargeAmount='1000000.00'", tonepay.CodeChargeAmount},
		{`chargeAmount="10.5" currency="jpy"`, "chargeAmount='10.5' (more than 0 decimals for JPY)", tonepay.CodeChargeAmount},
		{`chargeAmount="1" paymentConnector="Nope" currency="US"`, "currency='US'", tonepay.CodeInvalidParameter},
		{`currency="dollars"`, "currency='dollars'", tonepay.CodeInvalidParameter},
		{`currency="US"`, "currency='US' (not a three-letter ISO 4217 currency code)", tonepay.CodeInvalidParameter},
		{`tokenType="forever"`, "tokenType='forever'", tonepay.CodeInvalidParameter},
		{`paymentMethod="cash"`, "paymentMethod='cash'", tonepay.CodeInvalidParameter},
		{`bankAccountType="consumer-savings"`, "bankAccountType='consumer-savings' (only with paymentMethod ach-debit)", tonepay.CodeBankAccountType},
		{`bankAccountType="piggy-bank"`, "bankAccountType='piggy-bank' (only with paymentMethod ach-debit)", tonepay.CodeBankAccountType},
		{`paymentMethod="credit-card" bankAccountType=""`, "bankAccountType='' (only with paymentMethod ach-debit)", tonepay.CodeBankAccountType},
		{`paymentMethod="ach-debit" bankAccountType="personal"`, "bankAccountType='personal'", tonepay.CodeInvalidParameter},
		// The first of several, in the domain's order.
		{`tokenType="forever" chargeAmount="-1" currency="x"`, "tokenType='forever'", tonepay.CodeInvalidParameter},
		{`chargeAmount="-1" currency="x"`, "chargeAmount='-1'", tonepay.CodeChargeAmount},
	}
	for _, tt := range tests {
		doc, err := Parse([]byte(`<Response><Pay `+tt.attrs+`/></Response>`), docURL)
		if err != nil {
			t.Fatalf("%s: %v", tt.attrs, err)
		}
		p := doc.Verbs[0].Pay
		if !strings.HasPrefix(p.Invalid, tt.want) || p.InvalidCode != tt.code || len(doc.Warnings) != 0 {
			t.Errorf("%s: Invalid %q %d warnings %v, want %q... %d", tt.attrs, p.Invalid, p.InvalidCode, doc.Warnings, tt.want, tt.code)
		}
	}
}

// TestParsePayAccepts: values the REST API takes, <Pay> takes too (the
// rules are tonepay.ParseParams): amounts written .5 or 5., card types in
// capitals, 999,999.99, any currency's case.
func TestParsePayAccepts(t *testing.T) {
	for _, attrs := range []string{`chargeAmount=".5"`, `chargeAmount="5."`, `chargeAmount="999999.99"`, `chargeAmount="0"`,
		`validCardTypes="VISA Amex"`, `currency="Eur" chargeAmount="1.10"`, `currency="jpy" chargeAmount="500"`,
		`paymentMethod="ach-debit" bankAccountType="consumer-savings"`, `currency="xyz"`} {
		doc, err := Parse([]byte(`<Response><Pay `+attrs+`/></Response>`), docURL)
		if err != nil {
			t.Fatalf("%s: %v", attrs, err)
		}
		if p := doc.Verbs[0].Pay; p.Invalid != "" || len(doc.Warnings) != 0 {
			t.Errorf("%s: Invalid %q warnings %v", attrs, p.Invalid, doc.Warnings)
		}
	}
}

// TestParsePayTolerated: every other bad value runs as its default with a
// 12200 warning (Twilio does not document a failure for it), and a <Prompt>
// with a for, cardType, errorType or attempt Twilio does not list is left
// out: it never matches.
func TestParsePayTolerated(t *testing.T) {
	def := func(mod func(p *PayVerb)) *PayVerb {
		p := &PayVerb{Input: "dtmf", StatusCallbackMethod: "POST", Timeout: 5, MaxAttempts: 1, SecurityCode: true, PostalCode: true,
			PaymentConnector: tonepay.DefaultConnector, PaymentMethod: "credit-card", TokenType: "reusable", Currency: "USD", Language: "en-US",
			ValidCardTypes: []string{"visa", "mastercard", "amex"}}
		if mod != nil {
			mod(p)
		}
		return p
	}
	say := []Verb{{Name: "Say", Text: "Code", Language: "en-US", Loop: 1}}
	tests := []struct {
		name, pay string
		want      *PayVerb
		warning   string // in the one warning's message
	}{
		{"input", `<Pay input="speech"/>`, def(nil), `<Pay input="speech">: dtmf is the only input`},
		{"statusCallbackMethod", `<Pay statusCallbackMethod="PUT"/>`, def(nil), `statusCallbackMethod="PUT"`},
		{"timeout", `<Pay timeout="soon"/>`, def(nil), `<Pay timeout="soon">: not a whole number from 1 to 600; 5 is used`},
		{"timeout too long", `<Pay timeout="601"/>`, def(nil), `timeout="601"`},
		{"maxAttempts 0", `<Pay maxAttempts="0"/>`, def(nil), `maxAttempts="0"`},
		{"maxAttempts 4", `<Pay maxAttempts="4"/>`, def(nil), `maxAttempts="4"`},
		{"securityCode", `<Pay securityCode="yes"/>`, def(nil), `<Pay securityCode="yes">: not true or false; true is used`},
		{"postalCode", `<Pay postalCode="not a postcode!"/>`, def(nil), `postalCode="not a postcode!"`},
		{"minPostalCodeLength", `<Pay minPostalCodeLength="many"/>`, def(nil), `minPostalCodeLength="many"`},
		{"language", `<Pay language="pt-BR"/>`, def(nil), `<Pay language="pt-BR">: not a language <Pay> speaks; en-US is used`},
		{"validCardTypes one unknown", `<Pay validCardTypes="visa diners"/>`, def(func(p *PayVerb) { p.ValidCardTypes = []string{"visa"} }),
			`unknown card type diners is left out`},
		{"validCardTypes none known", `<Pay validCardTypes="diners"/>`, def(nil), `no card type <Pay> knows`},
		{"validCardTypes empty", `<Pay validCardTypes=""/>`, def(nil), `validCardTypes=""`},
		{"statusCallback relative in inline", `<Pay statusCallback="status"/>`, def(nil), `no statusCallback is sent`},
		{"Parameter without a name", `<Pay><Parameter value="x"/><Parameter name="k" value="v"/></Pay>`,
			def(func(p *PayVerb) { p.Parameters = []PayParameter{{"k", "v"}} }), `a <Parameter> with no name is ignored`},
		{"Prompt for security-date (Twilio's sample)", `<Pay><Prompt for="security-date"><Say>Code</Say></Prompt><Prompt for="security-code"><Say>Code</Say></Prompt></Pay>`,
			def(func(p *PayVerb) {
				p.Prompts = []PayPrompt{{For: "security-code", CardTypes: []string{}, ErrorTypes: []string{}, Verbs: say}}
			}),
			`<Prompt for="security-date">: not a step Twilio lists; the <Prompt> is ignored`},
		{"Prompt errorType", `<Pay><Prompt for="security-code" errorType="timeout oops"><Say>Code</Say></Prompt></Pay>`, def(nil),
			`errorType="timeout oops">: unknown error type oops; the <Prompt> is ignored`},
		{"Prompt cardType", `<Pay><Prompt for="security-code" cardType="visa bogus"><Say>Code</Say></Prompt></Pay>`, def(nil),
			`unknown card type bogus; the <Prompt> is ignored`},
		{"Prompt attempt", `<Pay><Prompt for="security-code" attempt="11"><Say>Code</Say></Prompt></Pay>`, def(nil),
			`attempt="11">: not whole numbers from 1 to 10; the <Prompt> is ignored`},
		{"Prompt requireMatchingInputs", `<Pay><Prompt for="security-code" requireMatchingInputs="yes"><Say>Code</Say></Prompt></Pay>`,
			def(func(p *PayVerb) {
				p.Prompts = []PayPrompt{{For: "security-code", CardTypes: []string{}, ErrorTypes: []string{}, Verbs: say}}
			}), `requireMatchingInputs="yes">: not true or false; false is used`},
		{"Prompt with two unknowns: one warning", `<Pay><Prompt for="card" errorType="oops"/></Pay>`, def(nil), `<Prompt for="card">`},
		{"several: one warning", `<Pay timeout="x" language="xx" validCardTypes="visa"><Prompt for="card"/></Pay>`,
			def(func(p *PayVerb) { p.ValidCardTypes = []string{"visa"} }), `3 values run as a default or are ignored, such as <Pay timeout="x">`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := Parse([]byte(`<Response>`+tt.pay+`</Response>`), "")
			if err != nil {
				t.Fatal(err)
			}
			if got := doc.Verbs[0].Pay; !reflect.DeepEqual(got, tt.want) {
				t.Errorf("\n got %+v\nwant %+v", got, tt.want)
			}
			if len(doc.Warnings) != 1 || doc.Warnings[0].Code != CodeSchema || !strings.Contains(doc.Warnings[0].Message, tt.warning) {
				t.Errorf("warnings %v, want one 12200 with %q", doc.Warnings, tt.warning)
			}
		})
	}
}

func TestPayParams(t *testing.T) {
	p := parsePay(t, `<Response><Pay paymentMethod="ach-debit" bankAccountType="commercial-checking" maxAttempts="2" postalCode="94105" chargeAmount="5">
		<Prompt for="bank-account-number" requireMatchingInputs="true"><Say>Again</Say></Prompt><Parameter name="k" value="v"/></Pay></Response>`)
	got := p.Params()
	want := tonepay.Params{PaymentMethod: "ach-debit", BankAccountType: "commercial-checking", Currency: "USD", Input: "dtmf",
		Parameter: map[string]string{"k": "v"}, PaymentConnector: tonepay.DefaultConnector, SecurityCode: true, Timeout: 5, TokenType: "reusable",
		ValidCardTypes: []string{"visa", "mastercard", "amex"}, RequireMatchingInputs: []tonepay.Field{tonepay.FieldAccountNumber},
		Verb: true, MaxAttempts: 2, PostalCodeValue: "94105"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("\n got %+v\nwant %+v", got, want)
	}
	if p.ChargeAmount != "5" {
		t.Fatalf("ChargeAmount %q", p.ChargeAmount)
	}
}

func TestChoosePrompt(t *testing.T) {
	prompts := []PayPrompt{
		{For: "payment-card-number"},                                                                  // 0
		{For: "payment-card-number", Attempts: []int{2, 3}},                                           // 1
		{For: "payment-card-number", ErrorTypes: []string{"timeout"}},                                 // 2
		{For: "payment-card-number", ErrorTypes: []string{"invalid-card-number"}, Attempts: []int{3}}, // 3
		{For: "security-code", CardTypes: []string{"amex"}},                                           // 4
		{For: "security-code"},                                                                        // 5
		{For: "payment-card-number", RequireMatchingInputs: true},                                     // 6
	}
	tests := []struct {
		ask  tonepay.PayAsk
		want int
	}{
		{tonepay.PayAsk{Field: "payment-card-number", Attempt: 1}, 0},
		{tonepay.PayAsk{Field: "payment-card-number", Attempt: 2, ErrorType: "invalid-card-number"}, 1},
		{tonepay.PayAsk{Field: "payment-card-number", Attempt: 2, ErrorType: "input-timeout"}, 2},
		{tonepay.PayAsk{Field: "payment-card-number", Attempt: 3, ErrorType: "invalid-card-number"}, 3},
		{tonepay.PayAsk{Field: "security-code", Attempt: 1, CardType: "amex"}, 4},
		{tonepay.PayAsk{Field: "security-code", Attempt: 1, CardType: "visa"}, 5},
		{tonepay.PayAsk{Field: "payment-card-number-matcher", Attempt: 1}, 6},
		{tonepay.PayAsk{Field: "expiration-date", Attempt: 1}, -1},
	}
	for _, tt := range tests {
		if got := choosePrompt(prompts, tt.ask); got != tt.want {
			t.Errorf("%+v: %d, want %d", tt.ask, got, tt.want)
		}
	}
}

func TestDefaultPrompt(t *testing.T) {
	fields := []tonepay.Field{tonepay.FieldCardNumber, tonepay.FieldExpiration, tonepay.FieldSecurityCode, tonepay.FieldPostalCode,
		tonepay.FieldRoutingNumber, tonepay.FieldAccountNumber}
	errs := []string{"input-timeout", "invalid-card-number", "invalid-card-type", "invalid-date", "invalid-security-code",
		"invalid-postal-code", "invalid-bank-routing-number", "invalid-bank-account-number", "input-matching-failed"}
	for _, lang := range PayLanguages {
		w := byLanguage[lang]
		if w == nil {
			t.Fatalf("%s: no words", lang)
		}
		for _, f := range fields {
			if w.ask[f] == "" {
				t.Errorf("%s %s: no words", lang, f)
			}
		}
		for _, e := range errs {
			if errorWords(lang, e) == "" {
				t.Errorf("%s %s: no words", lang, e)
			}
		}
		if w.amexCode == "" || w.again == "" || w.processing == "" {
			t.Errorf("%s: missing amex/again/processing", lang)
		}
	}
	tests := []struct {
		lang string
		ask  tonepay.PayAsk
		want string
	}{
		{"en-US", tonepay.PayAsk{Field: "payment-card-number"}, "Please enter your card number, followed by the pound key."},
		{"en-AU", tonepay.PayAsk{Field: "payment-card-number"}, "Please enter your card number, followed by the hash key."},
		{"en-US", tonepay.PayAsk{Field: "security-code", CardType: "amex"}, "Please enter the four digit security code on the front of your card."},
		{"en-US", tonepay.PayAsk{Field: "expiration-date", Attempt: 2, ErrorType: "invalid-date"},
			"Sorry, that expiration date is not valid. Please enter the expiration date on your card: two digits for the month, then two digits for the year."},
		{"de-DE", tonepay.PayAsk{Field: "postal-code-matcher"}, "Zur Bestätigung geben Sie sie bitte noch einmal ein."},
		{"es-MX", tonepay.PayAsk{Field: ForProcessing}, "Por favor, espere mientras procesamos su pago."},
		{"fr-FR", tonepay.PayAsk{Field: "payment-card-number", ErrorType: "input-timeout"},
			"Désolé, nous n'avons rien reçu. Veuillez composer le numéro de votre carte, suivi de la touche dièse."},
		{"xx-XX", tonepay.PayAsk{Field: "bank-routing-number"}, "Please enter the nine digit routing number of your bank account."},
	}
	for _, tt := range tests {
		if got := DefaultPrompt(tt.lang, tt.ask); got != tt.want {
			t.Errorf("%s %+v:\n got %q\nwant %q", tt.lang, tt.ask, got, tt.want)
		}
	}
}

func TestPayEngine(t *testing.T) {
	const doc = `<Response><Pay action="paid" language="it-IT"><Prompt for="payment-card-number"><Say>Card please</Say><Pause length="2"/><Say>Now</Say></Prompt></Pay><Say>never</Say></Response>`
	start := func(e Engine, body string) *State {
		s := newCall(nil)
		e.Step(s, Input{Kind: Answered}, t0)
		o := e.Step(s, Input{Kind: Fetched, Seq: s.Fetch.Seq, Status: 200, ContentType: "text/xml", Body: []byte(body)}, t0)
		if o.Pay == nil || o.Pay.Pay == nil || s.Current == nil || s.Current.Name != "Pay" {
			t.Fatalf("no Output.Pay: %+v", o)
		}
		return s
	}
	says := func(o Output) (out []string) {
		for _, en := range o.Timeline {
			if en.Kind == "say" {
				out = append(out, en.Text+"|"+en.Language)
			}
		}
		return out
	}
	e := Engine{Instant: true}
	s := start(e, doc)
	if o := e.Step(s, Input{Kind: Key, Key: '4'}, t0); o.Unrouted != '4' {
		t.Fatalf("key not unrouted: %+v", o)
	}
	o := e.Step(s, Input{Kind: PayAsk, Ask: &tonepay.PayAsk{Field: "payment-card-number", Attempt: 1}}, t0)
	if got := says(o); !reflect.DeepEqual(got, []string{"Card please|en-US", "Now|en-US"}) || o.Wait != nil {
		t.Fatalf("prompt: %v wait %v", got, o.Wait)
	}
	o = e.Step(s, Input{Kind: PayAsk, Ask: &tonepay.PayAsk{Field: "payment-card-number", Attempt: 2, ErrorType: "invalid-card-number"}}, t0)
	if got := says(o); !reflect.DeepEqual(got, []string{"Spiacenti, il numero della carta non è valido.|it-IT", "Card please|en-US", "Now|en-US"}) {
		t.Fatalf("retry: %v", got)
	}
	o = e.Step(s, Input{Kind: PayAsk, Ask: &tonepay.PayAsk{Field: "expiration-date", Attempt: 1}}, t0)
	if got := says(o); len(got) != 1 || !strings.HasSuffix(got[0], "|it-IT") {
		t.Fatalf("default: %v", got)
	}
	// JSON round trip mid-Pay.
	b, _ := json.Marshal(s)
	var s2 State
	err := json.Unmarshal(b, &s2)
	b2, _ := json.Marshal(&s2)
	if err != nil || string(b) != string(b2) || s2.Current.Pay == nil || s2.Current.Pay.Language != "it-IT" {
		t.Fatalf("round trip: %v\n%s\n%s", err, b, b2)
	}
	o = e.Step(&s2, Input{Kind: PayEnded, Params: map[string][]string{"Result": {"success"}, "PaymentToken": {"tok_1"}}}, t0)
	if o.Fetch == nil || o.Fetch.URL != base+"paid" || o.Fetch.Reason != "pay-action" || o.Fetch.Method != "POST" ||
		o.Fetch.Params.Get("Result") != "success" || o.Fetch.Params.Get("PaymentToken") != "tok_1" || o.Fetch.Params.Get("CallSid") == "" {
		t.Fatalf("action: %+v", o.Fetch)
	}
	if o.Timeline[0].Text != "ended: Result=success" || s2.Current != nil {
		t.Fatalf("timeline %+v", o.Timeline)
	}

	// No action: the next verb.
	s = start(e, `<Response><Pay/><Say>Thanks</Say></Response>`)
	o = e.Step(s, Input{Kind: PayEnded, Params: map[string][]string{"Result": {"too-many-failed-attempts"}}}, t0)
	if got := says(o); !reflect.DeepEqual(got, []string{"Thanks|en-US"}) || o.Ended != tonepay.CallCompleted {
		t.Fatalf("next verb: %v %q", got, o.Ended)
	}

	// Hang-up: the action is notified with caller-hung-up.
	s = start(e, doc)
	o = e.Step(s, Input{Kind: CallerHangUp}, t0)
	if len(o.Notify) != 1 || o.Notify[0].Params.Get("Result") != "caller-hung-up" || o.Notify[0].Reason != "pay-action" || o.Ended != tonepay.CallCompleted {
		t.Fatalf("hang-up: %+v", o)
	}

	// Update: nothing notified, the update runs.
	s = start(e, doc)
	o = e.Step(s, Input{Kind: Update, Twiml: `<Response><Say>Moved</Say></Response>`}, t0)
	if len(o.Notify) != 0 || !reflect.DeepEqual(says(o), []string{"Moved|en-US"}) {
		t.Fatalf("update: %+v", o)
	}

	// Real time: prompts take time, a key stops them.
	e = Engine{SpeechRate: 60}
	s = start(e, doc)
	o = e.Step(s, Input{Kind: PayAsk, Ask: &tonepay.PayAsk{Field: "payment-card-number", Attempt: 1}}, t0)
	if o.Wait == nil || o.Wait.For != "pay-prompt" || !o.Wait.Until.Equal(t0.Add(2*sec)) {
		t.Fatalf("paced: %+v", o.Wait)
	}
	o = e.Step(s, Input{Kind: Timeout}, t0.Add(2*sec))
	if o.Wait == nil || !o.Wait.Until.Equal(t0.Add(4*sec)) {
		t.Fatalf("pause: %+v", o.Wait)
	}
	if o = e.Step(s, Input{Kind: Key, Key: '1'}, t0.Add(3*sec)); o.Unrouted != '1' || s.Wait != nil || s.Playing != nil {
		t.Fatalf("barge: %+v %+v", o, s.Wait)
	}
}

// TestPayToleratedRuns: Twilio's bill-payment sample, <Prompt
// for="security-date">, starts its session (no validation-error); the
// warning is on the timeline when the document starts, not in the saved
// state, and the security code is asked for with the default words.
func TestPayToleratedRuns(t *testing.T) {
	const doc = `<Response><Pay chargeAmount="10" action="paid" timeout="soon">` +
		`<Prompt for="security-date"><Say>Enter the security code</Say></Prompt></Pay></Response>`
	e := Engine{Instant: true}
	s := newCall(nil)
	e.Step(s, Input{Kind: Answered}, t0)
	o := e.Step(s, Input{Kind: Fetched, Seq: s.Fetch.Seq, Status: 200, ContentType: "text/xml", Body: []byte(doc)}, t0)
	if o.Pay == nil || o.Fetch != nil || o.Ended != "" {
		t.Fatalf("the <Pay> did not start: %+v", o)
	}
	var warnings []Entry
	for _, en := range o.Timeline {
		if en.Kind == "warning" {
			warnings = append(warnings, en)
		}
	}
	if len(warnings) != 1 || warnings[0].Code != CodeSchema || !strings.Contains(warnings[0].Text, `<Prompt for="security-date">`) ||
		!strings.Contains(warnings[0].Text, `<Pay timeout="soon">`) {
		t.Fatalf("warnings %+v", warnings)
	}
	if b, _ := json.Marshal(s); strings.Contains(string(b), "security-date") {
		t.Fatalf("the saved state keeps the ignored prompt: %s", b)
	}
	o = e.Step(s, Input{Kind: PayAsk, Ask: &tonepay.PayAsk{Field: tonepay.FieldSecurityCode, Attempt: 1}}, t0)
	if len(o.Timeline) != 1 || o.Timeline[0].Text != DefaultPrompt("en-US", tonepay.PayAsk{Field: tonepay.FieldSecurityCode}) {
		t.Fatalf("security code prompt %+v", o.Timeline)
	}
}
