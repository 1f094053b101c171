package webhook

import (
	"net/url"
	"testing"

	"github.com/tonepay/tonepay"
	twclient "github.com/twilio/twilio-go/client"
)

// TestVerifyAgainstTwilioGo gives Verify and twilio-go's RequestValidator
// (what Twilio's own apps run) the same inputs: a request signed with one
// token, URL and form, checked as received with another or the same. They
// must agree on every case; the forms have one value per name, since
// twilio-go's validator takes a map.
func TestVerifyAgainstTwilioGo(t *testing.T) {
	const token = "authtoken123"
	post := url.Values{"AccountSid": {"AC1"}, "CallSid": {"CA1"}, "Digits": {"1234"}, "ProfileId": {""},
		"PaymentCardNumber": {"xxxxxxxxxxxx4242"}, "Required": {"security-code,postal-code"}, "Text": {"café, «ok» & 100%"}}
	changed := url.Values{}
	for k, v := range post {
		changed[k] = v
	}
	changed.Set("Digits", "1235")
	extra := url.Values{"Extra": {"x"}}
	for k, v := range post {
		extra[k] = v
	}
	const (
		cb     = "http://127.0.0.1:8080/cb?tenant=7&x=a%20b"
		get    = "https://example.com/voice?CallSid=CA1&Digits=1"
		stream = "wss://tonepay.example/_tonepay/streams"
	)
	type signed struct {
		token, url string
		form       url.Values
	}
	tests := []struct {
		name     string
		signer   signed // how the sender signed; a zero signer sends sig as is
		sig      string
		token    string // the receiver's
		url      string // as received
		form     url.Values
		accepted bool
	}{
		{name: "form POST", signer: signed{token, cb, post}, token: token, url: cb, form: post, accepted: true},
		{name: "empty form POST", signer: signed{token, cb, url.Values{}}, token: token, url: cb, form: url.Values{}, accepted: true},
		{name: "another token", signer: signed{"othertoken", cb, post}, token: token, url: cb, form: post},
		{name: "a changed value", signer: signed{token, cb, post}, token: token, url: cb, form: changed},
		{name: "an added parameter", signer: signed{token, cb, post}, token: token, url: cb, form: extra},
		{name: "a removed parameter", signer: signed{token, cb, extra}, token: token, url: cb, form: post},
		{name: "another path", signer: signed{token, cb, post}, token: token, url: "http://127.0.0.1:8080/cb2?tenant=7&x=a%20b", form: post},
		{name: "another query", signer: signed{token, cb, post}, token: token, url: "http://127.0.0.1:8080/cb?tenant=8&x=a%20b", form: post},
		{name: "GET: the URL alone", signer: signed{token, get, nil}, token: token, url: get, accepted: true},
		{name: "GET: another query", signer: signed{token, get, nil}, token: token, url: "https://example.com/voice?CallSid=CA1&Digits=2"},
		{name: "GET signed as a POST of its query", signer: signed{token, "https://example.com/voice", url.Values{"CallSid": {"CA1"}, "Digits": {"1"}}}, token: token, url: get},
		{name: "WebSocket upgrade", signer: signed{token, stream, nil}, token: token, url: stream, accepted: true},
		{name: "WebSocket upgrade with another token", signer: signed{"othertoken", stream, nil}, token: token, url: stream},
		{name: "WebSocket upgrade signed with a trailing slash", signer: signed{token, stream + "/", nil}, token: token, url: stream},
		{name: "WebSocket upgrade, ws for wss", signer: signed{token, stream, nil}, token: token, url: "ws://tonepay.example/_tonepay/streams"},
		{name: "no signature", token: token, url: cb, form: post, sig: ""},
		{name: "not base64", token: token, url: cb, form: post, sig: "not a signature!"},
		// Twilio's documented example (reference/twilio-pay.md §6).
		{name: "Twilio's docs example", token: "12345", url: "https://mycompany.com/myapp.php?foo=1&bar=2",
			form: url.Values{"CallSid": {"CA1234567890ABCDE"}, "Caller": {"+12349013030"}, "Digits": {"1234"}, "From": {"+12349013030"}, "To": {"+18005551212"}},
			sig:  "0/KCTR6DLpKmkAf8muzZqo1nDgQ=", accepted: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sig := tt.sig
			if tt.signer.token != "" {
				sig = Sign(tonepay.NewSecret(tt.signer.token), tt.signer.url, tt.signer.form)
			}
			got := Verify(tonepay.NewSecret(tt.token), tt.url, tt.form, sig)
			params := map[string]string{}
			for k := range tt.form {
				params[k] = tt.form.Get(k)
			}
			v := twclient.NewRequestValidator(tt.token)
			twilio := v.Validate(tt.url, params, sig)
			if got != tt.accepted || twilio != tt.accepted {
				t.Errorf("Verify = %v, twilio-go = %v, want both %v", got, twilio, tt.accepted)
			}
		})
	}
}

// TestVerifyPortForms: twilio-go also accepts a signature made over the URL
// with its port removed or the scheme's default port added; Verify checks
// the URL as given, and its callers try each form they accept.
func TestVerifyPortForms(t *testing.T) {
	token := tonepay.NewSecret("authtoken123")
	form := url.Values{"CallSid": {"CA1"}}
	sig := Sign(token, "https://example.com/cb", form)
	if !Verify(token, "https://example.com/cb", form, sig) {
		t.Error("Verify rejects the URL as signed")
	}
	if Verify(token, "https://example.com:443/cb", form, sig) {
		t.Error("Verify accepts another form of the URL (:443)")
	}
	v := twclient.NewRequestValidator("authtoken123")
	if !v.Validate("https://example.com:443/cb", map[string]string{"CallSid": "CA1"}, sig) {
		t.Error("twilio-go no longer accepts the :443 form; Verify's comment is out of date")
	}
}

// TestVerifyRepeatedNames: every value of a repeated name is signed, in the
// order sent (twilio-go's map cannot say this; Twilio's own form bodies do).
func TestVerifyRepeatedNames(t *testing.T) {
	token := tonepay.NewSecret("12345")
	const u = "https://mycompany.com/myapp.php?foo=1&bar=2"
	form := url.Values{"ba": {""}, "b": {"2", "1"}, "a": {"x"}}
	if !Verify(token, u, form, "oOc2+7S6It5gikvHbxCVRWRKXRI=") {
		t.Error("Verify rejects the repeated-name vector")
	}
	if Verify(token, u, url.Values{"ba": {""}, "b": {"1", "2"}, "a": {"x"}}, "oOc2+7S6It5gikvHbxCVRWRKXRI=") {
		t.Error("Verify accepts the values in another order")
	}
}
