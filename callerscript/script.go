// Package callerscript runs caller scripts (DESIGN §13): YAML files of
// tests, each of which places one call to a voice application through a
// tonepay server and plays the caller step by step (expect what is heard,
// press keys, say words, pay with a test card, wait, hang up), asserting
// what the caller hears and what the application receives.
//
// Parsing, validation and matching are pure (no server): Parse reads a
// file into a File whose every part knows its line, or returns errors that
// name the file and the line. Runner plays the tests through client/.
package callerscript

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// DefaultTimeout is how long an expect… step waits for its match unless the
// file, the test or the step says otherwise.
const DefaultTimeout = 10 * time.Second

// Default numbers of a call whose script names none: Twilio's magic test
// numbers, which tonepay accepts as any other.
const (
	DefaultFrom = "+15005550001"
	DefaultTo   = "+15005550006"
)

// File is a parsed caller script.
type File struct {
	Path    string
	App     string        // the base of relative URLs, ${VAR} expanded; "" if none
	Timeout time.Duration // the file's default for expect… steps; 0: DefaultTimeout
	Tests   []*Test
}

// Test is one call and the caller's steps.
type Test struct {
	File    *File
	Name    string
	Line    int
	Timeout time.Duration // 0: the file's
	Call    Call
	Steps   []*Step
}

// Call says how a test's call is placed: to a number (inbound), or to a URL
// or a TwiML document (outbound-api).
type Call struct {
	Line     int
	Number   string // an inbound call to this number of the account
	VoiceURL string // the number's VoiceUrl, resolved against the file's app
	URL      string // an outbound-api call running this app, resolved
	Method   string // URL's or VoiceURL's method; "" is POST
	Twiml    string // an outbound-api call running this document
	From, To string
	// Dial is the far end of any <Dial> in the call (DESIGN §13): answer,
	// busy, no-answer, failed, or answer:N (it hangs up after N seconds of
	// the call's clock); "" is the server's default, answer.
	Dial string
}

// Step kinds.
const (
	KindExpect        = "expect"
	KindPress         = "press"
	KindSay           = "say"
	KindPay           = "pay"
	KindWait          = "wait"
	KindHangup        = "hangup"
	KindExpectRequest = "expect_request"
	KindExpectStatus  = "expect_status"
)

// Step is one thing the caller does or checks.
type Step struct {
	N       int    // 1-based, in its test
	Line    int    // in its file
	Kind    string // one of the Kind… constants
	Source  string // the step as written, for messages (a card number masked)
	Timeout time.Duration

	Pattern    *Pattern      // expect
	Keys       string        // press
	Text       string        // say
	Confidence float64       // say; 0: the server's default
	Card       Card          // pay
	Wait       time.Duration // wait
	Request    Request       // expect_request
	Status     string        // expect_status
}

// Request is what an expect_request step looks for: a request of the app on
// Path (and Method, if set) with at least Params.
type Request struct {
	Path   string
	Method string
	Params map[string]string
}

// Card is what a pay step answers with. Name is the test card's name, or
// "" for explicit values.
type Card struct {
	Name                         string
	Number, Expiry, CVV, Postal  string
	RoutingNumber, AccountNumber string
}

// The sandbox's test cards (DESIGN §6, §13), by the names a pay step uses.
var testCards = map[string]Card{
	"visa":       {Name: "visa", Number: "4242424242424242", Expiry: "1230", CVV: "123", Postal: "94105"},
	"mastercard": {Name: "mastercard", Number: "5555555555554444", Expiry: "1230", CVV: "123", Postal: "94105"},
	"amex":       {Name: "amex", Number: "378282246310005", Expiry: "1230", CVV: "1234", Postal: "94105"},
	"decline":    {Name: "decline", Number: "4000000000000002", Expiry: "1230", CVV: "123", Postal: "94105"},
	"ach":        {Name: "ach", RoutingNumber: "121000358", AccountNumber: "12345678", Postal: "94105"},
}

// Error is what is wrong with a file, where.
type Error struct {
	File string
	Line int // 0 when the file could not be read at all
	Msg  string
}

// Error is redacted (Redact): a message quotes the value it refuses, and
// that value may be a card number (pay: "4242…", a press of one).
func (e *Error) Error() string {
	if e.Line == 0 {
		return Redact(e.File + ": " + e.Msg)
	}
	return Redact(fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg))
}

// parser collects every error of a file, so that one run names them all.
type parser struct {
	path   string
	getenv func(string) string
	errs   []error
	file   *File
}

func (p *parser) errorf(n *yaml.Node, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	p.errs = append(p.errs, &Error{File: p.path, Line: line, Msg: Redact(fmt.Sprintf(format, args...))})
}

// Parse reads the caller script at path (its content in data), expanding
// each ${VAR} in its values with getenv. The error, if any, joins one
// *Error per problem found.
func Parse(path string, data []byte, getenv func(string) string) (*File, error) {
	p := &parser{path: path, getenv: getenv, file: &File{Path: path}}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, syntaxError(path, data, err)
	}
	if len(doc.Content) == 0 {
		return nil, &Error{File: path, Line: 1, Msg: "empty file: it needs tests"}
	}
	p.parseFile(doc.Content[0])
	if len(p.errs) > 0 {
		return nil, errors.Join(p.errs...)
	}
	return p.file, nil
}

var yamlLine = regexp.MustCompile(`line (\d+): `)

// syntaxError is a YAML syntax error at the line where the problem is. The
// library says where it noticed it, which is often elsewhere: the start of
// the block that holds a key at a wrong indentation (a line 7 reported as
// 2), the line before a tab or before an unclosed [ or {. The line here is
// the one after the longest run of whole lines, from the top, that parses:
// a file parses up to its first mistake, and stops parsing there. The
// library's message stays, since it says what is wrong.
func syntaxError(path string, data []byte, err error) *Error {
	line := 1
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		line, _ = strconv.Atoi(m[1])
	}
	msg := strings.TrimPrefix(yamlLine.ReplaceAllString(err.Error(), ""), "yaml: ")
	// Line ends: ends[k] is the length of the file's first k lines.
	ends := []int{0}
	for i, b := range data {
		if b == '\n' {
			ends = append(ends, i+1)
		}
	}
	// From the longest prefix down: a prefix that ends inside a multi-line
	// [...] or "..." fails although the file is right there, so the first
	// failing prefix from the top could be too early. A failing parse
	// stops at its mistake, so each costs about as much as the lines
	// before it; past maxScan lines, only the library's line is trusted
	// as a lower bound.
	floor := 0
	if len(ends) > maxScan {
		floor = max(line-1, 0)
	}
	for k := len(ends) - 1; k >= floor; k-- {
		if ends[k] == len(data) {
			continue // the whole file, which fails
		}
		var n yaml.Node
		if yaml.Unmarshal(data[:ends[k]], &n) == nil {
			line = k + 1
			break
		}
	}
	if indent := leadingSpace(data, ends, line); strings.Contains(indent, "\t") {
		msg += " (a tab in the indentation: YAML indents with spaces only)"
	}
	return &Error{File: path, Line: line, Msg: Redact(msg)}
}

// maxScan bounds syntaxError's search from the end of a file.
const maxScan = 5000

// leadingSpace is the blanks that begin line (1-based) of data.
func leadingSpace(data []byte, ends []int, line int) string {
	if line < 1 || line > len(ends) {
		return ""
	}
	l := data[ends[line-1]:]
	n := 0
	for n < len(l) && (l[n] == ' ' || l[n] == '\t') {
		n++
	}
	return string(l[:n])
}

// fields walks a mapping node: fn gets each key's name, key node and value
// node; a key fn does not know is an error (a typo is not ignored).
func (p *parser) fields(n *yaml.Node, what string, fn func(key string, k, v *yaml.Node) bool) {
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "%s must be a mapping", what)
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if seen[k.Value] {
			p.errorf(k, "%s: %q appears twice", what, k.Value)
			continue
		}
		seen[k.Value] = true
		if !fn(k.Value, k, v) {
			p.errorf(k, "%s: unknown key %q", what, k.Value)
		}
	}
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// str is a scalar's value with each ${VAR} expanded; an unset or empty
// variable is an error, since an empty app URL or number only fails later
// and less clearly.
func (p *parser) str(n *yaml.Node, what string) string {
	if n.Kind != yaml.ScalarNode {
		p.errorf(n, "%s must be a single value", what)
		return ""
	}
	return envRef.ReplaceAllStringFunc(n.Value, func(ref string) string {
		name := ref[2 : len(ref)-1]
		v := p.getenv(name)
		if v == "" {
			p.errorf(n, "%s: %s is not set", what, name)
		}
		return v
	})
}

// seconds reads a positive number of seconds.
func (p *parser) seconds(n *yaml.Node, what string) time.Duration {
	s := p.str(n, what)
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f <= 0 || math.IsInf(f, 0) || f > 24*3600 {
		p.errorf(n, "%s must be a number of seconds above 0, not %q", what, s)
		return 0
	}
	return time.Duration(f * float64(time.Second))
}

func (p *parser) parseFile(n *yaml.Node) {
	f := p.file
	var tests *yaml.Node
	p.fields(n, "the file", func(key string, k, v *yaml.Node) bool {
		switch key {
		case "app":
			f.App = strings.TrimRight(p.str(v, "app"), "/")
			if f.App != "" && !isHTTP(f.App) {
				p.errorf(v, "app must be an http or https URL, not %q", f.App)
			}
		case "timeout":
			f.Timeout = p.seconds(v, "timeout")
		case "tests":
			tests = v
		default:
			return false
		}
		return true
	})
	if n.Kind != yaml.MappingNode {
		return
	}
	if tests == nil || tests.Kind != yaml.SequenceNode || len(tests.Content) == 0 {
		at := n
		if tests != nil {
			at = tests
		}
		p.errorf(at, "tests must be a list of at least one test")
		return
	}
	names := map[string]int{}
	for _, tn := range tests.Content {
		t := p.parseTest(tn)
		if t == nil {
			continue
		}
		if prev, ok := names[t.Name]; ok {
			p.errorf(tn, "test %q is also at line %d: names must differ (they name the results)", t.Name, prev)
		}
		names[t.Name] = t.Line
		f.Tests = append(f.Tests, t)
	}
}

func (p *parser) parseTest(n *yaml.Node) *Test {
	t := &Test{File: p.file, Line: n.Line}
	var call, steps *yaml.Node
	p.fields(n, "a test", func(key string, k, v *yaml.Node) bool {
		switch key {
		case "name":
			t.Name = strings.TrimSpace(p.str(v, "name"))
		case "timeout":
			t.Timeout = p.seconds(v, "timeout")
		case "call":
			call = v
		case "steps":
			steps = v
		default:
			return false
		}
		return true
	})
	if n.Kind != yaml.MappingNode {
		return nil
	}
	if t.Name == "" {
		p.errorf(n, "a test needs a name")
	}
	if call == nil {
		p.errorf(n, "test %q needs a call (number, url or twiml)", t.Name)
	} else {
		t.Call = p.parseCall(call)
	}
	if steps == nil || steps.Kind != yaml.SequenceNode || len(steps.Content) == 0 {
		at := n
		if steps != nil {
			at = steps
		}
		p.errorf(at, "test %q needs steps: a list of at least one step", t.Name)
		return t
	}
	for i, sn := range steps.Content {
		if s := p.parseStep(sn); s != nil {
			s.N = i + 1
			t.Steps = append(t.Steps, s)
		}
	}
	return t
}

func isHTTP(u string) bool {
	x, err := url.Parse(u)
	return err == nil && (x.Scheme == "http" || x.Scheme == "https") && x.Host != ""
}

// resolve makes u absolute: an http(s) URL stays; anything else is a path
// under the file's app.
func (p *parser) resolve(n *yaml.Node, what, u string) string {
	if isHTTP(u) {
		return u
	}
	if p.file.App == "" {
		p.errorf(n, "%s %q is relative, and the file has no app", what, u)
		return ""
	}
	return p.file.App + "/" + strings.TrimLeft(u, "/")
}

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{1,14}$`)

func (p *parser) parseCall(n *yaml.Node) Call {
	c := Call{Line: n.Line}
	var voiceURL, dial *yaml.Node
	var rawURL string
	var urlNode *yaml.Node
	p.fields(n, "call", func(key string, k, v *yaml.Node) bool {
		switch key {
		case "number":
			c.Number = p.str(v, "call.number")
			if !e164.MatchString(c.Number) {
				p.errorf(v, "call.number must be a phone number such as +15551230002, not %q", c.Number)
			}
		case "voice_url":
			voiceURL = v
		case "url":
			urlNode, rawURL = v, p.str(v, "call.url")
		case "twiml":
			c.Twiml = p.str(v, "call.twiml")
		case "method":
			c.Method = strings.ToUpper(p.str(v, "call.method"))
			if c.Method != "GET" && c.Method != "POST" {
				p.errorf(v, "call.method must be GET or POST, not %q", c.Method)
			}
		case "from":
			c.From = p.str(v, "call.from")
		case "to":
			c.To = p.str(v, "call.to")
		case "dial":
			dial = v
		default:
			return false
		}
		return true
	})
	kinds := 0
	for _, set := range []bool{c.Number != "", urlNode != nil, c.Twiml != ""} {
		if set {
			kinds++
		}
	}
	if n.Kind == yaml.MappingNode && kinds != 1 {
		p.errorf(n, "call needs exactly one of number (an inbound call), url or twiml (an outbound-api call)")
	}
	if urlNode != nil {
		c.URL = p.resolve(urlNode, "call.url", rawURL)
	}
	if voiceURL != nil {
		if c.Number == "" {
			p.errorf(voiceURL, "call.voice_url goes with call.number (use url for an outbound-api call)")
		}
		c.VoiceURL = p.resolve(voiceURL, "call.voice_url", p.str(voiceURL, "call.voice_url"))
	}
	if c.Number != "" && c.To != "" {
		p.errorf(n, "call.to goes with url or twiml: an inbound call is to call.number")
	}
	if c.From == "" {
		c.From = DefaultFrom
	}
	if c.Number == "" && c.To == "" {
		c.To = DefaultTo
	}
	if dial != nil {
		c.Dial = p.parseDial(dial)
	}
	return c
}

// parseDial reads call.dial into the server's form: answer, busy,
// no-answer, failed, or answer:N for {status: answer, hangup_after: N}.
func (p *parser) parseDial(n *yaml.Node) string {
	switch n.Kind {
	case yaml.ScalarNode:
		s := p.str(n, "call.dial")
		switch s {
		case "answer", "busy", "no-answer", "failed":
			return s
		}
		p.errorf(n, "call.dial must be answer, busy, no-answer, failed or {status: answer, hangup_after: N}, not %q", s)
		return ""
	case yaml.MappingNode:
		status, after := "answer", 0
		p.fields(n, "call.dial", func(key string, k, v *yaml.Node) bool {
			switch key {
			case "status":
				status = p.str(v, "call.dial.status")
			case "hangup_after":
				s := p.str(v, "call.dial.hangup_after")
				var err error
				if after, err = strconv.Atoi(s); err != nil || after <= 0 || after > 14400 {
					p.errorf(v, "call.dial.hangup_after must be a whole number of seconds from 1 to 14400, not %q", s)
				}
			default:
				return false
			}
			return true
		})
		switch {
		case status != "answer" && after > 0:
			p.errorf(n, "call.dial.hangup_after goes with status answer only (the far end hangs up only once it answered)")
		case status != "answer" && status != "busy" && status != "no-answer" && status != "failed":
			p.errorf(n, "call.dial.status must be answer, busy, no-answer or failed, not %q", status)
		case after > 0:
			return "answer:" + strconv.Itoa(after)
		}
		return status
	}
	p.errorf(n, "call.dial must be answer, busy, no-answer, failed or {status: answer, hangup_after: N}")
	return ""
}

var keysRE = regexp.MustCompile(`^[0-9*#w]+$`)

// parseStep reads one step: "hangup" alone, or a mapping with one kind's
// key (and, beside it, timeout).
func (p *parser) parseStep(n *yaml.Node) *Step {
	s := &Step{Line: n.Line}
	if n.Kind == yaml.ScalarNode {
		if n.Value == KindHangup {
			s.Kind, s.Source = KindHangup, KindHangup
			return s
		}
		p.errorf(n, "a step is a mapping such as `expect: Welcome` (or `hangup` alone), not %q", n.Value)
		return nil
	}
	var kindKey, kindVal *yaml.Node
	p.fields(n, "a step", func(key string, k, v *yaml.Node) bool {
		switch key {
		case KindExpect, KindPress, KindSay, KindPay, KindWait, KindHangup, KindExpectRequest, KindExpectStatus:
			if kindKey != nil {
				p.errorf(k, "a step does one thing: %s and %s are two steps", kindKey.Value, key)
				return true
			}
			kindKey, kindVal = k, v
		case "timeout":
			s.Timeout = p.seconds(v, "timeout")
		default:
			return false
		}
		return true
	})
	if n.Kind != yaml.MappingNode {
		return nil
	}
	if kindKey == nil {
		p.errorf(n, "a step needs one of expect, press, say, pay, wait, hangup, expect_request, expect_status")
		return nil
	}
	s.Kind = kindKey.Value
	v := kindVal
	// opts reads a step's {…} form: the main value under main, and timeout.
	opts := func(main string, more func(key string, v *yaml.Node) bool) *yaml.Node {
		var mainNode *yaml.Node
		p.fields(v, s.Kind, func(key string, k, x *yaml.Node) bool {
			switch {
			case key == main:
				mainNode = x
			case key == "timeout":
				s.Timeout = p.seconds(x, "timeout")
			case more != nil && more(key, x):
			default:
				return false
			}
			return true
		})
		if mainNode == nil && main != "" {
			p.errorf(v, "%s needs %s", s.Kind, main)
		}
		return mainNode
	}
	switch s.Kind {
	case KindExpect:
		t := v
		if v.Kind == yaml.MappingNode {
			t = opts("text", nil)
		}
		if t != nil {
			text := p.str(t, "expect")
			pat, err := ParsePattern(text)
			if err != nil {
				p.errorf(t, "expect: %v", err)
			}
			s.Pattern, s.Source = pat, "expect: "+text
		}
	case KindPress:
		s.Keys = p.str(v, "press")
		if !keysRE.MatchString(s.Keys) || len(s.Keys) > 256 {
			p.errorf(v, "press takes keys 0-9, * and # (w waits half a second), at most 256, not %q", s.Keys)
		}
		s.Source = "press: " + s.Keys
	case KindSay:
		t := v
		if v.Kind == yaml.MappingNode {
			t = opts("text", func(key string, x *yaml.Node) bool {
				if key != "confidence" {
					return false
				}
				c, err := strconv.ParseFloat(p.str(x, "say.confidence"), 64)
				if err != nil || c <= 0 || c > 1 {
					p.errorf(x, "say.confidence must be a number above 0, at most 1")
				}
				s.Confidence = c
				return true
			})
		}
		if t != nil {
			s.Text = strings.TrimSpace(p.str(t, "say"))
			if s.Text == "" {
				p.errorf(t, "say needs words")
			}
		}
		s.Source = "say: " + s.Text
	case KindPay:
		s.Card = p.parseCard(v)
		s.Source = "pay: " + s.Card.String()
	case KindWait:
		s.Wait = p.seconds(v, "wait")
		s.Source = "wait: " + strconv.FormatFloat(s.Wait.Seconds(), 'f', -1, 64)
	case KindHangup:
		if v.Kind != yaml.ScalarNode || (v.Tag != "!!null" && v.Value != "") {
			p.errorf(v, "hangup takes no value")
		}
		s.Source = KindHangup
	case KindExpectRequest:
		s.Request.Params = map[string]string{}
		opts("path", func(key string, x *yaml.Node) bool {
			switch key {
			case "path":
			case "method":
				s.Request.Method = strings.ToUpper(p.str(x, "expect_request.method"))
			case "params":
				p.fields(x, "expect_request.params", func(name string, _, pv *yaml.Node) bool {
					s.Request.Params[name] = p.str(pv, "expect_request.params."+name)
					return true
				})
			default:
				return false
			}
			return true
		})
		if v.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(v.Content); i += 2 {
				if v.Content[i].Value == "path" {
					s.Request.Path = p.str(v.Content[i+1], "expect_request.path")
					if !strings.HasPrefix(s.Request.Path, "/") {
						p.errorf(v.Content[i+1], "expect_request.path must start with /, not %q", s.Request.Path)
					}
				}
			}
		}
		s.Source = "expect_request: " + s.Request.String()
	case KindExpectStatus:
		t := v
		if v.Kind == yaml.MappingNode {
			t = opts("status", nil)
		}
		if t != nil {
			s.Status = p.str(t, "expect_status")
			switch s.Status {
			case "queued", "ringing", "in-progress", "completed", "busy", "failed", "no-answer", "canceled":
			default:
				p.errorf(t, "expect_status must be a call status (queued, ringing, in-progress, completed, busy, failed, no-answer, canceled), not %q", s.Status)
			}
		}
		s.Source = "expect_status: " + s.Status
	}
	if s.Timeout > 0 && !strings.HasPrefix(s.Kind, "expect") && s.Kind != KindPay {
		p.errorf(n, "timeout goes with expect, expect_request, expect_status and pay steps")
	}
	return s
}

var digitsOnly = regexp.MustCompile(`^[0-9]+$`)

// parseCard reads a pay step's card: a test card's name, or its values.
func (p *parser) parseCard(n *yaml.Node) Card {
	if n.Kind == yaml.ScalarNode {
		name := p.str(n, "pay")
		c, ok := testCards[name]
		if !ok {
			p.errorf(n, "pay takes a test card (visa, mastercard, amex, decline, ach) or {number, expiry, cvv, postal}, not %q", name)
		}
		return c
	}
	var c Card
	digits := func(x *yaml.Node, what string, min, max int) string {
		s := strings.ReplaceAll(p.str(x, what), " ", "")
		if what == "pay.expiry" {
			s = strings.ReplaceAll(s, "/", "") // 12/30 as typed: 1230
		}
		if !digitsOnly.MatchString(s) || len(s) < min || len(s) > max {
			p.errorf(x, "%s must be %d to %d digits", what, min, max)
		}
		return s
	}
	p.fields(n, "pay", func(key string, k, v *yaml.Node) bool {
		switch key {
		case "number":
			c.Number = digits(v, "pay.number", 12, 19)
		case "expiry":
			c.Expiry = digits(v, "pay.expiry", 4, 4)
		case "cvv":
			c.CVV = digits(v, "pay.cvv", 3, 4)
		case "postal":
			c.Postal = digits(v, "pay.postal", 1, 10)
		case "routing":
			c.RoutingNumber = digits(v, "pay.routing", 9, 9)
		case "account":
			c.AccountNumber = digits(v, "pay.account", 1, 17)
		default:
			return false
		}
		return true
	})
	if n.Kind == yaml.MappingNode && c.Number == "" && c.AccountNumber == "" {
		p.errorf(n, "pay needs a number (a card) or routing and account (a bank account)")
	}
	return c
}

// String names the card as a message may show it: its name, or its number
// masked but for the last four digits.
func (c Card) String() string {
	if c.Name != "" {
		return c.Name
	}
	if c.Number != "" {
		return "card " + Mask(c.Number)
	}
	return "bank account " + Mask(c.AccountNumber)
}

// Mask hides all but the last four characters of a number.
func Mask(n string) string {
	if len(n) <= 4 {
		return strings.Repeat("*", len(n))
	}
	return strings.Repeat("*", len(n)-4) + n[len(n)-4:]
}

func (r Request) String() string {
	s := r.Path
	if r.Method != "" {
		s = r.Method + " " + s
	}
	names := make([]string, 0, len(r.Params))
	for k := range r.Params {
		names = append(names, k)
	}
	slices.Sort(names)
	for i, k := range names {
		sep := " "
		if i > 0 {
			sep = "&"
		}
		s += sep + k + "=" + r.Params[k]
	}
	return s
}
