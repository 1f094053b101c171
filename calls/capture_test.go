package calls_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/calls"
	"github.com/tonepay/tonepay/connector/sandbox"
	"github.com/tonepay/tonepay/internal/pgtest"
	"github.com/tonepay/tonepay/internal/servicetest"
	"github.com/tonepay/tonepay/seal"
	"github.com/tonepay/tonepay/store/postgres"
	"github.com/tonepay/tonepay/store/storetest"
	"github.com/tonepay/tonepay/voice"
)

// states records what a watcher was told, as "paying/field" strings.
type states struct {
	mu  sync.Mutex
	got []string
}

func (s *states) tell(st tonepay.CaptureState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, fmt.Sprintf("%v/%s", st.Paying, st.Field))
}

func (s *states) list() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.got...)
}

// TestWatchCapture: a leg watching a call is told its capture state at
// once, then after each commit that changes it (an agent's session opened,
// a field asked for, a field's last key, the connector's answer, a <Pay>'s
// fields and its end), never twice the same, and nothing once it stopped.
func TestWatchCapture(t *testing.T) {
	ctx := context.Background()
	card, exp, cvc := "payment-card-number", "expiration-date", "security-code"
	t.Run("agent", func(t *testing.T) {
		f := newFixture(t)
		svc := f.Service()
		var s states
		stop, err := svc.WatchCapture(f.Call.Sid, s.tell)
		if err != nil {
			t.Fatal(err)
		}
		pk := f.CapturedSession(t, svc)
		if err := f.Complete(svc, pk, "k"); err != nil {
			t.Fatal(err)
		}
		svc.Wait()
		waitEnded(t, f, pk)
		want := []string{"false/", "true/", "true/" + card, "true/", "true/" + exp, "true/", "true/" + cvc, "true/", "false/"}
		if got := s.list(); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("told %q, want %q", got, want)
		}
		stop()
		if _, err := svc.CreateSession(ctx, &tonepay.CreateRequest{AccountSid: f.Acct.Sid, CallSid: f.Call.Sid, StatusCallback: "https://example.com/cb",
			Params: tonepay.Params{PaymentMethod: tonepay.CreditCard, Currency: "USD", TokenType: tonepay.TokenReusable, Timeout: 5, Input: "dtmf"}}); err != nil {
			t.Fatal(err)
		}
		if got := s.list(); len(got) != len(want) {
			t.Errorf("told %q after stop", got[len(want):])
		}
	})
	t.Run("<Pay>, then the caller hangs up", func(t *testing.T) {
		f := newFixture(t)
		svc := f.voiceService(t, newApp(map[string]string{
			"start": `<Response><Pay chargeAmount="1.00" postalCode="false" securityCode="false" timeout="30"/><Pause length="60"/></Response>`,
		}))
		call := f.placeCall(t, svc, nil)
		var s states
		stop, err := svc.WatchCapture(call.Sid, s.tell)
		if err != nil {
			t.Fatal(err)
		}
		defer stop()
		if _, err := svc.Keypad(ctx, f.Acct.Sid, call.Sid, "4242424242424242#"); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.HangUp(ctx, f.Acct.Sid, call.Sid); err != nil {
			t.Fatal(err)
		}
		want := []string{"true/" + card, "true/" + exp, "false/"}
		if got := s.list(); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("told %q, want %q", got, want)
		}
	})
}

// TestStreamLeg: a call a media stream registered runs no TwiML (Twilio
// runs it), even in a runtime that runs TwiML; its keys, from the stream,
// reach the agent's session, are masked on its timeline and counted as the
// stream's.
func TestStreamLeg(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	a := newApp(nil)
	svc := f.voiceService(t, a)
	counted := map[string]int{}
	var mu sync.Mutex
	svc.Hooks.Keys = func(source string, n int) { mu.Lock(); counted[source] += n; mu.Unlock() }
	twilioSid := tonepay.NewSID("CA")
	call, err := svc.StartLeg(ctx, &calls.LegRequest{CallSid: twilioSid, Leg: tonepay.LegStream,
		CreateCallRequest: tonepay.CreateCallRequest{AccountSid: f.Acct.Sid, From: "+15005550001", To: "+15005550006"}})
	if err != nil {
		t.Fatal(err)
	}
	if call.Sid != twilioSid || call.Leg != tonepay.LegStream || call.Direction != tonepay.DirectionInbound || call.Status != tonepay.CallInProgress {
		t.Fatalf("registered %+v", call)
	}
	if _, err := f.Store.FindCallRun(ctx, call.Sid); err == nil || len(a.requests()) != 0 {
		t.Fatalf("a stream's call runs TwiML: run %v, %d requests", err, len(a.requests()))
	}
	f.Call = call
	var s states
	stop, err := svc.WatchCapture(call.Sid, s.tell)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	pk, err := svc.CreateSession(ctx, &tonepay.CreateRequest{AccountSid: f.Acct.Sid, CallSid: call.Sid, StatusCallback: "https://example.com/cb",
		Params: tonepay.Params{PaymentMethod: tonepay.CreditCard, Currency: "USD", TokenType: tonepay.TokenReusable, Timeout: 5, Input: "dtmf", ValidCardTypes: []string{"visa"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.UpdateSession(ctx, &tonepay.UpdateRequest{AccountSid: f.Acct.Sid, CallSid: call.Sid, Sid: pk.Sid, Capture: tonepay.FieldCardNumber, StatusCallback: "https://example.com/cb"}); err != nil {
		t.Fatal(err)
	}
	for _, k := range "4242424242424242#" { // one dtmf frame each
		if _, err := svc.Press(ctx, tonepay.Keys{AccountSid: f.Acct.Sid, CallSid: call.Sid, Source: tonepay.KeySourceStream, Digits: string(k)}); err != nil {
			t.Fatal(err)
		}
	}
	sess := waitFor(t, func() *tonepay.Session {
		if x := f.Session(t, pk.Sid); x.State.Captured[tonepay.FieldCardNumber] != "" {
			return x
		}
		return nil
	})
	if sess.State.Captured[tonepay.FieldCardNumber] != "xxxxxxxxxxxx4242" {
		t.Errorf("captured %v", sess.State.Captured)
	}
	rows := 0
	for _, b := range storedEntries(t, f, call.Sid) {
		var e voice.Entry
		if err := json.Unmarshal(b, &e); err != nil {
			t.Fatal(err)
		}
		if e.Kind == "key" && (!e.Masked || e.Text != "*") {
			t.Errorf("key entry %s", b)
		}
		rows++
	}
	// The keys' hook and the leg's watcher are told after each commit, so
	// after the store shows the last key: wait for them.
	want := "false/ true/ true/payment-card-number true/"
	var n int
	waitFor(t, func() *int {
		mu.Lock()
		defer mu.Unlock()
		if n = counted[tonepay.KeySourceStream]; n >= 17 && len(s.list()) >= 4 {
			return &n
		}
		return nil
	})
	if rows != 17 || n != 17 {
		t.Errorf("%d timeline rows, %d stream keys counted; want 17 each", rows, n)
	}
	if got := strings.Join(s.list(), " "); got != want {
		t.Errorf("the leg was told %q, want %q", got, want)
	}
}

// waitFor polls get until it returns non-nil (keys from a real-time source
// are applied after Press returned).
func waitFor[T any](t *testing.T, get func() *T) *T {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if v := get(); v != nil {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestStreamLegAnswered: a streamed call is in progress from its start,
// whatever its number's app: Twilio answered it before it streamed. Its
// first document is asked for with CallStatus in-progress, and a first
// <Reject> ends it completed, as on an answered call; so is one given its
// first document by a Calls update. A SIP call to an app still rings until
// its first document answers.
func TestStreamLegAnswered(t *testing.T) {
	ctx := context.Background()
	const gather, reject = `<Response><Gather timeout="60"><Say>Hi</Say></Gather></Response>`, `<Response><Reject/></Response>`
	tests := []struct {
		name     string
		leg      tonepay.Leg
		page     string
		fetching string // the call's status while its first document is asked for
		after    string // once it answered
		update   bool   // the document comes from a Calls update, not the number
	}{
		{"stream, a Gather", tonepay.LegStream, gather, tonepay.CallInProgress, tonepay.CallInProgress, false},
		{"stream, a first Reject", tonepay.LegStream, reject, tonepay.CallInProgress, tonepay.CallCompleted, false},
		{"stream, a Calls update's Url", tonepay.LegStream, gather, tonepay.CallInProgress, tonepay.CallInProgress, true},
		{"SIP, a Gather", tonepay.LegSIP, gather, tonepay.CallRinging, tonepay.CallInProgress, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			a := newApp(map[string]string{"start": tt.page})
			a.gate = make(chan struct{})
			svc := f.voiceService(t, a)
			to := "+15005550006" // no number of the account: the call holds
			if !tt.update {
				to = "+15005550007"
				if _, err := svc.Accounts.CreateNumber(ctx, &tonepay.CreateNumberRequest{AccountSid: f.Acct.Sid, PhoneNumber: to,
					NumberVoice: tonepay.NumberVoice{VoiceURL: ptr(ivr + "start")}}); err != nil {
					t.Fatal(err)
				}
			}
			sid := tonepay.NewSID(tonepay.PrefixCall)
			done := make(chan error, 1)
			go func() {
				_, err := svc.StartLeg(ctx, &calls.LegRequest{CallSid: sid, Leg: tt.leg,
					CreateCallRequest: tonepay.CreateCallRequest{AccountSid: f.Acct.Sid, From: "+15005550001", To: to}})
				if err == nil && tt.update {
					_, err = svc.UpdateCall(ctx, &tonepay.UpdateCallRequest{AccountSid: f.Acct.Sid, Sid: sid, URL: ptr(ivr + "start")})
				}
				done <- err
			}()
			reqs := waitFor(t, func() *[]*tonepay.FetchRequest {
				if r := a.requests(); len(r) > 0 {
					return &r
				}
				return nil
			})
			if got := (*reqs)[0].Params.Get("CallStatus"); got != tt.fetching {
				t.Errorf("the first request's CallStatus %q, want %q", got, tt.fetching)
			}
			if got := f.callStatus(t, sid).Status; got != tt.fetching {
				t.Errorf("while its first document is asked for, the call is %q, want %q", got, tt.fetching)
			}
			a.mu.Lock()
			close(a.gate)
			a.gate = nil
			a.mu.Unlock()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if got := f.callStatus(t, sid).Status; got != tt.after {
				t.Errorf("once answered, the call is %q, want %q", got, tt.after)
			}
		})
	}
}

// TestWatchCaptureAcrossProcesses: two processes on one PostgreSQL
// database. A SIP leg's watcher is on process A; the agent's session is
// opened and its field asked for on process B (no status callback, so no
// callback announces it). A hears each change through the store's
// listener, as serve wires it, and its watcher is told at once.
func TestWatchCaptureAcrossProcesses(t *testing.T) {
	ctx := context.Background()
	store, err := postgres.Open(ctx, pgtest.FreshDB(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	box, _ := seal.New(bytes.Repeat([]byte{1}, 32))
	clk := servicetest.NewClock()
	acct := storetest.MustAccount(t, store, "", clk.Now())
	process := func() *servicetest.Process {
		p := servicetest.New(store, nop{}, box, tonepay.Connectors{"Default": sandbox.New()}, slog.New(slog.NewTextHandler(io.Discard, nil)))
		p.Tx.Now = clk.Now
		t.Cleanup(p.StopCalls)
		return p
	}
	a, b := process(), process()
	lctx, stopListening := context.WithCancel(ctx)
	defer stopListening()
	listening := make(chan struct{})
	var once sync.Once
	go store.Listen(lctx, func(e tonepay.SessionChanged) {
		if e.SessionSid == "ready" {
			once.Do(func() { close(listening) })
			return
		}
		a.SessionChanged(e)
	})
	call, err := a.StartLeg(ctx, &calls.LegRequest{CallSid: tonepay.NewSID(tonepay.PrefixCall), Leg: tonepay.LegSIP,
		CreateCallRequest: tonepay.CreateCallRequest{AccountSid: acct.Sid, From: "+15005550001", To: "+15005550006"}})
	if err != nil {
		t.Fatal(err)
	}
	var s states
	stop, err := a.WatchCapture(call.Sid, s.tell)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	// The listener is up once it hears a NOTIFY of its own.
	waitListening(t, store, listening)
	pk, err := b.CreateSession(ctx, &tonepay.CreateRequest{AccountSid: acct.Sid, CallSid: call.Sid,
		Params: tonepay.Params{PaymentMethod: tonepay.CreditCard, Currency: "USD", TokenType: tonepay.TokenReusable, Timeout: 5, Input: "dtmf"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.UpdateSession(ctx, &tonepay.UpdateRequest{AccountSid: acct.Sid, CallSid: call.Sid, Sid: pk.Sid, Capture: tonepay.FieldCardNumber}); err != nil {
		t.Fatal(err)
	}
	// Told the field being captured (the session's opening may come in the
	// same read: the last state told is the store's).
	deadline := time.Now().Add(10 * time.Second)
	for got := s.list(); got[len(got)-1] != "true/payment-card-number"; got = s.list() {
		if time.Now().After(deadline) {
			t.Fatalf("A's watcher was told %q, want the card number being captured last", got)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitListening NOTIFYs "ready" until the listener has heard it.
func waitListening(t *testing.T, store tonepay.Store, heard <-chan struct{}) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; {
		err := store.Update(context.Background(), func(tx tonepay.Tx) error {
			return tx.(tonepay.SessionAnnouncer).Announce(context.Background(), []tonepay.SessionChanged{{AccountSid: "x", SessionSid: "ready"}})
		})
		if err != nil {
			t.Fatal(err)
		}
		select {
		case <-heard:
			return
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("the store's listener never heard a NOTIFY")
		}
	}
}
