package client

import (
	"context"
	"encoding/json"
	"net/url"
	"strconv"
	"time"
)

// Entry is one row of a call's timeline: what the caller heard and did,
// each request to the app, errors and warnings with Twilio's codes. Keys a
// caller typed are shown only where they may be (a Gather's, with no payment
// open); others are masked, one * a key.
type Entry struct {
	Seq      int64     `json:"seq"`
	At       time.Time `json:"at"`
	Kind     string    `json:"kind"` // fetch, fetched, verb, say, play, key, error, warning, hangup, webhook, ...
	Verb     string    `json:"verb"`
	Text     string    `json:"text"` // words heard, a URL played, keys, a Dial target
	URL      string    `json:"url"`
	Method   string    `json:"method"`
	Status   int       `json:"status"` // fetched: the HTTP status
	Code     int       `json:"code"`   // error, warning, hangup: Twilio's code
	Voice    string    `json:"voice"`
	Language string    `json:"language"`
	Loop     int       `json:"loop"`
	Masked   bool      `json:"masked"`
	// Raw is the entry as the server sent it, every field included (a kind
	// may carry fields not listed above).
	Raw json.RawMessage `json:"-"`
}

// UnmarshalJSON decodes the known fields and keeps the whole entry in Raw.
func (e *Entry) UnmarshalJSON(b []byte) error {
	type plain Entry
	if err := json.Unmarshal(b, (*plain)(e)); err != nil {
		return err
	}
	e.Raw = append(json.RawMessage(nil), b...)
	return nil
}

// TimelinePage is one page of a call's timeline.
type TimelinePage struct {
	CallSid string  `json:"call_sid"`
	Status  string  `json:"status"` // the call's, read before the entries
	Entries []Entry `json:"entries"`
	// NextAfter is the After of the next page.
	NextAfter int64 `json:"next_after"`
}

// MaxTimelinePage is the largest page Timeline asks for (Twilio's largest
// PageSize).
const MaxTimelinePage = 1000

// Timeline reads the entries of a call's timeline after the one whose Seq
// is after (0: from the start), at most pageSize (1..1000; 0 asks for
// 1000). The call's status is read before its entries: once it says the
// call ended, every entry of its TwiML is on this or an earlier page.
func (c *Client) Timeline(ctx context.Context, callSid string, after int64, pageSize int) (*TimelinePage, error) {
	if pageSize == 0 {
		pageSize = MaxTimelinePage
	}
	q := url.Values{"After": {strconv.FormatInt(after, 10)}, "PageSize": {strconv.Itoa(pageSize)}}
	var out TimelinePage
	return &out, c.do(ctx, c.ext(calls(callSid)+"/Timeline?"+q.Encode()), nil, &out)
}

// EachEntry calls fn with each entry of the call's timeline, in order, a
// page at a time.
func (c *Client) EachEntry(ctx context.Context, callSid string, fn func(Entry)) error {
	after := int64(0)
	for {
		page, err := c.Timeline(ctx, callSid, after, MaxTimelinePage)
		if err != nil {
			return err
		}
		for _, e := range page.Entries {
			fn(e)
		}
		if len(page.Entries) < MaxTimelinePage || page.NextAfter <= after {
			return nil
		}
		after = page.NextAfter
	}
}
