package capture

import (
	"reflect"
	"regexp"
	"testing"
	"time"

	"github.com/tonepay/tonepay"
)

// masked is what each masked callback parameter may look like: nothing but
// the last four digits of a card, no digit of a security code, the last two
// of a bank account.
var masked = map[string]*regexp.Regexp{
	"PaymentCardNumber": regexp.MustCompile(`^x*[0-9]{0,4}$`),
	"SecurityCode":      regexp.MustCompile(`^x*$`),
	"BankAccountNumber": regexp.MustCompile(`^\**[0-9]{0,2}$`),
}

// FuzzEngine drives a session with arbitrary events and checks what must
// hold whatever the caller and the agent do: no panic; an event that fails
// changes nothing; no callback carries an unmasked value; a session ends
// once, and once ended holds no captured value. A third of the scripts run
// a <Pay> session (Params.Verb): it ends once too, by its action (masked
// as well), sends no callback of the agent's kind, and asks only for a
// field it collects, at an attempt within MaxAttempts.
func FuzzEngine(f *testing.F) {
	f.Add([]byte{0, 1, 5, '4', 5, '2', 5, '#', 1, 2, 5, '1', 3, 0}, false, true)
	f.Add([]byte("\x00\x05424242424242424\x05#\x01\x05\x05\x05\x06\x02\x07"), true, false)
	f.Add([]byte{0, 6, 5, '0', 5, '*'}, true, true)
	// <Pay> sessions: a whole card then its answer; failed attempts and a star.
	f.Add(verbScript("4242424242424242#4242424242424242#123012394109#", 7, 0), false, false)
	f.Add(verbScript("12#", 6, 40, 5, '#', 6, 200, 5, '*'), true, true)
	f.Fuzz(func(t *testing.T, script []byte, ach, charge bool) {
		e := Engine{FirstDigit: 30 * time.Second, Lease: time.Minute, GiveUp: 5 * time.Minute, Idle: 15 * time.Minute,
			NewTxID: func() string { return "TX1" }}
		s := newSession(func(p *tonepay.Params) {
			if ach {
				p.PaymentMethod, p.BankAccountType = tonepay.ACHDebit, tonepay.ConsumerChecking
			}
			if charge {
				p.ChargeAmount = "10.00"
			}
			p.RequireMatchingInputs = []tonepay.Field{tonepay.FieldCardNumber}
			if p.Verb = len(script)%3 == 0; p.Verb {
				p.MaxAttempts = 1 + len(script)%4%3
			} else {
				p.Confirmation = len(script)%2 == 0
			}
		})
		verb := s.Params.Verb
		if verb && len(script)%5 == 0 {
			s.State.StatusCallback = ""
		}
		sec := &Secrets{}
		now := t0
		if verb {
			checkAsk(t, s, e.StartVerb(s, now).Ask)
		} else {
			e.Start(s, now)
		}
		fields := append(s.Params.Fields(), "bogus")
		ends := 0
		for i := 0; i+1 < len(script); i += 2 {
			op, arg := script[i]%8, script[i+1]
			now = now.Add(time.Duration(arg) * time.Second / 4)
			var ev Input
			switch op {
			case 0, 1:
				ev = Input{Kind: RequestCapture, Field: fields[int(arg)%len(fields)], StatusCallback: "https://example.com/cb"}
			case 2:
				ev = Input{Kind: Complete}
			case 3:
				ev = Input{Kind: Cancel}
			case 4:
				ev = Input{Kind: HangUp}
			case 5:
				ev = Input{Kind: Digit, Key: arg}
			case 6:
				now = now.Add(time.Duration(arg) * time.Minute)
				ev = Input{Kind: Timeout}
			case 7:
				r := &tonepay.PayResult{ConfirmationCode: "ch_1"}
				if arg%2 == 1 {
					r = &tonepay.PayResult{ErrorCode: tonepay.CodeCardRejected, Message: "declined"}
				}
				ev = Input{Kind: Paid, Result: r}
			}
			before, beforeSec := cloneSession(s), cloneSecrets(sec)
			o, err := e.Apply(s, sec, ev, now)
			if err != nil {
				if tonepay.ErrorCode(err) == tonepay.CodeInternal {
					t.Fatalf("event %d %+v: internal error %v", i, ev, err)
				}
				if !reflect.DeepEqual(before, cloneSession(s)) || !reflect.DeepEqual(beforeSec, cloneSecrets(sec)) {
					t.Fatalf("event %d %+v failed (%v) but changed the session", i, ev, err)
				}
				continue
			}
			for _, cb := range o.Callbacks {
				for name, re := range masked {
					if v := cb.Form.Get(name); v != "" && !re.MatchString(v) {
						t.Fatalf("event %d: %s=%q is not masked", i, name, v)
					}
				}
				if cb.Form.Has("Result") {
					ends++
				}
				if verb && (cb.Form.Has("Result") || cb.Form.Has("PartialResult") || s.State.StatusCallback == "") {
					t.Fatalf("event %d: not a <Pay> callback: %v", i, cb.Form)
				}
			}
			if o.Action != nil {
				ends++
				if !verb {
					t.Fatalf("event %d: an agent's session has an action", i)
				}
				for name, re := range masked {
					if v := o.Action.Get(name); v != "" && !re.MatchString(v) {
						t.Fatalf("event %d: action %s=%q is not masked", i, name, v)
					}
				}
			}
			if verb {
				checkAsk(t, s, o.Ask)
				if s.Status == tonepay.SessionOpen && s.State.Capture == "" {
					t.Fatalf("event %d: an open <Pay> session asks nothing", i)
				}
			} else if o.Ask != nil {
				t.Fatalf("event %d: an agent's session asks %+v", i, o.Ask)
			}
			if s.Status == tonepay.SessionEnded && (len(sec.Values) != 0 || sec.Entry != "" || !s.Deadline.IsZero()) {
				t.Fatalf("event %d: an ended session keeps values %v entry %q deadline %v", i, sec.Values, sec.Entry, s.Deadline)
			}
		}
		if ends > 1 {
			t.Fatalf("the session ended %d times", ends)
		}
	})
}

// verbScript is keys as Digit events, then tail, padded with stale
// timeouts to a length that makes FuzzEngine run a <Pay> session.
func verbScript(keys string, tail ...byte) []byte {
	var b []byte
	for i := 0; i < len(keys); i++ {
		b = append(b, 5, keys[i])
	}
	b = append(b, tail...)
	for len(b)%3 != 0 {
		b = append(b, 6, 0)
	}
	return b
}

func checkAsk(t *testing.T, s *tonepay.Session, a *tonepay.PayAsk) {
	t.Helper()
	if a != nil && (!s.Params.Collects(a.Field) || a.Attempt < 1 || a.Attempt > s.Params.MaxAttempts || a.Field != s.State.Capture) {
		t.Fatalf("bad ask %+v (max %d, capturing %s)", a, s.Params.MaxAttempts, s.State.Capture)
	}
}

func cloneSession(s *tonepay.Session) tonepay.Session {
	c := *s
	c.State.Captured = map[tonepay.Field]string{}
	for k, v := range s.State.Captured {
		c.State.Captured[k] = v
	}
	return c
}

func cloneSecrets(sec *Secrets) Secrets {
	c := Secrets{Entry: sec.Entry, Values: map[tonepay.Field]string{}}
	for k, v := range sec.Values {
		c.Values[k] = v
	}
	return c
}
