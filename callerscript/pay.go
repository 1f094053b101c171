package callerscript

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/client"
)

// value is what the caller types for field f, and whether the field ends by
// itself at that length (then a # would go to whoever listens next: a
// <Gather> after the <Pay>, say).
func (c Card) value(f tonepay.Field, cardType string) (keys string, full bool) {
	switch f.Base() {
	case tonepay.FieldCardNumber:
		return c.Number, len(c.Number) >= 19
	case tonepay.FieldExpiration:
		return c.Expiry, true
	case tonepay.FieldSecurityCode:
		n := 3
		if cardType == "amex" {
			n = 4
		}
		return c.CVV, len(c.CVV) >= n
	case tonepay.FieldPostalCode:
		return c.Postal, false
	case tonepay.FieldRoutingNumber:
		return c.RoutingNumber, true
	case tonepay.FieldAccountNumber:
		return c.AccountNumber, len(c.AccountNumber) >= 17
	}
	return "", false
}

// pay answers each field the call's payment session asks for (a <Pay>'s,
// or an agent's Capture) until that session is no longer open. It watches
// the masked view of the session: which field is being captured, and
// whether anyone typed of it yet.
func (cr *callRun) pay(ctx context.Context, s *Step, d time.Duration) *Failure {
	c := cr.r.Client
	var (
		sid    string
		typed  = map[tonepay.Field]bool{}
		last   *client.PaymentView
		asking time.Time = time.Now() // since when we wait for the session's next ask
	)
	for {
		var v *client.PaymentView
		timedOut, err := poll(ctx, d-time.Since(asking), func() (bool, error) {
			views, err := c.PaymentViews(ctx, cr.sid)
			if err != nil {
				return false, err
			}
			v = nil
			for i := range views {
				if (sid == "" && views[i].Status == "open") || (sid != "" && views[i].Sid == sid) {
					v = &views[i]
					break
				}
			}
			switch {
			case v == nil:
				call, err := c.FetchCall(ctx, cr.sid)
				if err == nil && ended(call.Status) {
					return false, errCallEnded
				}
				return false, err
			case v.Status != "open":
				return true, nil // done: its end is the app's to say
			}
			return v.Capture != "" && v.Typed == 0, nil
		})
		if v != nil {
			last, sid = v, v.Sid
		}
		switch {
		case err == errCallEnded:
			return &Failure{Message: "the call ended with no payment session open", Expected: "a <Pay> or an agent asking for a card"}
		case err != nil:
			return &Failure{Message: err.Error()}
		case timedOut && last == nil:
			return &Failure{Message: fmt.Sprintf("no payment session opened within %s", d), Expected: "a <Pay> or an agent asking for a card"}
		case timedOut:
			return &Failure{Message: fmt.Sprintf("the payment session asked for nothing within %s", d), Heard: describe(last)}
		}
		if last.Status != "open" {
			return nil
		}
		f := tonepay.Field(last.Capture)
		if typed[f.Base()] && !f.IsMatcher() {
			return &Failure{Message: fmt.Sprintf("the payment session asked for %s again: %s", f, orNone(last.ErrorType)), Heard: describe(last)}
		}
		keys, full := s.Card.value(f, last.CardType)
		if keys == "" {
			return &Failure{Message: fmt.Sprintf("the payment session asks for %s, which %s has no value for", f, s.Card), Heard: describe(last)}
		}
		if !full {
			keys += "#"
		}
		typed[f.Base()] = true
		if _, err := c.Press(ctx, cr.sid, keys); err != nil {
			return &Failure{Message: "typing " + string(f) + ": " + err.Error()}
		}
		asking = time.Now()
	}
}

func orNone(s string) string {
	if s == "" {
		return "no error given"
	}
	return s
}

// describe is a payment session as a failure may show it: masked.
func describe(v *client.PaymentView) string {
	if v == nil {
		return ""
	}
	parts := []string{"payment " + v.Sid + " " + v.Status}
	if v.Capture != "" {
		parts = append(parts, "capturing "+v.Capture)
	}
	if v.ErrorType != "" {
		parts = append(parts, "error "+v.ErrorType)
	}
	if v.Result != "" {
		parts = append(parts, "result "+v.Result)
	}
	return strings.Join(parts, ", ")
}
