package callerscript

import (
	"bytes"
	"encoding/xml"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tonepay/tonepay/client"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestParse(t *testing.T) {
	src := `app: ${APP_URL}/
timeout: 3
tests:
  - name: pays a bill by card
    timeout: 4
    call:
      number: "+15551230002"
      voice_url: /voice
      dial: {status: answer, hangup_after: 5}
    steps:
      - expect: Welcome to Acme
      - expect: {text: "/press (1|one)/i", timeout: 5}
      - press: 1
      - pay: visa
      - pay: {number: "5555 5555 5555 4444", expiry: 12/30, cvv: 321, postal: 94105}
      - say: {text: agent please, confidence: 0.5}
      - wait: 0.5
      - expect_request: {path: /paid, params: {Result: success}}
      - hangup
      - expect_status: completed
`
	f, err := Parse("s.yaml", []byte(src), env(map[string]string{"APP_URL": "http://127.0.0.1:3000"}))
	if err != nil {
		t.Fatal(err)
	}
	if f.App != "http://127.0.0.1:3000" || f.Timeout != 3*time.Second || len(f.Tests) != 1 {
		t.Fatalf("file: %+v", f)
	}
	tt := f.Tests[0]
	want := Call{Line: 7, Number: "+15551230002", VoiceURL: "http://127.0.0.1:3000/voice", From: DefaultFrom, Dial: "answer:5"}
	if d := cmp.Diff(want, tt.Call); d != "" {
		t.Errorf("call (-want +got):\n%s", d)
	}
	var kinds []string
	for _, s := range tt.Steps {
		kinds = append(kinds, s.Kind)
	}
	if d := cmp.Diff([]string{"expect", "expect", "press", "pay", "pay", "say", "wait", "expect_request", "hangup", "expect_status"}, kinds); d != "" {
		t.Errorf("kinds:\n%s", d)
	}
	s := tt.Steps
	if s[0].Line != 11 || s[2].N != 3 || s[2].Keys != "1" {
		t.Errorf("lines/keys: %+v %+v", s[0], s[2])
	}
	if timeout(tt, s[1]) != 5*time.Second || timeout(tt, s[0]) != 4*time.Second {
		t.Errorf("timeouts: %v %v", timeout(tt, s[1]), timeout(tt, s[0]))
	}
	if s[4].Card.Number != "5555555555554444" || s[4].Card.Expiry != "1230" || s[4].Source != "pay: card ************4444" {
		t.Errorf("card: %+v %q", s[4].Card, s[4].Source)
	}
	if s[5].Text != "agent please" || s[5].Confidence != 0.5 || s[6].Wait != 500*time.Millisecond {
		t.Errorf("say/wait: %+v %+v", s[5], s[6])
	}
	if d := cmp.Diff(Request{Path: "/paid", Params: map[string]string{"Result": "success"}}, s[7].Request); d != "" {
		t.Errorf("request:\n%s", d)
	}
	if s[9].Status != "completed" {
		t.Errorf("status: %+v", s[9])
	}
}

func TestParseErrors(t *testing.T) {
	const head = "app: http://a\ntests:\n  - name: a\n    call: {url: /v}\n" // four lines
	tests := []struct {
		name, src string
		want      []string // each FILE:LINE: message prefix
	}{
		{"yaml syntax", "tests: [\n", []string{"s.yaml:1: did not find expected node content"}},
		// The library reports these where the enclosing block starts, or a
		// line early; the line is the mistake's.
		{"step indented wrong", head + "    steps:\n      - expect: hi\n     - press: '1'\n", []string{"s.yaml:7: did not find expected key"}},
		{"key indented wrong", head + "   steps: [hangup]\n", []string{"s.yaml:5: did not find expected '-' indicator"}},
		{"key dedented", head + "  steps: [hangup]\n", []string{"s.yaml:5: did not find expected '-' indicator"}},
		{"tab before a key", head + "\tsteps: [hangup]\n", []string{"s.yaml:5: found character that cannot start any token (a tab in the indentation"}},
		{"tab before a step", head + "    steps:\n      - expect: hi\n\t- press: '1'\n", []string{"s.yaml:7: found a tab character that violates indentation (a tab in the indentation"}},
		{"unclosed [", head + "    steps: [hangup\n  - name: b\n    call: {url: /v}\n    steps: [hangup]\n", []string{"s.yaml:5: did not find expected ',' or ']'"}},
		{"unclosed {", "app: http://a\ntests:\n  - name: a\n    call: {url: /v\n    steps: [hangup]\n", []string{"s.yaml:4: did not find expected ',' or '}'"}},
		{"unclosed quote", head + "    steps:\n      - expect: \"hi\n      - hangup\n", []string{"s.yaml:6: found unexpected end of stream"}},
		{"after a flow list over lines", head + "    steps: [\n      hangup,\n      hangup]\n  - name: b\n   call: {url: /v}\n", []string{"s.yaml:9: did not find expected '-' indicator"}},
		{"no newline at the end", head + "   steps: [hangup]", []string{"s.yaml:5: did not find expected '-' indicator"}},
		{"unset variable", "app: ${NOPE}\ntests:\n  - name: a\n    call: {url: /v}\n    steps: [hangup]\n", []string{"s.yaml:1: app: NOPE is not set"}},
		{"no tests", "app: http://a\n", []string{"s.yaml:1: tests must be a list"}},
		{"unknown key", "tests:\n  - name: a\n    cal: {url: http://a/v}\n", []string{"s.yaml:3: a test: unknown key \"cal\"", "s.yaml:2: test \"a\" needs a call"}},
		{"two call kinds", "tests:\n  - name: a\n    call: {url: http://a/v, twiml: <Response/>}\n    steps: [hangup]\n", []string{"s.yaml:3: call needs exactly one of"}},
		{"relative without app", "tests:\n  - name: a\n    call: {url: /v}\n    steps: [hangup]\n", []string{"s.yaml:3: call.url \"/v\" is relative"}},
		{"bad dial", "tests:\n  - name: a\n    call: {twiml: x, dial: {status: busy, hangup_after: 3}}\n    steps: [hangup]\n", []string{"s.yaml:3: call.dial.hangup_after goes with status answer only"}},
		{"two kinds in a step", "tests:\n  - name: a\n    call: {twiml: x}\n    steps:\n      - {press: '1', expect: hi}\n", []string{"s.yaml:5: a step does one thing"}},
		{"bad regexp", "tests:\n  - name: a\n    call: {twiml: x}\n    steps:\n      - expect: /a(/\n", []string{"s.yaml:5: expect: \"/a(/\" is not a regular expression"}},
		{"bad keys", "tests:\n  - name: a\n    call: {twiml: x}\n    steps:\n      - press: 12a\n", []string{"s.yaml:5: press takes keys"}},
		{"bad card", "tests:\n  - name: a\n    call: {twiml: x}\n    steps:\n      - pay: {number: 42, expiry: 1230}\n", []string{"s.yaml:5: pay.number must be 12 to 19 digits"}},
		{"bad status", "tests:\n  - name: a\n    call: {twiml: x}\n    steps:\n      - expect_status: done\n", []string{"s.yaml:5: expect_status must be a call status"}},
		{"timeout on press", "tests:\n  - name: a\n    call: {twiml: x}\n    steps:\n      - press: '1'\n        timeout: 3\n", []string{"s.yaml:5: timeout goes with"}},
		{"same name", "tests:\n  - name: a\n    call: {twiml: x}\n    steps: [hangup]\n  - name: a\n    call: {twiml: x}\n    steps: [hangup]\n", []string{"s.yaml:5: test \"a\" is also at line 2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("s.yaml", []byte(tt.src), env(nil))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			var e *Error
			if !errors.As(err, &e) || e.File != "s.yaml" {
				t.Errorf("not an *Error: %#v", err)
			}
		})
	}
}

func TestCheckNumbers(t *testing.T) {
	f, err := Parse("s.yaml", []byte(`tests:
  - name: a
    call: {number: "+15551230002", voice_url: "http://a/one"}
    steps: [hangup]
  - name: b
    call: {number: "+15551230002", voice_url: "http://a/two"}
    steps: [hangup]
`), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckNumbers(f.Tests); err == nil || !strings.Contains(err.Error(), "s.yaml:6: call.number +15551230002 has another voice_url at s.yaml:3") {
		t.Errorf("got %v", err)
	}
}

func TestTranscript(t *testing.T) {
	var tr Transcript
	tr.Add("Welcome to Acme Pizza.")
	tr.Add("For the status of your order, press 1. To talk to someone, press 2.")
	steps := []struct {
		pattern string
		ok      bool
	}{
		{"welcome to ACME", true},
		{"welcome", false}, // already past it
		{"/press (1|one)/", true},
		{"press 1", false},               // the rest of the utterance: only "press 2" is left
		{"/to talk.*press 2\\./i", true}, // the rest of an utterance counts
		{"Acme", false},
	}
	for _, s := range steps {
		p, err := ParsePattern(s.pattern)
		if err != nil {
			t.Fatal(err)
		}
		if got := tr.Expect(p); got != s.ok {
			t.Errorf("expect %q: %v, want %v (unmatched %q)", s.pattern, got, s.ok, tr.Unmatched(100))
		}
	}
	tr.Add("Goodbye.")
	if got := tr.Unmatched(100); got != "Goodbye." {
		t.Errorf("unmatched %q", got)
	}
}

func TestParsePattern(t *testing.T) {
	for _, tt := range []struct {
		pattern, text string
		ok            bool
	}{
		{"hello", "Oh, HELLO there", true},
		{"a.b", "axb", false}, // a substring, not an expression
		{"/a.b/", "axb", true},
		{"/Hello/", "hello", false},           // an expression is case-sensitive...
		{"/Hello/i", "hello", true},           // ...unless it says i
		{"/path/to", "the /path/to it", true}, // not /re/flags: a substring
	} {
		p, err := ParsePattern(tt.pattern)
		if err != nil {
			t.Fatalf("%q: %v", tt.pattern, err)
		}
		if _, _, ok := p.Find(tt.text); ok != tt.ok {
			t.Errorf("%q in %q: %v, want %v", tt.pattern, tt.text, ok, tt.ok)
		}
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"key \"4242424242424242\"": "key \"************4242\"",
		"4242 4242 4242 4242":      "**** **** **** 4242",
		"order 1234, code 123":     "order 1234, code 123",
		"CA0123456789abcdef":       "CA0123456789abcdef", // 10 digits
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestJUnit: the XML is well-formed and reads back to the same results.
func TestJUnit(t *testing.T) {
	f := &File{Path: "a/ivr.yaml"}
	t1 := &Test{File: f, Name: "passes", Line: 3}
	t2 := &Test{File: f, Name: `fails <"&">`, Line: 9}
	step := &Step{N: 2, Line: 12, Kind: KindExpect, Source: "expect: Welcome"}
	results := []*Result{
		{Test: t1, Passed: true, Duration: 1500 * time.Millisecond},
		{Test: t2, Duration: time.Second, CallSid: "CA1", Failure: &Failure{Step: step, Message: "not heard within 10s", Expected: "Welcome", Heard: "Goodbye 4242424242424242", Timeline: []string{"1 say"}}},
	}
	var b bytes.Buffer
	if err := WriteJUnit(&b, results, 3*time.Second); err != nil {
		t.Fatal(err)
	}
	var got JUnitSuites
	if err := xml.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	if got.Tests != 2 || got.Failures != 1 || len(got.Suites) != 1 || got.Suites[0].Name != "a/ivr.yaml" || got.Suites[0].Time != "2.500" {
		t.Errorf("suites: %+v", got)
	}
	c := got.Suites[0].Cases[1]
	if c.Name != `fails <"&">` || c.Classname != "ivr" || c.Failure == nil || c.Failure.Message != "step 2: expect: Welcome: not heard within 10s" {
		t.Errorf("case: %+v", c)
	}
	if !strings.Contains(c.Failure.Text, "heard:    Goodbye ************4242") || strings.Contains(b.String(), "4242424242424242") {
		t.Errorf("failure text:\n%s", c.Failure.Text)
	}
}

// TestWhere: what a call was doing, from its timeline, for a press or say
// that nothing took.
func TestWhere(t *testing.T) {
	say := func(text string) client.Entry { return client.Entry{Kind: "say", Verb: "Say", Text: text} }
	verb := func(name, text string) client.Entry { return client.Entry{Kind: "verb", Verb: name, Text: text} }
	tests := []struct {
		name    string
		entries []client.Entry
		status  string
		want    string
	}{
		{"nothing run yet", nil, "in-progress", "between verbs (no <Gather> or <Pay> running)"},
		{"over", []client.Entry{say("Bye"), verb("Hangup", "")}, "completed", "over (completed)"},
		{"a Gather's own prompt", []client.Entry{verb("Gather", ""), say("Press 1")}, "in-progress", "in a <Gather> that does not take keys"},
		{"a Say after a Gather ended", []client.Entry{verb("Gather", ""), verb("Gather", "ended: Digits= FinishedOnKey="), say("Goodbye")}, "in-progress", "in a <Say>"},
		{"a closing Pause", []client.Entry{say("Hold"), verb("Pause", "600s")}, "in-progress", "in a <Pause> (600s)"},
		{"a Dial that ended", []client.Entry{verb("Dial", "+1555"), verb("Dial", "ended: DialCallStatus=busy")}, "in-progress", "between verbs (no <Gather> or <Pay> running)"},
		{"a Redirect", []client.Entry{verb("Pause", "5s"), verb("Redirect", "")}, "in-progress", "between verbs (no <Gather> or <Pay> running)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := where(tt.entries, tt.status, "keys"); got != tt.want {
				t.Errorf("where = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSummary(t *testing.T) {
	f := &File{Path: "s.yaml"}
	pass, fail := &Result{Test: &Test{File: f}, Passed: true}, &Result{Test: &Test{File: f}}
	for _, tt := range []struct {
		results []*Result
		want    string
	}{
		{[]*Result{pass}, "PASS: 1 test passed (1.00s)"},
		{[]*Result{pass, pass}, "PASS: 2 tests passed (1.00s)"},
		{[]*Result{fail}, "FAIL: 1 of 1 test failed (1.00s)"},
		{[]*Result{pass, fail}, "FAIL: 1 of 2 tests failed (1.00s)"},
	} {
		if got := Summary(tt.results, time.Second); got != tt.want {
			t.Errorf("Summary = %q, want %q", got, tt.want)
		}
	}
}
