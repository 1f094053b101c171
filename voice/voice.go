// Package voice is the pure call runtime: a call's State and an Input (the
// call was answered, a document arrived, a key was pressed, a timer fired,
// the call was redirected or hung up) go in; the new State and the effects
// come out: fetch this URL, wait until then, hang up with this status, and
// the timeline of what the caller heard and did. It does no I/O and reads no
// clock: the runner passes the time and performs the effects. State is plain
// JSON, so a runner persists it after each step and a restarted runner
// continues the call where it was (repeating State.Fetch if one was in
// flight; keys already applied are in State and are not applied again).
//
// Simulated speech takes no time: a Say is heard at once. Only waits that
// belong to the caller (Pause, Gather's timeout, a <Dial>'s ringing until
// its timeout, a far end that hangs up after N seconds) are on the clock, as
// Waits the runner turns into a Timeout input.
package voice

import (
	"fmt"
	"mime"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tonepay/tonepay"
)

// Kind is the kind of an Input.
type Kind int

// Input kinds.
const (
	Answered     Kind = iota + 1 // the call is up: fetch its Url or run its Twiml
	Fetched                      // the pending fetch answered (Status, ContentType, Body)
	FetchFailed                  // the pending fetch got no answer (Code: 11205, 11210, 11200 for a timeout, ...)
	Key                          // the caller pressed Key
	Timeout                      // a Wait's time came (stale ones are ignored)
	Update                       // Calls update with Url (+Method) or Twiml: interrupts the current verb
	FarEndHangUp                 // the party of a <Dial> (or a <Connect>'s stream) hung up
	CallerHangUp                 // the caller hung up
	PayAsk                       // the <Pay> session asks for Ask now: play its prompt
	PayEnded                     // the <Pay> session ended: Params are the action's fields (Result, ...)
	StreamEnded                  // the stream Stream (its SID) ended: the app closed it, it failed, or it was stopped
	Dialed                       // the runner made the leg (State.Child) of the <Dial> the last step began (see Output.Bridged)
	Said                         // the caller said Utterance (speech.go)
	FarEndStatus                 // a real far end (State.SIPDial) answered, or never will: DialStatus
)

// Input is something that happened to the call.
type Input struct {
	Kind Kind
	Seq  int // Fetched, FetchFailed: the Fetch.Seq answered; a stale answer is ignored

	Status      int    // Fetched: HTTP status
	ContentType string // Fetched
	Body        []byte // Fetched
	Code        int    // FetchFailed: Twilio's error code
	Message     string // FetchFailed: why, for the timeline

	Key byte // Key: '0'-'9', 'A'-'D', '*', '#'
	// Paying (Key): a payment session is open on the call, agent-assisted or
	// <Pay>'s, capturing a field or not. The runner knows; the engine needs
	// it for the timeline (see keyEntry).
	Paying bool

	URL, Method, Twiml string // Update

	Ask    *tonepay.PayAsk // PayAsk
	Params url.Values      // PayEnded: Result, PaymentToken, masked fields, PayConnector_*, ...

	Stream string // StreamEnded: the stream's SID

	Utterance *Utterance // Said (Paying as for Key)

	DialStatus string // FarEndStatus: in-progress, busy, no-answer, failed
}

// Fetch is a request the runner makes for the call: Params go in the body of
// a POST or the query of a GET, signed with X-Twilio-Signature.
type Fetch struct {
	Seq    int        `json:"seq"`
	Reason string     `json:"reason"` // answer, action, redirect, dial-action, connect-action, update, fallback
	URL    string     `json:"url"`
	Method string     `json:"method"`
	Params url.Values `json:"params"`
}

// Wait is a time after which the runner feeds a Timeout.
type Wait struct {
	For   string    `json:"for"` // pause; prompt (a Pause in a Gather); gather (its timeout); dial (timeLimit), dial-ring (timeout), far-end (it hangs up)
	Until time.Time `json:"until"`
}

// Entry is one line of the call's timeline.
type Entry struct {
	At     time.Time `json:"at"`
	Kind   string    `json:"kind"` // fetch, fetched, verb, say, play, key, speech, error, warning, hangup, stream; webhook (the runner's: a status callback's answer)
	Verb   string    `json:"verb,omitempty"`
	Text   string    `json:"text,omitempty"` // words heard, a URL played, a key, a Dial target
	URL    string    `json:"url,omitempty"`
	Method string    `json:"method,omitempty"`
	Status int       `json:"status,omitempty"` // fetched: HTTP status
	Code   int       `json:"code,omitempty"`   // error, warning, hangup: Twilio's code
	// Say and Play: how it was heard (Loop 0 is Twilio's "until hang-up").
	Voice    string `json:"voice,omitempty"`
	Language string `json:"language,omitempty"`
	Loop     int    `json:"loop,omitempty"`
	// Masked: Text shows how many keys were pressed, as one * each, never
	// which (see keyEntry); on a Gather's end, its Digits.
	Masked bool `json:"masked,omitempty"`
}

// MaskedKeys is the timeline entry for n keys that may not be shown.
func MaskedKeys(at time.Time, n int) Entry {
	return Entry{At: at, Kind: "key", Text: strings.Repeat("*", n), Masked: true}
}

// CoalesceKeys folds each run of masked key entries in tl into one: the
// count is all they say, and one row per digit would only keep the shape
// of a card number (its length, where it paused) row by row.
func CoalesceKeys(tl []Entry) []Entry {
	out := tl[:0:0]
	for _, e := range tl {
		if n := len(out); n > 0 && e.Kind == "key" && e.Masked && out[n-1].Kind == "key" && out[n-1].Masked {
			out[n-1].Text += e.Text
			continue
		}
		out = append(out, e)
	}
	return out
}

// Redacted is the entry as it may be shown: its URL and any URL in its
// text without credentials (tonepay.RedactURL). The engine's entries carry
// the URLs as written, since they come from State, which must keep them to
// make the requests; the runner stores only Redacted entries, so that no
// timeline row, view or console ever holds the "user:pass@" a tenant put in
// a URL (DESIGN §8).
func (e Entry) Redacted() Entry {
	e.URL = tonepay.RedactURL(e.URL)
	e.Text = tonepay.RedactURLs(e.Text)
	return e
}

// Output is what a step asks of the runner, besides the new State.
type Output struct {
	// Fetch is the request whose answer runs the call next (also in
	// State.Fetch until answered). Notify are requests whose answers are
	// ignored (a Dial action after the call was redirected or the caller
	// left); send them before Fetch.
	Fetch  *Fetch
	Notify []*Fetch
	Wait   *Wait // also in State.Wait
	// Unrouted is a key no TwiML verb listens for: the runner offers it to an
	// agent-assisted Payments session on the call, or drops and counts it.
	Unrouted byte
	// Bridged is whom a <Dial> the step began calls. The runner makes its
	// leg (State.Child) before the next step, which may end that Dial and
	// name the leg as DialCallSid, with State.Dialed's status: in-progress
	// (it answered), ringing, or busy, failed or no-answer, a leg that has
	// ended, after which the runner feeds Dialed at once to end the Dial.
	Bridged *Noun
	// Pay is the <Pay> the step began: the runner starts a payment session
	// from Pay.Pay.Params(), gives it the call's keys, and feeds back
	// PayAsk and PayEnded inputs.
	Pay *Verb
	// StartStreams are the streams to open after commit, StopStreams those
	// to stop (the runner sets each new one's Sid before it saves State,
	// which holds the same *Stream).
	StartStreams []*Stream
	StopStreams  []*Stream
	// Speech is set when a <Gather> took what the caller said (speech.go).
	Speech *Heard
	// Ended is the final status when the call ends in this step.
	Ended    string
	Timeline []Entry
}

// State is one call's runtime state; plain JSON.
type State struct {
	AccountSid string `json:"accountSid"`
	CallSid    string `json:"callSid"`
	From       string `json:"from"`
	To         string `json:"to"`
	Direction  string `json:"direction"` // outbound-api, inbound
	URL        string `json:"url,omitempty"`
	Method     string `json:"method,omitempty"`
	Twiml      string `json:"twiml,omitempty"`
	// FallbackURL is requested once when the first document cannot be
	// fetched or run (with ErrorCode and ErrorUrl), as Twilio does.
	FallbackURL    string `json:"fallbackUrl,omitempty"`
	FallbackMethod string `json:"fallbackMethod,omitempty"`

	Status    string `json:"status"`
	ErrorCode int    `json:"errorCode,omitempty"` // the error that ended the call
	// Live: a real caller (a media stream, SIP) hears the call: speech and
	// pauses take real time on it, as the engine's Instant cannot apply.
	Live bool `json:"live,omitempty"`

	Doc  *Document `json:"doc,omitempty"`
	Next int       `json:"next"` // index in Doc.Verbs of the verb after the current one
	// Current is the verb that waits (Pause, Gather, Dial, Connect), nil
	// while the call runs through verbs or fetches.
	Current *Verb `json:"current,omitempty"`
	Prompt  int   `json:"prompt,omitempty"` // Gather, Pay: index of the next nested prompt
	// Playing is what a <Pay> plays for the step its session asks for.
	Playing []Verb `json:"playing,omitempty"`
	Digits  string `json:"digits,omitempty"` // Gather: keys collected so far
	// DigitsMasked (Gather): a key of Digits was pressed while a payment
	// session was open, so the Gather's end shows Digits masked.
	DigitsMasked bool      `json:"digitsMasked,omitempty"`
	Since        time.Time `json:"since,omitempty"` // Dial, Connect: when the far end answered (a Dial's: was dialed)
	Wait         *Wait     `json:"wait,omitempty"`
	Fetch        *Fetch    `json:"fetch,omitempty"`
	Seq          int       `json:"seq"`
	Hops         int       `json:"hops"` // documents fetched since the caller last waited or pressed a key
	FellBack     bool      `json:"fellBack,omitempty"`
	// Held: the call runs no TwiML (see holds) and stays up until it is hung
	// up or redirected; every key is Unrouted.
	Held bool `json:"held,omitempty"`
	// Child is the SID of a <Dial>'s far-end leg, the runner's: sent as
	// DialCallSid when the Dial ends.
	Child string `json:"child,omitempty"`
	// FarEnd is how the far end of the call's <Dial>s behaves, as
	// tonepay.ParseFarEnd reads it ("" answers); see dial.go.
	FarEnd string `json:"farEnd,omitempty"`
	// SIPDial: the call's SIP leg places its <Dial><Sip>s for real; their
	// far ends ring until FarEndStatus says what they did (dial.go).
	SIPDial bool `json:"sipDial,omitempty"`
	// Dialed is the far end's status in the current Dial: in-progress
	// ("" too, as runs saved before it had one), ringing, busy or failed,
	// or no-answer (simulated time: it rang already).
	Dialed string `json:"dialed,omitempty"`
	// LegEnd is the status the leg of a Dial that ended is to end with
	// (completed, no-answer, canceled...): the runner's to read and clear
	// when it ends Child.
	LegEnd string `json:"legEnd,omitempty"`
	// Progress counts the call-progress callbacks queued so far: the next
	// one's SequenceNumber. The runner's, kept here to be saved with the rest.
	Progress int `json:"progress,omitempty"`
	// Streams are the call's open media streams: <Start>'s and the
	// <Connect>'s (see stream.go).
	Streams []*Stream `json:"streams,omitempty"`

	// CallToken (inbound calls) is the opaque token Twilio sends so that
	// the app may forward the call (Calls create CallToken); ForwardedFrom,
	// when known, the number that forwarded the call. Sent when not empty.
	CallToken     string `json:"callToken,omitempty"`
	ForwardedFrom string `json:"forwardedFrom,omitempty"`
}

// holds says why a call starting with s.URL or s.Twiml runs no TwiML, or
// "". Two starts hold the call instead, as simulated calls did before they
// ran TwiML, so that tests which place a call only to take an agent-assisted
// payment on it keep working: a URL on a domain reserved for examples (RFC
// 2606, RFC 6761: nothing can be served there; a redirect there holds the
// call too) and an empty first document (Twilio would hang up at once, which
// no test wants of the call it placed; a redirect to one hangs up).
func holds(s *State) string {
	if s.URL != "" {
		return reserved(s.URL)
	}
	if s.Twiml == "" {
		return "no TwiML (a number with no VoiceUrl): the call holds until it is hung up or redirected"
	}
	if doc, err := Parse([]byte(s.Twiml), ""); err == nil && len(doc.Verbs) == 0 {
		return "an empty document: the call holds until it is hung up"
	}
	return ""
}

// reserved says why u is never fetched, or "".
func reserved(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return ""
	}
	h := strings.ToLower(strings.TrimSuffix(p.Hostname(), "."))
	for _, d := range []string{"example.com", "example.net", "example.org", "example", "test", "invalid"} {
		if h == d || strings.HasSuffix(h, "."+d) {
			return "not fetched: " + h + " is reserved for examples (RFC 2606); the call holds until it is hung up or redirected"
		}
	}
	return ""
}

// Engine holds the server's settings.
type Engine struct {
	// MaxHops ends a call that fetches this many documents in a row without
	// ever waiting for the caller (a Redirect loop). Twilio ends such calls
	// after a limit it does not document; ours is DefaultMaxHops.
	MaxHops int
	// Instant is simulated time, the server's default: Say, Play and Pause
	// take no time, nor does a scripted far end's ringing (a <Dial> to one
	// that never answers), so tests run an IVR at once. One exception: a Pause
	// that is the last verb of its document still waits its length, since
	// that is how apps hold a call (what follows it is only the hang-up),
	// and a held call is where agent-assisted payments happen.
	Instant bool
	// SpeechRate, when above 0, makes a Say take time as if spoken at this
	// many words a minute (each loop); 0 speaks at once. Play takes no time
	// either way: its audio is not fetched, so its length is unknown.
	SpeechRate int
}

// RealSpeechRate is a speaking pace for real time: 150 words a minute.
const RealSpeechRate = 150

// DefaultMaxHops bounds Redirect loops.
const DefaultMaxHops = 100

// StockMessage is what the caller hears when the app fails (Twilio's words).
const StockMessage = "We're sorry, but an application error has occurred. Goodbye!"

// audio types Twilio plays when a document URL answers with one (§2.2).
var audioTypes = map[string]bool{"audio/mpeg": true, "audio/wav": true, "audio/wave": true, "audio/x-wav": true,
	"audio/aiff": true, "audio/x-aifc": true, "audio/x-aiff": true, "audio/x-gsm": true, "audio/gsm": true, "audio/ulaw": true}

// Step applies in to s at now.
func (e Engine) Step(s *State, in Input, now time.Time) Output {
	if s.Live {
		// A real caller hears each prompt to its end before a <Gather>'s or
		// a <Pay>'s timeout starts, whatever the server's simulated time.
		e.Instant = false
		if e.SpeechRate == 0 {
			e.SpeechRate = RealSpeechRate
		}
	}
	r := &run{e: e, s: s, now: now}
	w, f := s.Wait, s.Fetch
	r.step(in)
	r.effects(w, f)
	return r.out
}

func (r *run) step(in Input) {
	s, now := r.s, r.now
	if s.Status == tonepay.CallCompleted || s.Status == tonepay.CallBusy || s.Status == tonepay.CallNoAnswer || s.Status == tonepay.CallFailed {
		if in.Kind == Key {
			r.out.Unrouted = in.Key
		}
		return
	}
	switch in.Kind {
	case Answered:
		if s.Doc != nil || s.Fetch != nil {
			break // already running
		}
		if s.Status == "" {
			s.Status = tonepay.CallInProgress
			if s.Direction == tonepay.DirectionInbound {
				s.Status = tonepay.CallRinging // Twilio fetches VoiceUrl before answering
			}
		}
		if held := holds(s); held != "" {
			s.Status, s.Held = tonepay.CallInProgress, true
			r.log(Entry{Kind: "warning", Text: held})
		} else if s.URL != "" {
			r.fetch("answer", s.URL, def(s.Method, "POST"), nil)
		} else {
			r.runTwiml(s.Twiml)
		}
	case Fetched, FetchFailed:
		if s.Fetch == nil || in.Seq != s.Fetch.Seq {
			break
		}
		r.fetched(in)
	case Key:
		r.key(in.Key, in.Paying)
	case Timeout:
		if s.Wait == nil || now.Before(s.Wait.Until) {
			break
		}
		w := s.Wait
		s.Wait = nil
		switch {
		case w.For == "prompt":
			r.prompts() // a Pause nested in a Gather ended
		case w.For == "gather":
			r.gatherEnd("")
		case w.For == "pay-prompt":
			r.payPrompts()
		case w.For == "dial":
			r.bridgeEndAt(tonepay.CallCompleted, w.Until) // timeLimit
		case w.For == "far-end":
			r.log(Entry{Kind: "verb", Verb: "Dial", Text: "the far end hung up"})
			r.bridgeEndAt(tonepay.CallCompleted, w.Until)
		case w.For == "dial-ring":
			r.bridgeEnd(tonepay.CallNoAnswer) // nobody answered within its timeout
		default:
			s.Current = nil
			r.continueDoc()
		}
	case Update:
		r.update(in)
	case FarEndHangUp:
		if s.Current == nil || (s.Current.Name != "Dial" && s.Current.Name != "Connect") {
			break
		}
		r.bridgeEnd(tonepay.CallCompleted)
	case Dialed:
		r.dialed()
	case FarEndStatus:
		r.farEnd(in.DialStatus)
	case PayAsk:
		if s.Current == nil || s.Current.Name != "Pay" || in.Ask == nil {
			break
		}
		r.payAsk(*in.Ask)
	case PayEnded:
		if s.Current == nil || s.Current.Name != "Pay" {
			break
		}
		r.payEnd(in.Params)
	case StreamEnded:
		r.streamEnded(in.Stream)
	case Said:
		if in.Utterance != nil {
			r.said(*in.Utterance, in.Paying)
		}
	case CallerHangUp:
		r.leaveDial()
		if c := s.Current; c != nil && c.Action != "" && (c.Name == "Dial" || c.Name == "Connect" || c.Name == "Pay") {
			// The action is still requested; what it answers cannot run.
			s.Status = tonepay.CallCompleted
			r.notify(*c)
		}
		r.end(tonepay.CallCompleted, 0)
	}
}

// effects reports the Wait and Fetch the step left in State, if new.
func (r *run) effects(w *Wait, f *Fetch) {
	if r.s.Wait != w {
		r.out.Wait = r.s.Wait
	}
	if r.s.Fetch != f {
		r.out.Fetch = r.s.Fetch
	}
}

type run struct {
	e   Engine
	s   *State
	now time.Time
	out Output
}

func (r *run) log(en Entry) {
	en.At = r.now
	r.out.Timeline = append(r.out.Timeline, en)
}

// Params is the parameter set Twilio sends on every request of the call
// (twilio-voice.md §1.1): the call's, and the geographic fields of both
// numbers under each of Twilio's names (From*, To*, and Caller*, Called*
// as Twilio's dumps show). City, State and Zip are never known here, and
// are sent empty, as Twilio sends what it does not know (ToState=); the
// country comes from the calling code (tonepay.CountryOf). CallToken and
// ForwardedFrom are sent when there is one.
func (s *State) Params() url.Values {
	p := url.Values{
		"AccountSid": {s.AccountSid}, "CallSid": {s.CallSid}, "From": {s.From}, "To": {s.To},
		"Called": {s.To}, "Caller": {s.From}, "CallStatus": {s.Status}, "Direction": {s.Direction},
		"ApiVersion": {tonepay.APIVersion},
	}
	for _, n := range []struct{ prefix, number string }{{"From", s.From}, {"Caller", s.From}, {"To", s.To}, {"Called", s.To}} {
		p[n.prefix+"City"], p[n.prefix+"State"], p[n.prefix+"Zip"] = []string{""}, []string{""}, []string{""}
		p[n.prefix+"Country"] = []string{tonepay.CountryOf(n.number)}
	}
	if s.CallToken != "" {
		p.Set("CallToken", s.CallToken)
	}
	if s.ForwardedFrom != "" {
		p.Set("ForwardedFrom", s.ForwardedFrom)
	}
	return p
}

func (r *run) fetch(reason, u, method string, extra url.Values) {
	s := r.s
	if reason != "answer" && reason != "update" && reason != "fallback" {
		if s.Hops++; r.e.maxHops() > 0 && s.Hops > r.e.maxHops() {
			r.log(Entry{Kind: "error", Text: "redirect loop: " + strconv.Itoa(r.e.maxHops()) + " documents without waiting for the caller", URL: u})
			r.end(tonepay.CallCompleted, 0)
			return
		}
	}
	p := s.Params()
	for k, v := range extra {
		p[k] = v
	}
	s.Seq++
	s.Current, s.Wait, s.Doc = nil, nil, nil
	s.Fetch = &Fetch{Seq: s.Seq, Reason: reason, URL: u, Method: method, Params: p}
	r.log(Entry{Kind: "fetch", URL: u, Method: method, Text: reason})
}

func (r *run) notify(v Verb) {
	p := r.s.Params()
	if v.Name == "Dial" {
		for k, x := range r.dialParams(r.s.LegEnd, r.now) {
			p[k] = x
		}
	}
	if v.Name == "Pay" {
		p.Set("Result", tonepay.ResultHungUp)
	}
	f := &Fetch{Reason: strings.ToLower(v.Name) + "-action", URL: v.Action, Method: v.Method, Params: p}
	r.out.Notify = append(r.out.Notify, f)
	r.log(Entry{Kind: "fetch", URL: f.URL, Method: f.Method, Text: f.Reason + " (answer ignored)"})
}

// bridgeEnd ends a Dial or Connect the far end left (or its timeLimit, or
// the caller's *), or a Dial its far end never answered: its action, else
// the next verb. status is the Dial's DialCallStatus.
func (r *run) bridgeEnd(status string) { r.bridgeEndAt(status, r.now) }

// bridgeEndAt is bridgeEnd for a bridge that ended at end, a timer's time:
// a late timer (a sweep after a restart) does not lengthen the Dial's
// DialCallDuration.
func (r *run) bridgeEndAt(status string, end time.Time) {
	s := r.s
	v := *s.Current
	var p url.Values
	text := "ended"
	if v.Name == "Dial" {
		s.LegEnd = status
		p = r.dialParams(status, end)
		text = "ended: DialCallStatus=" + status
	}
	s.Current, s.Wait, s.Dialed = nil, nil, ""
	if v.Name == "Connect" {
		r.stopBidirectional() // its far end left: the stream ends with it, if it has not already
	}
	r.log(Entry{Kind: "verb", Verb: v.Name, Text: text})
	if v.Action == "" {
		r.continueDoc()
	} else {
		r.fetch(strings.ToLower(v.Name)+"-action", v.Action, v.Method, p)
	}
}

func (e Engine) maxHops() int {
	if e.MaxHops == 0 {
		return DefaultMaxHops
	}
	return e.MaxHops
}

func (r *run) fetched(in Input) {
	s := r.s
	f := s.Fetch
	s.Fetch = nil
	if in.Kind == FetchFailed {
		r.log(Entry{Kind: "fetched", URL: f.URL, Method: f.Method, Code: in.Code, Text: in.Message})
		r.fail(f, &Error{Code: in.Code, Message: def(in.Message, "HTTP retrieval failure")})
		return
	}
	r.log(Entry{Kind: "fetched", URL: f.URL, Method: f.Method, Status: in.Status, Text: in.ContentType})
	if in.Status < 200 || in.Status > 299 {
		r.fail(f, errorf(CodeHTTPRetrieval, "HTTP retrieval failure: status %d", in.Status))
		return
	}
	mt, _, err := mime.ParseMediaType(in.ContentType)
	switch {
	case in.ContentType == "" || err != nil:
		r.fail(f, errorf(CodeHTTPRetrieval, "HTTP retrieval failure: no Content-Type"))
	case mt == "text/xml" || mt == "application/xml" || mt == "text/html":
		doc, perr := Parse(in.Body, f.URL)
		if perr != nil {
			r.fail(f, notTwiML(perr, len(in.Body), mt))
			return
		}
		r.runDoc(doc)
	case mt == "text/plain":
		// Run it if it is TwiML. Else Twilio reads it aloud and hangs up
		// (twilio-voice.md §1.4), and so does tonepay, but its words are
		// never shown: the timeline says only how long it was. The URL is
		// the tenant's choice, and under the default --callback-networks it
		// may be another internal service (a /metrics page, a pprof stack
		// dump): no answer that is not TwiML may come back through the call
		// beyond its status, length and content type.
		if doc, perr := Parse(in.Body, f.URL); perr == nil {
			r.runDoc(doc)
			return
		}
		r.answer()
		r.log(Entry{Kind: "say", Text: fmt.Sprintf("(%d bytes of text/plain, not TwiML, read aloud; not shown)", len(in.Body))})
		r.end(tonepay.CallCompleted, 0)
	case audioTypes[mt]:
		r.answer()
		r.log(Entry{Kind: "play", URL: f.URL})
		r.end(tonepay.CallCompleted, 0)
	default:
		r.fail(f, errorf(CodeContentType, "Invalid Content-Type %q", mt))
	}
}

// notTwiML is err (from Parse) for an answer of n bytes of type mt: a
// document that is not TwiML is described by its length and type, which is
// all the timeline may show of it (see Parse).
func notTwiML(err *Error, n int, mt string) *Error {
	if err.Code != CodeParse && err.Code != CodeRoot {
		return err
	}
	return errorf(err.Code, "%s (%d bytes of %s)", err.Message, n, mt)
}

// fail ends the call on an app error the way Twilio does: the first
// document's fallback if any, else the stock message and hang up.
func (r *run) fail(f *Fetch, err *Error) {
	s := r.s
	r.log(Entry{Kind: "error", Code: err.Code, Text: err.Message, URL: f.URL})
	if s.FallbackURL != "" && !s.FellBack && f.Reason == "answer" {
		s.FellBack = true
		// ErrorUrl is the failed URL as the call has it, credentials
		// included: Twilio sends it, and the fallback is the same tenant's
		// app. Only the timeline's copy is redacted (Entry.Redacted).
		r.fetch("fallback", s.FallbackURL, def(s.FallbackMethod, "POST"), url.Values{"ErrorCode": {strconv.Itoa(err.Code)}, "ErrorUrl": {f.URL}})
		return
	}
	r.answer()
	r.log(Entry{Kind: "say", Text: StockMessage})
	r.end(tonepay.CallCompleted, err.Code)
}

func (r *run) runTwiml(twiml string) {
	doc, err := Parse([]byte(twiml), "")
	if err != nil {
		r.fail(&Fetch{Reason: "twiml"}, err)
		return
	}
	r.runDoc(doc)
}

func (r *run) runDoc(doc *Document) {
	for _, w := range doc.Warnings {
		r.log(Entry{Kind: "warning", Code: w.Code, Text: w.Message})
	}
	r.s.Doc, r.s.Next, r.s.Current = doc, 0, nil
	r.continueDoc()
}

// answer marks a ringing (inbound) call answered: any verb but a first
// <Reject> answers it.
func (r *run) answer() {
	if r.s.Status == tonepay.CallRinging {
		r.s.Status = tonepay.CallInProgress
	}
}

// continueDoc runs verbs from s.Next until one waits, fetches or ends.
func (r *run) continueDoc() {
	s := r.s
	for s.Doc != nil && s.Fetch == nil && s.Current == nil && !r.ended() {
		if s.Next >= len(s.Doc.Verbs) {
			r.end(tonepay.CallCompleted, 0) // the end of the document hangs up
			return
		}
		v := s.Doc.Verbs[s.Next]
		s.Next++
		r.verb(v)
	}
}

func (r *run) ended() bool { return r.out.Ended != "" }

func (r *run) verb(v Verb) {
	s := r.s
	if v.Name == "Reject" && s.Status == tonepay.CallRinging {
		r.log(Entry{Kind: "verb", Verb: v.Name, Text: v.Reason})
		if v.Reason == "busy" {
			r.end(tonepay.CallBusy, 0)
		} else {
			r.end(tonepay.CallNoAnswer, 0)
		}
		return
	}
	r.answer()
	switch v.Name {
	case "Say", "Play", "Pause":
		last := s.Next == len(s.Doc.Verbs)
		if d := r.prompt(v, last); d > 0 {
			r.wait(&v, "pause", d)
		}
	case "Gather":
		r.log(Entry{Kind: "verb", Verb: v.Name})
		s.Current, s.Prompt, s.Digits, s.DigitsMasked = &v, 0, "", false
		r.prompts()
	case "Redirect":
		r.log(Entry{Kind: "verb", Verb: v.Name, URL: v.Text, Method: v.Method})
		r.fetch("redirect", v.Text, v.Method, nil)
	case "Hangup", "Reject":
		r.log(Entry{Kind: "verb", Verb: v.Name, Text: v.Reason})
		r.end(tonepay.CallCompleted, 0)
	case "Start":
		r.log(Entry{Kind: "verb", Verb: v.Name})
		for _, st := range v.Streams {
			r.startStream(v, st)
		}
	case "Stop":
		r.stop(v)
	case "Dial", "Connect":
		// The call stays here until one side hangs up or the call is
		// redirected; a Dial's far end may also never answer (dial.go).
		en := Entry{Kind: "verb", Verb: v.Name, Text: v.Text}
		for _, n := range v.Nouns {
			en.Text = strings.TrimSpace(en.Text + " " + n.Kind + ":" + n.Target)
		}
		r.log(en)
		s.Current, s.Since, s.Hops = &v, r.now, 0
		if v.Name == "Dial" {
			r.dial(v)
		}
		if v.Name == "Connect" && len(v.Streams) > 0 && !r.startStream(v, v.Streams[0]) {
			r.bridgeEnd("") // its stream cannot open: the TwiML goes on at once
		}
	case "Pay":
		r.pay(v)
	}
}

// prompt plays a Say, Play or Pause and returns how long the call waits
// for it (see Engine.Instant, Engine.SpeechRate); last: it is the last
// verb of its document.
func (r *run) prompt(v Verb, last bool) time.Duration {
	switch v.Name {
	case "Say":
		r.log(Entry{Kind: "say", Verb: v.Name, Text: v.Text, Voice: v.Voice, Language: v.Language, Loop: v.Loop})
		if r.e.SpeechRate > 0 && !r.e.Instant {
			words := len(strings.Fields(v.Text)) * max(v.Loop, 1)
			return time.Duration(words) * time.Minute / time.Duration(r.e.SpeechRate)
		}
	case "Play":
		if v.Digits != "" {
			r.log(Entry{Kind: "play", Verb: v.Name, Text: v.Digits})
		} else {
			r.log(Entry{Kind: "play", Verb: v.Name, URL: v.Text, Loop: v.Loop})
		}
	case "Pause":
		r.log(Entry{Kind: "verb", Verb: v.Name, Text: strconv.Itoa(v.Length) + "s"})
		if !r.e.Instant || last {
			return time.Duration(v.Length) * time.Second
		}
	}
	return 0
}

func (r *run) wait(v *Verb, what string, d time.Duration) {
	s := r.s
	s.Current, s.Hops = v, 0
	s.Wait = &Wait{For: what, Until: r.now.Add(d)}
}

// prompts plays a Gather's nested prompts from s.Prompt, stopping at a
// Pause; after the last one the timeout starts.
func (r *run) prompts() {
	s := r.s
	g := s.Current
	for s.Prompt < len(g.Prompts) {
		p := g.Prompts[s.Prompt]
		s.Prompt++
		if d := r.prompt(p, false); d > 0 {
			r.wait(g, "prompt", d)
			return
		}
	}
	r.wait(g, "gather", time.Duration(g.Timeout)*time.Second)
}

// keyEntry is the timeline's one rule for a key (PCI): it is shown only
// when a <Gather> takes it and no payment session is open on the call, since
// the app gets those keys anyway. Any other key is masked, shown as a count:
// one no verb listens for (dropped, or given to a session: callers type the
// card before the agent's Capture, during a Say, on hold, between fields),
// one for <Pay>, and any key at all while a session is open, whoever takes
// it. The rule lives here because only the engine knows whether a Gather
// takes the key; the runner says whether a session is open (Input.Paying).
func keyEntry(at time.Time, k byte, gather, paying bool) Entry {
	if gather && !paying {
		return Entry{At: at, Kind: "key", Text: string(k)}
	}
	return MaskedKeys(at, 1)
}

func (r *run) key(k byte, paying bool) {
	s := r.s
	g := s.Current
	r.log(keyEntry(r.now, k, g != nil && g.Name == "Gather" && g.hearsKeys(), paying))
	if g != nil && g.Name == "Dial" && g.HangupOnStar && k == '*' && bridged(s.Dialed) {
		r.bridgeEnd(tonepay.CallCompleted) // the caller drops the far end
		return
	}
	if g != nil && g.Name == "Pay" {
		// The session has the keys; a key stops what the caller hears.
		r.out.Unrouted = k
		if s.Wait != nil && s.Wait.For == "pay-prompt" {
			s.Wait, s.Playing, s.Prompt = nil, nil, 0
		}
		return
	}
	if g == nil || g.Name != "Gather" || !g.hearsKeys() {
		r.out.Unrouted = k
		return
	}
	s.Hops = 0 // a key stops the prompts; the timeout now runs from this key
	s.DigitsMasked = s.DigitsMasked || paying
	if g.FinishOnKey != "" && string(k) == g.FinishOnKey {
		r.gatherEnd(g.FinishOnKey)
		return
	}
	s.Digits += string(k)
	if g.NumDigits > 0 && len(s.Digits) >= g.NumDigits {
		r.gatherEnd("")
		return
	}
	r.wait(g, "gather", time.Duration(g.Timeout)*time.Second)
}

// gatherEnd requests the action with what was gathered, or, with nothing
// gathered and no actionOnEmptyResult, goes on with the next verb.
func (r *run) gatherEnd(finishedOn string) {
	s := r.s
	g := *s.Current
	digits, shown := s.Digits, s.Digits
	if s.DigitsMasked { // as their keys were (keyEntry)
		// FinishedOnKey stays: it is the Gather's own finishOnKey (or none).
		shown = strings.Repeat("*", len(digits))
	}
	r.log(Entry{Kind: "verb", Verb: "Gather", Text: "ended: Digits=" + shown + " FinishedOnKey=" + finishedOn, Masked: s.DigitsMasked})
	s.Current, s.Wait, s.Digits, s.DigitsMasked, s.Prompt = nil, nil, "", false, 0
	if (digits == "" && !g.ActionOnEmptyResult) || g.Action == "" {
		r.continueDoc()
		return
	}
	r.fetch("action", g.Action, g.Method, url.Values{"Digits": {digits}, "FinishedOnKey": {finishedOn}})
}

func (r *run) update(in Input) {
	s := r.s
	r.leaveDial()
	if s.Current != nil && s.Current.Action != "" && (s.Current.Name == "Dial" || s.Current.Name == "Connect") {
		r.notify(*s.Current) // Twilio requests the Dial action, ignores it, then runs the update
	}
	r.log(Entry{Kind: "verb", Verb: "Update", URL: in.URL, Method: in.Method})
	r.stopBidirectional() // the call leaves a <Connect>; <Start>'s streams go on
	s.Current, s.Wait, s.Fetch, s.Doc, s.Digits, s.DigitsMasked, s.Prompt, s.Hops, s.Held, s.Playing = nil, nil, nil, nil, "", false, 0, 0, false, nil
	if held := reserved(in.URL); in.URL != "" && held != "" {
		s.Held = true
		r.log(Entry{Kind: "warning", Text: held})
		return
	}
	if in.URL != "" {
		r.fetch("update", in.URL, def(in.Method, "POST"), nil)
		return
	}
	r.runTwiml(in.Twiml)
}

func (r *run) end(status string, code int) {
	s := r.s
	s.Status, s.ErrorCode = status, code
	s.Current, s.Wait, s.Fetch, s.Playing = nil, nil, nil, nil
	r.stopStreams(func(*Stream) bool { return true }) // every stream gets its stop frame
	r.out.Ended = status
	r.log(Entry{Kind: "hangup", Text: status, Code: code})
}
