package client

import (
	"context"
	"io"
	"net/http"
	"net/url"
)

// Number is one of the account's IncomingPhoneNumbers (the fields a caller
// script reads).
type Number struct {
	Sid         string `json:"sid"`
	PhoneNumber string `json:"phone_number"`
	VoiceURL    string `json:"voice_url"`
	VoiceMethod string `json:"voice_method"`
}

// FindNumber returns the account's number phone (E.164), or nil if it has
// none such.
func (c *Client) FindNumber(ctx context.Context, phone string) (*Number, error) {
	var out struct {
		Numbers []Number `json:"incoming_phone_numbers"`
	}
	q := url.Values{"PhoneNumber": {phone}, "PageSize": {"50"}}
	if err := c.do(ctx, c.twilio("/IncomingPhoneNumbers.json?"+q.Encode()), nil, &out); err != nil {
		return nil, err
	}
	for _, n := range out.Numbers {
		if n.PhoneNumber == phone {
			return &n, nil
		}
	}
	return nil, nil
}

// CreateNumber adds a number to the account whose calls run voiceURL
// (method "" is POST).
func (c *Client) CreateNumber(ctx context.Context, phone, voiceURL, method string) (*Number, error) {
	f := url.Values{"PhoneNumber": {phone}}
	set(f, "VoiceUrl", voiceURL)
	set(f, "VoiceMethod", method)
	var out Number
	return &out, c.do(ctx, c.twilio("/IncomingPhoneNumbers.json"), f, &out)
}

// UpdateNumberVoice points a number's calls at voiceURL.
func (c *Client) UpdateNumberVoice(ctx context.Context, sid, voiceURL, method string) (*Number, error) {
	f := url.Values{"VoiceUrl": {voiceURL}}
	set(f, "VoiceMethod", method)
	var out Number
	return &out, c.do(ctx, c.twilio("/IncomingPhoneNumbers/"+url.PathEscape(sid)+".json"), f, &out)
}

// DeleteNumber removes a number from the account.
func (c *Client) DeleteNumber(ctx context.Context, sid string) error {
	path := c.twilio("/IncomingPhoneNumbers/" + url.PathEscape(sid) + ".json")
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, c.base+path, nil)
	if err != nil {
		return err
	}
	req.SetBasicAuth(c.account, c.token.Reveal())
	res, err := c.HTTPClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	io.Copy(io.Discard, io.LimitReader(res.Body, maxBody))
	if res.StatusCode >= 400 {
		return &Error{Method: http.MethodDelete, Path: path, Status: res.StatusCode}
	}
	return nil
}
