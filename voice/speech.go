package voice

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Speech: a <Gather input="speech"> (or "dtmf speech") hears what the
// caller says. A simulated caller says a whole utterance at once (the
// Speech API, a caller script's say step), so there is no recognition to
// wait for: the words arrive final, and the Gather ends with them at once.
// docs/twilio-compat.md "Speech" has each decision.

// DefaultConfidence is the Confidence of words said with none (0).
const DefaultConfidence = 0.9

// maxPartials bounds the partialResultCallbacks of one utterance: one per
// word up to this many, then the words grouped so that the last partial is
// always the whole utterance.
const maxPartials = 10

// partialStability is every partial's Stability: the words are known in
// full, so each prefix is as stable as a recogniser's result gets.
const partialStability = "0.9"

// Utterance is what the caller said: Input.Utterance of a Said input.
type Utterance struct {
	Text       string
	Confidence float64 // 0 is DefaultConfidence
}

// Heard is Output.Speech when a <Gather> took the words: the Gather has
// ended, and its action (if any) is the step's Fetch.
type Heard struct {
	// Partials are the Gather's partialResultCallback requests, in order,
	// to queue before the action's fetch is made (the runner sends them
	// through the outbox).
	Partials []*Fetch
}

// hearsKeys reports whether a Gather takes keys: every input but "speech".
func (v *Verb) hearsKeys() bool { return v.Input != "speech" }

// hearsSpeech reports whether a Gather listens for speech.
func (v *Verb) hearsSpeech() bool { return strings.Contains(v.Input, "speech") }

// gatherSpeech reads a Gather's input and speech attributes (a: those
// gather knows). The speech-only ones Twilio accepts (language, hints,
// profanityFilter, speechModel, enhanced, maxSpeechTime, bargeIn) change
// nothing here: no audio is recognised.
func (p *parser) gatherSpeech(n *node, a map[string]string, v *Verb) *Error {
	if in, ok := a["input"]; ok {
		dtmf, speech, bad := false, false, false
		for _, f := range strings.Fields(in) {
			switch f {
			case "dtmf":
				dtmf = true
			case "speech":
				speech = true
			default:
				bad = true
			}
		}
		switch {
		case bad || (!dtmf && !speech):
			p.tolerate(13326, n.Name, "input", in, "dtmf is used")
		case speech && dtmf:
			v.Input = "dtmf speech" // "speech dtmf" too: the order says nothing
		case speech:
			v.Input = "speech"
		}
	}
	if st, ok := a["speechTimeout"]; ok {
		if k, err := strconv.Atoi(strings.TrimSpace(st)); st == "auto" || (err == nil && k >= 1) {
			v.SpeechTimeout = strings.TrimSpace(st)
		} else {
			p.tolerate(13327, n.Name, "speechTimeout", st, "the timeout applies")
		}
	}
	if m, ok := a["partialResultCallbackMethod"]; ok {
		switch strings.ToUpper(m) {
		case "GET", "POST":
			v.PartialMethod = strings.ToUpper(m)
		default:
			p.tolerate(13329, n.Name, "partialResultCallbackMethod", m, "POST is used")
		}
	}
	if u := strings.TrimSpace(a["partialResultCallback"]); u != "" {
		var err *Error
		if v.Partial, err = p.resolve(u, CodeRelativeAction, "Gather partialResultCallback"); err != nil {
			return err
		}
		if v.PartialMethod == "" {
			v.PartialMethod = "POST"
		}
	}
	return nil
}

// said applies words the caller said: a listening Gather ends with them as
// SpeechResult and Confidence; anything else drops them. The timeline
// shows the words, unless a payment session is open on the call (paying):
// a caller may say their card number, so then it shows "(speech)" only,
// as keys are masked (keyEntry).
func (r *run) said(u Utterance, paying bool) {
	s := r.s
	g := s.Current
	shown := u.Text
	if paying {
		shown = "(speech)"
	}
	if why := deaf(g, s.Digits); why != "" {
		r.log(Entry{Kind: "speech", Text: shown + " (dropped: " + why + ")", Masked: paying})
		return
	}
	r.log(Entry{Kind: "speech", Text: shown, Masked: paying})
	conf := u.Confidence
	if conf <= 0 {
		conf = DefaultConfidence
	}
	c := strconv.FormatFloat(conf, 'f', -1, 64)
	heard := &Heard{}
	switch {
	case g.Partial != "" && paying:
		// Partial results are callbacks, kept in the outbox until retention:
		// while a payment is open the words (a card number, said) go only
		// to the action, which is not stored.
		r.log(Entry{Kind: "warning", Text: "partialResultCallback not sent while a payment session is open"})
	case g.Partial != "":
		heard.Partials = r.partials(*g, u.Text)
	}
	r.out.Speech = heard
	// speechTimeout is the silence after speech that ends it; a whole
	// utterance has ended when it arrives, so the Gather ends now.
	r.log(Entry{Kind: "verb", Verb: "Gather", Text: "ended: SpeechResult=" + shown + " Confidence=" + c, Masked: paying})
	s.Current, s.Wait, s.Digits, s.DigitsMasked, s.Prompt, s.Hops = nil, nil, "", false, 0, 0
	if g.Action == "" {
		r.continueDoc()
		return
	}
	r.fetch("action", g.Action, g.Method, url.Values{"SpeechResult": {u.Text}, "Confidence": {c}})
}

// deaf says why g does not take speech now, or "" when it does.
func deaf(g *Verb, digits string) string {
	switch {
	case g == nil:
		return "no <Gather> listens"
	case g.Name != "Gather":
		return fmt.Sprintf("no <Gather> listens: the call is in a <%s>", g.Name)
	case !g.hearsSpeech():
		return `the <Gather> takes keys only (input="dtmf")`
	case digits != "":
		return "the <Gather> took keys first" // with "dtmf speech", the first input wins
	}
	return ""
}

// partials are g's partialResultCallback requests for text: one per word
// prefix (grouped beyond maxPartials words), SequenceNumber from 1, each
// with UnstableSpeechResult (the words so far), StableSpeechResult (those
// before the last of them) and Stability.
func (r *run) partials(g Verb, text string) []*Fetch {
	words := strings.Fields(text)
	n := min(len(words), maxPartials)
	var out []*Fetch
	for i := 1; i <= n; i++ {
		k := (i*len(words) + n - 1) / n // the first k words: the last partial has them all
		p := r.s.Params()
		p.Set("UnstableSpeechResult", strings.Join(words[:k], " "))
		p.Set("StableSpeechResult", strings.Join(words[:k-1], " "))
		p.Set("Stability", partialStability)
		p.Set("SequenceNumber", strconv.Itoa(i))
		out = append(out, &Fetch{Reason: "partial", URL: g.Partial, Method: g.PartialMethod, Params: p})
	}
	return out
}
