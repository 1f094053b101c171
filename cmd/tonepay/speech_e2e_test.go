package main

import (
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/client"
	api "github.com/twilio/twilio-go/rest/api/v2010"
)

// TestSpeechEndToEnd: a real app with <Gather input="dtmf speech"> and a
// partialResultCallback, on the built server. The caller speaks through the
// Go client (Say, as a caller script does) and `tonepay call say`: the
// action gets SpeechResult and Confidence, the partialResultCallback gets
// UnstableSpeechResult, Stability and SequenceNumber, every request signed;
// the speech attributes Twilio accepts raise no 12200; speech nobody
// listens for is dropped, and the timeline says so.
func TestSpeechEndToEnd(t *testing.T) {
	sid, token := tonepay.NewSID("AC"), "speechtoken1"
	srv := startServer(t, "TONEPAY_DB="+filepath.Join(t.TempDir(), "speech.db"), "TONEPAY_ACCOUNT_SID="+sid, "TONEPAY_AUTH_TOKEN="+token)
	env := []string{"TONEPAY_SERVER=" + srv.URL, "TONEPAY_ACCOUNT_SID=" + sid, "TONEPAY_AUTH_TOKEN=" + token}
	app := newVoiceApp(t, token, map[string]string{
		"/voice": `<Response><Gather input="dtmf speech" action="/heard" partialResultCallback="/partial" speechTimeout="auto" timeout="30"` +
			` language="en-US" hints="agent, billing" speechModel="phone_call" enhanced="true" profanityFilter="false" actionOnEmptyResult="false">` +
			`<Say>Say agent or press 1</Say></Gather></Response>`,
		"/heard":   `<Response><Say>Connecting you</Say><Pause length="600"/></Response>`,
		"/partial": `<Response/>`,
	})
	tw, _ := newTwilio(t, srv.URL, sid, token, sid, nil)
	call := func() string {
		t.Helper()
		c, err := tw.CreateCall((&api.CreateCallParams{}).SetTo("+15005550006").SetFrom("+15005550001").SetUrl(app.url("/voice")))
		if err != nil {
			t.Fatal(err)
		}
		return *c.Sid
	}
	ctx := context.Background()
	c := srv.Client(t, sid, token)

	first := call()
	if err := c.Say(ctx, first, "I want an agent", 0); err != nil {
		t.Fatal(err)
	}
	var action *appRequest
	for _, r := range app.requests() {
		if r.Path == "/heard" {
			action = &r
		}
	}
	if action == nil || action.Params.Get("SpeechResult") != "I want an agent" || action.Params.Get("Confidence") != "0.9" ||
		action.Params.Has("Digits") || action.Params.Get("CallSid") != first {
		t.Fatalf("the action got %+v", action)
	}
	// The partial results came first, as while a caller speaks.
	var order []string
	for _, r := range app.requests() {
		if r.Path != "/voice" {
			order = append(order, r.Path)
		}
	}
	if strings.Join(order, " ") != "/partial /partial /partial /partial /heard" {
		t.Errorf("requests in order %q, want the 4 partial results, then the action", order)
	}
	var partials []appRequest
	waitFor(t, 10*time.Second, "4 partial results", func() bool {
		partials = partials[:0]
		for _, r := range app.requests() {
			if r.Path == "/partial" {
				partials = append(partials, r)
			}
		}
		return len(partials) == 4
	})
	for i, want := range []string{"I", "I want", "I want an", "I want an agent"} {
		p := partials[i].Params
		if p.Get("UnstableSpeechResult") != want || p.Get("SequenceNumber") != strconv.Itoa(i+1) || p.Get("Stability") != "0.9" || p.Get("CallSid") != first {
			t.Errorf("partial %d: %v", i, p)
		}
	}
	// Now the call holds in a Pause: the CLI's words are dropped.
	if r := runCLI(t, env, "call", "say", first, "hello?"); r.code != 0 || r.stdout != "dropped: no <Gather> listens for speech\n" {
		t.Errorf("call say into a Pause: %+v", r)
	}
	waitFor(t, 10*time.Second, "the partial callbacks' answers on the timeline", func() bool {
		n := 0
		c.EachEntry(ctx, first, func(e client.Entry) {
			if e.Kind == "webhook" && strings.HasPrefix(e.Text, "partialResultCallback: SequenceNumber=") {
				n++
			}
		})
		return n == 4
	})
	var rows []string
	if err := c.EachEntry(ctx, first, func(e client.Entry) {
		switch e.Kind {
		case "speech", "warning":
			rows = append(rows, e.Kind+":"+e.Text)
		case "verb":
			if strings.HasPrefix(e.Text, "ended") {
				rows = append(rows, e.Kind+":"+e.Text)
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	want := []string{"speech:I want an agent", "verb:ended: SpeechResult=I want an agent Confidence=0.9",
		"speech:hello? (dropped: no <Gather> listens: the call is in a <Pause>)"}
	if strings.Join(rows, "|") != strings.Join(want, "|") {
		t.Errorf("timeline rows\n got %q\nwant %q", rows, want)
	}

	// `tonepay call say` with a confidence, the words as several arguments.
	second := call()
	if r := runCLI(t, env, "call", "say", "--confidence", "0.42", second, "billing", "please"); r.code != 0 || r.stdout != "heard by the <Gather>\n" {
		t.Errorf("call say: %+v", r)
	}
	reqs := app.requests()
	if last := reqs[len(reqs)-1]; last.Path != "/heard" || last.Params.Get("SpeechResult") != "billing please" || last.Params.Get("Confidence") != "0.42" {
		t.Errorf("the action got %+v", last)
	}
	// Mistakes: Twilio's codes.
	if r := runCLI(t, env, "call", "say", "--confidence", "2", second, "yes"); r.code == 0 || !strings.Contains(r.stderr, "64020") {
		t.Errorf("a confidence of 2: %+v", r)
	}
	if r := runCLI(t, env, "call", "say", "CA00000000000000000000000000000000", "yes"); r.code == 0 || !strings.Contains(r.stderr, "20404") {
		t.Errorf("an unknown call: %+v", r)
	}
	var ce *client.Error
	if _, err := c.Speak(ctx, second, "  ", 0); !errors.As(err, &ce) || ce.Code != tonepay.CodeMissingParameter {
		t.Errorf("no words: %v", err)
	}
	app.checkSigned()
}
