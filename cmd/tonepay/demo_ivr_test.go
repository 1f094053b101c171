package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDemoIVR runs the built binary's `demo --ivr`: the caller's side of a
// <Pay> IVR, every webhook signed, the result, and never a card number.
func TestDemoIVR(t *testing.T) {
	out, err := exec.Command(binary, "demo", "--ivr").CombinedOutput()
	s := string(out)
	if err != nil {
		t.Fatalf("demo --ivr: %v\n%s", err, s)
	}
	for _, want := range []string{
		`hears  "Welcome to Acme Utilities.`,
		`hears  "To pay by card, please enter your card number, then press pound."`,
		`hears  "That card number is not valid.`,
		`hears  "Please enter the expiry date`,
		"types  the card number (16 keys, then #)",
		"POST /voice (TwiML fetch",
		"statusCallback For=payment-card-number Attempt=2 ErrorType=invalid-card-number",
		"statusCallback For=payment-processing",
		"action Result=success",
		"PaymentCardNumber=xxxxxxxxxxxx4242",
		"signature valid",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, "Result=success PaymentConfirmationCode=") {
		t.Errorf("last line %q, want the result", last)
	}
	if strings.Contains(s, "INVALID") || strings.Contains(s, "4242424242424242") || strings.Contains(s, "4242424242424241") {
		t.Errorf("a bad signature or a card number:\n%s", s)
	}
	if t.Failed() {
		t.Log(s)
	}
}
