package main

import (
	"context"
	"testing"
	"time"

	"github.com/tonepay/tonepay/client"
	api "github.com/twilio/twilio-go/rest/api/v2010"
)

// TestDialFarEndEndToEnd: the far end of a <Dial> scripted per call, on
// the built command with a signed app: each DialCallStatus branch reaches
// the action, through tonepay's client (TonepayDial on Calls create, Dial
// on Inbound); twilio-go, which cannot send it, gets the default far end,
// which answers and stays until timeLimit. Timed outcomes run on the real
// clock: timeout 1 s, timeLimit 2 s.
func TestDialFarEndEndToEnd(t *testing.T) {
	fs := newVoiceServer(t)
	app := newVoiceApp(t, fs.token, map[string]string{
		"/start": `<Response><Dial action="/after" timeout="1" timeLimit="2"><Number>+15557654321</Number><Number>+15557654322</Number></Dial></Response>`,
		"/after": `<Response><Say>after the dial</Say></Response>`,
	})
	tw, _ := newTwilio(t, *fs.url.Load(), fs.sid, fs.token, fs.sid, loadSpec(t))
	if _, err := tw.CreateIncomingPhoneNumber((&api.CreateIncomingPhoneNumberParams{}).SetPhoneNumber("+15005550010").SetVoiceUrl(app.url("/start"))); err != nil {
		t.Fatal(err)
	}
	c := fs.cur.Client(t, fs.sid, fs.token)
	ctx := context.Background()

	// check waits for the call's Dial action and checks it and the leg.
	check := func(t *testing.T, callSid, status, duration string) {
		t.Helper()
		var got *appRequest
		waitFor(t, 20*time.Second, "the Dial action of "+callSid, func() bool {
			for _, r := range app.requests() {
				if r.Path == "/after" && r.Params.Get("CallSid") == callSid {
					got = &r
					return true
				}
			}
			return false
		})
		p := got.Params
		if p.Get("DialCallStatus") != status || p.Get("DialCallDuration") != duration || !got.Valid {
			t.Errorf("action DialCallStatus=%q DialCallDuration=%q signed %v; want %s, %s, signed", p.Get("DialCallStatus"), p.Get("DialCallDuration"), got.Valid, status, duration)
		}
		leg, err := c.FetchCall(ctx, p.Get("DialCallSid"))
		if err != nil {
			t.Fatalf("DialCallSid %q: %v", p.Get("DialCallSid"), err)
		}
		if leg.ParentCallSid != callSid || leg.Direction != "outbound-dial" || leg.To != "+15557654321" || leg.Status != status {
			t.Errorf("leg %+v: want an outbound-dial leg of %s to the first number, %s", leg, callSid, status)
		}
		waitFor(t, 10*time.Second, "the call's end", func() bool {
			call, err := c.FetchCall(ctx, callSid)
			return err == nil && call.Status == "completed"
		})
	}
	for _, tt := range []struct{ dial, status, duration string }{
		{"busy", "busy", "0"},
		{"failed", "failed", "0"},
		{"no-answer", "no-answer", "0"},
		{"answer:1", "completed", "1"},
	} {
		t.Run("client/"+tt.dial, func(t *testing.T) {
			t.Parallel()
			call, err := c.CreateCall(ctx, client.CallParams{To: "+15005550006", From: "+15005550001", URL: app.url("/start"), Dial: tt.dial})
			if err != nil {
				t.Fatal(err)
			}
			check(t, call.Sid, tt.status, tt.duration)
		})
		t.Run("inbound/"+tt.dial, func(t *testing.T) {
			t.Parallel()
			call, err := c.Inbound(ctx, client.InboundParams{To: "+15005550010", From: "+15005550001", Dial: tt.dial})
			if err != nil {
				t.Fatal(err)
			}
			check(t, call.Sid, tt.status, tt.duration)
		})
	}
	t.Run("twilio-go/default answers", func(t *testing.T) {
		t.Parallel()
		call, err := tw.CreateCall((&api.CreateCallParams{}).SetTo("+15005550006").SetFrom("+15005550001").SetUrl(app.url("/start")))
		if err != nil {
			t.Fatal(err)
		}
		check(t, *call.Sid, "completed", "2") // timeLimit
	})
	t.Run("bad value", func(t *testing.T) {
		_, err := c.CreateCall(ctx, client.CallParams{To: "+15005550006", From: "+15005550001", URL: app.url("/start"), Dial: "answer:0"})
		if e, ok := err.(*client.Error); !ok || e.Status != 400 || e.Code != 20001 {
			t.Errorf("TonepayDial=answer:0: %v, want 400 20001", err)
		}
	})
}
