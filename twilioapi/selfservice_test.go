package twilioapi_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/twilioapi"
)

// noFetch answers every request with a 404: the calls here run inline Twiml,
// which fetches nothing.
type noFetch struct{}

func (noFetch) Fetch(context.Context, *tonepay.FetchRequest) (*tonepay.FetchResponse, error) {
	return &tonepay.FetchResponse{Status: 404}, nil
}

// TestSessionSelfService: the session view says whether the IVR's <Pay> runs
// the session (the console then offers no agent actions) or an agent does.
func TestSessionSelfService(t *testing.T) {
	e := newEnvWith(t, twilioapi.Options{}, envOptions{fetcher: noFetch{}})
	acct := "/2010-04-01/Accounts/" + e.main.Sid
	code, body := e.as(e.main).post(acct+"/Calls.json", url.Values{"To": {"+15005550006"}, "From": {"+15005550001"},
		"Twiml": {`<Response><Pay chargeAmount="5.00" timeout="30"/></Response>`}})
	if code != 201 {
		t.Fatalf("create call: %d %v", code, body)
	}
	payCall := body["sid"].(string)
	s, err := e.store.FindOpenSession(context.Background(), payCall)
	if err != nil {
		t.Fatalf("the <Pay> session: %v", err)
	}
	cases := []struct {
		name, call, sid string
		want            bool
	}{
		{"<Pay>", payCall, s.Sid, true},
		{"agent", e.call, e.createPayment(e.call, "ChargeAmount", "5.00"), false},
	}
	// Current is the call's open session: how the console finds a <Pay>'s.
	for _, c := range cases[:2] {
		cases = append(cases, struct {
			name, call, sid string
			want            bool
		}{c.name + " as Current", c.call, c.sid, c.want})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := c.sid
			if strings.HasSuffix(c.name, "Current") {
				path = "Current"
			}
			code, body := e.as(e.main).do("GET", "/_tonepay/Accounts/"+e.main.Sid+"/Calls/"+c.call+"/Payments/"+path, nil)
			if code != 200 || body["sid"] != c.sid {
				t.Fatalf("fetch: %d %v", code, body)
			}
			if got, ok := body["self_service"].(bool); !ok || got != c.want {
				t.Errorf("self_service %v (present %v), want %v", body["self_service"], ok, c.want)
			}
		})
	}
}

// TestCurrentSessionNotFound: Current is 20404 when the call has no open
// session, and for another account's call, as a SID would be.
func TestCurrentSessionNotFound(t *testing.T) {
	e := newEnv(t, twilioapi.Options{})
	if code, body := e.as(e.sub).post("/2010-04-01/Accounts/"+e.sub.Sid+"/Calls/"+e.subCall+"/Payments.json", createForm("ChargeAmount", "5.00")); code != 201 {
		t.Fatalf("the subaccount's payment: %d %v", code, body)
	}
	for name, path := range map[string]string{
		"no open session":     "/_tonepay/Accounts/" + e.main.Sid + "/Calls/" + e.call + "/Payments/Current",
		"a subaccount's call": "/_tonepay/Accounts/" + e.main.Sid + "/Calls/" + e.subCall + "/Payments/Current",
	} {
		t.Run(name, func(t *testing.T) {
			code, body := e.as(e.main).do("GET", path, nil)
			checkError(t, code, body, 404, 20404)
		})
	}
}
