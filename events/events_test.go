package events

import (
	"testing"

	"github.com/tonepay/tonepay"
)

func TestHub(t *testing.T) {
	h := New()
	a, stopA := h.Subscribe("AC1")
	b, stopB := h.Subscribe("AC2")
	defer stopB()
	h.Publish(tonepay.SessionChanged{AccountSid: "AC1", SessionSid: "PK1"})
	if e := <-a; e.SessionSid != "PK1" {
		t.Errorf("got %+v", e)
	}
	select {
	case e := <-b:
		t.Errorf("another account's event reached AC2: %+v", e)
	default:
	}
	for range 100 { // more than the buffer: Publish must not block
		h.Publish(tonepay.SessionChanged{AccountSid: "AC1", SessionSid: "PK2"})
	}
	stopA()
	h.Publish(tonepay.SessionChanged{AccountSid: "AC1"})
	if len(h.subs) != 1 {
		t.Errorf("subscriptions left: %v", h.subs)
	}
}
