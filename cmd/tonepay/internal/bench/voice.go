package bench

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/client"
	"github.com/tonepay/tonepay/webhook"
)

// The IVR the voice measures run: a greeting and a one-key menu, whose
// action thanks the caller, redirects and hangs up. The parked calls of the
// latency measure wait in the same Gather with a long timeout, so that no
// Gather times out while a thousand callers are pressed in turn.
var ivr = map[string]string{
	"/start": `<?xml version="1.0" encoding="UTF-8"?><Response><Say>Welcome</Say>` +
		`<Gather numDigits="1" action="/menu"><Say>Press 1</Say></Gather></Response>`,
	"/park": `<?xml version="1.0" encoding="UTF-8"?><Response><Say>Welcome</Say>` +
		`<Gather numDigits="1" timeout="600" action="/menu"><Say>Press 1</Say></Gather></Response>`,
	"/menu": `<?xml version="1.0" encoding="UTF-8"?><Response><Say>Thanks</Say><Redirect>/bye</Redirect></Response>`,
	"/bye":  `<?xml version="1.0" encoding="UTF-8"?><Response><Hangup/></Response>`,
}

// voiceApp is a TwiML app on loopback that checks every request as a Twilio
// app does (signature, account) and notes when each call's Gather action
// arrives.
type voiceApp struct {
	base      string // http://127.0.0.1:port
	srv       *http.Server
	requests  atomic.Int64
	bad       atomic.Int64 // bad signature, wrong account or no CallSid
	wrongKeys atomic.Int64 // a /menu request without Digits=1

	mu     sync.Mutex
	action map[string]chan time.Time // CallSid -> arrival of its /menu request
}

func (b *bench) startVoiceApp() (*voiceApp, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	a := &voiceApp{base: "http://" + ln.Addr().String(), action: map[string]chan time.Time{}}
	secret := tonepay.NewSecret(b.token)
	a.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		a.requests.Add(1)
		doc, ok := ivr[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		f, ok := b.signedByCall(secret, r)
		if !ok {
			a.bad.Add(1)
		}
		if r.URL.Path == "/menu" {
			if f.Get("Digits") != "1" {
				a.wrongKeys.Add(1)
			}
			a.mu.Lock()
			if ch := a.action[f.Get("CallSid")]; ch != nil {
				select {
				case ch <- now: // the first request counts; a repeat does not block
				default:
				}
			}
			a.mu.Unlock()
		}
		w.Header().Set("Content-Type", "text/xml")
		w.Write([]byte(doc))
	})}
	go a.srv.Serve(ln)
	return a, nil
}

func (a *voiceApp) close() { a.srv.Close() }

// signedByCall parses an app's request and reports whether it is signed
// with the account's token and names the account and a call, as every
// request of a call must.
func (b *bench) signedByCall(secret tonepay.Secret, r *http.Request) (url.Values, bool) {
	r.ParseForm()
	params := r.PostForm
	if r.Method == http.MethodGet {
		params = nil // a GET signs its URL, query included
	}
	f := r.Form
	ok := webhook.Verify(secret, "http://"+r.Host+r.URL.RequestURI(), params, r.Header.Get("X-Twilio-Signature")) &&
		f.Get("AccountSid") == b.sid && f.Get("CallSid") != ""
	return f, ok
}

// check fails when any request the app saw was not what Twilio would send,
// or when fewer came than calls runs of the IVR (start, menu, bye) ask for.
func (a *voiceApp) check(calls int) error {
	if n := a.requests.Load(); n < int64(3*calls) {
		return fmt.Errorf("voice app: %d requests for %d calls, want %d", n, calls, 3*calls)
	}
	if n := a.bad.Load(); n > 0 {
		return fmt.Errorf("voice app: %d of %d requests had a bad signature or parameters", n, a.requests.Load())
	}
	if n := a.wrongKeys.Load(); n > 0 {
		return fmt.Errorf("voice app: %d Gather actions without Digits=1", n)
	}
	return nil
}

// voiceCall creates a call that runs the app at base and path; the create answers
// once the call waits in its Gather.
func (b *bench) voiceCall(base, path string) (string, error) {
	c, err := b.api.CreateCall(b.ctx, client.CallParams{To: "+15005550006", From: "+15005550001", URL: base + path})
	if err == nil && c.Sid == "" {
		err = errors.New("a call create answered no sid")
	}
	return c.Sid, err
}

// callStatus reads a call's status.
func (b *bench) callStatus(call string) (string, error) {
	c, err := b.api.FetchCall(b.ctx, call)
	return c.Status, err
}

// voiceCalls runs n simulated calls through the IVR, conc at a time (create,
// which waits in the Gather; press 1, which runs the menu, the redirect and
// the hang-up) and returns calls per second. Every call must have ended.
func (b *bench) voiceCalls(a *voiceApp, n, conc int) (float64, error) {
	calls := make([]string, n)
	start := time.Now()
	err := parallel(n, conc, func(i int) error {
		call, err := b.voiceCall(a.base, "/start")
		if err != nil {
			return err
		}
		calls[i] = call
		return b.press(call, "1")
	})
	elapsed := time.Since(start)
	if err != nil {
		return 0, err
	}
	// The press answers once the TwiML it caused has run: the hang-up
	// included. A sample is enough to show it; reading all would double the
	// requests the measure makes.
	for _, call := range calls[:min(n, 20)] {
		st, err := b.callStatus(call)
		if err != nil {
			return 0, err
		}
		if st != "completed" {
			return 0, fmt.Errorf("call %s is %q after its IVR ran, not completed", call, st)
		}
	}
	return float64(n) / elapsed.Seconds(), nil
}

// gatherLatency parks calls calls in a Gather, then has every caller press
// one key (the callers start about 300 ms apart in turn, as in digitLatency)
// and measures from sending the key to the app receiving the Gather's
// action request. Calls still live at the end are hung up.
//
// With heap set, it also stores there the server's Go heap growth per
// parked call (each side read after a GC): the memory of a live call
// running TwiML.
func (b *bench) gatherLatency(a *voiceApp, calls int, heap *float64) ([]time.Duration, error) {
	var before int64
	if heap != nil {
		var err error
		if before, err = b.heapInuse(); err != nil {
			return nil, err
		}
	}
	sids := make([]string, calls)
	chans := make([]chan time.Time, calls)
	err := parallel(calls, 64, func(i int) (err error) {
		sids[i], err = b.voiceCall(a.base, "/park")
		if err != nil {
			return err
		}
		chans[i] = make(chan time.Time, 1)
		a.mu.Lock()
		a.action[sids[i]] = chans[i]
		a.mu.Unlock()
		return nil
	})
	defer b.hangUp(sids)
	if err != nil {
		return nil, err
	}
	b.quiet()
	if heap != nil {
		after, err := b.heapInuse()
		if err != nil {
			return nil, err
		}
		*heap = float64(after-before) / float64(calls)
	}
	var mu sync.Mutex
	var lat []time.Duration
	err = b.pressing(calls, func(i int) error {
		time.Sleep(time.Duration(i%300) * time.Millisecond) // callers do not press in step
		sent := time.Now()
		if err := b.press(sids[i], "1"); err != nil {
			return err
		}
		select {
		case at := <-chans[i]:
			mu.Lock()
			lat = append(lat, at.Sub(sent))
			mu.Unlock()
			return nil
		case <-time.After(30 * time.Second):
			return errors.New("a Gather action never came")
		}
	})
	a.mu.Lock()
	for _, s := range sids {
		delete(a.action, s)
	}
	a.mu.Unlock()
	return lat, err
}

// hangUp ends every call of sids that has not ended (Status=completed), so
// that a failed measure leaves no call waiting out its Gather.
func (b *bench) hangUp(sids []string) {
	parallel(len(sids), 64, func(i int) error {
		if sids[i] == "" {
			return nil
		}
		if st, err := b.callStatus(sids[i]); err != nil || st == "completed" {
			return nil
		}
		b.api.Hangup(b.ctx, sids[i])
		return nil
	})
}
