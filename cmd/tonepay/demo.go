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
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/webhook"
)

// demo plays a scripted agent-assisted payment on a temporary server: an
// agent asks for each field, a simulated caller presses the keys, and the
// signed status callbacks are printed as a timeline.
func demo(ctx context.Context, stdout io.Writer) error {
	dir, err := os.MkdirTemp("", "tonepay-demo")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cfg := defaultServeConfig()
	cfg.Addr, cfg.DB = "127.0.0.1:0", filepath.Join(dir, "demo.db")
	cfg.AccountSid, cfg.AuthToken = tonepay.NewSID(tonepay.PrefixAccount), tonepay.RandomHex(16)

	ctx, stop := context.WithCancel(ctx)
	defer stop()
	ready, done := make(chan string, 1), make(chan error, 1)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	go func() {
		done <- runServer(ctx, cfg, func(string) string { return "" }, io.Discard, quiet, func(u string) { ready <- u })
	}()
	var base string
	select {
	case base = <-ready:
	case err := <-done:
		return err
	}
	rc, err := startDemoReceiver(tonepay.NewSecret(cfg.AuthToken))
	if err != nil {
		return err
	}
	defer rc.srv.Close()

	c := &apiClient{base: base, account: cfg.AccountSid, token: cfg.AuthToken, http: &http.Client{Timeout: 30 * time.Second}}
	start := time.Now()
	say := func(who, what string) {
		fmt.Fprintf(stdout, "%6dms  %-7s %s\n", time.Since(start).Milliseconds(), who, what)
	}
	fmt.Fprintf(stdout, "tonepay demo: a server on %s, status callbacks to %s\n\n", base, rc.url)

	var call, pay struct{ Sid string }
	if err := c.call(ctx, c.twilio("/Calls.json"), url.Values{"To": {"+15005550006"}, "From": {"+15005550001"}, "Url": {"https://example.com/twiml"}}, &call); err != nil {
		return err
	}
	say("phone", "call "+call.Sid+" answered")
	create := url.Values{"IdempotencyKey": {"demo-1"}, "StatusCallback": {rc.url}, "ChargeAmount": {"49.99"}, "Currency": {"USD"}}
	if err := c.call(ctx, c.twilio("/Calls/"+call.Sid+"/Payments.json"), create, &pay); err != nil {
		return err
	}
	say("agent", "starts payment "+pay.Sid+" for USD 49.99")
	update := func(kv ...string) error {
		f := url.Values{"IdempotencyKey": {"demo-" + kv[1]}, "StatusCallback": {rc.url}, kv[0]: {kv[1]}}
		return c.call(ctx, c.twilio("/Calls/"+call.Sid+"/Payments/"+pay.Sid+".json"), f, nil)
	}
	// 4242424242424242 is the sandbox's documented test card (README, Test numbers).
	for _, step := range []struct{ field, keys, spoken string }{
		{"payment-card-number", "4242424242424242#", "the card number, then #"},
		{"expiration-date", "1230", "the expiry date"},
		{"security-code", "123", "the security code"},
		{"postal-code", "94109#", "the postal code, then #"},
	} {
		if err := update("Capture", step.field); err != nil {
			return err
		}
		say("agent", "asks for "+step.field)
		if err := c.call(ctx, c.ext("/Calls/"+call.Sid+"/Digits"), url.Values{"Digits": {step.keys}}, nil); err != nil {
			return err
		}
		say("caller", "types "+step.spoken)
	}
	if err := update("Status", "complete"); err != nil {
		return err
	}
	say("agent", "processes the payment")
	if err := rc.waitResult(10 * time.Second); err != nil {
		return err
	}
	say("demo", "the result callback arrived")
	rc.print(stdout, start)
	stop()
	return <-done
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
		signed: webhook.Sign(rc.token, "http://"+r.Host+r.URL.RequestURI(), r.PostForm) == r.Header.Get("X-Twilio-Signature")}
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
