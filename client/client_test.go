package client_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/client"
	"github.com/tonepay/tonepay/internal/e2e"
	api "github.com/twilio/twilio-go/rest/api/v2010"
)

// The tests run a real `tonepay serve` (built once, by e2e.Main).
func TestMain(m *testing.M) { e2e.Main(m) }

// server starts tonepay on a fresh SQLite store with a known main account.
func server(t *testing.T) (p *e2e.Proc, sid, token string) {
	t.Helper()
	sid, token = tonepay.NewSID("AC"), "clienttoken1"
	p = e2e.StartServer(t, "TONEPAY_DB="+filepath.Join(t.TempDir(), "client.db"), "TONEPAY_ACCOUNT_SID="+sid, "TONEPAY_AUTH_TOKEN="+token)
	return p, sid, token
}

func TestNew(t *testing.T) {
	for _, base := range []string{"", "127.0.0.1:8080", "ftp://example.com", "http://", "http://user:pw@%zz"} {
		if _, err := client.New(base, "AC1", "t"); err == nil || !strings.Contains(err.Error(), "is not a URL such as http://127.0.0.1:8080") {
			t.Errorf("New(%q): %v", base, err)
		}
	}
	if _, err := client.New("http://user:secretpw@example.com:1:2", "AC1", "t"); err == nil || strings.Contains(err.Error(), "secretpw") {
		t.Errorf("a bad URL's error shows its password: %v", err)
	}
	for _, creds := range [][2]string{{"", "t"}, {"AC1", ""}} {
		if _, err := client.New("http://127.0.0.1:8080", creds[0], creds[1]); err == nil || !strings.Contains(err.Error(), "TONEPAY_AUTH_TOKEN") {
			t.Errorf("New with %q: %v", creds, err)
		}
	}
	env := map[string]string{"TONEPAY_ACCOUNT_SID": "AC1", "TONEPAY_AUTH_TOKEN": "t"}
	c, err := client.FromEnv(func(k string) string { return env[k] })
	if err != nil || c.BaseURL() != client.DefaultServer || c.AccountSid() != "AC1" {
		t.Fatalf("FromEnv: %v %+v", err, c)
	}
	env["TONEPAY_SERVER"] = "https://tonepay.example/"
	if c, err := client.FromEnv(func(k string) string { return env[k] }); err != nil || c.BaseURL() != "https://tonepay.example" {
		t.Errorf("FromEnv with TONEPAY_SERVER: %v %+v", err, c)
	}
}

// TestUnreachable: a request that reaches no server is net/http's error,
// a refused connection recognisable as such.
func TestUnreachable(t *testing.T) {
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	c, err := client.New(gone.URL, "AC1", "t")
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.FetchCall(context.Background(), "CA1")
	if !errors.Is(err, syscall.ECONNREFUSED) || client.ErrorCode(err) != 0 {
		t.Errorf("FetchCall with no server: %v", err)
	}
}

// TestAgentPayment plays an agent-assisted card payment through the client
// alone: a call, a payment, each field asked for and typed, the payment
// completed, and the views and callbacks read back; every callback signed.
func TestAgentPayment(t *testing.T) {
	p, sid, token := server(t)
	c := p.Client(t, sid, token)
	ctx := context.Background()
	if err := c.Health(ctx); err != nil {
		t.Fatal(err)
	}
	rc := e2e.NewReceiver(t, token)
	call, err := c.CreateCall(ctx, client.CallParams{To: "+15005550006", From: "+15005550001", Twiml: `<Response><Pause length="3600"/></Response>`})
	if err != nil || !tonepay.IsSID(call.Sid, "CA") || call.Status != "in-progress" || call.AccountSid != sid || call.Direction != "outbound-api" {
		t.Fatalf("CreateCall: %v %+v", err, call)
	}
	if got, err := c.FetchCall(ctx, call.Sid); err != nil || got.Sid != call.Sid || got.To != "+15005550006" {
		t.Fatalf("FetchCall: %v %+v", err, got)
	}
	pay, err := c.CreatePayment(ctx, call.Sid, client.PaymentParams{IdempotencyKey: "k1", StatusCallback: rc.URL, ChargeAmount: "12.50",
		Other: url.Values{"PostalCode": {"false"}}})
	if err != nil || !tonepay.IsSID(pay.Sid, "PK") || pay.CallSid != call.Sid {
		t.Fatalf("CreatePayment: %v %+v", err, pay)
	}
	again, err := c.CreatePayment(ctx, call.Sid, client.PaymentParams{IdempotencyKey: "k1", StatusCallback: rc.URL, ChargeAmount: "12.50",
		Other: url.Values{"PostalCode": {"false"}}})
	if err != nil || again.Sid != pay.Sid {
		t.Errorf("the same create again: %v %+v, want %s", err, again, pay.Sid)
	}
	for i, step := range []struct{ field, keys string }{
		{"payment-card-number", "4242424242424242#"}, {"expiration-date", "1230"}, {"security-code", "123"},
	} {
		if _, err := c.UpdatePayment(ctx, call.Sid, pay.Sid, client.PaymentUpdate{IdempotencyKey: "c" + step.field, StatusCallback: rc.URL, Capture: step.field}); err != nil {
			t.Fatalf("Capture %s: %v", step.field, err)
		}
		if i == 0 {
			v, err := c.PaymentView(ctx, call.Sid, client.CurrentPayment)
			if err != nil || v.Sid != pay.Sid || v.Capture != step.field || v.Status != "open" {
				t.Fatalf("PaymentView(Current): %v %+v", err, v)
			}
		}
		pr, err := c.Press(ctx, call.Sid, step.keys)
		if err != nil || pr.Applied != len(step.keys) || pr.Dropped != 0 || pr.CallSid != call.Sid {
			t.Fatalf("Press %s: %v %+v", step.keys, err, pr)
		}
	}
	if _, err := c.UpdatePayment(ctx, call.Sid, pay.Sid, client.PaymentUpdate{IdempotencyKey: "done", StatusCallback: rc.URL, Status: "complete"}); err != nil {
		t.Fatal(err)
	}
	var view *client.PaymentView
	e2e.WaitFor(t, 10*time.Second, "the result", func() bool {
		view, err = c.PaymentView(ctx, call.Sid, pay.Sid)
		return err == nil && view.Result != ""
	})
	if view.Result != "success" || view.Captured["payment-card-number"] != "xxxxxxxxxxxx4242" || view.ChargeAmount != "12.50" || view.ConfirmationCode == "" {
		t.Errorf("PaymentView: %+v", view)
	}
	views, err := c.PaymentViews(ctx, call.Sid)
	if err != nil || len(views) != 1 || views[0].Sid != pay.Sid {
		t.Errorf("PaymentViews: %v %+v", err, views)
	}
	e2e.WaitFor(t, 10*time.Second, "the result callback", func() bool {
		ds := rc.ForSession(pay.Sid)
		return len(ds) > 0 && ds[len(ds)-1].Form.Has("Result")
	})
	cbs, err := c.Callbacks(ctx, call.Sid, pay.Sid)
	if err != nil || len(cbs) < 5 {
		t.Fatalf("Callbacks: %v, %d of them", err, len(cbs))
	}
	if strings.TrimSuffix(cbs[0].URL, "/") != rc.URL || cbs[len(cbs)-1].Params["Result"] != "success" ||
		cbs[0].Status != "delivered" || len(cbs[0].Attempts) == 0 || cbs[0].Attempts[0].StatusCode != 204 {
		t.Errorf("Callbacks: the first %+v, the last %+v", cbs[0], cbs[len(cbs)-1])
	}
	for _, d := range rc.Deliveries() {
		if !d.Valid || strings.Contains(d.Form.Encode(), "4242424242424242") {
			t.Errorf("a callback not signed, or with the card number: %+v", d)
		}
	}
	ended, err := c.Hangup(ctx, call.Sid)
	if err != nil || ended.Status != "completed" || ended.EndTime == "" {
		t.Fatalf("Hangup: %v %+v", err, ended)
	}
}

// TestErrors: the server's error answers carry Twilio's code and message.
func TestErrors(t *testing.T) {
	p, sid, token := server(t)
	c := p.Client(t, sid, token)
	ctx := context.Background()
	check := func(what string, err error, status, code int) {
		t.Helper()
		var e *client.Error
		if !errors.As(err, &e) || e.Status != status || e.Code != code || e.Message == "" || client.ErrorCode(err) != code ||
			e.MoreInfo != "https://www.twilio.com/docs/errors/"+strconv.Itoa(code) {
			t.Errorf("%s: %v (%#v), want HTTP %d and code %d", what, err, e, status, code)
			return
		}
		if want := "HTTP " + strconv.Itoa(status) + ", error " + strconv.Itoa(code) + ": " + e.Message; !strings.HasSuffix(err.Error(), want) {
			t.Errorf("%s: %q does not end with %q", what, err, want)
		}
	}
	_, err := c.FetchCall(ctx, tonepay.NewSID("CA"))
	check("an unknown call", err, 404, 20404)
	call, err := c.CreateCall(ctx, client.CallParams{To: "+15005550006", From: "+15005550001", Twiml: `<Response><Pause length="3600"/></Response>`})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.CreatePayment(ctx, call.Sid, client.PaymentParams{IdempotencyKey: "k"})
	check("no StatusCallback", err, 400, 20001)
	_, err = c.CreatePayment(ctx, call.Sid, client.PaymentParams{IdempotencyKey: "k", StatusCallback: "https://example.com/cb", ChargeAmount: "-1"})
	check("a negative amount", err, 400, 64003)
	_, err = c.Inbound(ctx, client.InboundParams{To: "+14155550199", From: "+14155550111"})
	check("an inbound call to no number", err, 400, 21211)
	if _, err := c.Hangup(ctx, call.Sid); err != nil {
		t.Fatal(err)
	}
	_, err = c.CreatePayment(ctx, call.Sid, client.PaymentParams{IdempotencyKey: "k", StatusCallback: "https://example.com/cb"})
	check("a payment on an ended call", err, 400, 21220)

	wrong, err := client.New(p.URL, sid, "wrongtoken")
	if err != nil {
		t.Fatal(err)
	}
	_, err = wrong.FetchCall(ctx, call.Sid)
	check("a wrong token", err, 401, 20003)
}

// TestAppCalls: a call to a TwiML app (e2e.App checks every signature with
// twilio-go), an inbound call to a number, keys to a Gather, and the
// timeline read whole and a page at a time.
func TestAppCalls(t *testing.T) {
	p, sid, token := server(t)
	c := p.Client(t, sid, token)
	ctx := context.Background()
	app := e2e.NewApp(t, token, map[string]string{
		"/voice": `<Response><Say>Welcome</Say><Gather numDigits="1" action="/menu"><Say>Press 1</Say></Gather></Response>`,
		"/menu":  `<Response><Say>Thanks</Say><Hangup/></Response>`,
	})
	call, err := c.CreateCall(ctx, client.CallParams{To: "+15005550006", From: "+15005550001", URL: app.Page("/voice")})
	if err != nil {
		t.Fatal(err)
	}
	if pr, err := c.Press(ctx, call.Sid, "1"); err != nil || pr.Applied != 1 {
		t.Fatalf("Press: %v %+v", err, pr)
	}
	var said []string
	var seqs []int64
	err = c.EachEntry(ctx, call.Sid, func(e client.Entry) {
		seqs = append(seqs, e.Seq)
		if e.Kind == "say" {
			said = append(said, e.Text)
		}
		if len(e.Raw) == 0 || e.At.IsZero() {
			t.Errorf("entry %+v: no Raw or At", e)
		}
	})
	if err != nil || !slices.Equal(said, []string{"Welcome", "Press 1", "Thanks"}) {
		t.Fatalf("EachEntry: %v %q", err, said)
	}
	page, err := c.Timeline(ctx, call.Sid, seqs[1], 2)
	if err != nil || page.Status != "completed" || len(page.Entries) != 2 || page.Entries[0].Seq != seqs[2] || page.NextAfter != seqs[3] {
		t.Errorf("Timeline(after %d, 2): %v %+v (seqs %v)", seqs[1], err, page, seqs)
	}
	app.CheckSigned()

	// An inbound call: the number's VoiceUrl runs.
	tw, _ := e2e.NewTwilio(t, p.URL, sid, token, sid, nil)
	if _, err := tw.CreateIncomingPhoneNumber((&api.CreateIncomingPhoneNumberParams{}).SetPhoneNumber("+14155550100").SetVoiceUrl(app.Page("/voice"))); err != nil {
		t.Fatal(err)
	}
	in, err := c.Inbound(ctx, client.InboundParams{To: "+14155550100", From: "+14155550111"})
	if err != nil || in.Direction != "inbound" || in.To != "+14155550100" || in.Status != "in-progress" {
		t.Fatalf("Inbound: %v %+v", err, in)
	}
	if u, err := c.UpdateCall(ctx, in.Sid, client.CallUpdate{Twiml: `<Response><Say>Bye</Say><Hangup/></Response>`}); err != nil || u.Sid != in.Sid {
		t.Fatalf("UpdateCall: %v %+v", err, u)
	}
	e2e.WaitFor(t, 10*time.Second, "the inbound call to end", func() bool {
		got, err := c.FetchCall(ctx, in.Sid)
		return err == nil && got.Status == "completed"
	})
	app.CheckSigned()
}
