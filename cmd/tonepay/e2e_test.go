package main

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tonepay/tonepay"
	twclient "github.com/twilio/twilio-go/client"
	api "github.com/twilio/twilio-go/rest/api/v2010"
)

// twilioCode returns the Twilio error code and HTTP status of a twilio-go error.
func twilioCode(t *testing.T, err error) (code, status int) {
	t.Helper()
	var te *twclient.TwilioRestError
	if !errors.As(err, &te) {
		t.Fatalf("want a TwilioRestError, got %v", err)
	}
	return te.Code, te.Status
}

// twilioMessage returns the message of a twilio-go error.
func twilioMessage(t *testing.T, err error) string {
	t.Helper()
	var te *twclient.TwilioRestError
	if !errors.As(err, &te) {
		t.Fatalf("want a TwilioRestError, got %v", err)
	}
	return te.Message
}

func wantTwilioError(t *testing.T, what string, err error, code, status int) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: want error %d, got success", what, code)
	}
	if c, s := twilioCode(t, err); c != code || s != status {
		t.Fatalf("%s: got code %d status %d, want %d %d (%v)", what, c, s, code, status, err)
	}
}

// TestEndToEnd drives a real `tonepay serve` with the real twilio-go client:
// accounts, keys, calls, and a payment session from create to cancel, with
// its status callbacks received and their signatures checked. Every 2xx body
// is validated against Twilio's OpenAPI spec.
func TestEndToEnd(t *testing.T) {
	dir := t.TempDir()
	srv := startServer(t, "TONEPAY_DB="+filepath.Join(dir, "e2e.db"), "TONEPAY_LOG_LEVEL=debug")
	sid, token := parseAccount(srv.Stdout())
	if !tonepay.IsSID(sid, "AC") || token == "" {
		t.Fatalf("serve did not print a main account:\n%s", srv.Stdout())
	}
	sp := loadSpec(t)
	tw, rw := newTwilio(t, srv.URL, sid, token, sid, sp)
	rc := newReceiver(t, token)
	cbURL := rc.srv.URL + "/payments?tenant=7"

	// A call, answered at once.
	call, err := tw.CreateCall((&api.CreateCallParams{}).SetTo("+15005550006").SetFrom("+15005550001").SetUrl("https://example.com/twiml"))
	if err != nil {
		t.Fatal(err)
	}
	if *call.Status != "in-progress" || !tonepay.IsSID(*call.Sid, "CA") {
		t.Fatalf("call: %+v", call)
	}
	if got, err := tw.FetchCall(*call.Sid, &api.FetchCallParams{}); err != nil || *got.Sid != *call.Sid {
		t.Fatalf("fetch call: %v %v", got, err)
	}

	// A payment session; the same request again is answered the same way.
	create := (&api.CreatePaymentsParams{}).SetIdempotencyKey("create-1").SetStatusCallback(cbURL).
		SetChargeAmount(19.99).SetPaymentMethod("credit-card").SetTokenType("one-time").
		SetParameter(map[string]any{"customer": "42"}).SetValidCardTypes("visa mastercard")
	pay, err := tw.CreatePayments(*call.Sid, create)
	if err != nil {
		t.Fatal(err)
	}
	if !tonepay.IsSID(*pay.Sid, "PK") || *pay.CallSid != *call.Sid || *pay.AccountSid != sid ||
		*pay.Uri != "/2010-04-01/Accounts/"+sid+"/Calls/"+*call.Sid+"/Payments/"+*pay.Sid+".json" {
		t.Fatalf("payment: %+v", pay)
	}
	again, err := tw.CreatePayments(*call.Sid, create)
	if err != nil || *again.Sid != *pay.Sid || *again.DateCreated != *pay.DateCreated {
		t.Fatalf("replay with the same IdempotencyKey: %+v %v, want %s", again, err, *pay.Sid)
	}

	// Errors, as twilio-go surfaces them.
	_, err = tw.CreatePayments(*call.Sid, (&api.CreatePaymentsParams{}).SetIdempotencyKey("create-2").SetStatusCallback(cbURL))
	wantTwilioError(t, "second session on a call", err, 64021, 400)
	_, err = tw.UpdatePayments(*call.Sid, *pay.Sid, (&api.UpdatePaymentsParams{}).SetIdempotencyKey("u").SetStatusCallback(cbURL))
	wantTwilioError(t, "update with neither Capture nor Status", err, 64018, 400)
	_, err = tw.UpdatePayments(*call.Sid, *pay.Sid, (&api.UpdatePaymentsParams{}).SetIdempotencyKey("u").SetStatusCallback(cbURL).SetStatus("complete"))
	wantTwilioError(t, "complete before capture", err, 64019, 400)
	_, err = tw.FetchCall(tonepay.NewSID("CA"), &api.FetchCallParams{})
	wantTwilioError(t, "unknown call", err, 20404, 404)
	_, err = tw.CreatePayments(*call.Sid, (&api.CreatePaymentsParams{}).SetIdempotencyKey("create-3"))
	wantTwilioError(t, "missing StatusCallback", err, 20001, 400)
	bad, _ := newTwilio(t, srv.URL, sid, "wrongtoken", sid, nil)
	_, err = bad.FetchCall(*call.Sid, &api.FetchCallParams{})
	wantTwilioError(t, "wrong auth token", err, 20003, 401)

	// Ask for a field, then cancel.
	up, err := tw.UpdatePayments(*call.Sid, *pay.Sid, (&api.UpdatePaymentsParams{}).SetIdempotencyKey("cap-1").SetStatusCallback(cbURL).SetCapture("payment-card-number"))
	if err != nil || *up.Sid != *pay.Sid {
		t.Fatalf("capture: %v %v", up, err)
	}
	if _, err := tw.UpdatePayments(*call.Sid, *pay.Sid, (&api.UpdatePaymentsParams{}).SetIdempotencyKey("end-1").SetStatusCallback(cbURL).SetStatus("cancel")); err != nil {
		t.Fatal(err)
	}

	// The callbacks arrive in order, signed, each with its own idempotency token.
	waitFor(t, 10*time.Second, "three callbacks", func() bool { return len(rc.forSession(*pay.Sid)) >= 3 })
	got := rc.forSession(*pay.Sid)
	if len(got) != 3 {
		t.Fatalf("got %d callbacks, want 3", len(got))
	}
	tokens := map[string]bool{}
	for i, d := range got {
		if !d.Valid {
			t.Errorf("callback %d: signature %q does not validate for %s", i, d.Signature, d.URL)
		}
		if d.URL != cbURL {
			t.Errorf("callback %d went to %s, want %s (query string kept)", i, d.URL, cbURL)
		}
		if d.Token == "" || tokens[d.Token] {
			t.Errorf("callback %d: idempotency token %q missing or repeated", i, d.Token)
		}
		tokens[d.Token] = true
		for name, want := range map[string]string{"AccountSid": sid, "CallSid": *call.Sid, "Sid": *pay.Sid,
			"PaymentConnector": "Default", "PaymentMethod": "credit-card", "ChargeAmount": "19.99"} {
			if d.Form.Get(name) != want {
				t.Errorf("callback %d: %s = %q, want %q", i, name, d.Form.Get(name), want)
			}
		}
		if _, err := time.Parse("2006-01-02T15:04:05.000Z", d.Form.Get("DateCreated")); err != nil {
			t.Errorf("callback %d: DateCreated %q is not ISO 8601 with milliseconds", i, d.Form.Get("DateCreated"))
		}
	}
	if f := got[0].Form; f.Has("Capture") || f.Has("Result") {
		t.Errorf("first callback should be the plain 'session created' one: %v", f)
	}
	if f := got[1].Form; f.Get("Capture") != "payment-card-number" || f.Get("PartialResult") != "false" ||
		f.Get("Required") != "payment-card-number,expiration-date,security-code,postal-code" {
		t.Errorf("capture callback: %v", f)
	}
	if f := got[2].Form; f.Get("Result") != "payment-cancelled" || !f.Has("PaymentConfirmationCode") {
		t.Errorf("cancel callback: %v", f)
	}

	// After the cancel, a new session may start; the old one takes nothing more.
	_, err = tw.UpdatePayments(*call.Sid, *pay.Sid, (&api.UpdatePaymentsParams{}).SetIdempotencyKey("cap-2").SetStatusCallback(cbURL).SetCapture("expiration-date"))
	wantTwilioError(t, "capture on an ended session", err, 64021, 400)

	// API keys: created with the secret shown once, usable for payments.
	key, err := tw.CreateNewKey((&api.CreateNewKeyParams{}).SetFriendlyName("ci"))
	if err != nil || key.Secret == nil || !tonepay.IsSID(*key.Sid, "SK") {
		t.Fatalf("create key: %+v %v", key, err)
	}
	viaKey, _ := newTwilio(t, srv.URL, *key.Sid, *key.Secret, sid, sp)
	if _, err := viaKey.CreatePayments(*call.Sid, (&api.CreatePaymentsParams{}).SetIdempotencyKey("k-1").SetStatusCallback(cbURL)); err != nil {
		t.Fatalf("payment with an API key: %v", err)
	}
	if keys, err := tw.ListKey(&api.ListKeyParams{}); err != nil || len(keys) != 1 {
		t.Fatalf("list keys: %v %v", keys, err)
	}
	if _, err := tw.FetchKey(*key.Sid, &api.FetchKeyParams{}); err != nil {
		t.Fatal(err)
	}
	if err := tw.DeleteKey(*key.Sid, &api.DeleteKeyParams{}); err != nil {
		t.Fatal(err)
	}
	_, err = viaKey.FetchCall(*call.Sid, &api.FetchCallParams{})
	wantTwilioError(t, "deleted key", err, 20003, 401)

	// Subaccounts: the main account creates one and acts on it.
	subacct, err := tw.CreateAccount((&api.CreateAccountParams{}).SetFriendlyName("team a"))
	if err != nil || *subacct.OwnerAccountSid != sid || subacct.AuthToken == nil {
		t.Fatalf("create subaccount: %+v %v", subacct, err)
	}
	if accts, err := tw.ListAccount(&api.ListAccountParams{}); err != nil || len(accts) != 2 {
		t.Fatalf("list accounts: %d %v", len(accts), err)
	}
	if _, err := tw.FetchAccount(*subacct.Sid); err != nil {
		t.Fatal(err)
	}
	subCall, err := tw.CreateCall((&api.CreateCallParams{}).SetPathAccountSid(*subacct.Sid).SetTo("+15005550006").SetFrom("+15005550001").SetTwiml("<Response/>"))
	if err != nil {
		t.Fatal(err)
	}
	asSub, _ := newTwilio(t, srv.URL, *subacct.Sid, *subacct.AuthToken, *subacct.Sid, sp)
	if _, err := asSub.FetchCall(*subCall.Sid, &api.FetchCallParams{}); err != nil {
		t.Fatalf("subaccount fetches its own call: %v", err)
	}
	_, err = asSub.FetchCall(*call.Sid, &api.FetchCallParams{PathAccountSid: &sid})
	wantTwilioError(t, "subaccount on its parent", err, 20003, 401)

	// Hanging up ends the call and the open session.
	done, err := tw.UpdateCall(*call.Sid, (&api.UpdateCallParams{}).SetStatus("completed"))
	if err != nil || *done.Status != "completed" || done.EndTime == nil {
		t.Fatalf("hang up: %+v %v", done, err)
	}
	_, err = tw.CreatePayments(*call.Sid, (&api.CreatePaymentsParams{}).SetIdempotencyKey("late").SetStatusCallback(cbURL))
	wantTwilioError(t, "payment on a completed call", err, 21220, 400)
	if calls, err := tw.ListCall((&api.ListCallParams{}).SetPageSize(1)); err != nil || len(calls) != 1 {
		// One page of one: twilio-go's ListCall stops at the limit it is given.
		t.Logf("list calls: %d %v", len(calls), err)
	}
	if calls, err := tw.ListCall(&api.ListCallParams{}); err != nil || len(calls) != 1 {
		t.Fatalf("list calls: %d %v", len(calls), err)
	}
	waitFor(t, 10*time.Second, "hang-up callback", func() bool {
		for _, d := range rc.deliveries() {
			if d.Form.Get("Result") == "caller-hung-up" {
				return d.Valid
			}
		}
		return false
	})

	if rw.Checked() < 15 {
		t.Errorf("only %d responses were checked against the spec", rw.Checked())
	}
	// Credentials never reach the log, even at debug level.
	if log := srv.Stderr(); strings.Contains(log, token) || strings.Contains(log, *key.Secret) {
		t.Error("the log contains a credential")
	}
}

// TestRestart kills the server hard right after it acknowledged a payment and
// while its first callback was failing, then starts it again on the same
// database: the session is still there and the callback is delivered.
func TestRestart(t *testing.T) {
	db := filepath.Join(t.TempDir(), "restart.db")
	sid, token := tonepay.NewSID("AC"), "restarttoken1"
	env := []string{"TONEPAY_DB=" + db, "TONEPAY_ACCOUNT_SID=" + sid, "TONEPAY_AUTH_TOKEN=" + token}
	rc := newReceiver(t, token)
	rc.setStatus(http.StatusServiceUnavailable)

	first := startServer(t, env...)
	tw, _ := newTwilio(t, first.URL, sid, token, sid, nil)
	call, err := tw.CreateCall((&api.CreateCallParams{}).SetTo("+15005550006").SetFrom("+15005550001").SetUrl("https://example.com/twiml"))
	if err != nil {
		t.Fatal(err)
	}
	pay, err := tw.CreatePayments(*call.Sid, (&api.CreatePaymentsParams{}).SetIdempotencyKey("k").SetStatusCallback(rc.srv.URL+"/cb"))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "a failed delivery attempt", func() bool { return len(rc.deliveries()) > 0 })
	first.kill()

	rc.setStatus(http.StatusOK)
	second := startServer(t, env...)
	tw, _ = newTwilio(t, second.URL, sid, token, sid, nil)
	waitFor(t, 20*time.Second, "the callback after restart", func() bool {
		d := rc.deliveries()
		return len(d) > 0 && d[len(d)-1].Form.Get("Sid") == *pay.Sid && len(d) >= 2
	})
	for _, d := range rc.forSession(*pay.Sid) {
		if !d.Valid {
			t.Errorf("bad signature on %v", d.Form)
		}
	}
	// The session survived: it is still open on its call.
	if _, err := tw.UpdatePayments(*call.Sid, *pay.Sid, (&api.UpdatePaymentsParams{}).SetIdempotencyKey("c").SetStatusCallback(rc.srv.URL+"/cb").SetCapture("payment-card-number")); err != nil {
		t.Fatalf("session after restart: %v", err)
	}
	again, err := tw.CreatePayments(*call.Sid, (&api.CreatePaymentsParams{}).SetIdempotencyKey("k").SetStatusCallback(rc.srv.URL+"/cb"))
	if err != nil || *again.Sid != *pay.Sid {
		t.Fatalf("replayed create after restart: %v %v", again, err)
	}
	if n := strings.Count(second.Stdout(), "TONEPAY_AUTH_TOKEN="); n != 0 {
		t.Errorf("serve printed credentials although they were given")
	}
}

// TestBootstrapPrintsOnce: a new store gets a main account printed once; the
// next start on the same store prints nothing and the account still works.
func TestBootstrapPrintsOnce(t *testing.T) {
	db := filepath.Join(t.TempDir(), "boot.db")
	first := startServer(t, "TONEPAY_DB="+db)
	sid, token := parseAccount(first.Stdout())
	if sid == "" || token == "" {
		t.Fatalf("no account printed:\n%s", first.Stdout())
	}
	if code := first.stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("exit code after SIGTERM: %d\n%s", code, first.Stderr())
	}
	if fi, err := os.Stat(db + ".key"); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("data key file: %v %v", fi, err)
	}
	second := startServer(t, "TONEPAY_DB="+db)
	if strings.Contains(second.Stdout(), "TONEPAY_AUTH_TOKEN") {
		t.Errorf("second start printed credentials again:\n%s", second.Stdout())
	}
	tw, _ := newTwilio(t, second.URL, sid, token, sid, nil)
	if _, err := tw.FetchAccount(sid); err != nil {
		t.Fatal(err)
	}
	if code := second.stop(os.Interrupt); code != 0 {
		t.Fatalf("exit code after SIGINT: %d", code)
	}
}
