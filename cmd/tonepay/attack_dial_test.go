package main

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	api "github.com/twilio/twilio-go/rest/api/v2010"
)

// TestAttackDialLegs: callers who press * through <Dial hangupOnStar> after
// <Dial hangupOnStar>, with keys that cross from a Dial to the next verb in
// one Digits request (issue 19), over a real TwiML app and twilio-go. Every
// Dial reached gets its leg; every leg ends with its parent, none is left in
// progress, a Dial action names its own leg, and tonepay_calls_active comes
// back to where it started.
func TestAttackDialLegs(t *testing.T) {
	fs := newVoiceServer(t)
	dial := func(n int) string {
		return fmt.Sprintf(`<Dial hangupOnStar="true">+1555%07d</Dial>`, n)
	}
	dials := func(n int) string {
		var b strings.Builder
		for i := 1; i <= n; i++ {
			b.WriteString(dial(i))
		}
		return b.String()
	}
	// A Gather's # with nothing gathered goes on to the next verb.
	const gather = `<Gather finishOnKey="#" action="/menu"/>`
	const flood = 60
	app := newVoiceApp(t, fs.token, map[string]string{
		"/two":    "<Response>" + dials(2) + "</Response>",
		"/three":  "<Response>" + dials(3) + "</Response>",
		"/held":   "<Response>" + dials(3) + "<Say>never heard</Say></Response>",
		"/gather": "<Response>" + gather + dials(2) + "</Response>",
		"/across": "<Response>" + dial(1) + gather + dial(2) + "</Response>",
		"/action": `<Response><Dial hangupOnStar="true" action="/two">+15550000099</Dial></Response>`,
		"/flood":  "<Response>" + dials(flood) + "</Response>",
	})
	shapes := []struct {
		path   string
		keys   []string // one Digits request each
		legs   int
		hangUp bool // the call is still in its last Dial after the keys: hung up through the API
	}{
		{"/two", []string{"**"}, 2, false},
		{"/three", []string{"***"}, 3, false},
		{"/three", []string{"*", "**"}, 3, false},
		{"/held", []string{"**"}, 3, true},
		{"/gather", []string{"#**"}, 2, false},
		{"/across", []string{"*#*"}, 2, false},
		// The first * fetches the action (the second is dropped while it is
		// fetched); its Dials take the next request's keys.
		{"/action", []string{"**", "**"}, 3, false},
		{"/flood", []string{strings.Repeat("*", flood)}, flood, false},
	}
	tw, _ := newTwilio(t, *fs.url.Load(), fs.sid, fs.token, fs.sid, loadSpec(t))
	// The gauge reuses a count for a while (metrics.Options.LiveFor): a
	// sentinel call in a Dial (itself and its leg) is up from before the
	// attack until after it, so a reading back at the start is a count
	// made once everything ended, not one kept from before.
	start := callsActive(t, *fs.url.Load())
	sentinel, err := tw.CreateCall((&api.CreateCallParams{}).SetTo("+15005550006").SetFrom("+15005550001").SetUrl(app.url("/held")))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, "the sentinel's two calls in tonepay_calls_active", func() bool {
		return callsActive(t, *fs.url.Load()) == start+2
	})

	const perShape = 4
	type placed struct {
		sid   string
		shape int
	}
	var (
		mu     sync.Mutex
		calls  []placed
		failed atomic.Int64
		wg     sync.WaitGroup
		slots  = make(chan struct{}, 6)
	)
	for i := 0; i < perShape*len(shapes); i++ {
		wg.Go(func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			sh := shapes[i%len(shapes)]
			c, err := tw.CreateCall((&api.CreateCallParams{}).SetTo("+15005550006").SetFrom("+15005550001").SetUrl(app.url(sh.path)))
			if err != nil {
				t.Errorf("create %s: %v", sh.path, err)
				failed.Add(1)
				return
			}
			mu.Lock()
			calls = append(calls, placed{*c.Sid, i % len(shapes)})
			mu.Unlock()
			for _, keys := range sh.keys {
				if code, body, err := fs.do("POST", fs.ext("/Calls/"+*c.Sid+"/Digits"), url.Values{"Digits": {keys}}); err != nil || code != 200 {
					t.Errorf("%s: Digits %q: %d %v %s", sh.path, keys, code, err, body)
				}
			}
			if sh.hangUp {
				if _, err := tw.UpdateCall(*c.Sid, (&api.UpdateCallParams{}).SetStatus("completed")); err != nil {
					t.Errorf("%s: hang up: %v", sh.path, err)
				}
			}
		})
	}
	wg.Wait()

	tried, correct, legs := int(failed.Load()), 0, 0
	legOf := map[string]string{} // leg -> parent
	for _, c := range calls {
		tried++
		sh := shapes[c.shape]
		p, err := tw.FetchCall(c.sid, nil)
		if err != nil {
			t.Errorf("fetch %s: %v", c.sid, err)
			continue
		}
		ls, err := tw.ListCall((&api.ListCallParams{}).SetParentCallSid(c.sid))
		if err != nil {
			t.Errorf("legs of %s: %v", c.sid, err)
			continue
		}
		ok := *p.Status == "completed" && p.EndTime != nil && len(ls) == sh.legs
		for _, l := range ls {
			legs++
			legOf[*l.Sid] = c.sid
			if *l.Status != "completed" || l.EndTime == nil || *l.Direction != "outbound-dial" {
				ok = false
			}
		}
		if ok {
			correct++
		} else {
			t.Errorf("%s %s: %s, %d legs (want %d, all completed)", sh.path, c.sid, *p.Status, len(ls), sh.legs)
		}
	}

	// No call of the account is left in progress, a leg whose parent ended
	// least of all.
	if _, err := tw.UpdateCall(*sentinel.Sid, (&api.UpdateCallParams{}).SetStatus("completed")); err != nil {
		t.Fatal(err)
	}
	up, err := tw.ListCall((&api.ListCallParams{}).SetStatus("in-progress"))
	if err != nil {
		t.Fatal(err)
	}
	orphans := 0
	for _, c := range up {
		if c.ParentCallSid != nil && *c.ParentCallSid != "" {
			orphans++
		}
		t.Errorf("call %s (parent %v) still in progress", *c.Sid, c.ParentCallSid)
	}

	// Each Dial action names a leg of the call it was sent for.
	actions, misnamed := 0, 0
	for _, r := range app.requests() {
		if !r.Params.Has("DialCallStatus") {
			continue
		}
		actions++
		if legOf[r.Params.Get("DialCallSid")] != r.Params.Get("CallSid") {
			misnamed++
			t.Errorf("Dial action of %s: DialCallSid %s is not its leg", r.Params.Get("CallSid"), r.Params.Get("DialCallSid"))
		}
	}
	if actions != perShape {
		t.Errorf("%d Dial actions, want %d", actions, perShape)
	}
	app.checkSigned()

	end := callsActive(t, *fs.url.Load())
	for deadline := time.Now().Add(15 * time.Second); end != start && time.Now().Before(deadline); end = callsActive(t, *fs.url.Load()) {
		time.Sleep(20 * time.Millisecond)
	}
	if end != start {
		t.Errorf("tonepay_calls_active %d at the end, want %d as at the start", end, start)
	}
	// The legs ended with their Dials, not later by the sweeper's net.
	swept := strings.Count(fs.logs(), "ended a Dial leg its parent call left in progress")
	if swept != 0 {
		t.Errorf("the sweeper ended %d orphan legs", swept)
	}
	figures(t, "attack-dial-legs", tried, correct, fmt.Sprintf("legs=%d orphans=%d swept=%d in_progress=%d dial_actions=%d misnamed=%d calls_active_start=%d calls_active_end=%d",
		legs, orphans, swept, len(up), actions, misnamed, start, end))
}

var callsActiveLine = regexp.MustCompile(`(?m)^tonepay_calls_active\{source="api"\} (\d+)$`)

// callsActive scrapes the tonepay_calls_active gauge from base's /metrics.
func callsActive(t *testing.T, base string) int {
	t.Helper()
	res, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	m := callsActiveLine.FindSubmatch(b)
	if res.StatusCode != 200 || m == nil {
		t.Fatalf("GET /metrics: %d, no tonepay_calls_active line", res.StatusCode)
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}
