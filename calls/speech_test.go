package calls_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/calls"
	"github.com/tonepay/tonepay/voice"
)

// TestSpeak: a <Gather input="dtmf speech"> takes what the caller says: its
// action gets SpeechResult and Confidence, its partialResultCallback's
// requests are in the outbox on the call's chain, and the timeline shows the
// words; speech nobody listens for is dropped, and shown.
func TestSpeak(t *testing.T) {
	f := newFixture(t)
	a := newApp(map[string]string{
		"start": `<Response><Gather input="dtmf speech" action="heard" partialResultCallback="partial"><Say>Say agent or press 1</Say></Gather></Response>`,
		"heard": `<Response><Say>Connecting you</Say><Pause length="60"/></Response>`,
	})
	svc := f.voiceService(t, a)
	call := f.placeCall(t, svc, nil)
	ctx := context.Background()

	heard, err := svc.Speak(ctx, tonepay.Speech{AccountSid: f.Acct.Sid, CallSid: call.Sid, Text: " I want an agent "})
	if err != nil || !heard {
		t.Fatalf("Speak = %v, %v", heard, err)
	}
	reqs := a.requests()
	last := reqs[len(reqs)-1]
	if last.URL != ivr+"heard" || last.Params.Get("SpeechResult") != "I want an agent" || last.Params.Get("Confidence") != "0.9" || last.Params.Has("Digits") {
		t.Fatalf("action request %s %v", last.URL, last.Params)
	}
	tl := f.timeline(t, call.Sid)
	if !has(tl, "speech:I want an agent", "verb:ended: SpeechResult=I want an agent Confidence=0.9", "fetch:heard", "say:Connecting you") {
		t.Fatalf("timeline %q", tl)
	}
	cbs, err := f.Store.FindCallbacks(ctx, calls.PartialChain(call.Sid))
	if err != nil {
		t.Fatal(err)
	}
	var partials []string
	for _, cb := range cbs {
		if cb.URL == ivr+"partial" {
			if cb.Form.Get("CallSid") != call.Sid || cb.Method != "POST" || cb.Form.Get("Stability") == "" || cb.AccountSid != f.Acct.Sid {
				t.Errorf("partial %s %v", cb.Method, cb.Form)
			}
			partials = append(partials, cb.Form.Get("SequenceNumber")+":"+cb.Form.Get("UnstableSpeechResult"))
		}
	}
	if strings.Join(partials, "|") != "1:I|2:I want|3:I want an|4:I want an agent" {
		t.Errorf("partials %q", partials)
	}

	// The Pause does not listen: dropped, on the timeline.
	heard, err = svc.Speak(ctx, tonepay.Speech{AccountSid: f.Acct.Sid, CallSid: call.Sid, Text: "hello?", Confidence: 0.5})
	if err != nil || heard {
		t.Fatalf("Speak in a Pause = %v, %v", heard, err)
	}
	if tl := f.timeline(t, call.Sid); tl[len(tl)-1] != "speech:hello? (dropped: no <Gather> listens: the call is in a <Pause>)" {
		t.Errorf("timeline ends %q", tl[len(tl)-1])
	}
	if n := len(a.requests()); n != len(reqs) {
		t.Errorf("dropped speech made %d requests", n-len(reqs))
	}
}

// TestSpeakMasked: while a payment session is open on the call, the
// timeline shows "(speech)", never the words (a caller may say a card
// number); the app, which asked for speech, still gets them.
func TestSpeakMasked(t *testing.T) {
	f := newFixture(t)
	a := newApp(map[string]string{
		"start": `<Response><Gather input="speech" action="heard"/></Response>`,
		"heard": `<Response><Pause length="60"/></Response>`,
	})
	svc := f.voiceService(t, a)
	call := f.placeCall(t, svc, nil)
	ctx := context.Background()
	p := tonepay.Params{PaymentMethod: tonepay.CreditCard, Currency: "USD", PaymentConnector: "Default", Timeout: 5, Input: "dtmf"}
	if _, err := svc.CreateSession(ctx, &tonepay.CreateRequest{AccountSid: f.Acct.Sid, CallSid: call.Sid, Params: p,
		ChargeAmount: "1.00", StatusCallback: "https://example.com/cb"}); err != nil {
		t.Fatal(err)
	}
	const card = "four two four two four two four two"
	if heard, err := svc.Speak(ctx, tonepay.Speech{AccountSid: f.Acct.Sid, CallSid: call.Sid, Text: card}); err != nil || !heard {
		t.Fatalf("Speak = %v, %v", heard, err)
	}
	if reqs := a.requests(); reqs[len(reqs)-1].Params.Get("SpeechResult") != card {
		t.Errorf("the app did not get the words")
	}
	// Dropped speech too (the call now holds in a Pause).
	if heard, err := svc.Speak(ctx, tonepay.Speech{AccountSid: f.Acct.Sid, CallSid: call.Sid, Text: card}); err != nil || heard {
		t.Fatalf("Speak = %v, %v", heard, err)
	}
	// And on a call that runs no TwiML.
	if heard, err := svc.Speak(ctx, tonepay.Speech{AccountSid: f.Acct.Sid, CallSid: f.Call.Sid, Text: "hello"}); err != nil || heard {
		t.Fatalf("Speak on a call with no TwiML = %v, %v", heard, err)
	}
	masked := 0
	for _, row := range storedEntries(t, f, call.Sid) {
		if strings.Contains(string(row), "four") {
			t.Errorf("a row shows the words: %s", row)
		}
		var en voice.Entry
		if err := json.Unmarshal(row, &en); err != nil {
			t.Fatal(err)
		}
		if en.Kind == "speech" {
			if !en.Masked || !strings.HasPrefix(en.Text, "(speech)") {
				t.Errorf("speech row %+v", en)
			}
			masked++
		}
	}
	if masked != 2 {
		t.Errorf("%d speech rows, want 2", masked)
	}
	if tl := f.timeline(t, f.Call.Sid); len(tl) == 0 || tl[len(tl)-1] != "speech:hello (dropped: no <Gather> listens)" {
		t.Errorf("no-TwiML call's timeline %q", tl)
	}
}

func TestSpeakErrors(t *testing.T) {
	f := newFixture(t)
	a := newApp(map[string]string{"start": `<Response><Gather input="speech"/></Response>`})
	svc := f.voiceService(t, a)
	call := f.placeCall(t, svc, nil)
	ctx := context.Background()
	sp := func(callSid, text string, conf float64) error {
		_, err := svc.Speak(ctx, tonepay.Speech{AccountSid: f.Acct.Sid, CallSid: callSid, Text: text, Confidence: conf})
		return err
	}
	for _, tt := range []struct {
		name string
		err  error
		code int
	}{
		{"no words", sp(call.Sid, "  ", 0), tonepay.CodeInvalidParameter},
		{"too long", sp(call.Sid, strings.Repeat("a", tonepay.MaxSpeechText+1), 0), tonepay.CodeInvalidParameter},
		{"confidence above 1", sp(call.Sid, "yes", 1.5), tonepay.CodeInvalidParameter},
		{"confidence below 0", sp(call.Sid, "yes", -0.1), tonepay.CodeInvalidParameter},
		{"unknown call", sp(tonepay.NewSID(tonepay.PrefixCall), "yes", 0), tonepay.CodeNotFound}, // random: storetest numbers its SIDs
	} {
		if tonepay.ErrorCode(tt.err) != tt.code {
			t.Errorf("%s: %v, want %d", tt.name, tt.err, tt.code)
		}
	}
	if _, err := svc.HangUp(ctx, f.Acct.Sid, call.Sid); err != nil {
		t.Fatal(err)
	}
	if err := sp(call.Sid, "yes", 0); tonepay.ErrorCode(err) != tonepay.CodeCallNotInProgress {
		t.Errorf("an ended call: %v", err)
	}
}
