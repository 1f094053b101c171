package client

import (
	"context"
	"errors"
)

// Say has the caller say words on a call, for <Gather input="speech">.
// Stub until speech input lands (client/speech.go): delete this file then.
func (c *Client) Say(ctx context.Context, callSid, text string, confidence float64) error {
	return errors.New("speech input is not available yet")
}
