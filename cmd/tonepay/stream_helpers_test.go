package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/client"
	"github.com/tonepay/tonepay/dtmf"
)

// streamServer is a tonepay server run in this process (the real SQLite
// store, the real listener) with a [[twilio]] link, so that a test can
// shorten the receiver's silence or give it an Audio.
type streamServer struct {
	t              *testing.T
	srv            *server
	URL            string
	sid, token     string // the main tonepay account
	twSid, twToken string // the linked Twilio account
	logs           *lockedBuffer
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// startStreamServer builds and runs a server whose config links a Twilio
// account to the main account; mod, if set, adjusts it before it runs.
func startStreamServer(t *testing.T, mod func(*server)) *streamServer {
	t.Helper()
	ss := &streamServer{t: t, sid: tonepay.NewSID("AC"), token: "streammaintoken1", twSid: tonepay.NewSID("AC"), twToken: "twiliotoken0123456789"}
	dir := t.TempDir()
	conf := filepath.Join(dir, "tonepay.toml")
	os.WriteFile(conf, []byte(fmt.Sprintf("[[twilio]]\naccount_sid = %q\nauth_token_env = \"TW_TOKEN\"\n", ss.twSid)), 0o600)
	cfg := defaultServeConfig()
	cfg.Addr, cfg.DB, cfg.Config = "127.0.0.1:0", filepath.Join(dir, "s.db"), conf
	cfg.AccountSid, cfg.AuthToken = ss.sid, ss.token
	ss.logs = &lockedBuffer{}
	log := slog.New(slog.NewTextHandler(ss.logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	getenv := func(k string) string { return map[string]string{"TW_TOKEN": ss.twToken}[k] }
	s, err := buildServer(context.Background(), cfg, getenv, io.Discard, log)
	if err != nil {
		t.Fatal(err)
	}
	if mod != nil {
		mod(s)
	}
	s.run()
	ss.srv, ss.URL = s, "http://"+s.ln.Addr().String()
	t.Cleanup(func() {
		s.close(true)
		if t.Failed() {
			t.Logf("server log:\n%s", ss.logs.String())
		}
	})
	return ss
}

// client is tonepay's client with the main account's credentials.
func (ss *streamServer) client() *client.Client {
	c, err := client.New(ss.URL, ss.sid, ss.token)
	if err != nil {
		ss.t.Fatal(err)
	}
	return c
}

// streamURL is the receiver's URL as a test dials it (plain ws on loopback).
func (ss *streamServer) streamURL() string {
	return "ws" + strings.TrimPrefix(ss.URL, "http") + "/_tonepay/streams"
}

// twilioPeer plays Twilio's side of a Media Stream: it signs the upgrade as
// Twilio does (X-Twilio-Signature: HMAC-SHA1 with the account's auth token
// over the URL it dials) and writes exactly the frames of twilio-voice.md
// §7, with string sequence numbers, chunks and timestamps.
type twilioPeer struct {
	t       *testing.T
	conn    *websocket.Conn
	account string
	call    string
	stream  string
	seq     int
	chunk   int
	ms      int

	mu     sync.Mutex
	got    [][]byte // frames tonepay sent
	sent   time.Time
	done   chan struct{}
	status websocket.StatusCode // the close code tonepay sent, -1 for none
}

// dialTwilio opens a stream signed with token (none when "") as Twilio's
// account twSid would.
func dialTwilio(t *testing.T, ss *streamServer, twSid, token string) (*twilioPeer, *http.Response, error) {
	t.Helper()
	return dialAs(t, peerDial{twSid: twSid, token: token, url: ss.streamURL()})
}

// peerDial is how a test's Twilio dials tonepay.
type peerDial struct {
	twSid, token string
	url          string       // dialled
	signed       string       // the URL the signature is over ("": url), as Twilio signs its <Stream url>
	client       *http.Client // nil: the default
	noRead       bool         // the peer never reads what tonepay sends
}

// dialAs opens a stream as d says.
func dialAs(t *testing.T, d peerDial) (*twilioPeer, *http.Response, error) {
	t.Helper()
	if d.signed == "" {
		d.signed = d.url
	}
	h := http.Header{}
	if d.token != "" {
		h.Set("X-Twilio-Signature", tonepay.Signature(tonepay.NewSecret(d.token), d.signed, nil))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, res, err := websocket.Dial(ctx, d.url, &websocket.DialOptions{HTTPHeader: h, HTTPClient: d.client})
	if err != nil {
		return nil, res, err
	}
	conn.SetReadLimit(1 << 20)
	p := &twilioPeer{t: t, conn: conn, account: d.twSid, call: tonepay.NewSID("CA"), stream: tonepay.NewSID("MZ"), done: make(chan struct{}), status: -1}
	if !d.noRead { // a peer that does not read never sees the close either (closedWith times out)
		go p.read()
	}
	t.Cleanup(func() { conn.CloseNow() })
	return p, res, nil
}

// mustDial opens a stream of the linked account, signed.
func mustDial(t *testing.T, ss *streamServer) *twilioPeer {
	t.Helper()
	p, _, err := dialTwilio(t, ss, ss.twSid, ss.twToken)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (p *twilioPeer) read() {
	defer close(p.done)
	for {
		_, b, err := p.conn.Read(context.Background())
		if err != nil {
			p.mu.Lock()
			p.status = websocket.CloseStatus(err)
			p.mu.Unlock()
			return
		}
		p.mu.Lock()
		p.got = append(p.got, b)
		p.mu.Unlock()
	}
}

// send writes one text message; an error is returned, not fatal (the
// server may have closed the socket on purpose).
func (p *twilioPeer) send(s string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	p.mu.Lock()
	p.sent = time.Now()
	p.mu.Unlock()
	return p.conn.Write(ctx, websocket.MessageText, []byte(s))
}

// lastSent is when the latest frame began to be written.
func (p *twilioPeer) lastSent() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sent
}

// next is the next sequenceNumber (keepAlive sends from its own goroutine).
func (p *twilioPeer) next() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seq++
	return fmt.Sprint(p.seq)
}

func (p *twilioPeer) connected() error {
	return p.send(`{"event":"connected","protocol":"Call","version":"1.0.0"}`)
}

// start sends connected and start (sequenceNumber "1"), with
// customParameters as <Parameter> would give them.
func (p *twilioPeer) start(params map[string]string) error {
	if err := p.connected(); err != nil {
		return err
	}
	return p.startOnly(p.account, params)
}

func (p *twilioPeer) startOnly(account string, params map[string]string) error {
	var cp []string
	for k, v := range params {
		cp = append(cp, fmt.Sprintf("%q:%q", k, v))
	}
	return p.send(fmt.Sprintf(`{"event":"start","sequenceNumber":"%s","start":{"accountSid":"%s","streamSid":"%s","callSid":"%s","tracks":["inbound"],"mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1},"customParameters":{%s}},"streamSid":"%s"}`,
		p.next(), account, p.stream, p.call, strings.Join(cp, ","), p.stream))
}

// media sends mu-law audio as 20 ms frames (160 bytes), paced in real time
// as Twilio sends them.
func (p *twilioPeer) media(audio []byte) error {
	for len(audio) > 0 {
		n := min(160, len(audio))
		// keepAlive sends from a goroutine of its own: each frame takes
		// its chunk and timestamp whole.
		p.mu.Lock()
		p.chunk++
		chunk, ms := p.chunk, p.ms
		p.ms += 20
		p.mu.Unlock()
		err := p.send(fmt.Sprintf(`{"event":"media","sequenceNumber":"%s","media":{"track":"inbound","chunk":"%d","timestamp":"%d","payload":"%s"},"streamSid":"%s"}`,
			p.next(), chunk, ms, base64.StdEncoding.EncodeToString(audio[:n]), p.stream))
		if err != nil {
			return err
		}
		audio = audio[n:]
		time.Sleep(20 * time.Millisecond) // Twilio's pace: 50 frames a second
	}
	return nil
}

// silence sends ms of quiet audio.
func (p *twilioPeer) silence(ms int) error { return p.media(dtmf.MulawEncodeAll(dtmf.Silence(ms))) }

// tones plays keys as in-band DTMF (80 ms of tone, 80 ms of silence each).
func (p *twilioPeer) tones(keys string) error {
	for i := range len(keys) {
		a := append(dtmf.MulawEncodeAll(dtmf.Tone(keys[i], 80, -8)), dtmf.MulawEncodeAll(dtmf.Silence(80))...)
		if err := p.media(a); err != nil {
			return err
		}
	}
	return nil
}

// dtmf sends one dtmf frame per key, with 100 ms of silent audio between
// them, as Twilio sends a bidirectional stream's keys.
func (p *twilioPeer) dtmf(keys string) error {
	for i := range len(keys) {
		if err := p.send(fmt.Sprintf(`{"event":"dtmf","streamSid":"%s","sequenceNumber":"%s","dtmf":{"track":"inbound_track","digit":"%c"}}`, p.stream, p.next(), keys[i])); err != nil {
			return err
		}
		if err := p.silence(100); err != nil {
			return err
		}
	}
	return nil
}

func (p *twilioPeer) stop() error {
	return p.send(fmt.Sprintf(`{"event":"stop","sequenceNumber":"%s","stop":{"accountSid":"%s","callSid":"%s"},"streamSid":"%s"}`, p.next(), p.account, p.call, p.stream))
}

// closedWith waits for tonepay to close the socket and returns its code.
func (p *twilioPeer) closedWith(d time.Duration) websocket.StatusCode {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(d):
		p.t.Fatalf("the stream of %s was not closed within %v", p.call, d)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.status
}

// frames returns the frames tonepay sent so far.
func (p *twilioPeer) frames() [][]byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([][]byte(nil), p.got...)
}

// callStatus is the call's status through the API ("" when not found).
func (ss *streamServer) callStatus(callSid string) string {
	c, err := ss.client().FetchCall(context.Background(), callSid)
	if err != nil {
		return ""
	}
	return c.Status
}

// waitStatus waits for the call to have status.
func (ss *streamServer) waitStatus(callSid, status string, d time.Duration) {
	ss.t.Helper()
	waitFor(ss.t, d, "call "+callSid+" "+status, func() bool { return ss.callStatus(callSid) == status })
}

// noTime drops slog's time attribute, so a test can compare whole lines.
func noTime(groups []string, a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey && len(groups) == 0 {
		return slog.Attr{}
	}
	return a
}
