package calls_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/dtmf"
	"github.com/tonepay/tonepay/internal/servicetest"
	"github.com/tonepay/tonepay/mediastream"
	"github.com/tonepay/tonepay/webhook"
)

// streamApp is a Media Streams app on loopback: it checks each upgrade's
// signature, records every frame of each socket by path, and can close one.
type streamApp struct {
	token tonepay.Secret
	srv   *httptest.Server
	mu    sync.Mutex
	socks map[string]*sock
	hold  bool // accept and never read (a dead app)
}

type sock struct {
	c      *websocket.Conn
	mu     sync.Mutex
	frames []map[string]any
	done   chan struct{}
}

func newStreamApp(t *testing.T, token tonepay.Secret) *streamApp {
	a := &streamApp{token: token, socks: map[string]*sock{}}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !tonepay.ValidSignature(a.token, "ws://"+r.Host+r.URL.RequestURI(), nil, r.Header.Get("X-Twilio-Signature")) {
			http.Error(w, "bad signature", http.StatusForbidden)
			return
		}
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		s := &sock{c: c, done: make(chan struct{})}
		a.mu.Lock()
		a.socks[r.URL.Path] = s
		hold := a.hold
		a.mu.Unlock()
		defer close(s.done)
		if hold {
			<-r.Context().Done()
			return
		}
		for {
			_, b, err := c.Read(context.Background())
			if err != nil {
				return
			}
			var m map[string]any
			json.Unmarshal(b, &m)
			s.mu.Lock()
			s.frames = append(s.frames, m)
			s.mu.Unlock()
		}
	}))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *streamApp) url(path string) string {
	return "ws" + strings.TrimPrefix(a.srv.URL, "http") + path
}

// sock waits for the socket of path.
func (a *streamApp) sock(t *testing.T, path string) *sock {
	t.Helper()
	var s *sock
	waitUntil(t, "the stream to "+path, func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		s = a.socks[path]
		return s != nil
	})
	return s
}

func (s *sock) snapshot() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.frames)
}

func events(fs []map[string]any, event string) []map[string]any {
	var out []map[string]any
	for _, f := range fs {
		if f["event"] == event {
			out = append(out, f)
		}
	}
	return out
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// streamService is a runtime with the real sender, dialling under policy.
func (f *fixture) streamService(t *testing.T, a *app, policy string) *servicetest.Process {
	svc := f.voiceService(t, a)
	p, err := webhook.ParsePolicy(policy)
	if err != nil {
		t.Fatal(err)
	}
	svc.Streamer = &mediastream.Sender{Client: webhook.NewClient(p, 0), Accounts: f.Store}
	return svc
}

// streamEvents are the StreamEvent of the call's stream callbacks in the
// outbox, with their StreamName.
func (f *fixture) streamEvents(t *testing.T, callSid string) []string {
	t.Helper()
	cbs, err := f.Store.FindCallbacks(context.Background(), callSid)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, cb := range cbs {
		if ev := cb.Form.Get("StreamEvent"); ev != "" {
			if !tonepay.IsSID(cb.Form.Get("StreamSid"), tonepay.PrefixStream) || cb.Form.Get("CallSid") != callSid || cb.Form.Get("AccountSid") != f.Acct.Sid {
				t.Errorf("stream callback %v", cb.Form)
			}
			if _, err := time.Parse(time.RFC3339, cb.Form.Get("Timestamp")); err != nil {
				t.Errorf("Timestamp %q is not ISO 8601", cb.Form.Get("Timestamp"))
			}
			out = append(out, cb.Form.Get("StreamName")+":"+ev+strings.TrimSuffix(" "+cb.Form.Get("StreamError"), " "))
		}
	}
	return out
}

func (f *fixture) hasRow(t *testing.T, callSid, prefix string) bool {
	for _, r := range f.timeline(t, callSid) {
		if strings.HasPrefix(r, prefix) {
			return true
		}
	}
	return false
}

// TestStreamsOfACall: a call's <Start><Stream> and <Connect><Stream> open
// signed sockets; the caller's keys are tones on both and dtmf frames on the
// bidirectional one only; when the app closes the <Connect>'s socket the
// call requests its action; <Stop> stops by name; the hang-up stops the
// rest; statusCallbacks and timeline rows say so.
func TestStreamsOfACall(t *testing.T) {
	f := newFixture(t)
	ws := newStreamApp(t, f.Acct.AuthToken)
	a := newApp(map[string]string{
		"start": `<Response><Start><Stream name="listen" url="` + ws.url("/uni") + `" statusCallback="https://hooks.acme.io/streams"/></Start>
			<Connect action="after"><Stream url="` + ws.url("/bidi") + `" statusCallback="https://hooks.acme.io/streams"><Parameter name="Plan" value="gold"/></Stream></Connect></Response>`,
		"after": `<Response><Say>Back</Say><Gather action="stop" numDigits="1"/></Response>`,
		"stop":  `<Response><Stop><Stream name="listen"/></Stop><Pause length="60"/></Response>`,
	})
	svc := f.streamService(t, a, "")
	call := f.placeCall(t, svc, nil)
	uni, bidi := ws.sock(t, "/uni"), ws.sock(t, "/bidi")
	waitUntil(t, "both starts", func() bool {
		return len(events(uni.snapshot(), "start")) == 1 && len(events(bidi.snapshot(), "start")) == 1
	})
	start := events(bidi.snapshot(), "start")[0]["start"].(map[string]any)
	if start["callSid"] != call.Sid || start["customParameters"].(map[string]any)["Plan"] != "gold" {
		t.Errorf("start %v", start)
	}

	if _, err := svc.Press(context.Background(), tonepay.Keys{AccountSid: f.Acct.Sid, CallSid: call.Sid, Source: tonepay.KeySourceKeypad, Digits: "42"}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "two dtmf frames", func() bool { return len(events(bidi.snapshot(), "dtmf")) == 2 })
	var digits string
	for _, d := range events(bidi.snapshot(), "dtmf") {
		digits += d["dtmf"].(map[string]any)["digit"].(string)
	}
	if digits != "42" {
		t.Errorf("dtmf %q", digits)
	}
	heard := func(s *sock) string {
		det := dtmf.NewDetector()
		var keys []byte
		for _, m := range events(s.snapshot(), "media") {
			b, _ := base64.StdEncoding.DecodeString(m["media"].(map[string]any)["payload"].(string))
			for _, k := range det.WriteMulaw(b) {
				keys = append(keys, k.Digit)
			}
		}
		return string(keys)
	}
	waitUntil(t, "the tones on the unidirectional stream", func() bool { return heard(uni) == "42" })
	if n := len(events(uni.snapshot(), "dtmf")); n != 0 {
		t.Errorf("%d dtmf frames on a unidirectional stream", n)
	}

	// The app ends the <Connect>: the action runs; the Gather takes a key.
	bidi.c.Close(websocket.StatusNormalClosure, "done")
	waitUntil(t, "the connect action", func() bool { return f.hasRow(t, call.Sid, "say:Back") })
	if _, err := svc.Press(context.Background(), tonepay.Keys{AccountSid: f.Acct.Sid, CallSid: call.Sid, Source: tonepay.KeySourceKeypad, Digits: "9"}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the named stream's stop", func() bool { return len(events(uni.snapshot(), "stop")) == 1 })
	<-uni.done
	waitUntil(t, "the stream callbacks", func() bool { return len(f.streamEvents(t, call.Sid)) == 4 })
	bidiSid := start["streamSid"].(string)
	want := []string{"listen:stream-started", bidiSid + ":stream-started", bidiSid + ":stream-stopped", "listen:stream-stopped"}
	got := f.streamEvents(t, call.Sid)
	if !slices.Equal(got[:2], want[:2]) && !slices.Equal(got[:2], []string{want[1], want[0]}) || !slices.Equal(got[2:], want[2:]) {
		t.Errorf("stream callbacks %v, want %v", got, want)
	}
	for _, row := range []string{"stream:start name=listen track=inbound_track", "stream:start track=inbound_track", "stream:connected MZ",
		"stream:ended " + bidiSid + ": closed", "verb:ended", "fetch:after", "verb:", "stream:ended"} {
		if !f.hasRow(t, call.Sid, row) {
			t.Errorf("no row %q in %v", row, f.timeline(t, call.Sid))
		}
	}
	if _, err := svc.HangUp(context.Background(), f.Acct.Sid, call.Sid); err != nil {
		t.Fatal(err)
	}
	t.Logf("timeline:\n%s", strings.Join(f.timeline(t, call.Sid), "\n"))
}

// TestStreamMarksOnTheTimeline: the app's audio and marks; the hang-up sends
// stop on the bidirectional stream and the timeline counts the app's audio.
func TestStreamMarksOnTheTimeline(t *testing.T) {
	f := newFixture(t)
	ws := newStreamApp(t, f.Acct.AuthToken)
	a := newApp(map[string]string{"start": `<Response><Connect><Stream url="` + ws.url("/bidi") + `"/></Connect></Response>`})
	svc := f.streamService(t, a, "")
	call := f.placeCall(t, svc, nil)
	s := ws.sock(t, "/bidi")
	waitUntil(t, "start", func() bool { return len(events(s.snapshot(), "start")) == 1 })
	sid := events(s.snapshot(), "start")[0]["streamSid"].(string)
	send := func(v any) {
		b, _ := json.Marshal(v)
		if err := s.c.Write(context.Background(), websocket.MessageText, b); err != nil {
			t.Fatal(err)
		}
	}
	send(map[string]any{"event": "media", "streamSid": sid, "media": map[string]string{"payload": base64.StdEncoding.EncodeToString(make([]byte, 4000))}})
	send(map[string]any{"event": "mark", "streamSid": sid, "mark": map[string]string{"name": "greeting"}})
	waitUntil(t, "the mark's row", func() bool { return f.hasRow(t, call.Sid, "stream:mark greeting played") })
	if _, err := svc.HangUp(context.Background(), f.Acct.Sid, call.Sid); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the stop frame", func() bool { return len(events(s.snapshot(), "stop")) == 1 })
	waitUntil(t, "the end's row", func() bool {
		return f.hasRow(t, call.Sid, "stream:ended "+sid+": stopped; 0.5 s of audio from the app")
	})
}

// TestStreamRefused: a stream the policy refuses is a timeline error
// (31920) and a stream-error callback; the <Connect> goes on at once.
func TestStreamRefused(t *testing.T) {
	f := newFixture(t)
	ws := newStreamApp(t, f.Acct.AuthToken)
	a := newApp(map[string]string{
		"start": `<Response><Connect action="after"><Stream url="` + ws.url("/bidi") + `" statusCallback="https://hooks.acme.io/s"/></Connect></Response>`,
		"after": `<Response><Say>Without the stream</Say><Pause length="60"/></Response>`,
	})
	svc := f.streamService(t, a, "public") // loopback is refused
	call := f.placeCall(t, svc, nil)
	waitUntil(t, "the action", func() bool { return f.hasRow(t, call.Sid, "say:Without the stream") })
	if row := rowOf(t, f, call.Sid, "error:stream"); !strings.Contains(row, "destination refused by callback-networks") || !strings.HasSuffix(row, " 31920") {
		t.Errorf("error row %q", row)
	}
	got := f.streamEvents(t, call.Sid)
	if len(got) != 1 || !strings.Contains(got[0], ":stream-error handshake failed: destination refused by callback-networks") {
		t.Errorf("callbacks %v", got)
	}
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if len(ws.socks) != 0 {
		t.Errorf("the app was reached")
	}
}

func rowOf(t *testing.T, f *fixture, callSid, prefix string) string {
	for _, r := range f.timeline(t, callSid) {
		if strings.HasPrefix(r, prefix) {
			return r
		}
	}
	return ""
}

// TestStreamDeadApp: an app that accepts the socket and then reads nothing
// does not hold the call: keys, the TwiML and the hang-up go on.
func TestStreamDeadApp(t *testing.T) {
	f := newFixture(t)
	ws := newStreamApp(t, f.Acct.AuthToken)
	ws.hold = true
	a := newApp(map[string]string{"start": `<Response><Start><Stream url="` + ws.url("/dead") + `"/></Start><Gather action="next" numDigits="1"/></Response>`,
		"next": `<Response><Say>Still here</Say><Pause length="60"/></Response>`})
	svc := f.streamService(t, a, "")
	call := f.placeCall(t, svc, nil)
	ws.sock(t, "/dead")
	if _, err := svc.Press(context.Background(), tonepay.Keys{AccountSid: f.Acct.Sid, CallSid: call.Sid, Source: tonepay.KeySourceKeypad, Digits: "1"}); err != nil {
		t.Fatal(err)
	}
	if !f.hasRow(t, call.Sid, "say:Still here") {
		t.Errorf("timeline %v", f.timeline(t, call.Sid))
	}
	if _, err := svc.HangUp(context.Background(), f.Acct.Sid, call.Sid); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the stream's end", func() bool { return f.hasRow(t, call.Sid, "stream:ended") || f.hasRow(t, call.Sid, "error:stream") })
}
