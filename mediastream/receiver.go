package mediastream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/dtmf"
	"github.com/tonepay/tonepay/internal/legaudio"
)

// The receiver (DESIGN §11, "Twilio Media Streams, received"): Twilio
// streams a real call here (<Connect><Stream url="wss://…/_tonepay/streams">),
// and the call becomes an in-progress inbound call of the linked tonepay
// account under Twilio's own CallSid, so that the agent's app uses
// tonepay's Payments API with it. The caller's keys (dtmf frames, and tones
// in the audio) go through the call runtime's one door; what the call's
// TwiML says goes back as media frames.

// Limits of one stream (DESIGN §11).
const (
	// MaxMessage is the largest text message read: a larger one closes
	// the stream with 1009.
	MaxMessage = 64 << 10
	// maxFramesPerSecond, for floodSeconds seconds in a row, closes the
	// stream with 1008: Twilio sends 50 media frames a second.
	maxFramesPerSecond = 100
	floodSeconds       = 3
	// DefaultSilence is how long a stream may send no frame (pings do not
	// count) before its leg ends.
	DefaultSilence = 10 * time.Second
	// DefaultWriteTimeout bounds each write to a peer: one that stops
	// reading is closed, and blocks nobody else.
	DefaultWriteTimeout = 5 * time.Second
)

// Link is a Twilio account whose calls may stream here, and the tonepay
// account that owns them ([[twilio]] in the config file).
type Link struct {
	TwilioAccount string         // AC… of the Twilio account: start.accountSid
	AuthToken     tonepay.Secret // its auth token: it signs the upgrade
	Account       string         // the tonepay account of its calls
}

// Receiver serves GET /_tonepay/streams: each request is one stream. Set
// the fields, then serve; they are not changed afterwards.
type Receiver struct {
	Legs   tonepay.LegService
	Links  []Link
	Audio  tonepay.Audio // renders what the caller hears; nil: silence, and a warning on the call's timeline
	Logger *slog.Logger
	// Silence ends a leg that sent no frame for this long
	// (DefaultSilence when zero); WriteTimeout bounds each write
	// (DefaultWriteTimeout when zero). Fields, so tests can shorten them.
	Silence, WriteTimeout time.Duration

	mu      sync.Mutex
	live    map[string]*leg   // by CallSid: the call's stream in this process
	refused legaudio.LogLimit // upgrades no link signed
}

// leg is a call streamed here, across the sockets that carried it (a new
// start for its CallSid takes it over).
type leg struct {
	account, call string
	cur           *stream // the socket that carries it now
	stopListen    func()
}

// stream is one WebSocket.
type stream struct {
	r         *Receiver
	conn      *websocket.Conn
	ctx       context.Context // canceled when the socket is done
	link      *Link
	streamSid string
	leg       *leg // set by start
	player    *player
	warned    map[string]bool // warnings put on the timeline once per stream

	endOnce sync.Once
}

// NewReceiver returns a receiver of the calls of links, registered with legs.
func NewReceiver(legs tonepay.LegService, links []Link, log *slog.Logger) *Receiver {
	return &Receiver{Legs: legs, Links: links, Logger: log}
}

func (r *Receiver) log() *slog.Logger {
	if r.Logger == nil {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return r.Logger
}

func (r *Receiver) silence() time.Duration {
	if r.Silence > 0 {
		return r.Silence
	}
	return DefaultSilence
}

func (r *Receiver) writeTimeout() time.Duration {
	if r.WriteTimeout > 0 {
		return r.WriteTimeout
	}
	return DefaultWriteTimeout
}

// signer returns the link whose auth token signed the upgrade: over the URL
// as Twilio requested it, wss or ws (behind TLS termination the request
// arrives as plain HTTP), this request's Host, path and query, with and
// without a "/" appended (Twilio's docs advise trying both).
func (r *Receiver) signer(req *http.Request) *Link {
	sig := req.Header.Get("X-Twilio-Signature")
	if sig == "" {
		return nil
	}
	for _, scheme := range []string{"wss", "ws"} {
		u := scheme + "://" + req.Host + req.URL.RequestURI()
		for _, full := range []string{u, u + "/"} {
			for i := range r.Links {
				if tonepay.ValidSignature(r.Links[i].AuthToken, full, nil, sig) {
					return &r.Links[i]
				}
			}
		}
	}
	return nil
}

// ServeHTTP upgrades a signed request and reads its frames until the stream
// ends.
func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	link := r.signer(req)
	if link == nil {
		if n, ok := r.refused.Allow(time.Now()); ok {
			r.log().Warn("media stream refused: no linked Twilio account signed the upgrade (X-Twilio-Signature); check [[twilio]] and the URL in <Stream>",
				"remote", req.RemoteAddr, "host", req.Host, "refused_since_last_line", n)
		}
		writeForbidden(w)
		return
	}
	// The API server's read and write timeouts are for requests; a stream
	// lasts as long as its call.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
	conn, err := websocket.Accept(w, req, nil)
	if err != nil {
		return // Accept has answered
	}
	conn.SetReadLimit(MaxMessage)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := &stream{r: r, conn: conn, ctx: ctx, link: link, warned: map[string]bool{}}
	s.player = newPlayer(s)
	code, reason := s.read()
	s.endLeg(reason)
	cancel()
	s.player.wait()
	conn.Close(code, reason)
}

// writeForbidden answers a request no link signed, before any upgrade, with
// Twilio's error JSON.
func writeForbidden(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusForbidden)
	json.NewEncoder(w).Encode(map[string]any{
		"code": 20403, "message": "Forbidden: the upgrade is not signed by a linked Twilio account",
		"more_info": "https://www.twilio.com/docs/errors/20403", "status": http.StatusForbidden,
	})
}

// closed is how a stream ends: the code its socket is closed with, and why
// (logged for the limits; never a key or a card digit).
type closed struct {
	code   websocket.StatusCode
	reason string
	log    bool
}

func violation(format string, args ...any) *closed {
	return &closed{code: websocket.StatusPolicyViolation, reason: fmt.Sprintf(format, args...), log: true}
}

// read reads frames until the stream ends, and returns its close code and
// reason.
func (s *stream) read() (websocket.StatusCode, string) {
	// Twilio sends 50 frames a second while a call is up: its silence is a
	// dead peer. The leg ends then, not after a close handshake with a peer
	// that does not answer. The timer is not reset for each frame (50 a
	// second on every stream): it looks at the last frame's time when it
	// fires, and waits again for what remains.
	var last atomic.Int64 // UnixNano of the latest frame
	last.Store(time.Now().UnixNano())
	var silent *time.Timer
	silent = time.AfterFunc(s.r.silence(), func() {
		if left := s.r.silence() - time.Since(time.Unix(0, last.Load())); left > 0 {
			silent.Reset(left)
			return
		}
		// A dead or stalled peer (one that began a frame and stopped is one):
		// worth a line, unlike a stop or a close.
		s.r.log().Warn("media stream closed: no frame for "+s.r.silence().String()+" (a dead or stalled peer)", "call", s.callSid())
		s.endLeg("no frame for " + s.r.silence().String())
		s.conn.CloseNow()
	})
	defer silent.Stop()
	// Reads wait on no context (the library would arm and disarm one for
	// each frame): the stream's end closes the socket instead, once.
	defer context.AfterFunc(s.ctx, func() { s.conn.CloseNow() })()
	var (
		det   = dtmf.NewDetector()
		dd    dtmf.Dedup
		flood flood
		audio int64  // the stream's clock: samples of inbound audio so far
		buf   []byte // the message being read, reused: frames keep copies of what they hold
	)
	for {
		typ, r, err := s.conn.Reader(context.Background())
		if err == nil {
			buf, err = readAll(buf[:0], r)
		}
		if err != nil {
			return s.readErr(err)
		}
		b := buf
		now := time.Now()
		last.Store(now.UnixNano())
		var c *closed
		switch {
		case typ != websocket.MessageText:
			c = violation("a binary message (Twilio sends JSON text)")
		case flood.frame(now):
			c = violation("more than %d frames a second for %d seconds", maxFramesPerSecond, floodSeconds)
		}
		if c == nil {
			f, pcm, err := Parse(b)
			switch {
			case err != nil:
				c = violation("%v", err)
			default:
				c = s.frame(f, pcm, det, &dd, &audio)
			}
		}
		if c != nil {
			if c.log {
				s.r.log().Warn("media stream closed: "+c.reason, "call", s.callSid(), "code", int(c.code))
			}
			return c.code, c.reason
		}
	}
}

// readErr turns a failed read into how the stream ended.
func (s *stream) readErr(err error) (websocket.StatusCode, string) {
	switch st := websocket.CloseStatus(err); {
	case st != -1:
		return websocket.StatusNormalClosure, "closed by the peer"
	case s.ctx.Err() != nil:
		return websocket.StatusGoingAway, "ended"
	case errors.Is(err, websocket.ErrMessageTooBig):
		s.r.log().Warn("media stream closed: a message over 64 KiB", "call", s.callSid(), "code", int(websocket.StatusMessageTooBig))
		return websocket.StatusMessageTooBig, "message too big"
	}
	return websocket.StatusNormalClosure, "connection lost"
}

func (s *stream) callSid() string {
	if s.leg == nil {
		return ""
	}
	return s.leg.call
}

// frame acts on one parsed frame. *audio counts the inbound samples so
// far: the stream's audio clock (dtmf.Dedup).
func (s *stream) frame(f *Frame, pcm []byte, det *dtmf.Detector, dd *dtmf.Dedup, audio *int64) *closed {
	if s.leg == nil {
		switch f.Event {
		case EventConnected:
			return nil
		case EventStart:
			c := s.start(f)
			if c == nil {
				// SIDs only: the line an operator looks for when a first call is
				// streamed (docs/deployment.md, "Check it").
				s.r.log().Debug("media stream started", "call", s.leg.call, "account", s.leg.account, "twilio_account", s.link.TwilioAccount)
			}
			return c
		}
		return violation("a %s frame before start", f.Event)
	}
	switch f.Event {
	case EventStart:
		return violation("a second start")
	case EventConnected:
		return violation("connected after start")
	case EventMedia:
		if f.Media.Track == "outbound" {
			return nil // what the caller hears (both_tracks): no keys in it
		}
		for _, k := range det.WriteMulaw(pcm) {
			if dd.Add(k.Digit, true, dtmf.At(k.Offset)) {
				s.press(k.Digit)
			}
		}
		*audio += int64(len(pcm))
	case EventDTMF:
		d := f.DTMF.Digit[0]
		if dd.Add(d, false, dtmf.At(*audio)) {
			s.press(d)
		}
	case EventStop:
		return &closed{code: websocket.StatusNormalClosure, reason: "stop"}
	}
	return nil
}

// press hands a key to the call runtime's door, and stops what the caller
// hears (barge-in: a key interrupts a <Say>, as on a phone).
func (s *stream) press(d byte) {
	if !('0' <= d && d <= '9' || d == '*' || d == '#') {
		return // A-D reach no listener a Payments session or <Gather> of ours has
	}
	s.player.clear()
	if _, err := s.r.Legs.Press(s.ctx, tonepay.Keys{AccountSid: s.leg.account, CallSid: s.leg.call, Source: tonepay.KeySourceStream, Digits: string(d)}); err != nil {
		s.r.log().Warn("media stream: a key was not handed to the call", "call", s.leg.call, "err", err) // the error names no key
	}
}

// start registers the stream's call: a new one, or one live on another
// socket, which this one takes over. A call that has ended is never
// reopened.
func (s *stream) start(f *Frame) *closed {
	st := f.Start
	if st.AccountSid != s.link.TwilioAccount {
		return violation("start.accountSid %s is not the Twilio account that signed the upgrade", st.AccountSid)
	}
	if !tonepay.IsSID(st.CallSid, tonepay.PrefixCall) {
		return violation("start.callSid %q is not a Call SID", st.CallSid)
	}
	s.streamSid = f.StreamSid
	if s.streamSid == "" {
		s.streamSid = st.StreamSid
	}
	ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
	defer cancel()
	r := s.r
	r.mu.Lock()
	if r.live == nil {
		r.live = map[string]*leg{}
	}
	l := r.live[st.CallSid]
	if l != nil {
		if l.account != s.link.Account {
			r.mu.Unlock()
			return violation("start.callSid %s is streamed for another account", st.CallSid)
		}
		old := l.cur
		l.cur = s
		s.leg = l
		r.mu.Unlock()
		old.takenOver()
		r.log().Info("media stream took over its call from another socket", "call", st.CallSid)
		return nil
	}
	r.mu.Unlock()
	call, err := r.Legs.FindCall(ctx, s.link.Account, st.CallSid)
	switch {
	case err == nil && call.Status != tonepay.CallInProgress && call.Status != tonepay.CallRinging:
		return violation("call %s has ended: a stream never reopens a call", st.CallSid)
	case err == nil && call.Leg != tonepay.LegStream:
		return violation("call %s is not a streamed call", st.CallSid)
	case err == nil:
		// In progress and streamed, but on no socket here (a restarted
		// process): this socket carries it on.
	case errors.Is(err, tonepay.ErrNotFound):
		req := &tonepay.LegRequest{CallSid: st.CallSid, Leg: tonepay.LegStream}
		req.AccountSid, req.From, req.To = s.link.Account, st.CustomParameters["From"], st.CustomParameters["To"]
		if req.From == "" {
			req.From = "anonymous" // Twilio's word for a caller whose number is not known
		}
		if _, err := r.Legs.StartLeg(ctx, req); err != nil {
			return violation("call %s could not be registered: %v", st.CallSid, tonepay.ErrorMessage(err))
		}
	default:
		return &closed{code: websocket.StatusInternalError, reason: "store unavailable", log: true}
	}
	l = &leg{account: s.link.Account, call: st.CallSid, cur: s}
	r.mu.Lock()
	if other := r.live[st.CallSid]; other != nil {
		// Two starts for one new call at once: the later takes it over.
		old := other.cur
		other.cur, s.leg = s, other
		r.mu.Unlock()
		old.takenOver()
		return nil
	}
	r.live[st.CallSid] = l
	s.leg = l
	r.mu.Unlock()
	stop := r.Legs.Listen(l.account, l.call, func(heard []tonepay.Heard, ended bool) { r.heard(l, heard, ended) })
	r.mu.Lock()
	ended := r.live[l.call] != l // the leg ended meanwhile (a shutdown)
	if !ended {
		l.stopListen = stop
	}
	r.mu.Unlock()
	if ended {
		stop()
	}
	return nil
}

// heard queues what the call's TwiML says on the socket that carries the
// call now; a call that ended closes it.
func (r *Receiver) heard(l *leg, heard []tonepay.Heard, ended bool) {
	r.mu.Lock()
	s := l.cur
	r.mu.Unlock()
	if s == nil {
		return
	}
	if len(heard) > 0 {
		s.play(heard)
	}
	if ended {
		// The caller hears the call's last words before the line closes,
		// as a Twilio caller hears a <Say> before <Hangup/>.
		ctx, cancel := context.WithTimeout(s.ctx, legaudio.MaxDrain)
		s.player.Drain(ctx)
		cancel()
		s.conn.Close(websocket.StatusNormalClosure, "the call has ended")
	}
}

// takenOver closes a socket whose call another socket now carries: its
// end is not the call's.
func (s *stream) takenOver() {
	go s.conn.Close(websocket.StatusNormalClosure, "taken over by another stream of the call")
}

// endLeg ends the stream's call, once, if this socket still carries it:
// the call is completed and its open session ends as caller-hung-up.
func (s *stream) endLeg(why string) {
	s.endOnce.Do(func() {
		r := s.r
		r.mu.Lock()
		l := s.leg
		if l == nil || l.cur != s {
			r.mu.Unlock()
			return // never started, or taken over
		}
		l.cur = nil
		delete(r.live, l.call)
		stop := l.stopListen
		r.mu.Unlock()
		if stop != nil {
			stop()
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := r.Legs.HangUp(ctx, l.account, l.call); err != nil && tonepay.ErrorCode(err) != tonepay.CodeCallNotInProgress {
			r.log().Error("media stream: ending its call", "call", l.call, "err", err)
		}
		r.log().Debug("media stream ended", "call", l.call, "why", why)
	})
}

// Close ends every stream of the receiver (shutdown): their calls end.
func (r *Receiver) Close() {
	r.mu.Lock()
	var ss []*stream
	for _, l := range r.live {
		if l.cur != nil {
			ss = append(ss, l.cur)
		}
	}
	r.mu.Unlock()
	for _, s := range ss {
		s.endLeg("shutdown")
		s.conn.CloseNow()
	}
}

// flood counts frames per second of arrival: more than maxFramesPerSecond
// in each of floodSeconds seconds in a row is a flood.
type flood struct {
	second time.Time // start of the current second
	count  int       // frames in it
	over   int       // seconds in a row, before it, over the limit
}

func (f *flood) frame(now time.Time) bool {
	switch d := now.Sub(f.second); {
	case f.second.IsZero() || d >= 2*time.Second:
		f.second, f.count, f.over = now, 0, 0
	case d >= time.Second:
		if f.count > maxFramesPerSecond {
			f.over++
		} else {
			f.over = 0
		}
		f.second, f.count = f.second.Add(time.Second), 0
	}
	f.count++
	return f.count > maxFramesPerSecond && f.over >= floodSeconds-1
}

// readAll is io.ReadAll into buf's storage.
func readAll(buf []byte, r io.Reader) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}
