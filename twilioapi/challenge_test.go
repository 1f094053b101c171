package twilioapi_test

import (
	"net/http"
	"testing"

	"github.com/tonepay/tonepay/twilioapi"
)

// TestChallenge: a 401 carries the Basic challenge, except to a page's script
// (X-Requested-With), which shows its own error rather than wait on the
// browser's login prompt.
func TestChallenge(t *testing.T) {
	e := newEnv(t, twilioapi.Options{})
	path := "/2010-04-01/Accounts/" + e.main.Sid + "/Calls.json"
	for _, tc := range []struct {
		name, user, pass, requestedWith string
		status                          int
		challenge                       string
	}{
		{"no credentials", "", "", "", 401, `Basic realm="Twilio API"`},
		{"wrong token", e.main.Sid, "wrong", "", 401, `Basic realm="Twilio API"`},
		{"wrong token from the console", e.main.Sid, "wrong", "XMLHttpRequest", 401, ""},
		{"no credentials from the console", "", "", "XMLHttpRequest", 401, ""},
		{"right token from the console", e.main.Sid, "maintoken", "XMLHttpRequest", 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hdr := http.Header{}
			if tc.requestedWith != "" {
				hdr.Set("X-Requested-With", tc.requestedWith)
			}
			res, body := client{e, tc.user, tc.pass}.raw("GET", path, "", hdr)
			if res.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %v", res.StatusCode, tc.status, body)
			}
			if got := res.Header.Get("WWW-Authenticate"); got != tc.challenge {
				t.Errorf("WWW-Authenticate %q, want %q", got, tc.challenge)
			}
			if tc.status == 401 && body["code"] != float64(20003) {
				t.Errorf("body %v, want code 20003", body)
			}
		})
	}
}
