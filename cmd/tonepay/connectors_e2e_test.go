package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/tonepay/tonepay"
	api "github.com/twilio/twilio-go/rest/api/v2010"
)

// TestGenericConnector runs payments through a generic connector declared in
// a config file, to a `tonepay processor` process that answers the first
// request of each transaction too slowly: the connector retries with the same
// transaction id, the payment succeeds, and the processor charged once.
func TestGenericConnector(t *testing.T) {
	dir := t.TempDir()
	proc := startProcess(t, []string{"processor", "--addr", "127.0.0.1:0", "--delay-first", "1500ms"}, "TONEPAY_PROCESSOR_PASSWORD=procsecret1")
	sid, token := tonepay.NewSID("AC"), "gpctoken1"
	config := filepath.Join(dir, "tonepay.toml")
	os.WriteFile(config, []byte(`
[[connector]]
name = "Default"
type = "sandbox"

[[connector]]
name = "Acme"
type = "generic"
mode = "test"
accounts = ["`+sid+`"]
[connector.settings]
url = "`+proc.URL+`/twilio"
username = "twilio"
password_env = "ACME_PROCESSOR_PASSWORD"
timeout = "1s"
`), 0o600)
	srv := startServer(t, "TONEPAY_DB="+filepath.Join(dir, "gpc.db"), "TONEPAY_ACCOUNT_SID="+sid, "TONEPAY_AUTH_TOKEN="+token,
		"TONEPAY_CONFIG="+config, "ACME_PROCESSOR_PASSWORD=procsecret1")
	tw, _ := newTwilio(t, srv.URL, sid, token, sid, loadSpec(t))
	rc := newReceiver(t, token)
	fl := &flow{t: t, srv: srv, tw: tw, sid: sid, token: token, rc: rc, cbURL: rc.srv.URL + "/cb"}

	fl.start((&api.CreatePaymentsParams{}).SetChargeAmount(25).SetPaymentConnector("Acme").SetDescription("pizza"))
	for _, f := range []struct{ field, keys string }{
		{"payment-card-number", "4242424242424242#"}, {"expiration-date", "1230"}, {"security-code", "123"}, {"postal-code", "94109#"},
	} {
		fl.enter(f.field, f.keys)
	}
	fl.waitFor("Required", "", "Capture", "postal-code", "PartialResult", "false")
	if err := fl.update((&api.UpdatePaymentsParams{}).SetStatus("complete")); err != nil {
		t.Fatal(err)
	}
	res := fl.waitFor("Result", "*")
	if res.Get("Result") != "success" || res.Get("PaymentConnector") != "Acme" {
		t.Fatalf("result: %v", res)
	}
	fl.checkDelivery()

	var recs struct {
		Transactions []struct {
			ChargeID string `json:"charge_id"`
			Last4    string `json:"last4"`
			Amount   string `json:"amount"`
			Requests int    `json:"requests"`
		} `json:"transactions"`
	}
	req, _ := http.NewRequest("GET", proc.URL+"/", nil)
	req.SetBasicAuth("twilio", "procsecret1")
	hr, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(hr.Body).Decode(&recs)
	hr.Body.Close()
	if len(recs.Transactions) != 1 {
		t.Fatalf("processor recorded %d transactions, want exactly 1: %+v", len(recs.Transactions), recs)
	}
	r := recs.Transactions[0]
	if r.ChargeID != res.Get("PaymentConfirmationCode") || r.Requests < 2 || r.Last4 != "4242" || r.Amount != "25.00" {
		t.Errorf("processor record %+v, result %v", r, res)
	}

	// A declined card, and a subaccount the connector is not for.
	fl.start((&api.CreatePaymentsParams{}).SetChargeAmount(5).SetPaymentConnector("Acme").SetSecurityCode(false).SetPostalCode(false))
	fl.enter("payment-card-number", "4000000000000002#")
	fl.enter("expiration-date", "1230")
	fl.waitFor("Required", "", "Capture", "expiration-date", "PartialResult", "false")
	if err := fl.update((&api.UpdatePaymentsParams{}).SetStatus("complete")); err != nil {
		t.Fatal(err)
	}
	fl.waitFor("Result", "payment-connector-error", "PayErrorCode", "64012", "ConnectorError", "card_declined")

	sub, err := tw.CreateAccount(&api.CreateAccountParams{})
	if err != nil {
		t.Fatal(err)
	}
	call, _ := tw.CreateCall((&api.CreateCallParams{}).SetPathAccountSid(*sub.Sid).SetTo("+15005550006").SetFrom("+15005550001").SetTwiml("<Response/>"))
	asSub, _ := newTwilio(t, srv.URL, *sub.Sid, *sub.AuthToken, *sub.Sid, nil)
	if _, err := asSub.CreatePayments(*call.Sid, (&api.CreatePaymentsParams{}).SetIdempotencyKey("k").SetStatusCallback(fl.cbURL).SetPaymentConnector("Acme")); err != nil {
		// the subaccount of a listed account may use it
		t.Errorf("subaccount of the listed account: %v", err)
	}
	_, err = asSub.CreatePayments(*call.Sid, (&api.CreatePaymentsParams{}).SetIdempotencyKey("k2").SetStatusCallback(fl.cbURL).SetPaymentConnector("Nope"))
	wantTwilioError(t, "unknown connector", err, 64004, 400)
}
