package twilioapi_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/tonepay/tonepay/twilioapi"
)

// TestFarEndParameter: tonepay's far-end script is TonepayDial on Calls
// create and Dial on the extension's Inbound; a value it does not know is
// 400 naming the parameter, as other malformed call values are.
func TestFarEndParameter(t *testing.T) {
	e := newEnv(t, twilioapi.Options{})
	numbers := "/2010-04-01/Accounts/" + e.main.Sid + "/IncomingPhoneNumbers.json"
	if code, body := e.as(e.main).post(numbers, url.Values{"PhoneNumber": {"+14155550100"}, "VoiceUrl": {"https://example.com/voice"}}); code != 201 {
		t.Fatalf("number: %d %v", code, body)
	}
	create := "/2010-04-01/Accounts/" + e.main.Sid + "/Calls.json"
	inbound := "/_tonepay/Accounts/" + e.main.Sid + "/Calls/Inbound"
	call := func(name, v string) url.Values {
		return url.Values{"To": {"+15005550006"}, "From": {"+15005550001"}, "Url": {"https://example.com/twiml"}, name: {v}}
	}
	in := func(name, v string) url.Values {
		return url.Values{"To": {"+14155550100"}, "From": {"+15005550001"}, name: {v}}
	}
	for _, v := range []string{"answer", "busy", "no-answer", "failed", "answer:1", "answer:14400"} {
		if code, body := e.as(e.main).post(create, call("TonepayDial", v)); code != 201 {
			t.Errorf("Calls create TonepayDial=%s: %d %v", v, code, body)
		}
		if code, body := e.as(e.main).post(inbound, in("Dial", v)); code != 201 {
			t.Errorf("Inbound Dial=%s: %d %v", v, code, body)
		}
	}
	for _, v := range []string{"ringing", "answer:0", "answer:x", "BUSY", "answer:14401"} {
		code, body := e.as(e.main).post(create, call("TonepayDial", v))
		if msg, _ := body["message"].(string); code != 400 || body["code"] != float64(20001) || !strings.Contains(msg, "TonepayDial") {
			t.Errorf("Calls create TonepayDial=%s: %d %v, want 400 20001 naming TonepayDial", v, code, body)
		}
		code, body = e.as(e.main).post(inbound, in("Dial", v))
		if msg, _ := body["message"].(string); code != 400 || body["code"] != float64(20001) || !strings.Contains(msg, "parameter Dial") {
			t.Errorf("Inbound Dial=%s: %d %v, want 400 20001 naming Dial", v, code, body)
		}
	}
	// Calls create ignores Dial (not its parameter), as Twilio ignores what it does not know.
	if code, body := e.as(e.main).post(create, call("Dial", "nonsense")); code != 201 {
		t.Errorf("Calls create Dial=nonsense: %d %v, want 201", code, body)
	}
}
