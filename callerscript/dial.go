package callerscript

import (
	"errors"

	"github.com/tonepay/tonepay/client"
)

// errNoDial is applyDial's answer until the server's scriptable far end of
// a <Dial> is wired (client.CallParams.Dial, client.InboundParams.Dial).
var errNoDial = errors.New("call.dial: this build cannot script the far end of a <Dial> yet")

// applyDial puts a test's call.dial (answer, busy, no-answer, failed,
// answer:N; "" for the server's default) on the call it places: exactly one
// of out and in is not nil. It is the one place that knows how.
func applyDial(dial string, out *client.CallParams, in *client.InboundParams) error {
	if dial == "" {
		return nil
	}
	return errNoDial
}
