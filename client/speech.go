package client

import (
	"context"
	"net/url"
	"strconv"
)

// Spoken is the answer to Speak: whether a <Gather> listening for speech
// took the words (false: nobody listened, and they were dropped).
type Spoken struct {
	CallSid string `json:"call_sid"`
	Heard   bool   `json:"heard"`
}

// Speak has the caller of a simulated call say text, as one utterance, with
// the recogniser's confidence (above 0, at most 1; 0 sends none, and tonepay
// uses 0.9). It answers once the words were applied and the TwiML they
// caused has run: a <Gather input="speech"> got them as SpeechResult.
func (c *Client) Speak(ctx context.Context, callSid, text string, confidence float64) (Spoken, error) {
	f := url.Values{"Text": {text}}
	if confidence != 0 {
		f.Set("Confidence", strconv.FormatFloat(confidence, 'f', -1, 64))
	}
	var out Spoken
	return out, c.do(ctx, c.ext(calls(callSid)+"/Speech"), f, &out)
}

// Say is Speak for a caller who does not ask whether anyone listened (a
// caller script's say step): Say(ctx, callSid, "I want an agent", 0).
func (c *Client) Say(ctx context.Context, callSid, text string, confidence float64) error {
	_, err := c.Speak(ctx, callSid, text, confidence)
	return err
}
