package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/client"
	"github.com/tonepay/tonepay/examples/pay/payapp"
	"github.com/tonepay/tonepay/webhook"
)

// testCard is the sandbox's documented test card (README, Test numbers);
// wrongCard is it with the last digit changed, so that it fails the Luhn
// check and the IVR demo's caller hears the retry prompt.
const testCard = "4242424242424242"

var wrongCard = testCard[:15] + "1"

// demo plays a scripted agent-assisted payment on a temporary server: an
// agent asks for each field, a simulated caller presses the keys, and the
// signed status callbacks are printed as a timeline.
func demo(ctx context.Context, stdout io.Writer) error {
	ds, err := startDemoServer(ctx)
	if err != nil {
		return err
	}
	defer ds.close()
	base := ds.base
	rc, err := startDemoReceiver(tonepay.NewSecret(ds.cfg.AuthToken))
	if err != nil {
		return err
	}
	defer rc.srv.Close()

	c, err := ds.client()
	if err != nil {
		return err
	}
	start := time.Now()
	say := func(who, what string) {
		fmt.Fprintf(stdout, "%6dms  %-7s %s\n", time.Since(start).Milliseconds(), who, what)
	}
	fmt.Fprintf(stdout, "tonepay demo: a server on %s, status callbacks to %s\n\n", base, rc.url)

	call, err := c.CreateCall(ctx, client.CallParams{To: "+15005550006", From: "+15005550001", URL: "https://example.com/twiml"})
	if err != nil {
		return err
	}
	say("phone", "call "+call.Sid+" answered")
	pay, err := c.CreatePayment(ctx, call.Sid, client.PaymentParams{IdempotencyKey: "demo-1", StatusCallback: rc.url, ChargeAmount: "49.99", Currency: "USD"})
	if err != nil {
		return err
	}
	say("agent", "starts payment "+pay.Sid+" for USD 49.99")
	update := func(u client.PaymentUpdate) error {
		u.IdempotencyKey, u.StatusCallback = "demo-"+u.Capture+u.Status, rc.url
		_, err := c.UpdatePayment(ctx, call.Sid, pay.Sid, u)
		return err
	}
	for _, step := range []struct{ field, keys, spoken string }{
		{"payment-card-number", testCard + "#", "the card number, then #"},
		{"expiration-date", "1230", "the expiry date"},
		{"security-code", "123", "the security code"},
		{"postal-code", "94109#", "the postal code, then #"},
	} {
		if err := update(client.PaymentUpdate{Capture: step.field}); err != nil {
			return err
		}
		say("agent", "asks for "+step.field)
		if _, err := c.Press(ctx, call.Sid, step.keys); err != nil {
			printTimeline(ctx, c, call.Sid, stdout) // why the call is not where the caller is
			return err
		}
		say("caller", "types "+step.spoken)
	}
	if err := update(client.PaymentUpdate{Status: "complete"}); err != nil {
		return err
	}
	say("agent", "processes the payment")
	if err := rc.waitResult(10 * time.Second); err != nil {
		return err
	}
	say("demo", "the result callback arrived")
	rc.print(stdout, start)
	return ds.close()
}

// demoServer is a tonepay server on a temporary database and a free
// loopback port, run in this process.
type demoServer struct {
	cfg  serveConfig
	base string
	dir  string
	stop context.CancelFunc
	done chan error
	err  *error
}

func startDemoServer(ctx context.Context) (*demoServer, error) {
	dir, err := os.MkdirTemp("", "tonepay-demo")
	if err != nil {
		return nil, err
	}
	cfg := defaultServeConfig()
	cfg.Addr, cfg.DB = "127.0.0.1:0", filepath.Join(dir, "demo.db")
	cfg.AccountSid, cfg.AuthToken = tonepay.NewSID(tonepay.PrefixAccount), tonepay.RandomHex(16)
	ctx, stop := context.WithCancel(ctx)
	ready, done := make(chan string, 1), make(chan error, 1)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	go func() {
		done <- runServer(ctx, cfg, func(string) string { return "" }, io.Discard, quiet, func(u string) { ready <- u })
	}()
	select {
	case base := <-ready:
		return &demoServer{cfg: cfg, base: base, dir: dir, stop: stop, done: done}, nil
	case err := <-done:
		stop()
		os.RemoveAll(dir)
		return nil, err
	}
}

// client is tonepay's client for the demo's account on the server.
func (ds *demoServer) client() (*client.Client, error) {
	c, err := client.New(ds.base, ds.cfg.AccountSid, ds.cfg.AuthToken)
	if err != nil {
		return nil, err
	}
	c.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	return c, nil
}

// close stops the server and removes its database; it may be called again.
func (ds *demoServer) close() error {
	if ds.err == nil {
		ds.stop()
		err := <-ds.done
		os.RemoveAll(ds.dir)
		ds.err = &err
	}
	return *ds.err
}

// demoReceiver is the StatusCallback endpoint of the demo.
type demoReceiver struct {
	srv   *http.Server
	url   string
	token tonepay.Secret

	mu     sync.Mutex
	got    []demoCallback
	result chan struct{}
}

type demoCallback struct {
	at     time.Time
	form   url.Values
	signed bool
}

func startDemoReceiver(token tonepay.Secret) (*demoReceiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	rc := &demoReceiver{url: "http://" + ln.Addr().String() + "/payment-status", token: token, result: make(chan struct{})}
	rc.srv = &http.Server{Handler: http.HandlerFunc(rc.serve), ReadHeaderTimeout: 5 * time.Second}
	go rc.srv.Serve(ln)
	return rc, nil
}

func (rc *demoReceiver) serve(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	cb := demoCallback{at: time.Now(), form: r.PostForm,
		signed: webhook.Verify(rc.token, "http://"+r.Host+r.URL.RequestURI(), r.PostForm, r.Header.Get("X-Twilio-Signature"))}
	rc.mu.Lock()
	rc.got = append(rc.got, cb)
	if r.PostForm.Has("Result") {
		close(rc.result)
	}
	rc.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (rc *demoReceiver) waitResult(d time.Duration) error {
	select {
	case <-rc.result:
		return nil
	case <-time.After(d):
		return fmt.Errorf("no result callback after %s", d)
	}
}

// masked lists the callback parameters that carry a field's value.
var masked = []string{"PaymentCardNumber", "ExpirationDate", "SecurityCode", "PaymentCardPostalCode", "BankRoutingNumber", "BankAccountNumber"}

func (rc *demoReceiver) print(w io.Writer, start time.Time) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	fmt.Fprintf(w, "\nStatus callbacks received (%d), in order:\n\n", len(rc.got))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "AT\tEVENT\tPARTIAL\tVALUE\tREQUIRED\tSIGNATURE")
	for _, cb := range rc.got {
		f := cb.form
		event, value := f.Get("Capture"), ""
		switch {
		case f.Has("Result"):
			event, value = "Result="+f.Get("Result"), f.Get("PaymentConfirmationCode")+f.Get("PaymentToken")
		case event == "":
			event = "session created"
		case f.Has("ErrorType"):
			value = "ErrorType=" + f.Get("ErrorType")
		}
		for _, name := range masked {
			if v := f.Get(name); v != "" && !f.Has("Result") {
				value = name + "=" + v
			}
		}
		sig := "valid"
		if !cb.signed {
			sig = "INVALID"
		}
		fmt.Fprintf(tw, "%dms\t%s\t%s\t%s\t%s\t%s\n", cb.at.Sub(start).Milliseconds(), event, f.Get("PartialResult"), value,
			strings.ReplaceAll(f.Get("Required"), ",", " "), sig)
	}
	tw.Flush()
}

// demoIVR plays a self-service payment from the caller's side: examples/pay's
// bill payment line (package payapp) on loopback, a call placed to it, the
// keys a caller would press, and, in time order, what the caller heard,
// what they typed (never the digits) and each webhook the app received,
// with its signature checked.
func demoIVR(ctx context.Context, stdout io.Writer) error {
	ds, err := startDemoServer(ctx)
	if err != nil {
		return err
	}
	defer ds.close()
	app, err := startDemoIVRApp(ds.cfg.AuthToken)
	if err != nil {
		return err
	}
	defer app.srv.Close()
	c, err := ds.client()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "tonepay demo --ivr: a server on %s, a <Pay> IVR on %s\n\n", ds.base, app.url)

	var events []demoEvent
	start := time.Now()
	call, err := c.CreateCall(ctx, client.CallParams{To: "+15005550006", From: "+15005550001", URL: app.url + "/voice"})
	if err != nil {
		return err
	}
	// The caller mistypes the card once, to hear the retry prompt. The
	// digits are never printed: only what kind of keys they were. The app
	// asks for no postal code.
	for _, step := range []struct{ keys, what string }{
		{wrongCard + "#", "a wrong card number (16 keys, then #)"},
		{testCard + "#", "the card number (16 keys, then #)"},
		{"1230", "the expiry date (4 keys)"},
		{"123", "the security code (3 keys)"},
	} {
		events = append(events, demoEvent{time.Now(), "types", step.what})
		if _, err := c.Press(ctx, call.Sid, step.keys); err != nil {
			printTimeline(ctx, c, call.Sid, stdout) // why the call is not where the caller is
			return err
		}
	}
	// The charge and the statusCallbacks (sent by the outbox) come after
	// the last key: wait for the call to end and the last callback.
	var tl *client.TimelinePage
	for deadline := time.Now().Add(15 * time.Second); ; {
		if tl, err = c.Timeline(ctx, call.Sid, 0, client.MaxTimelinePage); err != nil {
			return err
		}
		if tl.Status == "completed" && app.has("For", "payment-processing") {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the call %s did not end with its statusCallbacks in 15s (status %s)", call.Sid, tl.Status)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, e := range tl.Entries {
		switch e.Kind {
		case "say":
			events = append(events, demoEvent{e.At, "hears", strconv.Quote(e.Text)})
		case "hangup":
			events = append(events, demoEvent{e.At, "call", "hung up"})
		}
	}
	var result url.Values
	app.mu.Lock()
	for _, r := range app.got {
		events = append(events, demoEvent{r.at, "app", r.describe()})
		if r.path == "/paid" {
			result = r.form
		}
	}
	app.mu.Unlock()
	sort.SliceStable(events, func(i, j int) bool { return events[i].at.Before(events[j].at) })
	fmt.Fprintf(stdout, "Call %s, in time order:\n\n", call.Sid)
	for _, e := range events {
		fmt.Fprintf(stdout, "%6dms  %-6s %s\n", max(e.at.Sub(start).Milliseconds(), 0), e.who, e.what)
	}
	if result == nil {
		return fmt.Errorf("the app's action was never called")
	}
	fmt.Fprintf(stdout, "\nResult=%s PaymentConfirmationCode=%s PaymentCardNumber=%s\n", result.Get("Result"), result.Get("PaymentConfirmationCode"), result.Get("PaymentCardNumber"))
	return ds.close()
}

type demoEvent struct {
	at        time.Time
	who, what string
}

// demoIVRApp serves examples/pay's app and notes every request it gets,
// with whether its X-Twilio-Signature holds. The app checks signatures
// itself (with twilio-go's validator, as a Twilio app would) and refuses
// bad ones; the demo checks them again to print the verdict.
type demoIVRApp struct {
	srv   *http.Server
	url   string
	token tonepay.Secret
	app   *payapp.App

	mu  sync.Mutex
	got []demoRequest
}

type demoRequest struct {
	at     time.Time
	path   string
	form   url.Values
	signed bool
}

func startDemoIVRApp(token string) (*demoIVRApp, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	a := &demoIVRApp{url: "http://" + ln.Addr().String(), token: tonepay.NewSecret(token)}
	a.app = payapp.New(token, a.url)
	a.srv = &http.Server{Handler: http.HandlerFunc(a.serve), ReadHeaderTimeout: 5 * time.Second}
	go a.srv.Serve(ln)
	return a, nil
}

func (a *demoIVRApp) serve(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	signed := r.PostForm // a GET signs its URL alone, query included
	if r.Method == http.MethodGet {
		signed = nil
	}
	ok := webhook.Verify(a.token, "http://"+r.Host+r.URL.RequestURI(), signed, r.Header.Get("X-Twilio-Signature"))
	a.mu.Lock()
	a.got = append(a.got, demoRequest{time.Now(), r.URL.Path, r.Form, ok})
	a.mu.Unlock()
	a.app.ServeHTTP(w, r)
}

func (a *demoIVRApp) has(name, value string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, r := range a.got {
		if r.form.Get(name) == value {
			return true
		}
	}
	return false
}

// describe is one webhook as the app saw it: what it is for and the fields
// it carries (the card fields as tonepay masked them).
func (r demoRequest) describe() string {
	f := r.form
	parts := []string{"POST " + r.path}
	switch r.path {
	case "/voice":
		parts = append(parts, "(TwiML fetch, CallStatus="+f.Get("CallStatus")+")")
	case "/pay-status":
		parts = append(parts, "statusCallback For="+f.Get("For"), "Attempt="+f.Get("Attempt"))
		if e := f.Get("ErrorType"); e != "" {
			parts = append(parts, "ErrorType="+e)
		}
	case "/paid":
		parts = append(parts, "action Result="+f.Get("Result"))
		for _, k := range []string{"PaymentConfirmationCode", "PaymentError"} {
			if v := f.Get(k); v != "" {
				parts = append(parts, k+"="+v)
			}
		}
	}
	for _, name := range masked {
		if v := f.Get(name); v != "" {
			parts = append(parts, name+"="+v)
		}
	}
	sig := "signature valid"
	if !r.signed {
		sig = "signature INVALID"
	}
	return strings.Join(parts, " ") + "  [" + sig + "]"
}
