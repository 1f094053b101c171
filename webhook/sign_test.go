package webhook

import (
	"net/url"
	"testing"

	"github.com/tonepay/tonepay"
	twclient "github.com/twilio/twilio-go/client"
)

// The first four vectors are every form-body vector in
// reference/twilio-pay.md §6 (Twilio's webhook security documentation and
// twilio-go's tests); the others were computed with Python's hmac module.
func TestSign(t *testing.T) {
	const u = "https://mycompany.com/myapp.php?foo=1&bar=2"
	tests := []struct {
		name string
		url  string
		form url.Values
		want string
	}{
		{"docs example", u, url.Values{"CallSid": {"CA1234567890ABCDE"}, "Caller": {"+12349013030"}, "Digits": {"1234"},
			"From": {"+12349013030"}, "To": {"+18005551212"}}, "0/KCTR6DLpKmkAf8muzZqo1nDgQ="},
		{"Reason sorts before ReasonConferenceEnded", u, url.Values{"Digits": {"1234"}, "CallSid": {"CA1234567890ABCDE"},
			"To": {"+18005551212"}, "Caller": {"+14158675309"}, "From": {"+14158675309"}, "ReasonConferenceEnded": {"test"},
			"Reason": {"Participant"}}, "vOEb5UThFn24KEfnOFLQY2AE5FY="},
		{"http", "http://mycompany.com/myapp.php?foo=1&bar=2", url.Values{"Digits": {"1234"}, "CallSid": {"CA1234567890ABCDE"},
			"To": {"+18005551212"}, "Caller": {"+14158675309"}, "From": {"+14158675309"}, "ReasonConferenceEnded": {"test"},
			"Reason": {"Participant"}}, "n2xBNyzSW7rfYStDtOFiFMv7qNo="},
		{"form body", u, url.Values{"property": {"value"}, "boolean": {"true"}}, "NBdBDr/T/lgjI+tlgpXjKZQZs/k="},
		// Every value of a repeated name, in the order given; "b" sorts before "ba".
		{"repeated name", u, url.Values{"ba": {""}, "b": {"2", "1"}, "a": {"x"}}, "oOc2+7S6It5gikvHbxCVRWRKXRI="},
		{"repeated name, other order", u, url.Values{"ba": {""}, "b": {"1", "2"}, "a": {"x"}}, "/d6d5N8q7LMlhB3AKsk55A60P2I="},
		{"no parameters", u, nil, "zYQTYrRWXE7LtzbG4PfP7/bkkGo="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Sign(tonepay.NewSecret("12345"), tt.url, tt.form); got != tt.want {
				t.Errorf("Sign = %s, want %s", got, tt.want)
			}
		})
	}
}

// TestSignAgainstTwilioGo checks our signatures with twilio-go's validator,
// which is what receivers run.
func TestSignAgainstTwilioGo(t *testing.T) {
	form := url.Values{"AccountSid": {"AC1"}, "PaymentCardNumber": {"xxxxxxxxxxxx1111"}, "Required": {"security-code,postal-code"},
		"DateCreated": {"2026-11-23T01:02:03.456Z"}, "ProfileId": {""}}
	v := twclient.NewRequestValidator("authtoken123")
	for _, u := range []string{"https://example.com/cb", "http://127.0.0.1:8080/cb?tenant=7&x=a%20b", "https://example.com:443/cb"} {
		sig := Sign(tonepay.NewSecret("authtoken123"), u, form)
		params := map[string]string{}
		for k := range form {
			params[k] = form.Get(k)
		}
		if !v.Validate(u, params, sig) {
			t.Errorf("twilio-go rejects our signature for %s", u)
		}
		if v.Validate(u, params, Sign(tonepay.NewSecret("othertoken"), u, form)) {
			t.Errorf("twilio-go accepts a signature made with another token (%s)", u)
		}
		params["Required"] = ""
		if v.Validate(u, params, sig) {
			t.Errorf("twilio-go accepts a signature for a changed body (%s)", u)
		}
		if !v.Validate(u, map[string]string{}, Sign(tonepay.NewSecret("authtoken123"), u, nil)) {
			t.Errorf("twilio-go rejects our signature of an empty form for %s", u)
		}
	}
}
