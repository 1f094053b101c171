package callerscript

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/client"
	"github.com/tonepay/tonepay/internal/wait"
)

// Runner plays caller scripts against a tonepay server, one call per test.
type Runner struct {
	Client *client.Client
	// AuthToken is the account's: the recorder (expect_request) signs the
	// requests it forwards to the app with it.
	AuthToken tonepay.Secret
	Parallel  int            // tests at once; below 1 is 1
	Filter    *regexp.Regexp // runs only the tests whose name matches; nil runs all
	// Done, if set, is told each result as soon as it is known, in the
	// order of the files and tests (for progressive output).
	Done func(*Result)
}

// Result is how one test went.
type Result struct {
	Test     *Test
	Passed   bool
	Duration time.Duration
	CallSid  string
	Failure  *Failure // nil when it passed
}

// Failure says where and why a test failed.
type Failure struct {
	Step     *Step  // nil: the call could not be placed (or set up)
	Message  string // what went wrong
	Expected string
	Heard    string   // the last words heard (expect), or the requests seen (expect_request), ...
	Timeline []string // the call's timeline, one line an entry, nothing clear
}

// Tests lists the tests r would run of files, in order.
func (r *Runner) Tests(files []*File) []*Test {
	var out []*Test
	for _, f := range files {
		for _, t := range f.Tests {
			if r.Filter == nil || r.Filter.MatchString(t.Name) {
				out = append(out, t)
			}
		}
	}
	return out
}

// CheckNumbers finds tests that would call one number with two VoiceUrls: a
// number has one, and tests may run at once.
func CheckNumbers(tests []*Test) error {
	first := map[string]*Test{}
	var errs []error
	for _, t := range tests {
		c := t.Call
		if c.Number == "" {
			continue
		}
		if p, ok := first[c.Number]; ok && (p.Call.VoiceURL != c.VoiceURL || p.Call.Method != c.Method) {
			errs = append(errs, &Error{File: t.File.Path, Line: c.Line,
				Msg: fmt.Sprintf("call.number %s has another voice_url at %s:%d: a number has one VoiceUrl, and tests may run at once", c.Number, p.File.Path, p.Call.Line)})
			continue
		}
		first[c.Number] = t
	}
	return errors.Join(errs...)
}

// Run runs the tests of files that the filter selects, Parallel at a time,
// and returns their results in order. Numbers the run created are deleted
// at its end.
func (r *Runner) Run(ctx context.Context, files []*File) []*Result {
	tests := r.Tests(files)
	results := make([]*Result, len(tests))
	var rec *recorder
	if needsRecorder(tests) {
		rec = newRecorder(r.AuthToken)
		defer rec.close()
	}
	numbers, cleanup, err := r.numbers(ctx, tests, rec)
	defer cleanup()
	if err != nil {
		for i, t := range tests {
			results[i] = &Result{Test: t, Failure: &Failure{Message: err.Error()}}
			if r.Done != nil {
				r.Done(results[i])
			}
		}
		return results
	}
	par := max(r.Parallel, 1)
	var (
		mu   sync.Mutex
		next int // the next result to tell Done
		done = make([]bool, len(tests))
	)
	report := func(i int) {
		mu.Lock()
		defer mu.Unlock()
		done[i] = true
		for next < len(tests) && done[next] {
			if r.Done != nil {
				r.Done(results[next])
			}
			next++
		}
	}
	slots := make(chan struct{}, par)
	var wg sync.WaitGroup
	for i, t := range tests {
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			results[i] = r.runTest(ctx, t, rec, numbers)
			report(i)
		}()
	}
	wg.Wait()
	return results
}

func needsRecorder(tests []*Test) bool {
	for _, t := range tests {
		for _, s := range t.Steps {
			if s.Kind == KindExpectRequest {
				return true
			}
		}
	}
	return false
}

// numbers makes sure each number the tests call exists with its VoiceUrl
// (through the recorder, if any); cleanup deletes those it created.
func (r *Runner) numbers(ctx context.Context, tests []*Test, rec *recorder) (map[string]bool, func(), error) {
	var created []string
	cleanup := func() {
		// A fresh context: the run's may be done, and the numbers must go.
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, sid := range created {
			r.Client.DeleteNumber(cctx, sid)
		}
	}
	seen := map[string]bool{}
	for _, t := range tests {
		c := t.Call
		if c.Number == "" || seen[c.Number] {
			continue
		}
		seen[c.Number] = true
		voice := c.VoiceURL
		if rec != nil && voice != "" {
			var err error
			if voice, err = rec.route(voice); err != nil {
				return nil, cleanup, err
			}
		}
		n, err := r.Client.FindNumber(ctx, c.Number)
		if err != nil {
			return nil, cleanup, fmt.Errorf("call.number %s: %w", c.Number, err)
		}
		switch {
		case n == nil && voice == "":
			return nil, cleanup, fmt.Errorf("%s:%d: the account has no number %s, and the test gives no voice_url to create it with", t.File.Path, c.Line, c.Number)
		case n == nil:
			if n, err = r.Client.CreateNumber(ctx, c.Number, voice, c.Method); err != nil {
				return nil, cleanup, fmt.Errorf("call.number %s: %w", c.Number, err)
			}
			created = append(created, n.Sid)
		case voice != "":
			if _, err = r.Client.UpdateNumberVoice(ctx, n.Sid, voice, c.Method); err != nil {
				return nil, cleanup, fmt.Errorf("call.number %s: %w", c.Number, err)
			}
		}
	}
	return seen, cleanup, nil
}

// timeout is how long step s of t waits: its own, else the test's, the
// file's, DefaultTimeout.
func timeout(t *Test, s *Step) time.Duration {
	for _, d := range []time.Duration{s.Timeout, t.Timeout, t.File.Timeout} {
		if d > 0 {
			return d
		}
	}
	return DefaultTimeout
}

// callRun is one test's call as it goes.
type callRun struct {
	r       *Runner
	t       *Test
	rec     *recorder
	sid     string
	after   int64 // the last timeline entry read
	entries []client.Entry
	status  string // the call's, as of the last timeline page
	heard   Transcript
	reqPos  int // expect_request's position in the recorder's requests
}

func (r *Runner) runTest(ctx context.Context, t *Test, rec *recorder, _ map[string]bool) *Result {
	start := time.Now()
	res := &Result{Test: t}
	cr := &callRun{r: r, t: t, rec: rec}
	fail := func(s *Step, f *Failure) *Result {
		f.Step = s
		if cr.sid != "" {
			cr.read(ctx)
			f.Timeline = FormatTimeline(cr.entries)
			if rec != nil {
				for i, l := range f.Timeline {
					f.Timeline[i] = Redact(rec.appURLs(l))
				}
			}
		}
		res.Failure, res.Duration = f, time.Since(start)
		return res
	}
	if err := cr.place(ctx); err != nil {
		return fail(nil, &Failure{Message: "placing the call: " + err.Error()})
	}
	res.CallSid = cr.sid
	defer func() {
		// A test leaves no call behind: hang up whatever still runs.
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if c, err := r.Client.FetchCall(cctx, cr.sid); err == nil && !ended(c.Status) {
			r.Client.Hangup(cctx, cr.sid)
		}
	}()
	for _, s := range t.Steps {
		if f := cr.step(ctx, s); f != nil {
			return fail(s, f)
		}
	}
	res.Passed, res.Duration = true, time.Since(start)
	return res
}

func ended(status string) bool {
	switch status {
	case "completed", "busy", "failed", "no-answer", "canceled":
		return true
	}
	return false
}

// place places the test's call.
func (cr *callRun) place(ctx context.Context) error {
	c := cr.t.Call
	var (
		call *client.Call
		err  error
	)
	if c.Number != "" {
		p := client.InboundParams{To: c.Number, From: c.From}
		if err := applyDial(c.Dial, nil, &p); err != nil {
			return err
		}
		call, err = cr.r.Client.Inbound(ctx, p)
	} else {
		u := c.URL
		if cr.rec != nil && u != "" {
			if u, err = cr.rec.route(u); err != nil {
				return err
			}
		}
		p := client.CallParams{To: c.To, From: c.From, URL: u, Method: c.Method, Twiml: c.Twiml}
		if err := applyDial(c.Dial, &p, nil); err != nil {
			return err
		}
		call, err = cr.r.Client.CreateCall(ctx, p)
	}
	if err != nil {
		return err
	}
	cr.sid = call.Sid
	return nil
}

// read reads the timeline entries added since the last read.
func (cr *callRun) read(ctx context.Context) error {
	for {
		page, err := cr.r.Client.Timeline(ctx, cr.sid, cr.after, client.MaxTimelinePage)
		if err != nil {
			return err
		}
		cr.status = page.Status
		for _, e := range page.Entries {
			cr.entries = append(cr.entries, e)
			switch e.Kind {
			case "say", "play":
				cr.heard.Add(e.Text)
			}
			cr.after = e.Seq
		}
		if len(page.Entries) < client.MaxTimelinePage {
			return nil
		}
	}
}

// poll calls check until it says done, or its error is final, or d passes.
// check's false, nil means "not yet". It waits a little longer each time:
// most conditions hold at the first look (a press answers once its TwiML
// ran), the rest wait on the app or the call's clock.
func poll(ctx context.Context, d time.Duration, check func() (bool, error)) (timedOut bool, err error) {
	deadline := time.Now().Add(d)
	pause := 2 * time.Millisecond
	for {
		ok, err := check()
		if ok || err != nil {
			return false, err
		}
		if time.Now().After(deadline) {
			return true, nil
		}
		if err := wait.Sleep(ctx, min(pause, time.Until(deadline)+time.Millisecond)); err != nil {
			return false, err
		}
		pause = min(pause*2, 50*time.Millisecond)
	}
}

// errCallEnded stops a wait that can no longer succeed.
var errCallEnded = errors.New("the call ended")

func (cr *callRun) step(ctx context.Context, s *Step) *Failure {
	c := cr.r.Client
	d := timeout(cr.t, s)
	switch s.Kind {
	case KindExpect:
		timedOut, err := poll(ctx, d, func() (bool, error) {
			if err := cr.read(ctx); err != nil {
				return false, err
			}
			if cr.heard.Expect(s.Pattern) {
				return true, nil
			}
			if ended(cr.status) { // read before the entries: every word is in
				return false, errCallEnded
			}
			return false, nil
		})
		if timedOut || err != nil {
			f := &Failure{Expected: s.Pattern.Source, Heard: cr.heard.Unmatched(300)}
			switch {
			case errors.Is(err, errCallEnded):
				f.Message = "the call ended (" + cr.status + ") before the caller heard it"
			case err != nil:
				f.Message = err.Error()
			default:
				f.Message = fmt.Sprintf("not heard within %s", d)
			}
			if f.Heard == "" {
				f.Heard = "nothing since the last match"
				if last := cr.heard.Last(120); last != "" {
					f.Heard += " (" + last + ")"
				}
			}
			return f
		}
	case KindPress:
		p, err := c.Press(ctx, cr.sid, s.Keys)
		if err != nil {
			return &Failure{Message: "pressing keys: " + err.Error()}
		}
		// Some keys may go unheard (a # after a <Gather numDigits> ended,
		// say); none heard is a script pressing into the void.
		if p.Applied == 0 && p.Dropped > 0 {
			return cr.unheard(ctx, "keys")
		}
	case KindSay:
		sp, err := c.Speak(ctx, cr.sid, s.Text, s.Confidence)
		if err != nil {
			return &Failure{Message: "saying words: " + err.Error()}
		}
		if !sp.Heard {
			return cr.unheard(ctx, "speech")
		}
	case KindPay:
		return cr.pay(ctx, s, d)
	case KindWait:
		if err := wait.Sleep(ctx, s.Wait); err != nil {
			return &Failure{Message: err.Error()}
		}
	case KindHangup:
		if _, err := c.Hangup(ctx, cr.sid); err != nil && client.ErrorCode(err) != 21220 { // 21220: it had ended
			return &Failure{Message: "hanging up: " + err.Error()}
		}
	case KindExpectRequest:
		return cr.expectRequest(ctx, s, d)
	case KindExpectStatus:
		var status string
		timedOut, err := poll(ctx, d, func() (bool, error) {
			call, err := c.FetchCall(ctx, cr.sid)
			if err != nil {
				return false, err
			}
			status = call.Status
			if status == s.Status {
				return true, nil
			}
			if ended(status) {
				return false, errCallEnded // an ended call's status is final
			}
			return false, nil
		})
		if timedOut || err != nil {
			f := &Failure{Expected: "status " + s.Status, Heard: "status " + status, Message: fmt.Sprintf("the call's status is not %s within %s", s.Status, d)}
			if errors.Is(err, errCallEnded) {
				f.Message = "the call ended " + status
			} else if err != nil {
				f.Message = err.Error()
			}
			return f
		}
	}
	return nil
}

// unheard is the failure of a press or say step that nothing listened for
// (the server dropped it, as Twilio does): where the call was, and the last
// words the caller heard, which usually say why (a key pressed during a
// <Say> before the <Gather>, in real voice time; words to a <Gather> that
// takes only keys).
func (cr *callRun) unheard(ctx context.Context, what string) *Failure {
	cr.read(ctx) // best effort: a failure shows what is known
	f := &Failure{Message: "nothing was listening: the call was " + where(cr.entries, cr.status, what), Heard: cr.heard.Tail(200)}
	if f.Heard == "" {
		f.Heard = "nothing yet"
	}
	return f
}

// where says what a call was doing, from its timeline: over, in the verb
// it was running, or between documents; what is the input nobody took
// (keys or speech).
func where(entries []client.Entry, status, what string) string {
	if ended(status) {
		return "over (" + status + ")"
	}
	cur, text := "", ""
	for _, e := range entries {
		switch e.Kind {
		case "verb":
			cur, text = e.Verb, e.Text
			if strings.HasPrefix(e.Text, "ended") || e.Verb == "Redirect" || e.Verb == "Update" {
				cur = "" // past it: the next document, or verb, is next
			}
		case "say", "play":
			if cur != "Gather" && cur != "Pay" { // a Gather's or a Pay's own prompts
				cur, text = e.Verb, ""
			}
		}
	}
	switch cur {
	case "":
		return "between verbs (no <Gather> or <Pay> running)"
	case "Gather":
		return "in a <Gather> that does not take " + what
	case "Pause", "Dial":
		if text != "" {
			return "in a <" + cur + "> (" + text + ")"
		}
	}
	return "in a <" + cur + ">"
}

// expectRequest waits for the app to get a request on the step's path
// with at least its parameters, after the previous expect_request's match.
func (cr *callRun) expectRequest(ctx context.Context, s *Step, d time.Duration) *Failure {
	want := s.Request
	var seen []Received
	deadline := time.After(d)
	for {
		got, wake := cr.rec.requests(cr.sid, cr.reqPos)
		seen = got
		for i, rq := range got {
			if want.matches(rq) {
				cr.reqPos += i + 1
				return nil
			}
		}
		select {
		case <-wake:
		case <-deadline:
			lines := make([]string, len(seen))
			for i, rq := range seen {
				lines[i] = rq.String()
			}
			heard := "no request since the last match"
			if len(lines) > 0 {
				heard = strings.Join(lines, "\n")
			}
			return &Failure{Message: fmt.Sprintf("the app got no such request within %s", d), Expected: want.String(), Heard: heard}
		case <-ctx.Done():
			return &Failure{Message: ctx.Err().Error()}
		}
	}
}

func (q Request) matches(rq Received) bool {
	if rq.Path != q.Path || (q.Method != "" && rq.Method != q.Method) {
		return false
	}
	for k, v := range q.Params {
		if rq.Params.Get(k) != v {
			return false
		}
	}
	return true
}

// callParams are the parameters every request of a call carries: a
// request's line leaves them out, to show what tells it apart.
var callParams = map[string]bool{"AccountSid": true, "ApiVersion": true, "CallSid": true, "CallStatus": true, "Direction": true,
	"From": true, "To": true, "Called": true, "Caller": true, "CallToken": true, "ForwardedFrom": true}

func (rq Received) String() string {
	shown := url.Values{}
	for k, v := range rq.Params {
		if !callParams[k] && !strings.HasPrefix(k, "From") && !strings.HasPrefix(k, "To") && !strings.HasPrefix(k, "Called") && !strings.HasPrefix(k, "Caller") {
			shown[k] = v
		}
	}
	return fmt.Sprintf("%s %s %s -> %d", rq.Method, rq.Path, shown.Encode(), rq.Status)
}
