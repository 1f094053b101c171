package client

import (
	"context"
	"net/url"
)

// Call is a call as Twilio's Calls resource shows it (the fields a client
// of tonepay reads; a null is "").
type Call struct {
	Sid           string `json:"sid"`
	AccountSid    string `json:"account_sid"`
	ParentCallSid string `json:"parent_call_sid"`
	To            string `json:"to"`
	From          string `json:"from"`
	Status        string `json:"status"`    // queued, ringing, in-progress, completed, busy, failed, no-answer, canceled
	Direction     string `json:"direction"` // outbound-api, inbound, outbound-dial
	ForwardedFrom string `json:"forwarded_from"`
	StartTime     string `json:"start_time"` // RFC 2822, as Twilio writes dates
	EndTime       string `json:"end_time"`
	Duration      string `json:"duration"` // seconds, once the call ended
	DateCreated   string `json:"date_created"`
	DateUpdated   string `json:"date_updated"`
	URI           string `json:"uri"`
}

// CallParams are the parameters of Calls create: To, From, and one of URL
// (the app's TwiML) or Twiml (a document to run).
type CallParams struct {
	To, From string
	URL      string // Url
	Method   string // the Url's method: POST (default) or GET
	Twiml    string
	// StatusCallback receives the call's progress (StatusCallbackEvent
	// chooses which, in Other).
	StatusCallback string
	// Dial is how the simulated far end of the call's <Dial>s behaves:
	// answer (""), busy, no-answer, failed, or answer:N (it hangs up after
	// N seconds). Sent as tonepay's TonepayDial.
	Dial string
	// Other holds any other parameter of Twilio's Calls create, by its
	// Twilio name (StatusCallbackEvent, FallbackUrl, Timeout, ...).
	Other url.Values
}

// CreateCall places a simulated call (Calls create). The server answers
// once the call waits for its caller or has ended: whatever its app's first
// document did is already on its timeline (an app that failed shows
// there as "error" entries, not as an error here).
func (c *Client) CreateCall(ctx context.Context, p CallParams) (*Call, error) {
	f := url.Values{}
	set(f, "To", p.To)
	set(f, "From", p.From)
	set(f, "Url", p.URL)
	set(f, "Method", p.Method)
	set(f, "Twiml", p.Twiml)
	set(f, "StatusCallback", p.StatusCallback)
	set(f, "TonepayDial", p.Dial)
	merge(f, p.Other)
	var out Call
	return &out, c.do(ctx, c.twilio("/Calls.json"), f, &out)
}

// FetchCall reads a call (Calls fetch); 20404 if it is not the account's.
func (c *Client) FetchCall(ctx context.Context, sid string) (*Call, error) {
	var out Call
	return &out, c.do(ctx, c.twilio(calls(sid)+".json"), nil, &out)
}

// CallUpdate are the parameters of Calls update; empty ones are not sent.
type CallUpdate struct {
	Status         string // completed (hang up) or canceled
	URL, Method    string // run this app's TwiML now
	Twiml          string // run this document now
	StatusCallback string
}

// UpdateCall changes a live call (Calls update): hangs it up or sends it to
// other TwiML. 21220 if it has ended.
func (c *Client) UpdateCall(ctx context.Context, sid string, u CallUpdate) (*Call, error) {
	f := url.Values{}
	set(f, "Status", u.Status)
	set(f, "Url", u.URL)
	set(f, "Method", u.Method)
	set(f, "Twiml", u.Twiml)
	set(f, "StatusCallback", u.StatusCallback)
	var out Call
	return &out, c.do(ctx, c.twilio(calls(sid)+".json"), f, &out)
}

// Hangup ends a call (Calls update Status=completed).
func (c *Client) Hangup(ctx context.Context, sid string) (*Call, error) {
	return c.UpdateCall(ctx, sid, CallUpdate{Status: "completed"})
}

// InboundParams are a simulated caller dialing in: To is one of the
// account's IncomingPhoneNumbers, whose VoiceUrl runs.
type InboundParams struct {
	To, From      string
	ForwardedFrom string // what a carrier says forwarded the call
	Dial          string // the far end of its <Dial>s, as CallParams.Dial
}

// Inbound places an inbound call to one of the account's numbers
// (POST /_tonepay/Accounts/{AC}/Calls/Inbound): it answers as CreateCall
// does. 21211 if To is not the account's number, 21212 for a bad From.
func (c *Client) Inbound(ctx context.Context, p InboundParams) (*Call, error) {
	f := url.Values{}
	set(f, "To", p.To)
	set(f, "From", p.From)
	set(f, "ForwardedFrom", p.ForwardedFrom)
	set(f, "Dial", p.Dial)
	var out Call
	return &out, c.do(ctx, c.ext("/Calls/Inbound"), f, &out)
}

// Pressed is the answer to Press: how many keys went to whoever listened
// (a payment capturing a field, a <Pay>, a <Gather>) and how many nobody
// took.
type Pressed struct {
	CallSid string `json:"call_sid"`
	Applied int    `json:"applied"`
	Dropped int    `json:"dropped"`
}

// Press has the caller press keys on a call: 0-9, * and #, w for half a
// second's wait (at most 256 keys and 120 waits a request). It answers once
// the keys were applied and the TwiML they caused has run.
func (c *Client) Press(ctx context.Context, callSid, keys string) (Pressed, error) {
	var out Pressed
	return out, c.do(ctx, c.ext(calls(callSid)+"/Digits"), url.Values{"Digits": {keys}}, &out)
}
