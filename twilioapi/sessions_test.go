package twilioapi_test

import (
	"net/url"
	"reflect"
	"testing"
	"time"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/twilioapi"
)

// TestSessionList: GET …/Calls/{CA}/Payments lists the call's sessions,
// newest first, ended ones included, each exactly as …/Payments/{PK} shows
// it (masked), in Twilio's paging envelope; another account's call, or none,
// is 20404, before a bad page is looked at.
func TestSessionList(t *testing.T) {
	e := newEnv(t, twilioapi.Options{})
	main := e.as(e.main)
	ext := "/_tonepay/Accounts/" + e.main.Sid + "/Calls/" + e.call
	list := func(query string) map[string]any {
		t.Helper()
		code, body := main.do("GET", ext+"/Payments"+query, nil)
		if code != 200 {
			t.Fatalf("list%s: %d %v", query, code, body)
		}
		return body
	}
	sids := func(body map[string]any) []string {
		var out []string
		for _, p := range body["payments"].([]any) {
			out = append(out, p.(map[string]any)["sid"].(string))
		}
		return out
	}
	if got := list(""); len(got["payments"].([]any)) != 0 || got["next_page_uri"] != nil {
		t.Fatalf("a call with no payment: %v", got)
	}

	// A payment, charged: its card typed on the keypad, then Status=complete.
	first := e.createPayment(e.call, "ChargeAmount", "9.99", "SecurityCode", "false", "PostalCode", "false")
	update := "/2010-04-01/Accounts/" + e.main.Sid + "/Calls/" + e.call + "/Payments/" + first + ".json"
	for _, fk := range [][2]string{{"payment-card-number", "4242424242424242#"}, {"expiration-date", "1230"}} {
		if code, body := main.post(update, createForm("IdempotencyKey", "c-"+fk[0], "Capture", fk[0])); code != 202 {
			t.Fatalf("capture %s: %d %v", fk[0], code, body)
		}
		if code, body := main.post(ext+"/Digits", url.Values{"Digits": {fk[1]}}); code != 200 {
			t.Fatalf("digits: %d %v", code, body)
		}
	}
	if code, body := main.post(update, createForm("IdempotencyKey", "done", "Status", "complete")); code != 202 {
		t.Fatalf("complete: %d %v", code, body)
	}
	var ended map[string]any
	for deadline := time.Now().Add(10 * time.Second); ; {
		if p := list("")["payments"].([]any)[0].(map[string]any); p["status"] == "ended" {
			ended = p
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the payment did not end")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if ended["result"] != "success" || ended["payment_confirmation_code"] == nil || ended["captured"].(map[string]any)["payment-card-number"] != "xxxxxxxxxxxx4242" {
		t.Errorf("the ended payment as listed: %v", ended)
	}
	code, fetched := main.do("GET", ext+"/Payments/"+first, nil)
	if code != 200 || !reflect.DeepEqual(fetched, ended) {
		t.Errorf("listed %v\nfetched %d %v", ended, code, fetched)
	}
	if code, body := main.do("GET", ext+"/Payments/Current", nil); code != 404 {
		t.Errorf("Current after the end: %d %v, want 404", code, body)
	}

	// A second, open: listed first; paged one at a time.
	second := e.createPayment(e.call, "IdempotencyKey", "k2", "ChargeAmount", "1.00")
	if got := sids(list("")); !reflect.DeepEqual(got, []string{second, first}) {
		t.Errorf("list = %v, want %v", got, []string{second, first})
	}
	page := list("?PageSize=1")
	next, _ := page["next_page_uri"].(string)
	if got := sids(page); !reflect.DeepEqual(got, []string{second}) || next != ext+"/Payments?Page=1&PageSize=1" {
		t.Fatalf("first page of one: %v, next %q", got, next)
	}
	code, page = main.do("GET", next, nil)
	if got := sids(page); code != 200 || !reflect.DeepEqual(got, []string{first}) || page["next_page_uri"] != nil || page["previous_page_uri"] == nil {
		t.Errorf("second page of one: %d %v", code, page)
	}

	// Not the account's call, or no call: 20404, whatever the query.
	if code, body := e.as(e.sub).post("/2010-04-01/Accounts/"+e.sub.Sid+"/Calls/"+e.subCall+"/Payments.json", createForm("ChargeAmount", "5.00")); code != 201 {
		t.Fatalf("the subaccount's payment: %d %v", code, body)
	}
	for name, path := range map[string]string{
		"a subaccount's call in the main account's path": "/_tonepay/Accounts/" + e.main.Sid + "/Calls/" + e.subCall + "/Payments",
		"no such call":                    "/_tonepay/Accounts/" + e.main.Sid + "/Calls/" + tonepay.NewSID("CA") + "/Payments",
		"a subaccount's call, a bad page": "/_tonepay/Accounts/" + e.main.Sid + "/Calls/" + e.subCall + "/Payments?PageSize=0",
	} {
		t.Run(name, func(t *testing.T) {
			code, body := main.do("GET", path, nil)
			checkError(t, code, body, 404, 20404)
		})
	}
	code, body := main.do("GET", ext+"/Payments?PageSize=0", nil)
	checkError(t, code, body, 400, 20001)
	// The main account reaches its subaccount's call in the subaccount's path.
	if code, body := main.do("GET", "/_tonepay/Accounts/"+e.sub.Sid+"/Calls/"+e.subCall+"/Payments", nil); code != 200 || len(body["payments"].([]any)) != 1 {
		t.Errorf("the subaccount's list, as its main account: %d %v", code, body)
	}
}
