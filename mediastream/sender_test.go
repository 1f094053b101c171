package mediastream_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/dtmf"
	"github.com/tonepay/tonepay/mediastream"
	"github.com/tonepay/tonepay/store/sqlite"
	"github.com/tonepay/tonepay/store/storetest"
)

// wsApp is a Twilio Media Streams app on loopback: it checks each upgrade's
// X-Twilio-Signature over ws://host/path?query, records every frame raw, and
// lets the test send frames and close.
type wsApp struct {
	t     *testing.T
	token tonepay.Secret
	srv   *httptest.Server
	conns chan *appConn
	// hold: accept, then never read (a dead app).
	hold bool
}

type appConn struct {
	c      *websocket.Conn
	mu     sync.Mutex
	frames []map[string]any
	raw    [][]byte
	closed chan struct{}
}

func newWSApp(t *testing.T, token tonepay.Secret) *wsApp {
	a := &wsApp{t: t, token: token, conns: make(chan *appConn, 8)}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !tonepay.ValidSignature(a.token, "ws://"+r.Host+r.URL.RequestURI(), nil, r.Header.Get("X-Twilio-Signature")) {
			http.Error(w, "bad signature", http.StatusForbidden)
			return
		}
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		ac := &appConn{c: c, closed: make(chan struct{})}
		a.conns <- ac
		if a.hold {
			<-r.Context().Done()
			return
		}
		defer close(ac.closed)
		for {
			_, b, err := c.Read(context.Background())
			if err != nil {
				return
			}
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil {
				t.Errorf("not JSON: %s", b)
			}
			ac.mu.Lock()
			ac.frames, ac.raw = append(ac.frames, m), append(ac.raw, b)
			ac.mu.Unlock()
		}
	}))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *wsApp) url(path string) string { return "ws" + strings.TrimPrefix(a.srv.URL, "http") + path }

func (a *wsApp) conn(t *testing.T) *appConn {
	t.Helper()
	select {
	case c := <-a.conns:
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("the stream never connected")
		return nil
	}
}

func (c *appConn) snapshot() []map[string]any {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]map[string]any(nil), c.frames...)
}

// waitFor waits until cond holds over the frames so far, and returns them.
func (c *appConn) waitFor(t *testing.T, what string, cond func([]map[string]any) bool) []map[string]any {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		fs := c.snapshot()
		if cond(fs) {
			return fs
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: %d frames", what, len(fs))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (c *appConn) send(t *testing.T, f any) {
	t.Helper()
	b, _ := json.Marshal(f)
	if err := c.c.Write(context.Background(), websocket.MessageText, b); err != nil {
		t.Fatal(err)
	}
}

func count(fs []map[string]any, event string) int {
	n := 0
	for _, f := range fs {
		if f["event"] == event {
			n++
		}
	}
	return n
}

// index is the position of the first frame of event (with name, for marks).
func index(fs []map[string]any, event, name string) int {
	for i, f := range fs {
		if f["event"] == event && (name == "" || f["mark"].(map[string]any)["name"] == name) {
			return i
		}
	}
	return -1
}

type events struct {
	started chan struct{}
	marks   chan string
	ended   chan tonepay.StreamEnd
}

func newEvents() (*events, tonepay.StreamEvents) {
	e := &events{started: make(chan struct{}, 1), marks: make(chan string, 100), ended: make(chan tonepay.StreamEnd, 1)}
	return e, tonepay.StreamEvents{Started: func() { e.started <- struct{}{} }, Mark: func(n string) { e.marks <- n },
		Ended: func(end tonepay.StreamEnd) { e.ended <- end }}
}

func (e *events) end(t *testing.T) tonepay.StreamEnd {
	t.Helper()
	select {
	case end := <-e.ended:
		return end
	case <-time.After(15 * time.Second):
		t.Fatal("the stream never ended")
		return tonepay.StreamEnd{}
	}
}

type setup struct {
	sender *mediastream.Sender
	acct   *tonepay.Account
	app    *wsApp
}

func newSetup(t *testing.T) *setup {
	store, err := sqlite.Open(filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	acct := storetest.MustAccount(t, store, "", time.Now())
	return &setup{sender: &mediastream.Sender{Client: &http.Client{}, Accounts: store}, acct: acct, app: newWSApp(t, acct.AuthToken)}
}

func (s *setup) request(path string, bidi bool) tonepay.StreamRequest {
	return tonepay.StreamRequest{AccountSid: s.acct.Sid, CallSid: "CA" + strings.Repeat("1", 32), StreamSid: "MZ" + strings.Repeat("2", 32),
		URL: s.app.url(path), Tracks: []string{"inbound"}, Bidirectional: bidi, Parameters: map[string]string{"FirstName": "Jane"}}
}

// TestSenderFrames: Twilio's frames in Twilio's order and types, media every
// 20 ms with chunks and timestamps counting, a key's tones in the audio (no
// dtmf frame on a unidirectional stream), and stop at the end.
func TestSenderFrames(t *testing.T) {
	s := newSetup(t)
	ev, handlers := newEvents()
	req := s.request("/media?call=1", false)
	st := s.sender.OpenStream(context.Background(), req, handlers)
	c := s.app.conn(t)
	<-ev.started
	c.waitFor(t, "10 media frames", func(fs []map[string]any) bool { return count(fs, "media") >= 10 })
	st.Press('5')
	c.waitFor(t, "the key's tone and gap", func(fs []map[string]any) bool { return count(fs, "media") >= 30 })
	st.Stop()
	end := ev.end(t)
	if end.Why != tonepay.StreamStopped {
		t.Errorf("end %+v", end)
	}
	<-c.closed
	fs := c.snapshot()

	var first struct {
		Event, Protocol, Version string
		SequenceNumber           *string
	}
	json.Unmarshal(c.raw[0], &first)
	if first.Event != "connected" || first.Protocol != "Call" || first.Version != "1.0.0" || first.SequenceNumber != nil {
		t.Errorf("first frame %s", c.raw[0])
	}
	start := fs[1]
	want := map[string]any{"event": "start", "sequenceNumber": "1", "streamSid": req.StreamSid, "start": map[string]any{
		"accountSid": s.acct.Sid, "streamSid": req.StreamSid, "callSid": req.CallSid, "tracks": []any{"inbound"},
		"mediaFormat":      map[string]any{"encoding": "audio/x-mulaw", "sampleRate": float64(8000), "channels": float64(1)},
		"customParameters": map[string]any{"FirstName": "Jane"}}}
	if b1, b2 := mustJSON(start), mustJSON(want); b1 != b2 {
		t.Errorf("start\n got %s\nwant %s", b1, b2)
	}
	det := dtmf.NewDetector()
	var keys []byte
	chunk := 0
	for i, f := range fs[1:] {
		if f["sequenceNumber"] != mediastream.Seq(int64(i+1)) {
			t.Fatalf("frame %d: sequenceNumber %#v", i+1, f["sequenceNumber"])
		}
		if f["streamSid"] != req.StreamSid {
			t.Fatalf("frame %d: streamSid %v", i+1, f["streamSid"])
		}
		switch f["event"] {
		case "media":
			chunk++
			m := f["media"].(map[string]any)
			if m["track"] != "inbound" || m["chunk"] != mediastream.Seq(int64(chunk)) {
				t.Fatalf("media %v", m)
			}
			if _, ok := m["timestamp"].(string); !ok {
				t.Fatalf("timestamp %#v", m["timestamp"])
			}
			audio, err := base64.StdEncoding.DecodeString(m["payload"].(string))
			if err != nil || len(audio) != 160 {
				t.Fatalf("payload: %d bytes, %v", len(audio), err)
			}
			for _, k := range det.WriteMulaw(audio) {
				keys = append(keys, k.Digit)
			}
		case "dtmf":
			t.Errorf("a dtmf frame on a unidirectional stream")
		}
	}
	if string(keys) != "5" {
		t.Errorf("keys heard in the media: %q", keys)
	}
	last := fs[len(fs)-1]
	if last["event"] != "stop" || mustJSON(last["stop"]) != mustJSON(map[string]any{"accountSid": s.acct.Sid, "callSid": req.CallSid}) {
		t.Errorf("last frame %v", last)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestSenderBidirectional: a dtmf frame per key; the app's audio plays in
// real time, a mark comes back once the audio before it has played (at once
// on an empty queue), a clear returns every pending mark; the app's close
// ends the stream.
func TestSenderBidirectional(t *testing.T) {
	s := newSetup(t)
	ev, handlers := newEvents()
	st := s.sender.OpenStream(context.Background(), s.request("/bidi", true), handlers)
	c := s.app.conn(t)
	<-ev.started
	sid := s.request("", true).StreamSid
	mark := func(name string) {
		c.send(t, map[string]any{"event": "mark", "streamSid": sid, "mark": map[string]string{"name": name}})
	}
	media := func(seconds int) { // a second a frame: a frame is at most 64 KiB
		for range seconds {
			c.send(t, map[string]any{"event": "media", "streamSid": sid, "media": map[string]string{
				"payload": base64.StdEncoding.EncodeToString([]byte(strings.Repeat("\xff", 8000)))}})
		}
	}

	st.Press('#')
	st.Press('7')
	fs := c.waitFor(t, "two dtmf frames", func(fs []map[string]any) bool { return count(fs, "dtmf") == 2 })
	var digits []string
	for _, f := range fs {
		if f["event"] == "dtmf" {
			d := f["dtmf"].(map[string]any)
			if d["track"] != "inbound_track" {
				t.Errorf("dtmf %v", d)
			}
			digits = append(digits, d["digit"].(string))
		}
	}
	if strings.Join(digits, "") != "#7" {
		t.Errorf("dtmf digits %v", digits)
	}

	mark("empty")
	c.waitFor(t, "the empty queue's mark", func(fs []map[string]any) bool { return index(fs, "mark", "empty") >= 0 })

	before := count(c.snapshot(), "media")
	media(1)
	mark("one-second")
	fs = c.waitFor(t, "the mark after one second", func(fs []map[string]any) bool { return index(fs, "mark", "one-second") >= 0 })
	if n := count(fs[:index(fs, "mark", "one-second")], "media") - before; n < 40 {
		t.Errorf("the mark came back after %d media frames, want about 50 (one second)", n)
	}

	before = count(c.snapshot(), "media")
	media(10)
	mark("cleared")
	c.send(t, map[string]any{"event": "clear", "streamSid": sid})
	fs = c.waitFor(t, "the cleared mark", func(fs []map[string]any) bool { return index(fs, "mark", "cleared") >= 0 })
	if n := count(fs[:index(fs, "mark", "cleared")], "media") - before; n > 250 {
		t.Errorf("the cleared mark came back after %d media frames: not at the clear", n)
	}
	for _, want := range []string{"empty", "one-second", "cleared"} {
		if got := <-ev.marks; got != want {
			t.Errorf("mark event %q, want %q", got, want)
		}
	}

	c.c.Close(websocket.StatusNormalClosure, "bye")
	end := ev.end(t)
	if end.Why != tonepay.StreamClosed || end.Audio != 11*time.Second {
		t.Errorf("end %+v", end)
	}
}

// TestSenderFailures: a refused upgrade, and frames an app may not send,
// end the stream with Twilio's codes.
func TestSenderFailures(t *testing.T) {
	tests := []struct {
		name   string
		path   string
		badSig bool
		frame  string
		code   int
	}{
		{"a refused upgrade", "/x", true, "", tonepay.CodeStreamHandshake},
		{"not JSON", "/x", false, `{"event":`, tonepay.CodeStreamBadMessage},
		{"media that is not base64", "/x", false, `{"event":"media","media":{"payload":"%%%"}}`, tonepay.CodeStreamBadMessage},
		{"an unknown event", "/x", false, `{"event":"shout"}`, tonepay.CodeStreamBadContents},
		{"an event only Twilio sends", "/x", false, `{"event":"dtmf","dtmf":{"track":"inbound_track","digit":"1"}}`, tonepay.CodeStreamBadContents},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSetup(t)
			if tt.badSig {
				s.app.token = tonepay.NewSecret("another token")
			}
			ev, handlers := newEvents()
			st := s.sender.OpenStream(context.Background(), s.request(tt.path, true), handlers)
			defer st.Stop()
			if tt.frame != "" {
				c := s.app.conn(t)
				c.c.Write(context.Background(), websocket.MessageText, []byte(tt.frame))
			}
			end := ev.end(t)
			if end.Why != tonepay.StreamFailed || end.Code != tt.code {
				t.Errorf("end %+v, want code %d", end, tt.code)
			}
			if tt.badSig && end.Error != "handshake failed: the app answered HTTP 403" {
				t.Errorf("error %q", end.Error)
			}
		})
	}
}

// TestSenderDeadApp: an app that accepts and never reads nor answers the
// close still lets Stop end the stream.
func TestSenderDeadApp(t *testing.T) {
	s := newSetup(t)
	s.app.hold = true
	ev, handlers := newEvents()
	st := s.sender.OpenStream(context.Background(), s.request("/dead", false), handlers)
	s.app.conn(t)
	<-ev.started
	st.Stop()
	st.Stop() // twice is once
	if end := ev.end(t); end.Why != tonepay.StreamStopped && end.Why != tonepay.StreamFailed {
		t.Errorf("end %+v", end)
	}
}
