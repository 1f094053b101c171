package mediastream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/dtmf"
)

// The sender (DESIGN §11 "Twilio Media Streams, sent"): a simulated call's
// <Start><Stream> or <Connect><Stream> opens a WebSocket to the app and
// sends Twilio's frames in real time, as Twilio would for a real caller:
// connected, start, a media frame every 20 ms (silence, and a key's tones
// while the simulated caller presses one), a dtmf frame per key on
// bidirectional streams, stop at the end. On bidirectional streams it takes
// the app's media (played in real time), mark and clear frames. One
// goroutine writes each stream (a ticker), one reads it; a slow or dead app
// stalls only its own stream, which a write deadline then closes.

var _ tonepay.Streamer = (*Sender)(nil)

// Sender implements tonepay.Streamer.
type Sender struct {
	// Client dials the apps: the callback policy's (webhook.NewClient), so
	// that a stream reaches only where a status callback may.
	Client *http.Client
	// Accounts holds the auth tokens that sign the upgrades.
	Accounts tonepay.Reader
	Logger   *slog.Logger
}

const (
	bytesPerSec  = 8000
	dialTimeout  = 10 * time.Second
	writeTimeout = 2 * time.Second // a write slower than this closes the stream (31924)
	// maxCatchUp is how many frames a late tick may send at once; behind
	// further, the stream skips ahead rather than burst.
	maxCatchUp = 10
	// A key is a 100 ms tone and 100 ms of silence, each tone at -8 dBm0
	// per component (Q.23 senders send -6 to -10).
	toneMs, gapMs = 100, 100
	toneLevel     = -8.0
	// maxAppAudio bounds the app's audio waiting to play: ten minutes.
	maxAppAudio = 10 * 60 * bytesPerSec
	// userAgent is what Twilio's stream client sends.
	userAgent = "Twilio.TmeWs/1.0"
)

// OpenStream implements tonepay.Streamer.
func (s *Sender) OpenStream(ctx context.Context, req tonepay.StreamRequest, ev tonepay.StreamEvents) tonepay.Stream {
	st := &sentStream{s: s, req: req, ev: ev, keys: make(chan byte, 256), stop: make(chan struct{})}
	go st.run(ctx)
	return st
}

type sentStream struct {
	s    *Sender
	req  tonepay.StreamRequest
	ev   tonepay.StreamEvents
	keys chan byte
	stop chan struct{}
	once sync.Once
}

// Press implements tonepay.Stream. A key beyond 256 waiting is dropped:
// nobody presses that fast.
func (st *sentStream) Press(key byte) {
	select {
	case st.keys <- key:
	default:
	}
}

// Stop implements tonepay.Stream.
func (st *sentStream) Stop() { st.once.Do(func() { close(st.stop) }) }

func (st *sentStream) run(ctx context.Context) {
	end := st.serve(ctx)
	if end.Why != tonepay.StreamStopped {
		st.log().Info("media stream ended", "why", end.Why, "code", end.Code, "error", end.Error)
	}
	if st.ev.Ended != nil {
		st.ev.Ended(end)
	}
}

func (st *sentStream) log() *slog.Logger {
	l := st.s.Logger
	if l == nil {
		l = slog.Default()
	}
	return l.With("call", st.req.CallSid, "stream", st.req.StreamSid)
}

func failed(code int, msg string) tonepay.StreamEnd {
	return tonepay.StreamEnd{Why: tonepay.StreamFailed, Code: code, Error: msg}
}

// dial opens the socket, signed as Twilio signs a WebSocket upgrade: the
// URL alone (its query included, its credentials not), with the account's
// auth token. Stop or ctx abandon the dial.
func (st *sentStream) dial(ctx context.Context) (*websocket.Conn, *tonepay.StreamEnd) {
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	go func() {
		select {
		case <-st.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	acct, err := st.s.Accounts.FindAccount(ctx, st.req.AccountSid)
	if err != nil {
		e := failed(tonepay.CodeStreamHandshake, "signing account not found")
		return nil, &e
	}
	u, err := url.Parse(st.req.URL)
	if err != nil {
		e := failed(tonepay.CodeStreamMalformed, "malformed url")
		return nil, &e
	}
	u.User = nil
	h := http.Header{"X-Twilio-Signature": {tonepay.Signature(acct.AuthToken, u.String(), nil)}, "User-Agent": {userAgent}}
	conn, res, err := websocket.Dial(ctx, st.req.URL, &websocket.DialOptions{HTTPClient: st.s.Client, HTTPHeader: h})
	if err != nil {
		select {
		case <-st.stop:
			e := tonepay.StreamEnd{Why: tonepay.StreamStopped}
			return nil, &e
		default:
		}
		e := failed(tonepay.CodeStreamHandshake, "handshake failed: "+describe(err, res))
		return nil, &e
	}
	conn.SetReadLimit(MaxMessage)
	return conn, nil
}

// describe is a few fixed words for a failed dial: never the address.
func describe(err error, res *http.Response) string {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "refused by callback-networks"): // webhook.RefusedError, the policy's
		return "destination refused by callback-networks"
	case res != nil:
		return fmt.Sprintf("the app answered HTTP %d", res.StatusCode)
	case errors.Is(err, context.DeadlineExceeded):
		return "timed out"
	case strings.Contains(msg, "connection refused"):
		return "connection refused"
	case strings.Contains(msg, "no such host"):
		return "host not found"
	}
	return "connection failed"
}

// appFrame is a frame the app sent, or why reading stopped.
type appFrame struct {
	f     *Frame
	audio []byte
	end   *tonepay.StreamEnd
}

// serve runs the stream until it ends, and says how.
func (st *sentStream) serve(ctx context.Context) (end tonepay.StreamEnd) {
	conn, fail := st.dial(ctx)
	if fail != nil {
		return *fail
	}
	defer conn.CloseNow()
	w := &writer{conn: conn, sid: st.req.StreamSid}
	if err := w.send(&Frame{Event: EventConnected, Protocol: "Call", Version: "1.0.0"}); err != nil {
		return w.failure(err)
	}
	params := st.req.Parameters
	if params == nil {
		params = map[string]string{}
	}
	if err := w.send(&Frame{Event: EventStart, StreamSid: st.req.StreamSid, Start: &Start{AccountSid: st.req.AccountSid,
		StreamSid: st.req.StreamSid, CallSid: st.req.CallSid, Tracks: st.req.Tracks, MediaFormat: Mulaw8k, CustomParameters: params}}); err != nil {
		return w.failure(err)
	}
	if st.ev.Started != nil {
		st.ev.Started()
	}
	rctx, stopReading := context.WithCancel(context.Background())
	defer stopReading()
	frames := make(chan appFrame, 16)
	go st.read(rctx, conn, frames)

	p := &appPlayer{}
	// However it ends from here (the app's close may reach a write before
	// the reader), the end says how much of the app's audio arrived.
	defer func() { end.Audio = p.audio() }()
	var in, out track
	for _, t := range st.req.Tracks {
		switch t {
		case "inbound":
			in.on = true
		case "outbound":
			out.on = true
		}
	}
	t0 := time.Now()
	p.last = t0
	tick := time.NewTicker(frameEvery)
	defer tick.Stop()
	var sent int64 // 20 ms slots sent
	for {
		// Media first: every slot due by now, the first one at once.
		now := time.Now()
		due := int64(now.Sub(t0)/frameEvery) + 1
		if due-sent > maxCatchUp {
			sent = due - maxCatchUp
		}
		for ; sent < due; sent++ {
			if in.on {
				audio, digits := in.next()
				if err := w.send(MediaFrame(st.req.StreamSid, Media{Track: "inbound", Chunk: Seq(in.chunk), Timestamp: Seq(sent * 20)}, audio)); err != nil {
					return w.failure(err)
				}
				for _, d := range digits {
					if st.req.Bidirectional {
						if err := w.send(&Frame{Event: EventDTMF, StreamSid: st.req.StreamSid, DTMF: &DTMF{Track: "inbound_track", Digit: string(d)}}); err != nil {
							return w.failure(err)
						}
					}
				}
			}
			if out.on {
				audio, _ := out.next()
				if err := w.send(MediaFrame(st.req.StreamSid, Media{Track: "outbound", Chunk: Seq(out.chunk), Timestamp: Seq(sent * 20)}, audio)); err != nil {
					return w.failure(err)
				}
			}
		}
		for _, name := range p.play(now) {
			if err := st.echo(w, name); err != nil {
				return w.failure(err)
			}
		}
		select {
		case <-tick.C:
		case k := <-st.keys:
			in.press(k)
		case <-st.stop:
			return st.close(w, conn)
		case <-ctx.Done():
			return st.close(w, conn)
		case af := <-frames:
			if af.end != nil {
				if af.end.Why == tonepay.StreamFailed {
					conn.Close(websocket.StatusPolicyViolation, af.end.Error)
				}
				return *af.end
			}
			if !st.req.Bidirectional {
				continue // Twilio reads nothing from a unidirectional stream's app
			}
			names, err := p.take(af.f, af.audio, time.Now())
			if err != nil {
				conn.Close(websocket.StatusPolicyViolation, "too much audio queued")
				return failed(tonepay.CodeStreamProtocol, err.Error())
			}
			for _, name := range names {
				if err := st.echo(w, name); err != nil {
					return w.failure(err)
				}
			}
		}
	}
}

// close ends a stopped stream: the stop frame, then the close handshake.
func (st *sentStream) close(w *writer, conn *websocket.Conn) tonepay.StreamEnd {
	end := tonepay.StreamEnd{Why: tonepay.StreamStopped}
	if err := w.send(&Frame{Event: EventStop, StreamSid: st.req.StreamSid, Stop: &Stop{AccountSid: st.req.AccountSid, CallSid: st.req.CallSid}}); err != nil {
		return end // the app is gone or stalled: the stream is over anyway
	}
	// The close handshake, waited for at most writeTimeout: an app that
	// never answers it is left to the library's own limit, off this path.
	done := make(chan struct{})
	go func() { conn.Close(websocket.StatusNormalClosure, ""); close(done) }()
	select {
	case <-done:
	case <-time.After(writeTimeout):
	}
	return end
}

func (st *sentStream) echo(w *writer, name string) error {
	if err := w.send(&Frame{Event: EventMark, StreamSid: st.req.StreamSid, Mark: &Mark{Name: name}}); err != nil {
		return err
	}
	if st.ev.Mark != nil {
		st.ev.Mark(name)
	}
	return nil
}

// read passes the app's frames on until the socket ends or a frame breaks
// the protocol; Twilio's apps send only media, mark and clear.
func (st *sentStream) read(ctx context.Context, conn *websocket.Conn, frames chan<- appFrame) {
	give := func(af appFrame) bool {
		select {
		case frames <- af:
			return true
		case <-ctx.Done():
			return false
		}
	}
	for {
		typ, b, err := conn.Read(ctx)
		if err != nil {
			if ctx.Err() == nil {
				give(appFrame{end: &tonepay.StreamEnd{Why: tonepay.StreamClosed}})
			}
			return
		}
		var end *tonepay.StreamEnd
		f, audio, perr := Parse(b)
		switch {
		case typ != websocket.MessageText:
			e := failed(tonepay.CodeStreamBadMessage, "a binary message from the app")
			end = &e
		case perr != nil && json.Valid(b) && strings.HasPrefix(perr.Error(), "unknown event"):
			e := failed(tonepay.CodeStreamBadContents, "a frame of an unknown event from the app")
			end = &e
		case perr != nil:
			e := failed(tonepay.CodeStreamBadMessage, "a malformed frame from the app")
			end = &e
		case f.Event != EventMedia && f.Event != EventMark && f.Event != EventClear:
			e := failed(tonepay.CodeStreamBadContents, fmt.Sprintf("a %s frame from the app", f.Event))
			end = &e
		}
		if end != nil {
			give(appFrame{end: end})
			return
		}
		if !give(appFrame{f: f, audio: audio}) {
			return
		}
	}
}

// writer writes one stream's frames, numbering them: connected has no
// sequenceNumber, start is "1", each later frame one more.
type writer struct {
	conn *websocket.Conn
	sid  string
	seq  int64
	buf  []byte // reused: 50 frames a second
}

func (w *writer) send(f *Frame) error {
	if f.Event != EventConnected {
		w.seq++
		f.SequenceNumber = Seq(w.seq)
	}
	var err error
	if w.buf, err = f.Append(w.buf[:0]); err != nil {
		return err
	}
	// The deadline: a write that cannot finish in time closes the socket
	// (the library's rule for a write whose context ends).
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	return w.conn.Write(ctx, websocket.MessageText, w.buf)
}

func (w *writer) failure(err error) tonepay.StreamEnd {
	if websocket.CloseStatus(err) != -1 || errors.Is(err, net.ErrClosed) {
		return tonepay.StreamEnd{Why: tonepay.StreamClosed}
	}
	return failed(tonepay.CodeStreamProtocol, "a write to the app stalled or failed")
}

// track is the audio of one direction: what the caller sends (inbound:
// silence and key tones) or hears (outbound: silence; the app's audio is
// not mixed in).
type track struct {
	on    bool
	chunk int64
	tone  []byte // mu-law queued: keys' tones and gaps
	sent  int64  // bytes of tone consumed so far
	ends  []keyEnd
}

// keyEnd is where a key's tone ends in the tone queue's running count.
type keyEnd struct {
	at    int64
	digit byte
}

// press queues key's tone and gap; its dtmf frame goes once the tone has
// been sent, as Twilio reports a key once it has heard it.
func (t *track) press(k byte) {
	tone := dtmf.MulawEncodeAll(dtmf.Tone(k, toneMs, toneLevel))
	if tone == nil {
		return
	}
	total := t.sent + int64(len(t.tone))
	t.tone = append(t.tone, tone...)
	t.ends = append(t.ends, keyEnd{at: total + int64(len(tone)), digit: k})
	t.tone = append(t.tone, dtmf.MulawEncodeAll(dtmf.Silence(gapMs))...)
}

// next is the track's next 20 ms, and the keys whose tone it finished.
func (t *track) next() ([]byte, []byte) {
	t.chunk++
	out := make([]byte, frameBytes)
	n := copy(out, t.tone)
	for i := n; i < frameBytes; i++ {
		out[i] = mulawSilence
	}
	t.tone = t.tone[n:]
	t.sent += int64(n)
	var digits []byte
	for len(t.ends) > 0 && t.ends[0].at <= t.sent {
		digits = append(digits, t.ends[0].digit)
		t.ends = t.ends[1:]
	}
	if len(t.tone) == 0 {
		t.tone = nil
	}
	return out, digits
}

// player plays the app's audio in real time: 8,000 bytes a second from
// when it is queued. Marks wait in the queue behind the audio sent before
// them.
type appPlayer struct {
	queue    []item
	queued   int // bytes of audio in queue
	received int64
	last     time.Time // where play has counted to
}

type item struct {
	n    int    // bytes of audio left; 0 for a mark
	mark string // the mark's name
	isMk bool
}

func (p *appPlayer) audio() time.Duration {
	return time.Duration(p.received) * time.Second / bytesPerSec
}

// play advances the queue to now and returns the marks reached.
func (p *appPlayer) play(now time.Time) []string {
	adv := int(now.Sub(p.last) * bytesPerSec / time.Second)
	if adv > 0 || len(p.queue) == 0 {
		// Keep the fraction of a byte: count from where the bytes ended.
		p.last = p.last.Add(time.Duration(adv) * time.Second / bytesPerSec)
		if len(p.queue) == 0 {
			p.last = now
		}
	}
	var marks []string
	for len(p.queue) > 0 {
		h := &p.queue[0]
		if h.isMk {
			marks = append(marks, h.mark)
			p.queue = p.queue[1:]
			continue
		}
		if adv == 0 {
			break
		}
		d := min(adv, h.n)
		h.n -= d
		p.queued -= d
		adv -= d
		if h.n == 0 {
			p.queue = p.queue[1:]
		}
	}
	return marks
}

// take applies one of the app's frames and returns the marks to echo now.
func (p *appPlayer) take(f *Frame, audio []byte, now time.Time) ([]string, error) {
	switch f.Event {
	case EventMedia:
		p.play(now) // an empty queue starts playing now
		p.received += int64(len(audio))
		if len(audio) == 0 {
			return nil, nil
		}
		if p.queued+len(audio) > maxAppAudio {
			return nil, fmt.Errorf("the app queued over %d minutes of audio", maxAppAudio/bytesPerSec/60)
		}
		p.queue = append(p.queue, item{n: len(audio)})
		p.queued += len(audio)
	case EventMark:
		marks := p.play(now)
		if len(p.queue) == 0 {
			return append(marks, f.Mark.Name), nil
		}
		p.queue = append(p.queue, item{mark: f.Mark.Name, isMk: true})
		return marks, nil
	case EventClear:
		var marks []string
		for _, it := range p.queue {
			if it.isMk {
				marks = append(marks, it.mark)
			}
		}
		p.queue, p.queued = nil, 0
		p.last = now
		return marks, nil
	}
	return nil, nil
}
