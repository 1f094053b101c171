// Package ivrapp is Acme Pizza's phone menu: a small Twilio voice app, the
// kind tonepay lets you test with no phone. It is what examples/ivr serves,
// and what cmd/tonepay's example test drives in-process.
//
// The call flow:
//
//	/voice  welcome, then a one-key menu: 1 order status, 2 an agent; no key:
//	        ask again (at most twice), then goodbye
//	/menu   1: ask for the 4-digit order number, ended by #; 2: Dial the agent
//	/order  read the order's status back, then hang up
//
// Every request must carry a valid X-Twilio-Signature made with the account's
// auth token, or it is refused with 403: a voice app on the internet must not
// run for whoever finds its URL.
package ivrapp

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/twilio/twilio-go/client"
	"github.com/twilio/twilio-go/twiml"
)

// Agent is the number the menu's 2 dials.
const Agent = "+15555550100"

// maxRetries is how many times the menu is asked again when the caller
// presses nothing, before the app says goodbye.
const maxRetries = 2

// App is the voice app. Its fields may be changed before it serves.
type App struct {
	// PublicURL is the app's base URL as Twilio (or tonepay) requests it,
	// e.g. http://127.0.0.1:3000: signatures are made over the full URL the
	// caller of the webhook used, which a proxy in front may have changed.
	PublicURL string
	// Timeout is how long, in seconds, each menu waits for a key.
	Timeout int

	validator client.RequestValidator
	mux       *http.ServeMux
}

// New returns the app, checking signatures with authToken.
func New(authToken, publicURL string) *App {
	a := &App{PublicURL: strings.TrimRight(publicURL, "/"), Timeout: 5, validator: client.NewRequestValidator(authToken), mux: http.NewServeMux()}
	a.mux.HandleFunc("/voice", a.voice)
	a.mux.HandleFunc("/menu", a.menu)
	a.mux.HandleFunc("/order", a.order)
	return a
}

// ServeHTTP checks the signature, then answers the route's TwiML.
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
	tries, _ := strconv.Atoi(r.URL.Query().Get("tries"))
	var els []twiml.Element
	if tries == 0 {
		els = append(els, &twiml.VoiceSay{Message: "Welcome to Acme Pizza."})
	}
	els = append(els, &twiml.VoiceGather{NumDigits: "1", Action: "/menu", Method: "POST", Timeout: strconv.Itoa(a.Timeout),
		InnerElements: []twiml.Element{&twiml.VoiceSay{Message: "For the status of your order, press 1. To talk to someone, press 2."}}})
	// The Gather ended with no key: TwiML goes on with the next verb.
	if tries < maxRetries {
		els = append(els, &twiml.VoiceSay{Message: "Sorry, I didn't get that."},
			&twiml.VoiceRedirect{Url: "/voice?tries=" + strconv.Itoa(tries+1), Method: "POST"})
	} else {
		els = append(els, &twiml.VoiceSay{Message: "Goodbye."}, &twiml.VoiceHangup{})
	}
	write(w, els)
}

func (a *App) menu(w http.ResponseWriter, r *http.Request) {
	switch r.PostForm.Get("Digits") {
	case "1":
		write(w, []twiml.Element{&twiml.VoiceGather{FinishOnKey: "#", Action: "/order", Method: "POST", Timeout: strconv.Itoa(a.Timeout),
			InnerElements: []twiml.Element{&twiml.VoiceSay{Message: "Please enter your 4-digit order number, then press pound."}}},
			&twiml.VoiceSay{Message: "Sorry, I didn't get that."}, &twiml.VoiceRedirect{Url: "/voice", Method: "POST"}})
	case "2":
		write(w, []twiml.Element{&twiml.VoiceSay{Message: "Connecting you to an agent."},
			&twiml.VoiceDial{InnerElements: []twiml.Element{&twiml.VoiceNumber{PhoneNumber: Agent}}}})
	default:
		write(w, []twiml.Element{&twiml.VoiceSay{Message: "Sorry, that is not an option."}, &twiml.VoiceRedirect{Url: "/voice", Method: "POST"}})
	}
}

func (a *App) order(w http.ResponseWriter, r *http.Request) {
	digits := r.PostForm.Get("Digits")
	if len(digits) != 4 || strings.Trim(digits, "0123456789") != "" {
		write(w, []twiml.Element{&twiml.VoiceSay{Message: "Sorry, order numbers have 4 digits."}, &twiml.VoiceRedirect{Url: "/voice", Method: "POST"}})
		return
	}
	// Spaced out, so that text-to-speech reads digits rather than a number.
	spoken := strings.Join(strings.Split(digits, ""), " ")
	write(w, []twiml.Element{&twiml.VoiceSay{Message: "Order " + spoken + " is in the oven. It will be with you in 20 minutes. Goodbye."},
		&twiml.VoiceHangup{}})
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
