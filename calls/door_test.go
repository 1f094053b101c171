package calls_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tonepay/tonepay"
)

func TestPressWithoutSession(t *testing.T) {
	f := newFixture(t)
	p, err := f.Service().Keypad(context.Background(), f.Acct.Sid, f.Call.Sid, "12w3#")
	if err != nil || p.Dropped != 4 || p.Applied != 0 {
		t.Fatalf("Press = %+v, %v", p, err)
	}
	_, err = f.Service().Keypad(context.Background(), f.Acct.Sid, f.Call.Sid, "12a")
	if tonepay.ErrorCode(err) != tonepay.CodeInvalidParameter {
		t.Errorf("a key not on a keypad: %v", err)
	}
}

// keys are keys from a source, for Press.
func keys(f *fixture, call, source, digits string) tonepay.Keys {
	return tonepay.Keys{AccountSid: f.Acct.Sid, CallSid: call, Source: source, Digits: digits}
}

// TestDoorQueue: a real-time source hands its keys over and goes on while
// the call's app is slow to answer; keys from every source are applied in
// the order they reached the door; the keypad answers once its own keys
// were applied; a keypad that stops waiting gets its context's error.
// Each key is counted under its source.
func TestDoorQueue(t *testing.T) {
	f := newFixture(t)
	a := newApp(map[string]string{
		"start": `<Response><Gather numDigits="1" action="a"/></Response>`,
		"a":     `<Response><Gather numDigits="1" action="b"/></Response>`,
		"b":     `<Response><Gather numDigits="1" action="c"/></Response>`,
		"c":     `<Response><Pause length="60"/></Response>`,
	})
	svc := f.voiceService(t, a)
	var mu sync.Mutex
	counted := map[string]int{}
	svc.Hooks.Keys = func(source string, n int) { mu.Lock(); counted[source] += n; mu.Unlock() }
	call := f.placeCall(t, svc, nil)
	ctx := context.Background()

	a.mu.Lock()
	a.gate = make(chan struct{}) // the app stops answering
	a.mu.Unlock()
	for _, k := range []tonepay.Keys{keys(f, call.Sid, tonepay.KeySourceStream, "1"), keys(f, call.Sid, tonepay.KeySourceSIP, "2")} {
		done := make(chan error, 1)
		go func() {
			p, err := svc.Press(ctx, k)
			if p != nil {
				err = errors.New("a real-time source got a Pressed")
			}
			done <- err
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("Press from %s waited for the app", k.Source)
		}
	}
	// A keypad that gives up waiting behind them.
	gone, cancel := context.WithCancel(ctx)
	stopped := make(chan error, 1)
	go func() { _, err := svc.Press(gone, keys(f, call.Sid, tonepay.KeySourceKeypad, "9")); stopped <- err }()
	// A keypad that waits.
	pressed := make(chan *tonepay.Pressed, 1)
	go func() {
		for len(a.requests()) < 2 {
			time.Sleep(time.Millisecond) // queued after the first key's fetch began
		}
		time.Sleep(20 * time.Millisecond)
		p, err := svc.Press(ctx, keys(f, call.Sid, tonepay.KeySourceKeypad, "3"))
		if err != nil {
			t.Error(err)
		}
		pressed <- p
	}()
	time.Sleep(50 * time.Millisecond)
	cancel()
	if err := <-stopped; !errors.Is(err, context.Canceled) {
		t.Errorf("a keypad that stopped waiting: %v", err)
	}
	select {
	case p := <-pressed:
		t.Fatalf("the keypad answered %+v before its keys were applied", p)
	case <-time.After(50 * time.Millisecond):
	}
	a.mu.Lock()
	close(a.gate)
	a.gate = nil
	a.mu.Unlock()
	if p := <-pressed; p == nil || p.Applied != 1 {
		t.Fatalf("keypad: %+v", p)
	}
	var got []string
	for _, r := range a.requests()[1:] {
		got = append(got, strings.TrimPrefix(r.URL, ivr)+"="+r.Params.Get("Digits"))
	}
	if strings.Join(got, " ") != "a=1 b=2 c=3" {
		t.Errorf("the app's requests %q, want the keys in the order pressed", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if counted[tonepay.KeySourceStream] != 1 || counted[tonepay.KeySourceSIP] != 1 || counted[tonepay.KeySourceKeypad] != 1 {
		t.Errorf("keys counted %v, want one per source (the keypad that gave up: none)", counted)
	}
}

// TestSendDigitsDoor: a call's SendDigits go through the door as the
// keypad's, A-D included (a Gather takes them), counted as keypad keys.
func TestSendDigitsDoor(t *testing.T) {
	f := newFixture(t)
	a := newApp(map[string]string{
		"start": `<Response><Gather numDigits="3" action="got"/></Response>`,
		"got":   `<Response><Pause length="60"/></Response>`,
	})
	svc := f.voiceService(t, a)
	var n int
	svc.Hooks.Keys = func(source string, k int) {
		if source == tonepay.KeySourceKeypad {
			n += k
		}
	}
	f.placeCall(t, svc, func(r *tonepay.CreateCallRequest) { r.SendDigits = "1AW#" })
	reqs := a.requests()
	if last := reqs[len(reqs)-1]; last.URL != ivr+"got" || last.Params.Get("Digits") != "1A" || last.Params.Get("FinishedOnKey") != "#" {
		t.Fatalf("the Gather's action: %s %v", last.URL, last.Params)
	}
	if n != 3 {
		t.Errorf("%d keypad keys counted, want 3", n)
	}
}
