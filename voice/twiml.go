package voice

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/tonepay/tonepay"
)

// Twilio's error codes for documents (twilio-voice.md §6).
const (
	CodeHTTPRetrieval  = 11200 // 4xx/5xx, no Content-Type
	CodeHTTPConnection = 11205 // could not connect
	CodeEmptyBody      = 11770
	CodeParse          = 12100 // malformed XML
	CodeRoot           = 12102 // root is not <Response>
	CodeSchema         = 12200 // an element tonepay cannot run (an unknown attribute is only a warning)
	CodeContentType    = 12300
	CodeRelativeAction = 15004 // relative action in a document that has no URL (Twiml)
)

// Error is a document that cannot run: Twilio's code and what was wrong.
// Warning errors (unknown attributes) do not stop the call; they are kept
// in Document.Warnings.
type Error struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return fmt.Sprintf("%d: %s", e.Code, e.Message) }

func errorf(code int, format string, a ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, a...)}
}

// Document is a parsed <Response>: its verbs in order and the URL it came
// from ("" for inline Twiml), against which its relative URLs were resolved.
type Document struct {
	URL   string `json:"url,omitempty"`
	Verbs []Verb `json:"verbs"`
	// Warnings go to the timeline when the document starts; they are not
	// part of the call's saved state, which is rewritten on every key.
	Warnings []*Error `json:"-"`
}

// Verb is one TwiML verb with its attributes, defaults applied and URLs
// resolved. One flat struct, so that State stays plain JSON.
type Verb struct {
	Name string `json:"name"` // Say, Play, Pause, Gather, Redirect, Hangup, Reject, Dial, Connect, Pay, Start, Stop
	// Text is Say's words, Play's and Redirect's URL (resolved), or Dial's bare number.
	Text     string `json:"text,omitempty"`
	Voice    string `json:"voice,omitempty"`
	Language string `json:"language,omitempty"`
	Loop     int    `json:"loop,omitempty"`   // Say, Play; 0 means Twilio's "until hang-up"
	Digits   string `json:"digits,omitempty"` // Play
	Length   int    `json:"length,omitempty"` // Pause, seconds

	Action string `json:"action,omitempty"` // Gather, Dial, Connect, Pay (resolved)
	Method string `json:"method,omitempty"` // Gather, Redirect, Dial, Connect

	NumDigits           int    `json:"numDigits,omitempty"` // 0: unlimited
	FinishOnKey         string `json:"finishOnKey"`
	Timeout             int    `json:"timeout,omitempty"` // Gather, Dial: seconds
	ActionOnEmptyResult bool   `json:"actionOnEmptyResult,omitempty"`
	Prompts             []Verb `json:"prompts,omitempty"` // Gather's nested Say/Play/Pause
	// Gather's speech (speech.go): Input is "" (keys only), "speech" or
	// "dtmf speech"; Partial is its partialResultCallback (resolved).
	Input         string `json:"input,omitempty"`
	SpeechTimeout string `json:"speechTimeout,omitempty"` // "auto" or seconds; kept, see said
	Partial       string `json:"partial,omitempty"`
	PartialMethod string `json:"partialMethod,omitempty"`

	CallerID     string `json:"callerId,omitempty"`
	Nouns        []Noun `json:"nouns,omitempty"`     // Dial; Connect's nouns other than <Stream> (Kind only)
	TimeLimit    int    `json:"timeLimit,omitempty"` // Dial: seconds the bridge may last
	HangupOnStar bool   `json:"hangupOnStar,omitempty"`

	Reason string `json:"reason,omitempty"` // Reject: rejected or busy

	Pay *PayVerb `json:"pay,omitempty"` // Pay

	// Streams are the <Stream> nouns of <Start>, <Stop> and <Connect>
	// (DESIGN §11): for <Stop>, only their names.
	Streams []Stream `json:"streams,omitempty"`
}

// Noun is whom a Dial calls.
type Noun struct {
	Kind   string `json:"kind"` // Number, Client, Sip
	Target string `json:"target"`
}

// maxDepth is how deep elements may nest: <Response> (1) > <Pay> >
// <Prompt> > <Say> > SSML four levels in (<p><s><prosody><emphasis>, 8).
// Twilio's documents are shallow; a deeper one is a 12100 found as soon as
// the decoder reaches it, so that a hostile one costs what it has read.
const maxDepth = 8

// maxNamed is how many unknown attributes the one 12200 warning names.
const maxNamed = 3

// clipAt is how much of a name or value from the document a warning or
// error quotes (tonepay.Clip).
const clipAt = 32

// node is one element, read by a walk over the decoder's tokens: each
// byte of the document is copied once, whatever the depth (decoding into
// a struct with innerxml copied each level's subtree at every level).
type node struct {
	Name  string
	Attrs []xml.Attr
	// Text is its own character data, its elements' left out: Play's URL,
	// Dial's number.
	Text  string
	Nodes []*node
	// at[i] is len(Text) where Nodes[i] began: where its words go.
	at  []int
	buf []byte // Text while the element is open
}

// pauses are the SSML elements a caller hears as a break between words.
var pauses = map[string]bool{"break": true, "p": true, "s": true}

// text is the element's words in the order they are spoken, SSML markup
// dropped: an element joins the words around it unless it is a pause
// (to pay your <say-as>Dentist bill</say-as> today).
func (n *node) text() string {
	var b strings.Builder
	n.words(&b)
	return strings.Join(strings.Fields(b.String()), " ")
}

func (n *node) words(b *strings.Builder) {
	prev := 0
	for i, c := range n.Nodes {
		b.WriteString(n.Text[prev:n.at[i]])
		prev = n.at[i]
		if pauses[c.Name] {
			b.WriteByte(' ')
		}
		c.words(b)
		if pauses[c.Name] {
			b.WriteByte(' ')
		}
	}
	b.WriteString(n.Text[prev:])
}

// decode reads body's root element, a <Response>. Besides it, only
// whitespace, comments, processing instructions and (before it) directives
// may appear. Until the root element shows the body is TwiML, errors quote
// nothing of it: the body may be another service's answer (a page, a
// metrics text, a stack dump) that a tenant's URL reached, and the error
// goes to the call's timeline. Inside a <Response> they say what is wrong,
// as an app's developer needs.
func decode(body []byte) (*node, *Error) {
	d := xml.NewDecoder(bytes.NewReader(body))
	var root *node
	var open []*node
	for {
		tok, err := d.Token()
		if err == io.EOF && len(open) == 0 {
			break
		}
		if err != nil {
			if root == nil {
				return nil, errorf(CodeParse, "Document parse failure: not well-formed XML before the root element")
			}
			return nil, errorf(CodeParse, "Document parse failure: %v", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if root == nil && t.Name.Local != "Response" {
				return nil, errorf(CodeRoot, "The root element must be Response")
			}
			if root != nil && len(open) == 0 {
				return nil, errorf(CodeParse, "Document parse failure: content after </%s>", tonepay.Clip(root.Name, clipAt))
			}
			if len(open) == maxDepth {
				return nil, errorf(CodeParse, "Document parse failure: elements nested more than %d deep", maxDepth)
			}
			n := &node{Name: t.Name.Local, Attrs: t.Attr}
			if len(open) == 0 {
				root = n
			} else {
				parent := open[len(open)-1]
				parent.Nodes, parent.at = append(parent.Nodes, n), append(parent.at, len(parent.buf))
			}
			open = append(open, n)
		case xml.EndElement:
			n := open[len(open)-1]
			n.Text, n.buf = string(n.buf), nil
			open = open[:len(open)-1]
		case xml.CharData:
			switch {
			case len(open) > 0:
				n := open[len(open)-1]
				n.buf = append(n.buf, t...)
			case len(bytes.TrimSpace(t)) == 0:
			case root == nil:
				return nil, errorf(CodeParse, "Document parse failure: text before the root element")
			default:
				return nil, errorf(CodeParse, "Document parse failure: text after </%s>", tonepay.Clip(root.Name, clipAt))
			}
		case xml.Directive:
			if root != nil && len(open) == 0 {
				return nil, errorf(CodeParse, "Document parse failure: content after </%s>", tonepay.Clip(root.Name, clipAt))
			}
		}
	}
	if root == nil {
		return nil, errorf(CodeParse, "Document parse failure: no root element")
	}
	return root, nil
}

// Parse parses body, fetched from docURL ("" for inline Twiml). A non-nil
// *Error means the call cannot run the document and ends.
func Parse(body []byte, docURL string) (*Document, *Error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, errorf(CodeEmptyBody, "Empty response body")
	}
	// Twilio refuses whitespace before the XML declaration (12100).
	if t := bytes.TrimLeft(body, " \t\r\n"); len(t) != len(body) && bytes.HasPrefix(t, []byte("<?xml")) {
		return nil, errorf(CodeParse, "Document parse failure: whitespace before the XML declaration")
	}
	root, perr := decode(body)
	if perr != nil {
		return nil, perr
	}
	p := &parser{doc: &Document{URL: docURL}}
	for _, n := range root.Nodes {
		v, err := p.verb(n, false)
		if err != nil {
			return nil, err
		}
		p.doc.Verbs = append(p.doc.Verbs, v)
	}
	p.warn()
	return p.doc, nil
}

// parser holds what Parse has found so far. Unknown attributes are counted
// for one warning per document: each one its own warning let 62 KB of
// attributes write 12,500 timeline rows. Tolerated values (see tolerate)
// are counted the same way: one warning per code per document.
type parser struct {
	doc       *Document
	unknown   int         // attributes not known on their element
	named     [][2]string // the first few, distinct: attribute, element
	tolerated []*tolerated
}

// tolerated counts the values of one warning code that ran as a default.
type tolerated struct {
	code  int
	n     int
	named []string // the first few, distinct
}

// attrs reads n's attributes into the named settings; an attribute not
// named is counted for a 12200 warning, not an error (real apps send
// undocumented ones), and is not kept.
func (p *parser) attrs(n *node, known ...string) map[string]string {
	m := map[string]string{}
	for _, a := range n.Attrs {
		if slices.Contains(known, a.Name.Local) {
			m[a.Name.Local] = a.Value
		} else {
			p.unknownAttr(a.Name.Local, n.Name)
		}
	}
	return m
}

func (p *parser) unknownAttr(attr, elem string) {
	p.unknown++
	if a := [2]string{attr, elem}; len(p.named) < maxNamed && !slices.Contains(p.named, a) {
		p.named = append(p.named, a)
	}
}

// tolerate records a bad value that does not stop the document: Twilio
// lists its code as a warning, or does not say what it does with it, so
// the verb runs with the default (or, for a <Prompt>, is left out), as an
// app that works on Twilio must work here. Where Twilio documents a hard
// failure the check stays an error (a <Pay>'s validation-error, 13338).
// what says which value and what runs instead.
func (p *parser) tolerate(code int, elem, attr, value, instead string) {
	what := fmt.Sprintf("<%s %s=%q>: %s", tonepay.Clip(elem, clipAt), tonepay.Clip(attr, clipAt), tonepay.Clip(value, clipAt), instead)
	for _, t := range p.tolerated {
		if t.code == code {
			t.n++
			if len(t.named) < maxNamed && !slices.Contains(t.named, what) {
				t.named = append(t.named, what)
			}
			return
		}
	}
	p.tolerated = append(p.tolerated, &tolerated{code: code, n: 1, named: []string{what}})
}

// warn adds the document's warnings: one for its unknown attributes, one
// per code for its tolerated values.
func (p *parser) warn() {
	for _, t := range p.tolerated {
		msg := t.named[0]
		if t.n > 1 {
			msg = fmt.Sprintf("%d values run as a default or are ignored, such as %s", t.n, strings.Join(t.named, "; "))
		}
		p.doc.Warnings = append(p.doc.Warnings, errorf(t.code, "%s", msg))
	}
	if p.unknown == 0 {
		return
	}
	named := make([]string, len(p.named))
	for i, a := range p.named {
		named[i] = fmt.Sprintf("%q on <%s>", tonepay.Clip(a[0], clipAt), tonepay.Clip(a[1], clipAt))
	}
	if p.unknown == 1 {
		p.doc.Warnings = append(p.doc.Warnings, errorf(CodeSchema, "Schema validation warning: attribute %s is not allowed", named[0]))
		return
	}
	p.doc.Warnings = append(p.doc.Warnings, errorf(CodeSchema, "Schema validation warning: %d attributes are not allowed where they are, such as %s",
		p.unknown, strings.Join(named, ", ")))
}

func (p *parser) verb(n *node, nested bool) (Verb, *Error) {
	name := n.Name
	v := Verb{Name: name}
	if nested && name != "Say" && name != "Play" && name != "Pause" {
		return v, errorf(13320, "Gather: <%s> cannot be nested in <Gather>", name)
	}
	var err *Error
	switch name {
	case "Say":
		a := p.attrs(n, "voice", "language", "loop")
		v.Text, v.Voice, v.Language = n.text(), a["voice"], def(a["language"], "en-US")
		v.Loop = p.intOr(n, a, "loop", 1, 0, 13510)
	case "Play":
		a := p.attrs(n, "loop", "digits")
		v.Digits = a["digits"]
		if strings.Trim(v.Digits, "0123456789ABCD#*wW") != "" {
			// 13430 is a warning on Twilio: no keys are played.
			p.tolerate(13430, name, "digits", v.Digits, "not a DTMF string; no keys are played")
			v.Digits = ""
		}
		if nested && v.Digits != "" {
			return v, errorf(13320, "Gather: <Play digits> cannot be nested in <Gather>")
		}
		if t := strings.TrimSpace(n.Text); t != "" {
			if v.Text, err = p.resolve(t, 12200, name); err != nil {
				return v, err
			}
		}
		v.Loop = p.intOr(n, a, "loop", 1, 0, 13410)
	case "Pause":
		a := p.attrs(n, "length")
		v.Length = p.intOr(n, a, "length", 1, 1, 13910)
	case "Gather":
		err = p.gather(n, &v)
	case "Redirect":
		a := p.attrs(n, "method")
		v.Method = p.methodOr(n, a, 13710)
		v.Text, err = p.resolve(strings.TrimSpace(n.Text), 12200, name)
	case "Hangup":
		p.attrs(n)
	case "Reject":
		a := p.attrs(n, "reason")
		v.Reason = def(a["reason"], "rejected")
		if v.Reason != "rejected" && v.Reason != "busy" {
			p.tolerate(13810, name, "reason", v.Reason, "rejected is used")
			v.Reason = "rejected"
		}
	case "Dial":
		err = p.dial(n, &v)
	case "Pay":
		err = p.pay(n, &v)
	case "Connect":
		err = p.connect(n, &v)
	case "Start", "Stop":
		p.streams(n, &v)
	default:
		return v, errorf(CodeSchema, "Schema validation: <%s> is not a TwiML verb tonepay runs", name)
	}
	return v, err
}

func (p *parser) gather(n *node, v *Verb) *Error {
	a := p.attrs(n, "input", "numDigits", "finishOnKey", "timeout", "action", "method", "actionOnEmptyResult",
		"speechTimeout", "language", "hints", "profanityFilter", "speechModel", "enhanced",
		"partialResultCallback", "partialResultCallbackMethod", "maxSpeechTime", "bargeIn", "debug")
	// Twilio's Gather codes are warnings but 13325 and 13338 (twilio-voice.md
	// §2.4): a bad value runs as the default.
	if err := p.gatherSpeech(n, a, v); err != nil {
		return err
	}
	v.NumDigits = p.intOr(n, a, "numDigits", 0, 1, 13314)
	if a["timeout"] == "auto" { // one of Twilio's tables allows it (speech)
		delete(a, "timeout")
	}
	v.Timeout = p.intOr(n, a, "timeout", 5, 1, 13313)
	v.FinishOnKey = "#"
	if k, ok := a["finishOnKey"]; ok {
		if len(k) > 1 || strings.Trim(k, "0123456789#*") != "" {
			p.tolerate(13310, "Gather", "finishOnKey", k, "# is used")
		} else {
			v.FinishOnKey = k
		}
	}
	v.Method = p.methodOr(n, a, 13312)
	switch a["actionOnEmptyResult"] {
	case "", "false":
	case "true":
		v.ActionOnEmptyResult = true
	default:
		return errorf(13338, "Gather: invalid actionOnEmptyResult %q", a["actionOnEmptyResult"])
	}
	// The default action is the document itself (Twilio requests it again).
	var err *Error
	if v.Action, err = p.resolve(a["action"], CodeRelativeAction, "Gather"); err != nil {
		return err
	}
	for _, c := range n.Nodes {
		pv, err := p.verb(c, true)
		if err != nil {
			return err
		}
		v.Prompts = append(v.Prompts, pv)
	}
	return nil
}

func (p *parser) dial(n *node, v *Verb) *Error {
	a := p.attrs(n, "action", "method", "timeout", "callerId", "timeLimit", "hangupOnStar", "answerOnBridge",
		"record", "recordingStatusCallback", "recordingStatusCallbackMethod", "recordingStatusCallbackEvent",
		"recordingTrack", "trim", "ringTone", "sequential", "referUrl", "referMethod", "callReason", "events",
		"recordingConfigurationId", "passports")
	// These codes are Twilio's warnings (twilio-voice.md §6): the default runs.
	v.Method = p.methodOr(n, a, 13210)
	v.Timeout = p.intOr(n, a, "timeout", 30, 1, 13212)
	v.TimeLimit = p.intOr(n, a, "timeLimit", 14400, 1, 13216)
	switch h := a["hangupOnStar"]; h {
	case "", "false":
	case "true":
		v.HangupOnStar = true
	default:
		p.tolerate(13213, "Dial", "hangupOnStar", h, "false is used")
	}
	v.CallerID = a["callerId"]
	var err *Error
	if a["action"] != "" {
		if v.Action, err = p.resolve(a["action"], CodeRelativeAction, "Dial"); err != nil {
			return err
		}
	}
	for _, c := range n.Nodes {
		switch k := c.Name; k {
		case "Number", "Client", "Sip":
			v.Nouns = append(v.Nouns, Noun{Kind: k, Target: c.text()})
		default:
			return errorf(13215, "Dial: <%s> cannot be dialed by tonepay", k)
		}
	}
	if len(v.Nouns) == 0 {
		v.Text = strings.TrimSpace(n.Text)
		if v.Text == "" {
			return errorf(13223, "Dial: nothing to dial")
		}
	}
	return nil
}

// resolve resolves ref against the document URL; "" is the document itself.
func (p *parser) resolve(ref string, code int, verb string) (string, *Error) {
	u, err := Resolve(p.doc.URL, ref)
	if err != nil {
		return "", errorf(code, "%s: %v", verb, err)
	}
	return u, nil
}

// Resolve resolves ref against base as RFC 3986 does, which is what Twilio's
// "relative to the current document" implies. ref "" is base itself. With no
// base (inline Twiml) only an absolute ref resolves (Twilio's 15004).
func Resolve(base, ref string) (string, error) {
	r, err := url.Parse(strings.TrimSpace(ref))
	if err != nil {
		return "", fmt.Errorf("invalid URL %q", ref)
	}
	if r.IsAbs() {
		if r.Scheme != "http" && r.Scheme != "https" {
			return "", fmt.Errorf("URL %q is not http or https", ref)
		}
		return r.String(), nil
	}
	if base == "" {
		if ref == "" {
			return "", nil
		}
		return "", fmt.Errorf("relative URL %q in a document that has no URL", ref)
	}
	b, err := url.Parse(base)
	if err != nil || !b.IsAbs() {
		return "", fmt.Errorf("invalid document URL %q", base)
	}
	b.Fragment = "" // Twilio's connection overrides (#ct=...) are not inherited
	return b.ResolveReference(r).String(), nil
}

func def(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// intOr reads a whole-number attribute of n whose Twilio code is a
// warning: a value that is not a number, or below min, runs as d.
func (p *parser) intOr(n *node, a map[string]string, name string, d, min, code int) int {
	s, ok := a[name]
	if !ok {
		return d
	}
	k, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || k < min {
		p.tolerate(code, n.Name, name, s, fmt.Sprintf("not a whole number from %d; %d is used", min, d))
		return d
	}
	return k
}

// methodOr reads n's method, whose Twilio code is a warning: anything but
// GET or POST runs as POST.
func (p *parser) methodOr(n *node, a map[string]string, code int) string {
	m, err := method(a, code, n.Name)
	if err != nil {
		p.tolerate(code, n.Name, "method", a["method"], "POST is used")
		return "POST"
	}
	return m
}

func method(a map[string]string, code int, verb string) (string, *Error) {
	switch m := strings.ToUpper(def(a["method"], "POST")); m {
	case "GET", "POST":
		return m, nil
	}
	return "", errorf(code, "%s: invalid method %q", verb, a["method"])
}
