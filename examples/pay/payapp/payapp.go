// Package payapp is Acme Utilities' bill payment line: a small Twilio voice
// app that takes a card payment with <Pay>, the kind tonepay lets you test
// with no phone. It is what examples/pay serves, and what cmd/tonepay's
// example test drives in-process.
//
// The call flow:
//
//	/voice       the balance, then <Pay> for it: card number (a retry
//	             prompt after an invalid number), expiry, security code
//	/paid        the <Pay> action: success reads the confirmation code out
//	             a character at a time; a failure says why and offers one
//	             more try (a Redirect to /voice), then goodbye
//	/pay-status  the <Pay> statusCallback: logs For, Attempt and ErrorType
//
// Every request must carry a valid X-Twilio-Signature made with the account's
// auth token, or it is refused with 403. The app never sees a card number:
// <Pay> sends it only masked (xxxxxxxxxxxx4242).
package payapp

import (
	"net/http"
	"strings"

	"github.com/twilio/twilio-go/client"
	"github.com/twilio/twilio-go/twiml"
)

// Amount is the balance the app asks for, as <Pay>'s chargeAmount.
const Amount = "42.50"

// App is the voice app. Its fields may be changed before it serves.
type App struct {
	// PublicURL is the app's base URL as Twilio (or tonepay) requests it,
	// e.g. http://127.0.0.1:3001: signatures are made over the full URL.
	PublicURL string
	// Logf, if set, gets one line per statusCallback (never a card field
	// beyond what <Pay> masked).
	Logf func(format string, args ...any)

	validator client.RequestValidator
	mux       *http.ServeMux
}

// New returns the app, checking signatures with authToken.
func New(authToken, publicURL string) *App {
	a := &App{PublicURL: strings.TrimRight(publicURL, "/"), validator: client.NewRequestValidator(authToken), mux: http.NewServeMux()}
	a.mux.HandleFunc("/voice", a.voice)
	a.mux.HandleFunc("/paid", a.paid)
	a.mux.HandleFunc("/pay-status", a.status)
	return a
}

// ServeHTTP checks the signature, then answers the route.
func (a *App) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	if !a.Valid(r) {
		http.Error(w, "invalid X-Twilio-Signature", http.StatusForbidden)
		return
	}
	a.mux.ServeHTTP(w, r)
}

// Valid reports whether r (its form parsed) is signed with the auth token:
// the signature covers the full URL, and for a POST its form parameters.
func (a *App) Valid(r *http.Request) bool {
	params := map[string]string{}
	if r.Method == http.MethodPost {
		for k := range r.PostForm {
			params[k] = r.PostForm.Get(k)
		}
	}
	sig := r.Header.Get("X-Twilio-Signature")
	return sig != "" && a.validator.Validate(a.PublicURL+r.URL.RequestURI(), params, sig)
}

func (a *App) voice(w http.ResponseWriter, r *http.Request) {
	// retry=1 is the second go after a failed payment; the action carries
	// it so that the app offers one more try, not one more each time.
	retry := r.URL.Query().Get("retry") == "1"
	greeting := "Welcome to Acme Utilities. Your balance is 42 dollars and 50 cents."
	action := "/paid"
	if retry {
		greeting, action = "Let's try that again.", "/paid?retry=1"
	}
	say := func(s string) []twiml.Element { return []twiml.Element{&twiml.VoiceSay{Message: s}} }
	write(w, []twiml.Element{
		&twiml.VoiceSay{Message: greeting},
		&twiml.VoicePay{ChargeAmount: Amount, Currency: "usd", Description: "Acme Utilities bill", Action: action,
			StatusCallback: "/pay-status", StatusCallbackMethod: "POST", MaxAttempts: "2", PostalCode: "false",
			InnerElements: []twiml.Element{
				prompt("payment-card-number", twiml.VoicePrompt{Attempt: "1"}, say("To pay by card, please enter your card number, then press pound.")),
				prompt("payment-card-number", twiml.VoicePrompt{ErrorType: "invalid-card-number"}, say("That card number is not valid. Please enter it again, then press pound.")),
				prompt("expiration-date", twiml.VoicePrompt{}, say("Please enter the expiry date: two digits for the month, then two for the year.")),
				prompt("security-code", twiml.VoicePrompt{}, say("Please enter the security code on the back of your card.")),
			}},
	})
}

// prompt is a <Prompt for=...>: twilio-go's VoicePrompt.For_ is written
// as a "for_" attribute, which Twilio does not know, so "for" goes in
// OptionalAttributes.
func prompt(field string, p twiml.VoicePrompt, say []twiml.Element) *twiml.VoicePrompt {
	p.OptionalAttributes = map[string]string{"for": field}
	p.InnerElements = say
	return &p
}

// reasons is what the caller hears for each <Pay> Result that is not a success.
var reasons = map[string]string{
	"payment-connector-error":      "Sorry, your card was declined.",
	"too-many-failed-attempts":     "Sorry, we could not read your card details.",
	"caller-interrupted-with-star": "You cancelled the payment.",
	"validation-error":             "Sorry, we cannot take payments right now.",
	"input-timeout":                "Sorry, we did not hear from you.",
}

func (a *App) paid(w http.ResponseWriter, r *http.Request) {
	f := r.PostForm
	switch result := f.Get("Result"); {
	case result == "success":
		write(w, []twiml.Element{
			&twiml.VoiceSay{Message: "Thank you, your payment of 42 dollars and 50 cents was received. Your confirmation code is " + Spell(f.Get("PaymentConfirmationCode")) + "."},
			&twiml.VoiceSay{Message: "Goodbye."}, &twiml.VoiceHangup{}})
	case result == "caller-hung-up":
		write(w, nil) // nobody is there to hear it
	default:
		reason, ok := reasons[result]
		if !ok {
			reason = "Sorry, the payment did not go through."
		}
		if r.URL.Query().Get("retry") != "1" && result != "validation-error" {
			write(w, []twiml.Element{&twiml.VoiceSay{Message: reason}, &twiml.VoiceRedirect{Url: "/voice?retry=1", Method: "POST"}})
			return
		}
		write(w, []twiml.Element{&twiml.VoiceSay{Message: reason + " Please call us again later. Goodbye."}, &twiml.VoiceHangup{}})
	}
}

func (a *App) status(w http.ResponseWriter, r *http.Request) {
	if a.Logf != nil {
		f := r.PostForm
		a.Logf("pay-status CallSid=%s For=%s Attempt=%s ErrorType=%s", f.Get("CallSid"), f.Get("For"), f.Get("Attempt"), f.Get("ErrorType"))
	}
	w.WriteHeader(http.StatusNoContent)
}

// Spell spaces a code out, a character at a time, so that text-to-speech
// reads "c h 7 b" rather than a word or a number.
func Spell(code string) string {
	var out []string
	for _, c := range code {
		if c == '_' {
			out = append(out, "underscore")
			continue
		}
		out = append(out, string(c))
	}
	return strings.Join(out, " ")
}

func write(w http.ResponseWriter, els []twiml.Element) {
	doc, err := twiml.Voice(els)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	w.Write([]byte(doc))
}
