package e2e

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"

	twclient "github.com/twilio/twilio-go/client"
)

// Receiver is a status callback endpoint on loopback that checks every
// signature with twilio-go's own validator, as a Twilio app does, and keeps
// every delivery. Its URL (the embedded server's) is a StatusCallback.
type Receiver struct {
	*httptest.Server
	token string

	mu     sync.Mutex
	got    []Delivery
	status int // what to answer; 204 unless set
}

// Delivery is one request a Receiver got.
type Delivery struct {
	URL       string
	Form      url.Values
	Token     string // I-Twilio-Idempotency-Token
	Signature string
	Valid     bool // a POST signed with the account's auth token
}

// NewReceiver starts a receiver that checks signatures with authToken; it
// closes when the test ends.
func NewReceiver(t testing.TB, authToken string) *Receiver {
	rc := &Receiver{token: authToken, status: http.StatusNoContent}
	rc.Server = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *Receiver) serve(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	full := "http://" + r.Host + r.URL.RequestURI()
	params := map[string]string{}
	for k := range r.PostForm {
		params[k] = r.PostForm.Get(k)
	}
	v := twclient.NewRequestValidator(rc.token)
	d := Delivery{
		URL:       full,
		Form:      r.PostForm,
		Token:     r.Header.Get("I-Twilio-Idempotency-Token"),
		Signature: r.Header.Get("X-Twilio-Signature"),
	}
	d.Valid = r.Method == "POST" && v.Validate(full, params, d.Signature)
	rc.mu.Lock()
	rc.got = append(rc.got, d)
	status := rc.status
	rc.mu.Unlock()
	w.WriteHeader(status)
}

// SetStatus changes the HTTP status the receiver answers with.
func (rc *Receiver) SetStatus(s int) { rc.mu.Lock(); rc.status = s; rc.mu.Unlock() }

// Deliveries lists every request received, in arrival order.
func (rc *Receiver) Deliveries() []Delivery {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]Delivery(nil), rc.got...)
}

// ForSession returns the deliveries of one payment session (Sid=pk), in
// arrival order.
func (rc *Receiver) ForSession(pk string) []Delivery {
	var out []Delivery
	for _, d := range rc.Deliveries() {
		if d.Form.Get("Sid") == pk {
			out = append(out, d)
		}
	}
	return out
}
