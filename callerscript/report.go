package callerscript

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/tonepay/tonepay/client"
)

// longDigits finds runs of digits as long as a card number's (spaces or
// dashes between them included).
var longDigits = regexp.MustCompile(`\d(?:[ -]?\d){11,18}`)

// Redact masks every run of 12 to 19 digits in s but for its last four: the
// timeline already masks what a payment captures, but keys pressed into a
// <Gather>, a URL or an app's words could still hold a card number, and no
// output of a test run ever shows one.
func Redact(s string) string {
	return longDigits.ReplaceAllStringFunc(s, func(m string) string {
		b := []byte(m)
		kept := 0
		for i := len(b) - 1; i >= 0; i-- {
			if b[i] < '0' || b[i] > '9' {
				continue
			}
			if kept < 4 {
				kept++
				continue
			}
			b[i] = '*'
		}
		return string(b)
	})
}

// FormatTimeline writes a call's timeline one line an entry, as `tonepay
// call timeline` does (masked keys stay masked; long digit runs redacted).
func FormatTimeline(entries []client.Entry) []string {
	out := make([]string, 0, len(entries))
	for _, e := range entries {
		var b strings.Builder
		fmt.Fprintf(&b, "%4d  %s  %-8s", e.Seq, e.At.Format("15:04:05.000"), e.Kind)
		if e.Verb != "" {
			b.WriteString("  " + e.Verb)
		}
		if e.Text != "" {
			b.WriteString("  " + strconv.Quote(e.Text))
		}
		if e.Method != "" || e.URL != "" {
			b.WriteString("  " + strings.TrimSpace(e.Method+" "+e.URL))
		}
		if e.Status != 0 {
			fmt.Fprintf(&b, "  HTTP %d", e.Status)
		}
		if e.Code != 0 {
			fmt.Fprintf(&b, "  code %d", e.Code)
		}
		if e.Masked {
			b.WriteString("  (masked)")
		}
		out = append(out, Redact(b.String()))
	}
	return out
}

// Name is a test's name as results show it: file: name (redacted, as every
// output of a run is).
func (r *Result) Name() string { return Redact(r.Test.File.Path + ": " + r.Test.Name) }

// Text writes one result as a test runner does: ✓ or ✗, the name, the
// time; for a failure, the step (number, line, as written), the message,
// what was expected and what was heard, then the call's timeline.
func Text(w io.Writer, r *Result) {
	mark := "✓"
	if !r.Passed {
		mark = "✗"
	}
	fmt.Fprintf(w, "%s %s (%s)\n", mark, r.Name(), seconds(r.Duration))
	if r.Failure != nil {
		for _, l := range strings.Split(strings.TrimRight(FailureText(r), "\n"), "\n") {
			fmt.Fprintln(w, "    "+l)
		}
	}
}

// FailureText is a failed test's explanation, several lines.
func FailureText(r *Result) string {
	f := r.Failure
	var b strings.Builder
	if s := f.Step; s != nil {
		fmt.Fprintf(&b, "step %d (%s:%d): %s\n", s.N, r.Test.File.Path, s.Line, s.Source)
	} else {
		fmt.Fprintf(&b, "call (%s:%d)\n", r.Test.File.Path, r.Test.Call.Line)
	}
	fmt.Fprintf(&b, "%s\n", f.Message)
	if f.Expected != "" {
		fmt.Fprintf(&b, "expected: %s\n", f.Expected)
	}
	if f.Heard != "" {
		label := "heard:   "
		if f.Step != nil && f.Step.Kind == KindExpectRequest {
			label = "got:     "
		}
		lines := strings.Split(f.Heard, "\n")
		fmt.Fprintf(&b, "%s %s\n", label, lines[0])
		for _, l := range lines[1:] {
			fmt.Fprintf(&b, "          %s\n", l)
		}
	}
	if r.CallSid != "" {
		fmt.Fprintf(&b, "timeline of %s:\n", r.CallSid)
		for _, l := range f.Timeline {
			fmt.Fprintf(&b, "  %s\n", l)
		}
	}
	return Redact(b.String())
}

func seconds(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', 2, 64) + "s" }

// Summary is the last line of a run: how many passed and failed, how long.
func Summary(results []*Result, took time.Duration) string {
	failed := 0
	for _, r := range results {
		if !r.Passed {
			failed++
		}
	}
	if failed == 0 {
		return fmt.Sprintf("PASS: %s passed (%s)", Count(len(results), "test"), seconds(took))
	}
	return fmt.Sprintf("FAIL: %d of %s failed (%s)", failed, Count(len(results), "test"), seconds(took))
}

// Count is n things: "1 test", "2 tests".
func Count(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return strconv.Itoa(n) + " " + thing + "s"
}

// JSON is the results as --json writes them.
type JSON struct {
	Passed   int          `json:"passed"`
	Failed   int          `json:"failed"`
	Duration float64      `json:"duration_seconds"`
	Tests    []JSONResult `json:"tests"`
}

// JSONResult is one test's result in JSON.
type JSONResult struct {
	File     string       `json:"file"`
	Name     string       `json:"name"`
	Line     int          `json:"line"`
	Passed   bool         `json:"passed"`
	Duration float64      `json:"duration_seconds"`
	CallSid  string       `json:"call_sid,omitempty"`
	Failure  *JSONFailure `json:"failure,omitempty"`
}

// JSONFailure is a failure in JSON: the step (0: placing the call).
type JSONFailure struct {
	Step     int      `json:"step"`
	Line     int      `json:"line"`
	Source   string   `json:"source,omitempty"`
	Message  string   `json:"message"`
	Expected string   `json:"expected,omitempty"`
	Heard    string   `json:"heard,omitempty"`
	Timeline []string `json:"timeline,omitempty"`
}

// WriteJSON writes the results as one JSON document.
func WriteJSON(w io.Writer, results []*Result, took time.Duration) error {
	out := JSON{Duration: took.Seconds(), Tests: []JSONResult{}}
	for _, r := range results {
		jr := JSONResult{File: Redact(r.Test.File.Path), Name: Redact(r.Test.Name), Line: r.Test.Line, Passed: r.Passed, Duration: r.Duration.Seconds(), CallSid: r.CallSid}
		if r.Passed {
			out.Passed++
		} else {
			out.Failed++
		}
		if f := r.Failure; f != nil {
			jf := &JSONFailure{Line: r.Test.Call.Line, Message: Redact(f.Message), Expected: Redact(f.Expected), Heard: Redact(f.Heard), Timeline: f.Timeline}
			if f.Step != nil {
				jf.Step, jf.Line, jf.Source = f.Step.N, f.Step.Line, Redact(f.Step.Source)
			}
			jr.Failure = jf
		}
		out.Tests = append(out.Tests, jr)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// JUnit XML (the shape Jenkins, GitLab and GitHub's reporters read): a
// testsuite per file, a testcase per test.
type (
	JUnitSuites struct {
		XMLName  xml.Name     `xml:"testsuites"`
		Tests    int          `xml:"tests,attr"`
		Failures int          `xml:"failures,attr"`
		Time     string       `xml:"time,attr"`
		Suites   []JUnitSuite `xml:"testsuite"`
	}
	JUnitSuite struct {
		Name     string      `xml:"name,attr"`
		Tests    int         `xml:"tests,attr"`
		Failures int         `xml:"failures,attr"`
		Time     string      `xml:"time,attr"`
		Cases    []JUnitCase `xml:"testcase"`
	}
	JUnitCase struct {
		Name      string        `xml:"name,attr"`
		Classname string        `xml:"classname,attr"`
		File      string        `xml:"file,attr,omitempty"`
		Line      int           `xml:"line,attr,omitempty"`
		Time      string        `xml:"time,attr"`
		Failure   *JUnitFailure `xml:"failure,omitempty"`
	}
	JUnitFailure struct {
		Message string `xml:"message,attr"`
		Type    string `xml:"type,attr"`
		Text    string `xml:",chardata"`
	}
)

// WriteJUnit writes the results as JUnit XML.
func WriteJUnit(w io.Writer, results []*Result, took time.Duration) error {
	out := JUnitSuites{Time: secs(took)}
	index := map[string]int{}
	for _, r := range results {
		path := r.Test.File.Path
		i, ok := index[path]
		if !ok {
			i = len(out.Suites)
			index[path] = i
			out.Suites = append(out.Suites, JUnitSuite{Name: Redact(path)})
		}
		s := &out.Suites[i]
		c := JUnitCase{Name: Redact(r.Test.Name), Classname: Redact(strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))), File: Redact(path), Line: r.Test.Line, Time: secs(r.Duration)}
		if !r.Passed {
			msg := Redact(r.Failure.Message)
			if st := r.Failure.Step; st != nil {
				msg = fmt.Sprintf("step %d: %s: %s", st.N, Redact(st.Source), msg)
			}
			c.Failure = &JUnitFailure{Message: msg, Type: "failure", Text: FailureText(r)}
			s.Failures++
			out.Failures++
		}
		s.Tests++
		out.Tests++
		s.Cases = append(s.Cases, c)
	}
	durations := map[string]time.Duration{}
	for _, r := range results {
		durations[r.Test.File.Path] += r.Duration
	}
	for path, i := range index {
		out.Suites[i].Time = secs(durations[path])
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func secs(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', 3, 64) }
