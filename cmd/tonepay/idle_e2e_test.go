package main

import (
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tonepay/tonepay"
	api "github.com/twilio/twilio-go/rest/api/v2010"
)

// TestSessionIdleExpiry: an open session whose agent walked away (a field
// captured, then nothing asked for) ends by itself after --session-idle,
// with a callback that says why, and its sealed values go with it. A field
// being captured is not idle.
func TestSessionIdleExpiry(t *testing.T) {
	db := filepath.Join(t.TempDir(), "idle.db")
	sid, token := tonepay.NewSID("AC"), "idletoken1"
	// Idle is 3 s: between the create, the card and the next capture the
	// test makes one request at a time, never waiting for a callback, so
	// that a slow machine does not idle the session out before the capture.
	srv := startServer(t, "TONEPAY_DB="+db, "TONEPAY_ACCOUNT_SID="+sid, "TONEPAY_AUTH_TOKEN="+token,
		"TONEPAY_SESSION_IDLE=3s", "TONEPAY_FIRST_DIGIT_TIMEOUT=6s")
	tw, _ := newTwilio(t, srv.URL, sid, token, sid, loadSpec(t))
	rc := newReceiver(t, token)
	fl := &flow{t: t, srv: srv, tw: tw, sid: sid, token: token, rc: rc, cbURL: rc.srv.URL + "/cb?idle=1"}
	fl.start((&api.CreatePaymentsParams{}).SetChargeAmount(5))
	fl.enter("payment-card-number", card4242+"#")
	// Capturing: the first-digit wait (6 s) holds, idle (3 s) does not apply.
	fl.capture("expiration-date")
	fl.waitFor("PaymentCardNumber", "xxxxxxxxxxxx4242", "PartialResult", "false")
	waitFor(t, 30*time.Second, "the end, 9 s after the capture", func() bool { // longer than fl.waitFor's 10 s
		return slices.ContainsFunc(rc.forSession(fl.pk), func(d delivery) bool { return d.Form.Has("Result") })
	})
	end := fl.waitFor("Result", "*")
	var errs []url.Values
	for _, d := range rc.forSession(fl.pk) {
		if d.Form.Get("ErrorType") == "input-timeout" {
			errs = append(errs, d.Form)
		}
	}
	if len(errs) != 1 {
		t.Fatalf("want the expiry capture to time out first (input-timeout), then idle: %d input-timeouts", len(errs))
	}
	if end.Get("Result") != tonepay.ResultCancelled || !strings.Contains(end.Get("PaymentError"), "idle") ||
		end.Get("PaymentCardNumber") != "xxxxxxxxxxxx4242" {
		t.Fatalf("end callback = %v", end)
	}
	var view struct {
		Status, Result string
	}
	fl.get("", &view)
	if view.Status != "ended" || view.Result != tonepay.ResultCancelled {
		t.Fatalf("session = %+v", view)
	}
	fl.checkDelivery()
	// A later request gets Twilio's answer for an ended session.
	if err := fl.update((&api.UpdatePaymentsParams{}).SetCapture("expiration-date")); err == nil || !strings.Contains(err.Error(), "64021") {
		t.Fatalf("capture after idle end: %v", err)
	}
}
