package bench

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tonepay/tonepay"
)

// The self-service payment IVR the <Pay> measures run. /pay takes a card and
// its action (/paid) thanks the caller and hangs up; /park is the same <Pay>
// with the longest timeout, so that none of a thousand parked callers times
// out while the others press, and its own action (/unparked), because those
// calls end by hanging up (Result=caller-hung-up), not by paying.
var payIVR = map[string]string{
	"/pay": `<?xml version="1.0" encoding="UTF-8"?><Response><Say>Welcome to Acme billing</Say>` +
		`<Pay action="/paid" statusCallback="/pay-status" chargeAmount="10.00"/></Response>`,
	"/park": `<?xml version="1.0" encoding="UTF-8"?><Response><Say>Welcome to Acme billing</Say>` +
		`<Pay action="/unparked" statusCallback="/pay-status" chargeAmount="10.00" timeout="600"/></Response>`,
	"/paid":       `<?xml version="1.0" encoding="UTF-8"?><Response><Say>Thank you, goodbye</Say><Hangup/></Response>`,
	"/unparked":   `<?xml version="1.0" encoding="UTF-8"?><Response><Hangup/></Response>`,
	"/pay-status": `<?xml version="1.0" encoding="UTF-8"?><Response/>`,
}

// payCard is the sandbox's documented test card; clearCard is the part of it
// that no request to the app may carry (a masked number shows the last four).
const (
	payCard   = "4242424242424242"
	clearCard = "4242424242"
)

// payApp is a TwiML app on loopback that checks every request as a Twilio app
// does (signature, account, CallSid, no clear card data), that every /paid
// action says Result=success, and notes per call when its action and its
// For=expiration-date statusCallback arrive.
type payApp struct {
	base     string
	srv      *http.Server
	requests atomic.Int64
	bad      atomic.Int64 // bad signature, wrong account or no CallSid
	clear    atomic.Int64 // a request carrying the clear card number
	failed   atomic.Int64 // a /paid action whose Result is not success
	statuses atomic.Int64 // statusCallbacks received

	mu     sync.Mutex
	paid   map[string]chan time.Time // CallSid -> arrival of its /paid action
	expiry map[string]chan time.Time // CallSid -> arrival of its For=expiration-date statusCallback
}

func (b *bench) startPayApp() (*payApp, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	a := &payApp{base: "http://" + ln.Addr().String(), paid: map[string]chan time.Time{}, expiry: map[string]chan time.Time{}}
	secret := tonepay.NewSecret(b.token)
	a.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		a.requests.Add(1)
		doc, ok := payIVR[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		f, ok := b.signedByCall(secret, r)
		if !ok {
			a.bad.Add(1)
		}
		if strings.Contains(f.Encode(), clearCard) || strings.Contains(r.URL.RawQuery, clearCard) {
			a.clear.Add(1)
		}
		var notify map[string]chan time.Time
		switch {
		case r.URL.Path == "/paid":
			if f.Get("Result") != "success" {
				a.failed.Add(1)
			}
			notify = a.paid
		case r.URL.Path == "/pay-status":
			a.statuses.Add(1)
			// The outbox delivers these; quiet() waits for them to stop too.
			b.lastCallback.Store(now.UnixNano())
			if f.Get("For") == "expiration-date" {
				notify = a.expiry
			}
		}
		if notify != nil {
			a.mu.Lock()
			if ch := notify[f.Get("CallSid")]; ch != nil {
				select {
				case ch <- now: // the first request counts; a redelivery does not block
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

func (a *payApp) close() { a.srv.Close() }

// check fails when any request the app saw was not what Twilio would send or
// carried the card number, or when any payment did not succeed.
func (a *payApp) check() error {
	if n := a.bad.Load(); n > 0 {
		return fmt.Errorf("pay app: %d of %d requests had a bad signature or parameters", n, a.requests.Load())
	}
	if n := a.clear.Load(); n > 0 {
		return fmt.Errorf("pay app: %d requests carried the clear card number", n)
	}
	if n := a.failed.Load(); n > 0 {
		return fmt.Errorf("pay app: %d <Pay> actions had a Result other than success", n)
	}
	return nil
}

// watch registers a channel for call in m before the call can reach it.
func (a *payApp) watch(m map[string]chan time.Time, call string) chan time.Time {
	ch := make(chan time.Time, 1)
	a.mu.Lock()
	m[call] = ch
	a.mu.Unlock()
	return ch
}

func (a *payApp) unwatch(m map[string]chan time.Time, calls []string) {
	a.mu.Lock()
	for _, c := range calls {
		delete(m, c)
	}
	a.mu.Unlock()
}

// payCall creates a call that runs the app's path; the create answers once
// the caller is asked for the card number.
func (b *bench) payCall(a *payApp, path string) (string, error) {
	return b.voiceCall(a.base, path)
}

// payFlows runs n card payments through <Pay>, conc at a time: create, the
// four fields' keys, and the action at the app (after the connector's charge,
// which runs in the background after the last key). It returns payments per
// second from the first create to the last action.
func (b *bench) payFlows(a *payApp, n, conc int) (float64, error) {
	calls := make([]string, n)
	start := time.Now()
	err := parallel(n, conc, func(i int) error {
		call, err := b.payCall(a, "/pay")
		if err != nil {
			return err
		}
		calls[i] = call
		// The action can only come after the last key; watching from here
		// cannot miss it.
		paid := a.watch(a.paid, call)
		for _, keys := range []string{payCard + "#", "1230", "123", "94105#"} {
			if err := b.press(call, keys); err != nil {
				return err
			}
		}
		select {
		case <-paid:
			return nil
		case <-time.After(30 * time.Second):
			return fmt.Errorf("call %s: the <Pay> action never came", call)
		}
	})
	elapsed := time.Since(start)
	a.unwatch(a.paid, calls)
	if err != nil {
		return 0, err
	}
	return float64(n) / elapsed.Seconds(), nil
}

// payStatusLatency parks calls calls at <Pay>'s card number prompt, then has
// every caller type the whole card number and # in one press (the callers
// start in turn over 300 ms, as in digitLatency) and measures from sending
// the keys to the app receiving that call's For=expiration-date
// statusCallback: the next step, which proves the card number was taken. The
// calls are hung up at the end.
func (b *bench) payStatusLatency(a *payApp, calls int) ([]time.Duration, error) {
	sids := make([]string, calls)
	chans := make([]chan time.Time, calls)
	err := parallel(calls, 64, func(i int) (err error) {
		sids[i], err = b.payCall(a, "/park")
		if err != nil {
			return err
		}
		chans[i] = a.watch(a.expiry, sids[i])
		return nil
	})
	defer func() {
		a.unwatch(a.expiry, sids)
		b.hangUp(sids)
	}()
	if err != nil {
		return nil, err
	}
	b.quiet() // the For=payment-card-number statusCallbacks are delivered
	var mu sync.Mutex
	var lat []time.Duration
	err = b.pressing(calls, func(i int) error {
		time.Sleep(time.Duration(i%300) * time.Millisecond) // callers do not press in step
		sent := time.Now()
		if err := b.press(sids[i], payCard+"#"); err != nil {
			return err
		}
		select {
		case at := <-chans[i]:
			mu.Lock()
			lat = append(lat, at.Sub(sent))
			mu.Unlock()
			return nil
		case <-time.After(30 * time.Second):
			return errors.New("a For=expiration-date statusCallback never came")
		}
	})
	return lat, err
}

// pay runs the <Pay> measures (issue 15) into res.
func (b *bench) pay(res *benchResult, say func(string, ...any), o options) error {
	flows := o.payFlows
	a, err := b.startPayApp()
	if err != nil {
		return err
	}
	defer a.close()
	b.quiet()
	say("%d card payments through <Pay> (create, four fields' keys, the connector, the action), concurrency 16…", flows)
	res.PayFlows = flows
	b.profileBehind("pay", 2*time.Second)
	if res.PayFlowsPerS, err = b.payFlows(a, flows, 16); err != nil {
		return err
	}
	say("card number keys to the next step's statusCallback, calls parked at <Pay>'s card number prompt…")
	head, err := b.sweep(res, say, measurePay, o.loads, o.calls, func(n int) ([]time.Duration, error) {
		b.quiet()
		return b.payStatusLatency(a, n)
	})
	if err != nil {
		return err
	}
	res.PayStatusCalls = head.Keys
	res.PayStatusP50MS, res.PayStatusP99MS = head.P50MS, head.P99MS
	b.quiet() // the hang-ups' actions and statusCallbacks are checked too
	return a.check()
}
