package voice

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
)

// Twilio's error codes for documents (twilio-voice.md §6).
const (
	CodeHTTPRetrieval   = 11200 // 4xx/5xx, no Content-Type
	CodeHTTPConnection  = 11205 // could not connect
	CodeEmptyBody       = 11770
	CodeParse           = 12100 // malformed XML
	CodeRoot            = 12102 // root is not <Response>
	CodeSchema          = 12200 // an element tonepay cannot run (an unknown attribute is only a warning)
	CodeContentType     = 12300
	CodeRelativeAction  = 15004 // relative action in a document that has no URL (Twiml)
	CodePayNotSupported = 64001 // <Pay> is parsed but not run yet (issue 15)
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
	URL      string   `json:"url,omitempty"`
	Verbs    []Verb   `json:"verbs"`
	Warnings []*Error `json:"warnings,omitempty"`
}

// Verb is one TwiML verb with its attributes, defaults applied and URLs
// resolved. One flat struct, so that State stays plain JSON.
type Verb struct {
	Name string `json:"name"` // Say, Play, Pause, Gather, Redirect, Hangup, Reject, Dial, Connect, Pay
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

	CallerID     string `json:"callerId,omitempty"`
	Nouns        []Noun `json:"nouns,omitempty"`     // Dial
	TimeLimit    int    `json:"timeLimit,omitempty"` // Dial: seconds the bridge may last
	HangupOnStar bool   `json:"hangupOnStar,omitempty"`

	Reason string `json:"reason,omitempty"` // Reject: rejected or busy

	Pay *PayVerb `json:"pay,omitempty"` // Pay

	// Attrs and Inner keep Connect's markup as written, for the issue that
	// runs it (media streams).
	Attrs map[string]string `json:"attrs,omitempty"`
	Inner string            `json:"inner,omitempty"`
}

// Noun is whom a Dial calls.
type Noun struct {
	Kind   string `json:"kind"` // Number, Client, Sip
	Target string `json:"target"`
}

type node struct {
	XMLName xml.Name
	Attrs   []xml.Attr `xml:",any,attr"`
	Text    string     `xml:",chardata"`
	Inner   string     `xml:",innerxml"`
	Nodes   []node     `xml:",any"`
}

// text is the element's words with any SSML markup dropped.
func (n node) text() string {
	var b strings.Builder
	b.WriteString(n.Text)
	for _, c := range n.Nodes {
		b.WriteString(c.text())
	}
	return strings.Join(strings.Fields(b.String()), " ")
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
	// Until the root element shows the body is TwiML, errors quote nothing
	// of it: the body may be another service's answer (a page, a metrics
	// text, a stack dump) that a tenant's URL reached, and the error goes to
	// the call's timeline. Inside a <Response> they say what is wrong, as
	// an app's developer needs.
	d := xml.NewDecoder(bytes.NewReader(body))
	start, err := rootElement(d)
	if err != nil {
		return nil, errorf(CodeParse, "Document parse failure: not well-formed XML before the root element")
	}
	if start.Name.Local != "Response" {
		return nil, errorf(CodeRoot, "The root element must be Response")
	}
	var root node
	if err := d.DecodeElement(&root, &start); err != nil {
		return nil, errorf(CodeParse, "Document parse failure: %v", err)
	}
	// Anything but whitespace and comments after the root is malformed.
	for {
		tok, err := d.Token()
		if err != nil {
			if err != io.EOF {
				return nil, errorf(CodeParse, "Document parse failure: not well-formed XML after </Response>")
			}
			break
		}
		switch t := tok.(type) {
		case xml.CharData:
			if len(bytes.TrimSpace(t)) > 0 {
				return nil, errorf(CodeParse, "Document parse failure: text after </Response>")
			}
		case xml.Comment, xml.ProcInst:
		default:
			return nil, errorf(CodeParse, "Document parse failure: content after </Response>")
		}
	}
	p := &parser{doc: &Document{URL: docURL}}
	for _, n := range root.Nodes {
		v, err := p.verb(n, false)
		if err != nil {
			return nil, err
		}
		p.doc.Verbs = append(p.doc.Verbs, v)
	}
	return p.doc, nil
}

// rootElement reads d up to its first element, skipping what Decode skips
// before it (text, comments, the declaration).
func rootElement(d *xml.Decoder) (xml.StartElement, error) {
	for {
		tok, err := d.Token()
		if err != nil {
			return xml.StartElement{}, err
		}
		if start, ok := tok.(xml.StartElement); ok {
			return start, nil
		}
	}
}

type parser struct{ doc *Document }

// attrs reads n's attributes into the named settings; an attribute not
// named is a 12200 warning, not an error: real apps send undocumented ones.
func (p *parser) attrs(n node, known ...string) map[string]string {
	m := map[string]string{}
	for _, a := range n.Attrs {
		ok := false
		for _, k := range known {
			if a.Name.Local == k {
				ok = true
			}
		}
		if !ok {
			p.doc.Warnings = append(p.doc.Warnings, errorf(CodeSchema, "Schema validation warning: attribute %q is not allowed on <%s>", a.Name.Local, n.XMLName.Local))
		}
		m[a.Name.Local] = a.Value
	}
	return m
}

func (p *parser) verb(n node, nested bool) (Verb, *Error) {
	name := n.XMLName.Local
	v := Verb{Name: name}
	if nested && name != "Say" && name != "Play" && name != "Pause" {
		return v, errorf(13320, "Gather: <%s> cannot be nested in <Gather>", name)
	}
	var err *Error
	switch name {
	case "Say":
		a := p.attrs(n, "voice", "language", "loop")
		v.Text, v.Voice, v.Language = n.text(), a["voice"], def(a["language"], "en-US")
		v.Loop, err = intAttr(a, "loop", 1, 0, 13510, name)
	case "Play":
		a := p.attrs(n, "loop", "digits")
		v.Digits = a["digits"]
		if strings.Trim(v.Digits, "0123456789ABCD#*wW") != "" {
			return v, errorf(13430, "Play: invalid digits %q", v.Digits)
		}
		if nested && v.Digits != "" {
			return v, errorf(13320, "Gather: <Play digits> cannot be nested in <Gather>")
		}
		if t := strings.TrimSpace(n.Text); t != "" {
			if v.Text, err = p.resolve(t, 12200, name); err != nil {
				return v, err
			}
		}
		v.Loop, err = intAttr(a, "loop", 1, 0, 13410, name)
	case "Pause":
		a := p.attrs(n, "length")
		v.Length, err = intAttr(a, "length", 1, 1, 13910, name)
	case "Gather":
		err = p.gather(n, &v)
	case "Redirect":
		a := p.attrs(n, "method")
		if v.Method, err = method(a, 13710, name); err == nil {
			v.Text, err = p.resolve(strings.TrimSpace(n.Text), 12200, name)
		}
	case "Hangup":
		p.attrs(n)
	case "Reject":
		a := p.attrs(n, "reason")
		v.Reason = def(a["reason"], "rejected")
		if v.Reason != "rejected" && v.Reason != "busy" {
			return v, errorf(13810, "Reject: invalid reason %q", v.Reason)
		}
	case "Dial":
		err = p.dial(n, &v)
	case "Pay":
		err = p.pay(n, &v)
	case "Connect":
		v.Attrs, v.Inner = map[string]string{}, strings.TrimSpace(n.Inner)
		for _, a := range n.Attrs {
			v.Attrs[a.Name.Local] = a.Value
		}
		if v.Method, err = method(v.Attrs, 12200, name); err == nil && v.Attrs["action"] != "" {
			v.Action, err = p.resolve(v.Attrs["action"], CodeRelativeAction, name)
		}
	default:
		return v, errorf(CodeSchema, "Schema validation: <%s> is not a TwiML verb tonepay runs", name)
	}
	return v, err
}

func (p *parser) gather(n node, v *Verb) *Error {
	a := p.attrs(n, "input", "numDigits", "finishOnKey", "timeout", "action", "method", "actionOnEmptyResult",
		"speechTimeout", "language", "hints", "profanityFilter", "speechModel", "enhanced",
		"partialResultCallback", "partialResultCallbackMethod", "maxSpeechTime", "bargeIn", "debug")
	if in := def(a["input"], "dtmf"); in != "dtmf" {
		return errorf(13326, "Gather: input %q is not supported (dtmf only)", in)
	}
	var err *Error
	if v.NumDigits, err = intAttr(a, "numDigits", 0, 1, 13314, "Gather"); err != nil {
		return err
	}
	if v.Timeout, err = intAttr(a, "timeout", 5, 1, 13313, "Gather"); err != nil {
		return err
	}
	v.FinishOnKey = "#"
	if k, ok := a["finishOnKey"]; ok {
		if len(k) > 1 || strings.Trim(k, "0123456789#*") != "" {
			return errorf(13310, "Gather: invalid finishOnKey %q", k)
		}
		v.FinishOnKey = k
	}
	if v.Method, err = method(a, 13312, "Gather"); err != nil {
		return err
	}
	switch a["actionOnEmptyResult"] {
	case "", "false":
	case "true":
		v.ActionOnEmptyResult = true
	default:
		return errorf(13338, "Gather: invalid actionOnEmptyResult %q", a["actionOnEmptyResult"])
	}
	// The default action is the document itself (Twilio requests it again).
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

func (p *parser) dial(n node, v *Verb) *Error {
	a := p.attrs(n, "action", "method", "timeout", "callerId", "timeLimit", "hangupOnStar", "answerOnBridge",
		"record", "recordingStatusCallback", "recordingStatusCallbackMethod", "recordingStatusCallbackEvent",
		"recordingTrack", "trim", "ringTone", "sequential", "referUrl", "referMethod", "callReason", "events",
		"recordingConfigurationId", "passports")
	var err *Error
	if v.Method, err = method(a, 13210, "Dial"); err != nil {
		return err
	}
	if v.Timeout, err = intAttr(a, "timeout", 30, 1, 13212, "Dial"); err != nil {
		return err
	}
	if v.TimeLimit, err = intAttr(a, "timeLimit", 14400, 1, 13216, "Dial"); err != nil {
		return err
	}
	switch a["hangupOnStar"] {
	case "", "false":
	case "true":
		v.HangupOnStar = true
	default:
		return errorf(13213, "Dial: invalid hangupOnStar %q", a["hangupOnStar"])
	}
	v.CallerID = a["callerId"]
	if a["action"] != "" {
		if v.Action, err = p.resolve(a["action"], CodeRelativeAction, "Dial"); err != nil {
			return err
		}
	}
	for _, c := range n.Nodes {
		switch k := c.XMLName.Local; k {
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

func intAttr(a map[string]string, name string, d, min, code int, verb string) (int, *Error) {
	s, ok := a[name]
	if !ok {
		return d, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < min {
		return 0, errorf(code, "%s: invalid %s %q", verb, name, s)
	}
	return n, nil
}

func method(a map[string]string, code int, verb string) (string, *Error) {
	switch m := strings.ToUpper(def(a["method"], "POST")); m {
	case "GET", "POST":
		return m, nil
	}
	return "", errorf(code, "%s: invalid method %q", verb, a["method"])
}
