package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/tonepay/tonepay"
)

// TestStreamEndToEnd: `tonepay serve` runs a call's <Connect><Stream>: the
// upgrade is signed with the account's auth token, a key pressed through
// the keypad API is a dtmf frame, the app's close sends the call to the
// <Connect action>, and the stream's statusCallbacks are delivered signed
// with Twilio's parameters.
func TestStreamEndToEnd(t *testing.T) {
	fs := newVoiceServer(t)
	token := tonepay.NewSecret(fs.token)
	var mu sync.Mutex
	var frames []map[string]any
	signed := false
	pressed := make(chan struct{})
	ws := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ok := tonepay.ValidSignature(token, "ws://"+r.Host+r.URL.RequestURI(), nil, r.Header.Get("X-Twilio-Signature"))
		mu.Lock()
		signed = ok
		mu.Unlock()
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		for {
			_, b, err := c.Read(r.Context())
			if err != nil {
				return
			}
			var m map[string]any
			json.Unmarshal(b, &m)
			mu.Lock()
			frames = append(frames, m)
			mu.Unlock()
			if m["event"] == "dtmf" {
				close(pressed)
				c.Close(websocket.StatusNormalClosure, "done") // the app ends the <Connect>
				return
			}
		}
	}))
	t.Cleanup(ws.Close)
	streams := newReceiver(t, fs.token)
	app := newVoiceApp(t, fs.token, map[string]string{
		"/start": `<Response><Connect action="/after"><Stream url="ws://` + strings.TrimPrefix(ws.URL, "http://") + `/media?x=1" statusCallback="` + streams.srv.URL + `/streams"/></Connect></Response>`,
		"/after": `<Response><Say>after the stream</Say><Pause length="60"/></Response>`,
	})
	code, b, err := fs.do("POST", fs.api("/Calls.json"), url.Values{"To": {"+15005550006"}, "From": {"+15005550001"}, "Url": {app.url("/start")}})
	if err != nil || code != http.StatusCreated {
		t.Fatalf("create: %d %v %s", code, err, b)
	}
	var call struct{ Sid string }
	json.Unmarshal(b, &call)
	waitFor(t, 15*time.Second, "the stream's start", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(frames) >= 2
	})
	if code, b, err := fs.do("POST", fs.ext("/Calls/"+call.Sid+"/Digits"), url.Values{"Digits": {"7"}}); err != nil || code != 200 {
		t.Fatalf("digits: %d %v %s", code, err, b)
	}
	select {
	case <-pressed:
	case <-time.After(15 * time.Second):
		t.Fatal("no dtmf frame")
	}
	waitFor(t, 15*time.Second, "the connect action", func() bool {
		for _, r := range app.requests() {
			if r.Path == "/after" {
				return true
			}
		}
		return false
	})
	waitFor(t, 15*time.Second, "two stream callbacks", func() bool { return len(streams.deliveries()) == 2 })
	mu.Lock()
	if !signed {
		t.Error("the upgrade's X-Twilio-Signature did not check")
	}
	start := frames[1]["start"].(map[string]any)
	mu.Unlock()
	for i, d := range streams.deliveries() {
		want := []string{"stream-started", "stream-stopped"}[i]
		if !d.Valid || d.Form.Get("StreamEvent") != want || d.Form.Get("StreamSid") != start["streamSid"] || d.Form.Get("StreamName") != start["streamSid"] ||
			d.Form.Get("CallSid") != call.Sid || d.Form.Get("AccountSid") != fs.sid || d.Form.Get("Timestamp") == "" {
			t.Errorf("callback %d: valid %v %v", i, d.Valid, d.Form)
		}
	}
	app.checkSigned()
	if code, b, err := fs.do("POST", fs.api("/Calls/"+call.Sid+".json"), url.Values{"Status": {"completed"}}); err != nil || code != 200 {
		t.Fatalf("hang up: %d %v %s", code, err, b)
	}
}
