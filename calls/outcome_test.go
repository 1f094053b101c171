package calls_test

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/internal/servicetest"
)

// payRow is a "payment" entry of the timeline as stored.
type payRow struct {
	Kind             string `json:"kind"`
	Verb             string `json:"verb"`
	Text             string `json:"text"`
	Code             int    `json:"code"`
	PaymentSid       string `json:"payment_sid"`
	ConfirmationCode string `json:"payment_confirmation_code"`
	CardType         string `json:"card_type"`
	CardNumber       string `json:"payment_card_number"`
	PaymentError     string `json:"payment_error"`
}

var sids = regexp.MustCompile(`\b(AC|CA|PK)[0-9a-f]{32}\b`)

// TestOutcomeOnTimeline: each session's end is one "payment" row on its
// call's timeline, an agent's and a <Pay>'s, with the result, the
// confirmation code and the card masked (no token, no digit typed beyond
// the last four); after the hang-up that ended it, and before the <Pay>
// action that its end causes.
func TestOutcomeOnTimeline(t *testing.T) {
	held := func(r *tonepay.CreateCallRequest) { r.URL = "https://example.com/twiml" }
	tests := []struct {
		name  string
		pages map[string]string // nil: the call holds
		play  func(t *testing.T, f *fixture, svc *servicetest.Process) string
		want  payRow
		order []string // entries around the row, in order ("payment:" is the row)
	}{
		{"agent, charged", nil, func(t *testing.T, f *fixture, svc *servicetest.Process) string {
			pk := f.CapturedSession(t, svc)
			if err := f.Complete(svc, pk, "done"); err != nil {
				t.Fatal(err)
			}
			svc.Wait()
			return pk
		}, payRow{Text: "success", CardType: "visa", CardNumber: "xxxxxxxxxxxx4242"}, nil},
		{"agent, declined", nil, func(t *testing.T, f *fixture, svc *servicetest.Process) string {
			pk := f.CapturedSessionWith(t, svc, "4000000000000002#")
			if err := f.Complete(svc, pk, "done"); err != nil {
				t.Fatal(err)
			}
			svc.Wait()
			return pk
		}, payRow{Text: "payment-connector-error", Code: 64012, CardType: "visa", CardNumber: "xxxxxxxxxxxx0002"}, nil},
		{"agent, the caller hung up", nil, func(t *testing.T, f *fixture, svc *servicetest.Process) string {
			pk := f.CapturedSession(t, svc)
			if _, err := svc.HangUp(context.Background(), f.Acct.Sid, f.Call.Sid); err != nil {
				t.Fatal(err)
			}
			return pk
		}, payRow{Text: "caller-hung-up", CardType: "visa", CardNumber: "xxxxxxxxxxxx4242"}, []string{"hangup:completed", "payment:caller-hung-up"}},
		{"<Pay>, charged", map[string]string{
			"start": `<Response><Pay chargeAmount="1.00" postalCode="false" timeout="30" action="paid"/></Response>`,
			"paid":  `<Response><Say>Thank you</Say><Pause length="60"/></Response>`,
		}, func(t *testing.T, f *fixture, svc *servicetest.Process) string {
			s, err := f.Store.FindOpenSession(context.Background(), f.Call.Sid)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := svc.Keypad(context.Background(), f.Acct.Sid, f.Call.Sid, "4242424242424242#1230123"); err != nil {
				t.Fatal(err)
			}
			svc.Wait()
			return s.Sid
		}, payRow{Verb: "Pay", Text: "success", CardType: "visa", CardNumber: "xxxxxxxxxxxx4242"}, []string{"payment:success", "verb:ended: Result=success", "fetch:paid", "say:Thank you"}},
		{"<Pay>, the caller pressed *", map[string]string{
			"start": `<Response><Pay chargeAmount="1.00" timeout="30" action="paid"/></Response>`,
			"paid":  `<Response><Pause length="60"/></Response>`,
		}, func(t *testing.T, f *fixture, svc *servicetest.Process) string {
			s, err := f.Store.FindOpenSession(context.Background(), f.Call.Sid)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := svc.Keypad(context.Background(), f.Acct.Sid, f.Call.Sid, "42*"); err != nil {
				t.Fatal(err)
			}
			return s.Sid
		}, payRow{Verb: "Pay", Text: "caller-interrupted-with-star"}, []string{"payment:caller-interrupted-with-star", "fetch:paid"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			svc := f.voiceService(t, newApp(tt.pages))
			mod := held
			if tt.pages != nil {
				mod = nil
			}
			f.Call = f.placeCall(t, svc, mod)
			pk := tt.play(t, f, svc)
			s := f.Session(t, pk)
			if s.Status != tonepay.SessionEnded {
				t.Fatalf("the session is %s, want ended", s.Status)
			}
			var rows []payRow
			for _, b := range storedEntries(t, f, f.Call.Sid) {
				bare := sids.ReplaceAllString(string(b), "") // random hex may hold any digits
				for _, digits := range []string{"424242", "400000", "1230"} {
					if strings.Contains(bare, digits) {
						t.Errorf("entry %s holds %s", b, digits)
					}
				}
				var r payRow
				if err := json.Unmarshal(b, &r); err != nil {
					t.Fatal(err)
				}
				if r.Kind == "payment" {
					if strings.Contains(string(b), "token") {
						t.Errorf("entry %s holds a token", b)
					}
					rows = append(rows, r)
				}
			}
			want := tt.want
			want.Kind, want.PaymentSid = "payment", pk
			want.ConfirmationCode, want.PaymentError = s.State.ConfirmationCode, s.State.PaymentError
			if want.Text == "success" && !strings.HasPrefix(want.ConfirmationCode, "ch_") {
				t.Errorf("confirmation code %q", want.ConfirmationCode)
			}
			if want.Code != 0 && want.PaymentError == "" {
				t.Errorf("a refusal with no payment_error: %+v", s.State)
			}
			if len(rows) != 1 || rows[0] != want {
				t.Fatalf("payment rows %+v, want one: %+v", rows, want)
			}
			if tl := f.timeline(t, f.Call.Sid); tt.order != nil && !has(tl, tt.order...) {
				t.Errorf("timeline %q, want in order %q", tl, tt.order)
			}
		})
	}
}
