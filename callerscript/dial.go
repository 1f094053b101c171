package callerscript

import "github.com/tonepay/tonepay/client"

// applyDial puts a test's call.dial (answer, busy, no-answer, failed,
// answer:N; "" for the server's default) on the call it places: exactly one
// of out and in is not nil. It is the one place that knows how; the server
// checks the value (tonepay.ParseFarEnd).
func applyDial(dial string, out *client.CallParams, in *client.InboundParams) error {
	if out != nil {
		out.Dial = dial
	}
	if in != nil {
		in.Dial = dial
	}
	return nil
}
