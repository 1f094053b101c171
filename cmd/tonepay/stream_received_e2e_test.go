package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/client"
	"github.com/tonepay/tonepay/dtmf"
	"github.com/tonepay/tonepay/internal/legaudio"
	"github.com/tonepay/tonepay/mediastream"
	api "github.com/twilio/twilio-go/rest/api/v2010"
)

// Twilio Media Streams, received (DESIGN §11), driven by a Twilio peer
// (twilioPeer: the frames of twilio-voice.md §7, a signed upgrade) over real
// WebSockets to a served tonepay with the real SQLite store.

// TestStreamRefusesUnsignedUpgrades: no valid signature of a linked account
// is a 403 with Twilio's error JSON before any upgrade, and registers
// nothing; the refusals are one log line.
func TestStreamRefusesUnsignedUpgrades(t *testing.T) {
	ss := startStreamServer(t, nil)
	for _, tt := range []struct{ name, token string }{
		{"no signature", ""},
		{"another token", "someoneelsestoken"},
		{"the tonepay account's token, which is not linked", ss.token},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, res, err := dialTwilio(t, ss, ss.twSid, tt.token)
			if err == nil {
				p.conn.CloseNow()
				t.Fatal("the upgrade was accepted")
			}
			if res == nil || res.StatusCode != http.StatusForbidden {
				t.Fatalf("answer %v, want 403 (%v)", res, err)
			}
			var body struct {
				Code   int `json:"code"`
				Status int `json:"status"`
			}
			b, _ := io.ReadAll(res.Body)
			if json.Unmarshal(b, &body) != nil || body.Code != 20403 || body.Status != 403 {
				t.Errorf("body %s, want Twilio's error JSON with code 20403", b)
			}
		})
	}
	tw, _ := newTwilio(t, ss.URL, ss.sid, ss.token, ss.sid, nil)
	if calls, err := tw.ListCall(nil); err != nil || len(calls) != 0 {
		t.Errorf("calls after refused upgrades: %d %v", len(calls), err)
	}
	if n := strings.Count(ss.logs.String(), "media stream refused"); n != 1 {
		t.Errorf("%d log lines for 3 refusals, want 1 (rate-limited)", n)
	}
}

// TestStreamSignedURLs: the URL the signature is over, as production has
// it. Accepted: wss:// through a TLS proxy in front that passes the Host on
// as Twilio sent it, port and all (nginx's $http_host); the URL with a "/"
// appended; a query string. Refused (403): a signature computed for another
// host, and a proxy that drops Host's port (nginx's $host).
func TestStreamSignedURLs(t *testing.T) {
	ss := startStreamServer(t, nil)
	target, err := url.Parse(ss.URL)
	if err != nil {
		t.Fatal(err)
	}
	// tlsProxy ends TLS in front of tonepay, as nginx does.
	tlsProxy := func(keepPort bool) (string, *http.Client) {
		rp := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.SetXForwarded()
			r.Out.Host = r.In.Host
			if !keepPort {
				r.Out.Host, _, _ = net.SplitHostPort(r.In.Host)
			}
		}}
		p := httptest.NewTLSServer(rp)
		t.Cleanup(p.Close)
		return "wss" + strings.TrimPrefix(p.URL, "https") + "/_tonepay/streams", p.Client()
	}
	keep, keepClient := tlsProxy(true)
	drop, dropClient := tlsProxy(false)
	direct := ss.streamURL()
	for _, tt := range []struct {
		name     string
		dial     string
		signed   string // "": dial
		client   *http.Client
		accepted bool
	}{
		{"wss through TLS in front, Host passed on", keep, "", keepClient, true},
		{"a / appended", direct, direct + "/", nil, true},
		{"a query string", direct + "?region=eu&site=2", "", nil, true},
		{"signed for another host", direct, "wss://tonepay.example/_tonepay/streams", nil, false},
		{"a proxy that drops Host's port", drop, "", dropClient, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, res, err := dialAs(t, peerDial{twSid: ss.twSid, token: ss.twToken, url: tt.dial, signed: tt.signed, client: tt.client})
			if !tt.accepted {
				if err == nil {
					p.conn.CloseNow()
					t.Fatal("the upgrade was accepted")
				}
				if res == nil || res.StatusCode != http.StatusForbidden {
					t.Fatalf("answer %v, want 403 (%v)", res, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if err := p.start(nil); err != nil {
				t.Fatal(err)
			}
			ss.waitStatus(p.call, tonepay.CallInProgress, 10*time.Second)
			p.stop()
			ss.waitStatus(p.call, tonepay.CallCompleted, 10*time.Second)
		})
	}
}

// TestStreamRegistersCall: start makes Twilio's CallSid an in-progress
// inbound call of the linked account (twilio-go sees it), which another
// account's credentials do not see, with one debug line naming the call and
// the accounts, nothing else; a start from another Twilio account than the
// signer is refused (1008).
func TestStreamRegistersCall(t *testing.T) {
	debug := &lockedBuffer{}
	ss := startStreamServer(t, func(s *server) {
		s.streams.Logger = slog.New(slog.NewTextHandler(debug, &slog.HandlerOptions{Level: slog.LevelDebug, ReplaceAttr: noTime}))
	})
	p := mustDial(t, ss)
	if err := p.start(map[string]string{"From": "+15005550001", "To": "+15005550006"}); err != nil {
		t.Fatal(err)
	}
	ss.waitStatus(p.call, tonepay.CallInProgress, 10*time.Second)
	waitFor(t, 5*time.Second, "the debug line", func() bool { return strings.Contains(debug.String(), "media stream started") }) // written after the commit
	want := `level=DEBUG msg="media stream started" call=` + p.call + " account=" + ss.sid + " twilio_account=" + ss.twSid + "\n"
	if got := debug.String(); got != want {
		t.Errorf("the receiver's log:\n%s\nwant\n%s", got, want)
	}
	tw, _ := newTwilio(t, ss.URL, ss.sid, ss.token, ss.sid, nil)
	c, err := tw.FetchCall(p.call, nil)
	if err != nil {
		t.Fatal(err)
	}
	if *c.Sid != p.call || *c.Status != "in-progress" || *c.Direction != "inbound" || *c.From != "+15005550001" || *c.To != "+15005550006" {
		t.Errorf("call %s %s %s from %s to %s", *c.Sid, *c.Status, *c.Direction, *c.From, *c.To)
	}
	list, err := tw.ListCall((&api.ListCallParams{}).SetStatus("in-progress"))
	if err != nil || len(list) != 1 || *list[0].Sid != p.call {
		t.Errorf("list: %d calls, %v", len(list), err)
	}
	// The Digits API types for simulated callers only: a real caller's keys
	// come from their phone.
	var ce *client.Error
	if _, err := ss.client().Press(context.Background(), p.call, "4"); !errors.As(err, &ce) || ce.Code != tonepay.CodeInvalidParameter || !strings.Contains(ce.Message, "real call") {
		t.Errorf("Digits on a streamed call: %v, want 64020 naming a real call", err)
	}
	// A subaccount of the main account is another tenant: not found.
	sub, err := tw.CreateAccount((&api.CreateAccountParams{}).SetFriendlyName("other"))
	if err != nil {
		t.Fatal(err)
	}
	other, _ := newTwilio(t, ss.URL, *sub.Sid, *sub.AuthToken, *sub.Sid, nil)
	if _, err := other.FetchCall(p.call, nil); err == nil {
		t.Error("another account fetched the streamed call")
	} else if code, status := twilioCode(t, err); code != 20404 || status != 404 {
		t.Errorf("another account: %d %d, want 20404", code, status)
	}

	// A start whose accountSid is not the signer's Twilio account.
	q := mustDial(t, ss)
	q.connected()
	q.startOnly(tonepay.NewSID("AC"), nil)
	if got := q.closedWith(10 * time.Second); got != websocket.StatusPolicyViolation {
		t.Errorf("start of another Twilio account: closed with %v, want 1008", got)
	}
	if st := ss.callStatus(q.call); st != "" {
		t.Errorf("the refused start registered its call (%s)", st)
	}
}

// TestStreamTakeoverAndNoReopen: a second socket's start for a live call
// takes it over (the first is closed, the call goes on); a call that has
// ended is never reopened.
func TestStreamTakeoverAndNoReopen(t *testing.T) {
	ss := startStreamServer(t, nil)
	first := mustDial(t, ss)
	first.start(nil)
	ss.waitStatus(first.call, tonepay.CallInProgress, 10*time.Second)
	second := mustDial(t, ss)
	second.call = first.call
	second.start(nil)
	first.closedWith(10 * time.Second)
	if st := ss.callStatus(first.call); st != tonepay.CallInProgress {
		t.Fatalf("after a takeover the call is %q", st)
	}
	second.stop()
	ss.waitStatus(first.call, tonepay.CallCompleted, time.Second+500*time.Millisecond)

	third := mustDial(t, ss)
	third.call = first.call
	third.start(nil)
	if got := third.closedWith(10 * time.Second); got != websocket.StatusPolicyViolation {
		t.Errorf("a start for an ended call: closed with %v, want 1008", got)
	}
	if st := ss.callStatus(first.call); st != tonepay.CallCompleted {
		t.Errorf("the ended call is %q", st)
	}
}

// TestStreamEndsLeg: stop or a close end the call within a second, silence
// once the bound has passed since the last frame (not before), and an open
// payment session ends as caller-hung-up.
func TestStreamEndsLeg(t *testing.T) {
	const silence = 700 * time.Millisecond
	ss := startStreamServer(t, func(s *server) { s.streams.Silence = silence })
	rc := newReceiver(t, ss.token)
	for _, tt := range []struct {
		name string
		end  func(p *twilioPeer)
		// keep sends frames until the end
		keep bool
	}{
		{"stop", func(p *twilioPeer) { p.stop() }, true},
		{"close", func(p *twilioPeer) { p.conn.Close(websocket.StatusNormalClosure, "bye") }, true},
		{"silence", func(p *twilioPeer) {}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := mustDial(t, ss)
			p.start(nil)
			ss.waitStatus(p.call, tonepay.CallInProgress, 10*time.Second)
			c := ss.client()
			ctx := context.Background()
			pay, err := c.CreatePayment(ctx, p.call, client.PaymentParams{IdempotencyKey: "k", StatusCallback: rc.srv.URL})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.UpdatePayment(ctx, p.call, pay.Sid, client.PaymentUpdate{IdempotencyKey: "c", StatusCallback: rc.srv.URL, Capture: "payment-card-number"}); err != nil {
				t.Fatal(err)
			}
			p.silence(100) // frames keep it alive meanwhile
			ended := time.Now()
			tt.end(p)
			ss.waitStatus(p.call, tonepay.CallCompleted, 15*time.Second)
			if tt.keep {
				if d := time.Since(ended); d > 2*time.Second { // 1 s by the contract, slack for a loaded machine
					t.Errorf("the call ended %v after the %s", d, tt.name)
				}
			} else {
				// Seen ended after the bound since the last frame was sent (the
				// server read it later still); at most 10 times the bound, slack
				// for a loaded machine.
				if d := time.Since(p.lastSent()); d < silence || d > 10*silence {
					t.Errorf("the call was seen ended %v after the last frame, want between %v and %v", d, silence, 10*silence)
				}
			}
			v, err := c.PaymentView(ctx, p.call, pay.Sid)
			if err != nil || v.Status != "ended" || v.Result != tonepay.ResultHungUp {
				t.Errorf("session after the %s: %+v %v", tt.name, v, err)
			}
		})
	}
}

// TestStreamLimits: each limit closes its stream with its code and one log
// line, while another stream's call goes on and takes keys.
func TestStreamLimits(t *testing.T) {
	ss := startStreamServer(t, nil)
	bystander := mustDial(t, ss)
	bystander.start(nil)
	ss.waitStatus(bystander.call, tonepay.CallInProgress, 10*time.Second)
	keepAlive(t, bystander)
	big := `{"event":"media","media":{"payload":"` + strings.Repeat("A", 70<<10) + `"}}`
	for _, tt := range []struct {
		name  string
		start bool
		send  func(p *twilioPeer)
		code  websocket.StatusCode
		log   string
	}{
		{"over 64 KiB", true, func(p *twilioPeer) { p.send(big) }, websocket.StatusMessageTooBig, "over 64 KiB"},
		{"media before start", false, func(p *twilioPeer) { p.connected(); p.silence(20) }, websocket.StatusPolicyViolation, "media frame before start"},
		{"second start", true, func(p *twilioPeer) { p.startOnly(p.account, nil) }, websocket.StatusPolicyViolation, "second start"},
		{"connected after start", true, func(p *twilioPeer) { p.connected() }, websocket.StatusPolicyViolation, "connected after start"},
		{"bad base64", true, func(p *twilioPeer) {
			p.send(`{"event":"media","sequenceNumber":"3","media":{"track":"inbound","chunk":"1","timestamp":"0","payload":"not base64!"},"streamSid":"` + p.stream + `"}`)
		}, websocket.StatusPolicyViolation, "not base64"},
		{"garbled JSON", true, func(p *twilioPeer) { p.send(`{"event":"media",`) }, websocket.StatusPolicyViolation, "not a JSON frame"},
		{"unknown event", true, func(p *twilioPeer) { p.send(`{"event":"hello"}`) }, websocket.StatusPolicyViolation, "unknown event"},
		{"flood", true, func(p *twilioPeer) {
			frame := `{"event":"mark","sequenceNumber":"9","streamSid":"` + p.stream + `","mark":{"name":"x"}}`
			for sec := 0; sec < 5; sec++ {
				next := time.Now().Add(time.Second)
				for range 150 {
					if p.send(frame) != nil {
						return
					}
				}
				time.Sleep(time.Until(next))
			}
		}, websocket.StatusPolicyViolation, "frames a second"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := mustDial(t, ss)
			if tt.start {
				p.start(nil)
				ss.waitStatus(p.call, tonepay.CallInProgress, 10*time.Second)
			}
			go tt.send(p)
			if got := p.closedWith(15 * time.Second); got != tt.code {
				t.Errorf("closed with %v, want %v", got, tt.code)
			}
			// The library closes a 1009 before the read returns: the
			// line may come just after the close.
			waitFor(t, 5*time.Second, "the log line", func() bool { return strings.Contains(ss.logs.String(), tt.log) })
			if n := strings.Count(ss.logs.String(), tt.log); n != 1 {
				t.Errorf("%d log lines with %q, want 1", n, tt.log)
			}
			if st := ss.callStatus(bystander.call); st != tonepay.CallInProgress {
				t.Errorf("the other stream's call is %q", st)
			}
		})
	}
	// The bystander still takes keys: an agent's session captures them.
	agentPayment(t, ss, bystander, func(keys string) error { return bystander.dtmf(keys) })
}

// agentPayment runs an agent-assisted payment on p's call (the agent's app
// uses tonepay's Payments API with Twilio's CallSid) whose caller types
// with press, and checks it succeeds.
func agentPayment(t *testing.T, ss *streamServer, p *twilioPeer, press func(keys string) error) {
	t.Helper()
	agentPaymentOn(t, ss, p.call, press)
}

// agentPaymentOn is agentPayment on any real call (a SIP one too).
func agentPaymentOn(t *testing.T, ss *streamServer, call string, press func(keys string) error) {
	t.Helper()
	rc := newReceiver(t, ss.token)
	c := ss.client()
	ctx := context.Background()
	pay, err := c.CreatePayment(ctx, call, client.PaymentParams{IdempotencyKey: "create", StatusCallback: rc.srv.URL, ChargeAmount: "10.00"})
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range []struct{ field, keys string }{
		{"payment-card-number", "4242424242424242#"},
		{"expiration-date", "1230"},
		{"security-code", "123"},
		{"postal-code", "94105#"},
	} {
		if _, err := c.UpdatePayment(ctx, call, pay.Sid, client.PaymentUpdate{IdempotencyKey: "capture" + f.field, StatusCallback: rc.srv.URL, Capture: f.field}); err != nil {
			t.Fatal(err)
		}
		if err := press(f.keys); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 10*time.Second, f.field+" captured", func() bool {
			v, err := c.PaymentView(ctx, call, pay.Sid)
			return err == nil && v.Captured[f.field] != "" && v.Capture == ""
		})
		_ = i
	}
	if _, err := c.UpdatePayment(ctx, call, pay.Sid, client.PaymentUpdate{IdempotencyKey: "complete", StatusCallback: rc.srv.URL, Status: "complete"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "payment success", func() bool {
		v, err := c.PaymentView(ctx, call, pay.Sid)
		return err == nil && v.Result == "success"
	})
	v, _ := c.PaymentView(ctx, call, pay.Sid)
	if v.Captured["payment-card-number"] != "xxxxxxxxxxxx4242" || v.DroppedDigits != 0 {
		t.Errorf("captured %v, dropped %d: each key counted once", v.Captured, v.DroppedDigits)
	}
}

// TestStreamAgentPayment: the caller's keys as dtmf frames (with Twilio's
// audio of silence), and as in-band tones only.
func TestStreamAgentPayment(t *testing.T) {
	ss := startStreamServer(t, nil)
	for _, tt := range []struct {
		name  string
		press func(p *twilioPeer) func(string) error
	}{
		{"dtmf frames", func(p *twilioPeer) func(string) error { return p.dtmf }},
		{"tones", func(p *twilioPeer) func(string) error { return p.tones }},
		{"both for each press", func(p *twilioPeer) func(string) error {
			return func(keys string) error {
				for i := range len(keys) {
					// The tone, Twilio's frame for it as the tone ends, then
					// the gap before the next key.
					if err := p.media(dtmf.MulawEncodeAll(dtmf.Tone(keys[i], 80, -8))); err != nil {
						return err
					}
					if err := p.dtmf(keys[i : i+1]); err != nil {
						return err
					}
				}
				return nil
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := mustDial(t, ss)
			p.start(map[string]string{"From": "+15005550001"})
			ss.waitStatus(p.call, tonepay.CallInProgress, 10*time.Second)
			agentPayment(t, ss, p, tt.press(p))
			p.stop()
		})
	}
}

// TestStreamPayIVR: To is a number of the account with a VoiceUrl: its
// TwiML (a <Pay>) runs on the streamed call, signed, with the call's
// parameters; the caller pays with dtmf frames.
func TestStreamPayIVR(t *testing.T) {
	ss := startStreamServer(t, nil)
	app := payApp(t, ss.token, `<Pay chargeAmount="10.00" postalCode="false" action="/paid" statusCallback="/pay-status"/>`)
	tw, _ := newTwilio(t, ss.URL, ss.sid, ss.token, ss.sid, nil)
	if _, err := tw.CreateIncomingPhoneNumber((&api.CreateIncomingPhoneNumberParams{}).SetPhoneNumber("+15005550007").SetVoiceUrl(app.url("/pay"))); err != nil {
		t.Fatal(err)
	}
	p := mustDial(t, ss)
	p.start(map[string]string{"From": "+15005550001", "To": "+15005550007"})
	waitFor(t, 10*time.Second, "the number's TwiML fetched", func() bool { return len(app.requests()) > 0 })
	first := app.requests()[0]
	if first.Params.Get("CallSid") != p.call || first.Params.Get("Direction") != "inbound" || first.Params.Get("From") != "+15005550001" {
		t.Errorf("first request %v", first.Params)
	}
	// A real caller hears "Welcome to Acme billing" in real time, and keys
	// before <Pay> begins reach no one, as on Twilio: type once it asks.
	waitFor(t, 15*time.Second, "<Pay> asking for the card", func() bool { return len(statusFor(app, p.call)) > 0 })
	p.dtmf("4242424242424242#1230123")
	waitFor(t, 15*time.Second, "the <Pay> action", func() bool {
		for _, r := range app.requests() {
			if r.Path == "/paid" {
				return true
			}
		}
		return false
	})
	if r := actionOf(t, app, p.call); r.Params.Get("Result") != "success" {
		t.Errorf("action %v", r.Params)
	}
	app.checkSigned()
	ss.waitStatus(p.call, tonepay.CallCompleted, 10*time.Second) // /paid hangs up
	// The call ended: its stream closes once the words still queued for the
	// caller have played (a <Pay> prompt rendered late, on a slow machine),
	// at most legaudio.MaxDrain.
	p.closedWith(legaudio.MaxDrain + 5*time.Second)
}

// TestStreamGather: To is a number of the account whose VoiceUrl answers a
// <Gather numDigits="1" action>: its first request says the call is in
// progress (Twilio answered it before it streamed), and the caller's dtmf
// frame reaches the action as Digits, in a signed request.
func TestStreamGather(t *testing.T) {
	ss := startStreamServer(t, nil)
	app := newVoiceApp(t, ss.token, map[string]string{
		"/menu":  `<Response><Gather numDigits="1" action="/chose" timeout="30"><Say>Press 2 for billing</Say></Gather></Response>`,
		"/chose": `<Response><Hangup/></Response>`,
	})
	tw, _ := newTwilio(t, ss.URL, ss.sid, ss.token, ss.sid, nil)
	if _, err := tw.CreateIncomingPhoneNumber((&api.CreateIncomingPhoneNumberParams{}).SetPhoneNumber("+15005550007").SetVoiceUrl(app.url("/menu"))); err != nil {
		t.Fatal(err)
	}
	p := mustDial(t, ss)
	p.start(map[string]string{"From": "+15005550001", "To": "+15005550007"})
	waitFor(t, 10*time.Second, "the number's TwiML fetched", func() bool { return len(app.requests()) > 0 })
	if first := app.requests()[0]; first.Params.Get("CallSid") != p.call || first.Params.Get("CallStatus") != tonepay.CallInProgress {
		t.Errorf("first request %v, want CallStatus in-progress", first.Params)
	}
	// Keys before the <Gather> begins reach no one, as on Twilio.
	waitFor(t, 10*time.Second, "the <Gather> on the timeline", func() bool {
		var gathering bool
		ss.client().EachEntry(context.Background(), p.call, func(e client.Entry) { gathering = gathering || e.Kind == "verb" && e.Verb == "Gather" })
		return gathering
	})
	if err := p.dtmf("2"); err != nil {
		t.Fatal(err)
	}
	var chose *appRequest
	waitFor(t, 15*time.Second, "the <Gather> action", func() bool {
		for _, r := range app.requests() {
			if r.Path == "/chose" {
				chose = &r
				return true
			}
		}
		return false
	})
	if chose.Params.Get("Digits") != "2" || chose.Params.Get("CallSid") != p.call {
		t.Errorf("action %v, want Digits=2", chose.Params)
	}
	app.checkSigned()
	ss.waitStatus(p.call, tonepay.CallCompleted, 10*time.Second) // /chose hangs up
	p.closedWith(legaudio.MaxDrain + 5*time.Second)
}

// fakeAudio renders every <Say> as the same known audio.
type fakeAudio struct{ b []byte }

func (f fakeAudio) Speak(ctx context.Context, text, voice, language string) ([]byte, error) {
	return f.b, nil
}
func (f fakeAudio) Play(ctx context.Context, url string) ([]byte, error) { return f.b, nil }

// TestStreamAudioOut: what the call's TwiML says (here a Calls update's
// Twiml on a streamed call) goes back to the caller as media frames of 160
// bytes, the whole rendering, not silence; with no Audio, nothing is sent
// and the timeline says why.
func TestStreamAudioOut(t *testing.T) {
	said := make([]byte, 1000) // 6.25 frames
	for i := range said {
		said[i] = byte(i % 100) // loud mu-law values
	}
	for _, tt := range []struct {
		name  string
		audio tonepay.Audio
	}{{"audio", fakeAudio{said}}, {"none", nil}} {
		t.Run(tt.name, func(t *testing.T) {
			ss := startStreamServer(t, func(s *server) { s.streams.Audio = tt.audio })
			p := mustDial(t, ss)
			p.start(nil)
			ss.waitStatus(p.call, tonepay.CallInProgress, 10*time.Second)
			twiml := `<Response><Say>Hello caller</Say><Pause length="30"/></Response>`
			if _, err := ss.client().UpdateCall(context.Background(), p.call, client.CallUpdate{Twiml: twiml}); err != nil {
				t.Fatal(err)
			}
			if tt.audio == nil {
				waitFor(t, 10*time.Second, "a warning on the timeline", func() bool {
					var warned bool
					ss.client().EachEntry(context.Background(), p.call, func(e client.Entry) {
						warned = warned || e.Kind == "warning" && strings.Contains(e.Text, "hears nothing")
					})
					return warned
				})
				if n := len(mediaFrames(t, p)); n != 0 {
					t.Errorf("%d media frames with no audio", n)
				}
				return
			}
			want := 7 * 160
			waitFor(t, 10*time.Second, "the rendering as media frames", func() bool { return len(mediaFrames(t, p))*160 >= want })
			var total int
			for _, m := range mediaFrames(t, p) {
				if len(m) != 160 {
					t.Errorf("a frame of %d bytes", len(m))
				}
				total += len(m)
				loud := false
				for _, b := range m {
					loud = loud || b != 0xFF && b != 0x7F
				}
				if !loud {
					t.Error("a silent frame")
				}
			}
			if total != want {
				t.Errorf("%d bytes of audio, want %d", total, want)
			}
		})
	}
}

// mediaFrames decodes the media frames tonepay sent to the peer.
func mediaFrames(t *testing.T, p *twilioPeer) [][]byte {
	var out [][]byte
	for _, b := range p.frames() {
		var f struct {
			Event     string `json:"event"`
			StreamSid string `json:"streamSid"`
			Media     struct {
				Payload string `json:"payload"`
			} `json:"media"`
		}
		if err := json.Unmarshal(b, &f); err != nil || f.Event != "media" {
			continue
		}
		if f.StreamSid != p.stream {
			t.Errorf("a media frame for stream %q", f.StreamSid)
		}
		a, err := base64.StdEncoding.DecodeString(f.Media.Payload)
		if err != nil {
			t.Errorf("payload: %v", err)
		}
		out = append(out, a)
	}
	return out
}

// keepAlive sends p's audio as Twilio does, until the test ends: 10 s
// without a frame would end its call.
func keepAlive(t *testing.T, p *twilioPeer) {
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				if p.silence(100) != nil {
					return
				}
			}
		}
	}()
	t.Cleanup(func() { close(done); <-stopped })
}

// TestStreamSlowPeer: a peer that begins a frame and never finishes it (a
// stalled Twilio, or a slowloris) is closed once the silence bound passes,
// with one log line; its call ends, and a stream beside it goes on.
func TestStreamSlowPeer(t *testing.T) {
	ss := startStreamServer(t, func(s *server) { s.streams.Silence = 700 * time.Millisecond })
	bystander := mustDial(t, ss)
	bystander.start(nil)
	ss.waitStatus(bystander.call, tonepay.CallInProgress, 10*time.Second)
	keepAlive(t, bystander)

	p := mustDial(t, ss)
	p.start(nil)
	ss.waitStatus(p.call, tonepay.CallInProgress, 10*time.Second)
	w, err := p.conn.Writer(context.Background(), websocket.MessageText)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte(`{"event":"media","sequenceNumber":"3","media":{"track":"inbound","payload":"`)); err != nil {
		t.Fatal(err)
	}
	// The rest never comes (w is never closed).
	ss.waitStatus(p.call, tonepay.CallCompleted, 10*time.Second)
	waitFor(t, 5*time.Second, "the log line", func() bool { return strings.Contains(ss.logs.String(), "a dead or stalled peer") })
	if n := strings.Count(ss.logs.String(), "a dead or stalled peer"); n != 1 {
		t.Errorf("%d log lines, want 1", n)
	}
	if st := ss.callStatus(bystander.call); st != tonepay.CallInProgress {
		t.Errorf("the other stream's call is %q", st)
	}
}

// smallSendBuffers hands out connections whose kernel send buffer is small,
// so that a peer that stops reading blocks tonepay's writes within a second
// or two of paced audio rather than after megabytes of loopback buffers.
type smallSendBuffers struct{ net.Listener }

func (l smallSendBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetWriteBuffer(4 << 10)
	}
	return c, err
}

// TestStreamPeerStopsReading: a peer that stops reading while a long
// rendering goes back to it is closed once a write waits longer than the
// write timeout, with one log line; its call ends (completed), and a stream
// beside it goes on and takes keys.
func TestStreamPeerStopsReading(t *testing.T) {
	long := make([]byte, 60*8000) // a minute of loud audio
	for i := range long {
		long[i] = byte(i % 100)
	}
	const timeout = 300 * time.Millisecond
	ss := startStreamServer(t, func(s *server) {
		s.streams.WriteTimeout, s.streams.Audio = timeout, fakeAudio{long}
		s.ln = smallSendBuffers{s.ln}
	})
	bystander := mustDial(t, ss)
	bystander.start(nil)
	ss.waitStatus(bystander.call, tonepay.CallInProgress, 10*time.Second)
	keepAlive(t, bystander)

	// The peer's socket takes little too, and the peer never reads it.
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetReadBuffer(4 << 10)
		}
		return c, err
	}}
	t.Cleanup(tr.CloseIdleConnections)
	p, _, err := dialAs(t, peerDial{twSid: ss.twSid, token: ss.twToken, url: ss.streamURL(), client: &http.Client{Transport: tr}, noRead: true})
	if err != nil {
		t.Fatal(err)
	}
	p.start(nil)
	ss.waitStatus(p.call, tonepay.CallInProgress, 10*time.Second)
	keepAlive(t, p) // it still sends, as Twilio does: the silence bound is not what closes it
	said := time.Now()
	if _, err := ss.client().UpdateCall(context.Background(), p.call, client.CallUpdate{Twiml: `<Response><Say>A long story</Say><Pause length="60"/></Response>`}); err != nil {
		t.Fatal(err)
	}
	ss.waitStatus(p.call, tonepay.CallCompleted, 30*time.Second)
	t.Logf("the call ended %v after its audio began", time.Since(said).Round(10*time.Millisecond))
	const line = "media stream closed: the peer does not read what is sent"
	waitFor(t, 5*time.Second, "the log line", func() bool { return strings.Contains(ss.logs.String(), line) })
	var lines []string
	for _, l := range strings.Split(ss.logs.String(), "\n") {
		if strings.Contains(l, "media stream closed") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 1 || !strings.Contains(lines[0], line) || !strings.Contains(lines[0], "call="+p.call) {
		t.Errorf("log lines %q, want one naming %s", lines, p.call)
	}
	if st := ss.callStatus(bystander.call); st != tonepay.CallInProgress {
		t.Errorf("the other stream's call is %q", st)
	}
	agentPayment(t, ss, bystander, func(keys string) error { return bystander.dtmf(keys) })
}

// TestStreamBargeIn: keys pressed while tonepay speaks (barge-in) make it
// send clear between media frames; every frame Twilio gets stays whole.
// The player's media and the reader's clear once shared one buffer, and a
// media frame went out overwritten (Twilio: 31950, the call dropped). Run
// under -race in .ci/run, this test catches such sharing at once.
func TestStreamBargeIn(t *testing.T) {
	said := make([]byte, 8000*5)
	for i := range said {
		said[i] = byte(i % 100)
	}
	ss := startStreamServer(t, func(s *server) { s.streams.Audio = fakeAudio{said} })
	p := mustDial(t, ss)
	p.start(nil)
	ss.waitStatus(p.call, tonepay.CallInProgress, 10*time.Second)
	clears := func() (n int) {
		for _, b := range p.frames() {
			if bytes.Contains(b, []byte(`"event":"clear"`)) {
				n++
			}
		}
		return n
	}
	for round := range 8 {
		if _, err := ss.client().UpdateCall(context.Background(), p.call, client.CallUpdate{Twiml: `<Response><Say>Hello caller</Say><Pause length="30"/></Response>`}); err != nil {
			t.Fatal(err)
		}
		before := len(mediaFrames(t, p))
		waitFor(t, 10*time.Second, "speech playing", func() bool { return len(mediaFrames(t, p)) > before+2 })
		if err := p.send(fmt.Sprintf(`{"event":"dtmf","streamSid":"%s","sequenceNumber":"%s","dtmf":{"track":"inbound_track","digit":"5"}}`, p.stream, p.next())); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 10*time.Second, "a clear", func() bool { return clears() > round })
	}
	for i, b := range p.frames() {
		var f mediastream.Frame
		if err := json.Unmarshal(b, &f); err != nil || f.Event != "media" && f.Event != "clear" && f.Event != "mark" || f.StreamSid != p.stream {
			t.Errorf("frame %d is not whole: %q (%v)", i, b, err)
		}
	}
}
