package calls_test

import (
	"context"
	"errors"
	"testing"

	"github.com/tonepay/tonepay"
)

// TestUpdateCall: a hang-up ends the call and its session; a status or a
// redirect on an ended call is 21220; canceled changes nothing.
func TestUpdateCall(t *testing.T) {
	f := newFixture(t)
	svc := f.Service()
	ctx := context.Background()
	sid := f.CapturedSession(t, svc)
	tests := []struct {
		name     string
		req      tonepay.UpdateCallRequest
		code     int
		status   string
		notFound bool
		msg      string // the 21220's message names what was tried
	}{
		{"canceled on an answered call", tonepay.UpdateCallRequest{Status: tonepay.CallCanceled}, 0, tonepay.CallInProgress, false, ""},
		{"redirect", tonepay.UpdateCallRequest{URL: ptr("https://example.com/next"), Method: ptr("GET")}, 0, tonepay.CallInProgress, false, ""},
		{"redirect to a document", tonepay.UpdateCallRequest{Twiml: ptr("<Response/>"), StatusCallback: ptr("https://example.com/p")}, 0, tonepay.CallInProgress, false, ""},
		{"hang up", tonepay.UpdateCallRequest{Status: tonepay.CallCompleted}, 0, tonepay.CallCompleted, false, ""},
		{"hang up again", tonepay.UpdateCallRequest{Status: tonepay.CallCompleted}, tonepay.CodeCallNotInProgress, "", false,
			"Call is not in-progress. Cannot hang up."},
		{"hang up and redirect an ended call", tonepay.UpdateCallRequest{Status: tonepay.CallCompleted, URL: ptr("https://example.com/x")},
			tonepay.CodeCallNotInProgress, "", false, "Call is not in-progress. Cannot hang up."},
		{"cancel an ended call", tonepay.UpdateCallRequest{Status: tonepay.CallCanceled}, tonepay.CodeCallNotInProgress, "", false,
			"Call is not in-progress. Cannot cancel."},
		{"redirect an ended call", tonepay.UpdateCallRequest{URL: ptr("https://example.com/x")}, tonepay.CodeCallNotInProgress, "", false,
			"Call is not in-progress. Cannot redirect."},
		{"new StatusCallback on an ended call", tonepay.UpdateCallRequest{StatusCallback: ptr("https://example.com/x")}, tonepay.CodeCallNotInProgress, "", false,
			"Call is not in-progress. Cannot redirect."},
		{"nothing on an ended call", tonepay.UpdateCallRequest{}, 0, tonepay.CallCompleted, false, ""},
		{"another account's", tonepay.UpdateCallRequest{AccountSid: tonepay.NewSID("AC")}, 0, "", true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := tt.req
			req.Sid = f.Call.Sid
			if req.AccountSid == "" {
				req.AccountSid = f.Acct.Sid
			}
			c, err := svc.UpdateCall(ctx, &req)
			switch {
			case tt.notFound:
				if !errors.Is(err, tonepay.ErrNotFound) {
					t.Fatalf("got %v, want ErrNotFound", err)
				}
			case tt.code != 0:
				if tonepay.ErrorCode(err) != tt.code || tonepay.ErrorMessage(err) != tt.msg {
					t.Fatalf("got %v, want %d %q", err, tt.code, tt.msg)
				}
			case err != nil:
				t.Fatal(err)
			case c.Status != tt.status:
				t.Fatalf("call %s, want %s", c.Status, tt.status)
			}
		})
	}
	if s := f.Session(t, sid); s.Status != tonepay.SessionEnded || s.State.Result != tonepay.ResultHungUp {
		t.Fatalf("session %s %s after the hang-up", s.Status, s.State.Result)
	}
	// The redirects were stored: Url then Twiml, which keeps Url as the base.
	c, err := svc.FindCall(ctx, f.Acct.Sid, f.Call.Sid)
	if err != nil {
		t.Fatal(err)
	}
	if c.URL != "https://example.com/next" || c.Method != "GET" || c.Twiml != "<Response/>" || c.StatusCallback != "https://example.com/p" {
		t.Errorf("after the redirects: Url %q Method %q Twiml %q StatusCallback %q", c.URL, c.Method, c.Twiml, c.StatusCallback)
	}
}
