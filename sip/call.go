package sip

import (
	"context"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/pion/rtp"
	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/dtmf"
	"github.com/tonepay/tonepay/internal/legaudio"
)

// call is one SIP call from a trunk: its dialog, its RTP socket, the
// tonepay call it became, and the far end of its <Dial><Sip>, if any.
type call struct {
	s            *Server
	dlg          *sipgo.DialogServerSession
	conn         rtpConn
	out          *rtpOut // what the caller hears: the TwiML's audio, the far end's
	account, sid string
	callID       string // its SIP Call-ID: its key in Server.calls
	from         string // the tonepay call's From
	fromUser     string // the INVITE's From user, passed on to the agent
	local        netip.Addr
	trunk        *Trunk
	codec        string
	pt           uint8
	te           int
	answerSDP    []byte
	ctx          context.Context // canceled when the call ends
	cancel       context.CancelFunc
	player       *legaudio.Queue
	warned       map[string]bool // timeline warnings, once per call
	paying       atomic.Bool     // a payment session is open (WatchCapture)
	held         atomic.Bool     // a leg is on hold: no RTP timeout
	failCode     atomic.Int32    // the far end's final answer, for a caller not answered
	unregistered bool            // StartLeg failed: there is no tonepay call
	// pickup is closed by a far end that answers a caller not yet
	// answered (a trunk call bridged to its agent, answered in its INVITE's
	// handler, which says how in picked); nil for a call to an app (mu:
	// the handler learns which after the call's TwiML may have dialed).
	pickup   chan struct{}
	picked   chan error
	pickOnce sync.Once
	endOnce  sync.Once
	remote   peer                  // where its RTP goes
	rx       callerRx              // packet's
	rtp      *watch                // its socket, read by readRTP (mu)
	stopRead func()                // (mu)
	relay    atomic.Pointer[agent] // the far end while bridged (up): read for every packet

	mu         sync.Mutex
	agent      *agent
	stopListen func()
	stopWatch  func()

	// respond orders the answers to the caller's INVITE, which sipgo's
	// dialog does not: a far end's 180 (a dial's goroutine) and the 200
	// (the INVITE's handler) never cross, and no 180 follows the 200.
	respond  sync.Mutex
	answered bool
	rang     bool
}

func newCall(s *Server, dlg *sipgo.DialogServerSession, conn rtpConn, o *offer, codec string, pt uint8) *call {
	ctx, cancel := context.WithCancel(context.Background())
	c := &call{s: s, dlg: dlg, conn: conn, codec: codec, pt: pt, te: o.te, ctx: ctx, cancel: cancel, warned: map[string]bool{}}
	c.remote.set(o.rtp)
	c.out = newRTPOut(conn, &c.remote)
	c.player = legaudio.NewQueue()
	return c
}

// codecs are the codecs offered to a far end: the caller's first, so that
// no transcoding is needed when the far end has it.
func (c *call) codecs() []string {
	l := []string{c.codec}
	for _, n := range c.trunk.Codecs {
		if n != c.codec {
			l = append(l, n)
		}
	}
	return l
}

// answer answers the caller (once); a call to an app is answered at once,
// a trunk call bridged to its agent when the agent answers.
func (c *call) answer() error {
	c.respond.Lock()
	defer c.respond.Unlock()
	if c.answered {
		return nil
	}
	c.answered = true
	return c.dlg.RespondSDP(c.answerSDP)
}

// answerNow answers a call to an app, which is not a bridge: a dial its
// TwiML made first, waiting in pickUp, gets the answer's outcome.
func (c *call) answerNow() error {
	err := c.answer()
	c.mu.Lock()
	waiting := c.pickup
	c.pickup = nil
	c.mu.Unlock()
	if waiting != nil {
		c.picked <- err // buffered: taken by a pickUp that came first, or by nobody
	}
	return err
}

// pickUp answers the caller of a bridge when its far end answers; a call
// to an app was answered already.
func (c *call) pickUp() error {
	c.mu.Lock()
	pickup := c.pickup
	c.mu.Unlock()
	if pickup == nil {
		return nil
	}
	c.pickOnce.Do(func() { close(pickup) })
	select {
	case err := <-c.picked:
		return err
	case <-c.ctx.Done():
		return c.ctx.Err()
	}
}

// ringing passes a far end's ringing on to a caller not yet answered.
func (c *call) ringing() {
	c.respond.Lock()
	defer c.respond.Unlock()
	if !c.answered && !c.rang {
		c.rang = true
		_ = c.dlg.Respond(180, "Ringing", nil)
	}
}

// start reads the caller's RTP and plays what the call's TwiML says.
func (c *call) start() {
	c.rx.sup = dtmf.NewSuppressor()
	c.mu.Lock() // end closes the socket after it stops its reader, or before one starts
	if c.ctx.Err() == nil {
		c.rtp, c.stopRead = readRTP(c.conn, c.packet)
	}
	c.mu.Unlock()
	go c.sendAudio()
	stop := c.s.Legs.Listen(c.account, c.sid, func(heard []tonepay.Heard, ended bool) {
		if len(heard) > 0 {
			c.play(heard)
		}
		if ended {
			// The caller hears the call's last words before the BYE.
			ctx, cancel := context.WithTimeout(c.ctx, legaudio.MaxDrain)
			c.player.Drain(ctx)
			cancel()
			c.end("the call has ended", true)
		}
	})
	watch, err := c.s.Legs.WatchCapture(c.sid, func(st tonepay.CaptureState) { c.paying.Store(st.Paying) })
	if err != nil {
		c.s.log().Error("SIP: watching a call's payment sessions", "call", c.sid, "err", err)
		watch = func() {}
	}
	c.mu.Lock()
	c.stopListen, c.stopWatch = stop, watch
	c.mu.Unlock()
	if c.ctx.Err() != nil {
		stop()
		watch()
	}
}

// end ends the call once: its far end (a CANCEL or a BYE), the tonepay
// call (completed; an open session ends as caller-hung-up), the caller's
// side (a BYE when bye, the end being ours; a final answer to a caller not
// yet answered), and the RTP socket.
func (c *call) end(why string, bye bool) {
	c.endOnce.Do(func() {
		c.cancel()
		c.mu.Lock()
		stop, watch, a, stopRead, pickup := c.stopListen, c.stopWatch, c.agent, c.stopRead, c.pickup
		c.mu.Unlock()
		c.respond.Lock()
		answered := c.answered
		c.answered = true // no answer from now on, but the final one below
		c.respond.Unlock()
		if stop != nil {
			stop()
			watch()
		}
		if a != nil {
			a.end("the caller's call ended", true)
		}
		s := c.s
		s.mu.Lock()
		if s.calls[c.callID] == c {
			delete(s.calls, c.callID)
		}
		if s.bySid[c.sid] == c {
			delete(s.bySid, c.sid)
		}
		s.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if !c.unregistered {
			if _, err := s.Legs.HangUp(ctx, c.account, c.sid); err != nil && tonepay.ErrorCode(err) != tonepay.CodeCallNotInProgress {
				s.log().Error("SIP: ending its call", "call", c.sid, "err", err)
			}
		}
		switch {
		case !answered && pickup != nil:
			// A bridge's caller gets its final answer in its INVITE's
			// handler, which is waiting for this end.
		case !answered:
			code := int(c.failCode.Load())
			if code < 400 {
				code = 480
			}
			_ = c.dlg.Respond(code, reasons[code], nil) // refused by sipgo after a CANCEL (487 sent)
		case bye:
			if err := c.dlg.Bye(ctx); err != nil {
				s.log().Debug("SIP: BYE", "call", c.sid, "err", err)
			}
		}
		c.dlg.Close()
		if stopRead != nil {
			stopRead()
		}
		c.conn.Close()
		s.log().Debug("SIP call ended", "call", c.sid, "why", why)
	})
}

// callerRx is what reading the caller's RTP keeps between packets; only
// packet touches it (one socket's packets are handed over one at a time).
type callerRx struct {
	// sup finds the caller's keys and, from the same analysis, masks them
	// in what a bridged far end hears (its output is sent only then).
	sup   *dtmf.Suppressor
	ev    events
	dd    dtmf.Dedup
	audio int64 // samples of inbound audio so far: the call's clock
	pkt   rtp.Packet
	pcm   []int16
}

// packet takes one of the caller's RTP packets: keys from RFC 4733 events
// and from tones in the audio, deduplicated as the media stream receiver
// does, and, while bridged, the audio and events relayed to the far end.
func (c *call) packet(b []byte, from netip.AddrPort) {
	x := &c.rx
	pkt := &x.pkt
	if pkt.Unmarshal(b) != nil {
		return
	}
	c.remote.set(from) // symmetric RTP
	a := c.relay.Load()
	switch {
	case c.te >= 0 && int(pkt.PayloadType) == c.te:
		k, began := x.ev.packet(pkt.Marker, pkt.Timestamp, pkt.Payload)
		if k != 0 && x.dd.Add(k, false, dtmf.At(x.audio)) {
			c.press(k)
		}
		if a != nil {
			a.event(pkt, began, c.paying.Load())
		}
	case pkt.PayloadType == c.pt:
		x.pcm = decode(c.codec, pkt.Payload, x.pcm[:0])
		out, keys := x.sup.ProcessKeys(x.pcm, c.paying.Load())
		for _, k := range keys {
			if x.dd.Add(k.Digit, true, dtmf.At(k.Offset)) {
				c.press(k.Digit)
			}
		}
		x.audio += int64(len(pkt.Payload))
		if a != nil {
			a.audio(out, pkt.SSRC, pkt.Timestamp, pkt.Marker)
		}
	}
}

// press hands a key to the call runtime's door and stops what the caller
// hears (barge-in).
func (c *call) press(d byte) {
	if !('0' <= d && d <= '9' || d == '*' || d == '#') {
		return
	}
	c.player.Clear()
	if _, err := c.s.Legs.Press(c.ctx, tonepay.Keys{AccountSid: c.account, CallSid: c.sid, Source: tonepay.KeySourceSIP, Digits: string(d)}); err != nil {
		c.s.log().Warn("SIP: a key was not handed to the call", "call", c.sid, "err", err) // the error names no key
	}
}

// play renders what the caller is to hear and queues it.
func (c *call) play(heard []tonepay.Heard) {
	legaudio.Render(c.ctx, c.s.Audio, heard, c.player, "SIP call", c.warn)
}

func (c *call) warn(kind, text string) {
	if c.warned[kind] {
		return
	}
	c.warned[kind] = true
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = c.s.Legs.Warn(ctx, c.account, c.sid, tonepay.RedactURLs(text))
}

// What the caller hears of the TwiML: 8 kHz mu-law from tonepay.Audio
// (legaudio, shared with the media-stream leg), sent as RTP in 20 ms
// packets (A-law when that is the call's codec), paced in real time so
// that a key (barge-in) stops the speech at once; timestamps follow real
// time, so silences between talkspurts are gaps of the right length.
func (c *call) sendAudio() {
	c.player.Play(c.ctx, func(frame []byte, first bool) bool {
		transcode("PCMU", c.codec, frame)
		c.out.write(c.pt, frame, first, c.out.now())
		return true
	})
}

// reasons are the phrases of the final answers tonepay gives a caller.
var reasons = map[int]string{480: "Temporarily Unavailable", 486: "Busy Here", 487: "Request Terminated",
	408: "Request Timeout", 500: "Server Internal Error", 502: "Bad Gateway", 503: "Service Unavailable", 600: "Busy Everywhere", 603: "Decline"}
