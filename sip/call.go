package sip

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/pion/rtp"
	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/dtmf"
	"github.com/tonepay/tonepay/g711"
)

// call is one answered SIP call: its dialog, its RTP socket, and the
// tonepay call it became.
type call struct {
	s             *Server
	dlg           *sipgo.DialogServerSession
	conn          *net.UDPConn
	account, sid  string
	codec         string
	pt            uint8
	te            int
	ctx           context.Context // canceled when the call ends
	cancel        context.CancelFunc
	player        *player
	stopListen    func()
	warned        map[string]bool // timeline warnings, once per call
	mu            sync.Mutex
	remote        netip.AddrPort // where its RTP goes: the offer's, then where the caller's comes from
	endOnce       sync.Once
	listenStarted chan struct{}
}

func newCall(s *Server, dlg *sipgo.DialogServerSession, conn *net.UDPConn, o *offer, codec string, pt uint8) *call {
	ctx, cancel := context.WithCancel(context.Background())
	c := &call{s: s, dlg: dlg, conn: conn, codec: codec, pt: pt, te: o.te, ctx: ctx, cancel: cancel,
		remote: o.rtp, warned: map[string]bool{}, listenStarted: make(chan struct{})}
	c.player = newPlayer(c)
	return c
}

// start reads the caller's RTP and plays what the call's TwiML says.
func (c *call) start() {
	go c.read()
	go c.player.run()
	stop := c.s.Legs.Listen(c.account, c.sid, func(heard []tonepay.Heard, ended bool) {
		if len(heard) > 0 {
			c.play(heard)
		}
		if ended {
			// The caller hears the call's last words before the BYE.
			ctx, cancel := context.WithTimeout(c.ctx, maxDrain)
			c.player.drain(ctx)
			cancel()
			c.end("the call has ended", true)
		}
	})
	c.mu.Lock()
	c.stopListen = stop
	c.mu.Unlock()
	if c.ctx.Err() != nil {
		stop()
	}
}

// end ends the call once: the tonepay call is completed (an open session
// ends as caller-hung-up), the caller gets a BYE when bye (the end is
// ours), and the RTP socket closes.
func (c *call) end(why string, bye bool) {
	c.endOnce.Do(func() {
		c.cancel()
		c.mu.Lock()
		stop := c.stopListen
		c.mu.Unlock()
		if stop != nil {
			stop()
		}
		s := c.s
		s.mu.Lock()
		for id, o := range s.calls {
			if o == c {
				delete(s.calls, id)
			}
		}
		s.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if c.sid != "" {
			if _, err := s.Legs.HangUp(ctx, c.account, c.sid); err != nil && tonepay.ErrorCode(err) != tonepay.CodeCallNotInProgress {
				s.log().Error("SIP: ending its call", "call", c.sid, "err", err)
			}
		}
		if bye {
			if err := c.dlg.Bye(ctx); err != nil {
				s.log().Debug("SIP: BYE", "call", c.sid, "err", err)
			}
		}
		c.dlg.Close()
		c.conn.Close()
		s.log().Debug("SIP call ended", "call", c.sid, "why", why)
	})
}

// read reads the caller's RTP until the call ends: keys from RFC 4733
// events and from tones in the audio, deduplicated as the media stream
// receiver does; no RTP for RTPTimeout ends the call.
func (c *call) read() {
	var (
		det   = dtmf.NewDetector()
		ev    events
		dd    dtmf.Dedup
		audio int64 // samples of inbound audio so far: the call's clock
		pkt   rtp.Packet
		pcm   []int16
		buf   = make([]byte, 1500)
	)
	timeout := c.s.rtpTimeout()
	for {
		_ = c.conn.SetReadDeadline(time.Now().Add(timeout))
		n, from, err := c.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && c.ctx.Err() == nil {
				c.s.log().Warn("SIP call ended: no RTP for "+timeout.String(), "call", c.sid)
				c.end("no RTP", true)
			}
			return
		}
		if pkt.Unmarshal(buf[:n]) != nil {
			continue
		}
		c.mu.Lock()
		c.remote = netip.AddrPortFrom(from.Addr().Unmap(), from.Port()) // symmetric RTP
		c.mu.Unlock()
		switch {
		case c.te >= 0 && int(pkt.PayloadType) == c.te:
			if k := ev.packet(pkt.Marker, pkt.Timestamp, pkt.Payload); k != 0 && dd.Add(k, false, dtmf.At(audio)) {
				c.press(k)
			}
		case pkt.PayloadType == c.pt:
			var keys []dtmf.Key
			if c.codec == "PCMA" {
				pcm = pcm[:0]
				for _, b := range pkt.Payload {
					pcm = append(pcm, g711.AlawDecode(b))
				}
				keys = det.Write(pcm)
			} else {
				keys = det.WriteMulaw(pkt.Payload)
			}
			for _, k := range keys {
				if dd.Add(k.Digit, true, dtmf.At(k.Offset)) {
					c.press(k.Digit)
				}
			}
			audio += int64(len(pkt.Payload))
		}
	}
}

// press hands a key to the call runtime's door and stops what the caller
// hears (barge-in).
func (c *call) press(d byte) {
	if !('0' <= d && d <= '9' || d == '*' || d == '#') {
		return
	}
	c.player.clear()
	if _, err := c.s.Legs.Press(c.ctx, tonepay.Keys{AccountSid: c.account, CallSid: c.sid, Source: tonepay.KeySourceSIP, Digits: string(d)}); err != nil {
		c.s.log().Warn("SIP: a key was not handed to the call", "call", c.sid, "err", err) // the error names no key
	}
}

func (c *call) dest() netip.AddrPort {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.remote
}

// play renders what the caller is to hear and queues it.
func (c *call) play(heard []tonepay.Heard) {
	if c.s.Audio == nil {
		c.warn("no-audio", "the caller of this SIP call hears nothing: tonepay has no audio (text-to-speech) configured")
		return
	}
	for _, h := range heard {
		ctx, cancel := context.WithTimeout(c.ctx, 30*time.Second)
		var b []byte
		var err error
		if h.Play {
			b, err = c.s.Audio.Play(ctx, h.URL)
		} else {
			b, err = c.s.Audio.Speak(ctx, h.Text, h.Voice, h.Language)
		}
		cancel()
		switch {
		case errors.Is(err, tonepay.ErrNoSpeech):
			c.warn("no-speech", "the caller of this SIP call hears nothing: no speech engine (install espeak-ng)")
			continue
		case err != nil && c.ctx.Err() == nil:
			c.warn("audio:"+tonepay.RedactURL(h.URL), "the caller could not hear a <"+map[bool]string{true: "Play", false: "Say"}[h.Play]+">: "+tonepay.ErrorMessage(err))
			continue
		case err != nil:
			return
		}
		for range min(max(h.Loop, 1), maxLoop) {
			c.player.add(b)
		}
	}
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

// What the caller hears: 8 kHz mu-law from tonepay.Audio, sent as RTP in
// 20 ms packets (A-law when that is the call's codec), paced in real time
// so that a key (barge-in) stops the speech at once.
const (
	frameBytes = 160
	frameEvery = 20 * time.Millisecond
	maxQueued  = 5 * 60 * 8000
	maxLoop    = 10
	maxDrain   = 30 * time.Second
)

type player struct {
	c    *call
	mu   sync.Mutex
	buf  []byte
	busy bool
	wake chan struct{}
}

func newPlayer(c *call) *player { return &player{c: c, wake: make(chan struct{}, 1)} }

func (p *player) add(b []byte) {
	p.mu.Lock()
	if room := maxQueued - len(p.buf); len(b) > room {
		b = b[:max(room, 0)]
	}
	p.buf = append(p.buf, b...)
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

func (p *player) clear() {
	p.mu.Lock()
	p.buf = nil
	p.mu.Unlock()
}

func (p *player) drain(ctx context.Context) {
	t := time.NewTicker(frameEvery)
	defer t.Stop()
	for {
		p.mu.Lock()
		idle := len(p.buf) == 0 && !p.busy
		p.mu.Unlock()
		if idle {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// next takes the next packet's audio in the call's codec, or nil.
func (p *player) next() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.buf) == 0 {
		p.busy = false
		return nil
	}
	p.busy = true
	n := min(frameBytes, len(p.buf))
	out := make([]byte, frameBytes)
	for i := range out {
		u := byte(0xFF) // mu-law silence
		if i < n {
			u = p.buf[i]
		}
		if p.c.codec == "PCMA" {
			u = g711.AlawEncode(g711.MulawDecode(u))
		}
		out[i] = u
	}
	p.buf = p.buf[n:]
	return out
}

func (p *player) run() {
	ctx := p.c.ctx
	hdr := rtp.Header{Version: 2, PayloadType: p.c.pt, SSRC: rand.Uint32(), SequenceNumber: uint16(rand.Uint32()), Timestamp: rand.Uint32()}
	start := time.Now()
	base := hdr.Timestamp
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.wake:
		}
		at := time.Now()
		hdr.Marker = true // a talkspurt begins
		for chunk := p.next(); chunk != nil; chunk = p.next() {
			// The timestamp follows real time, so silences between
			// talkspurts are gaps of the right length.
			hdr.Timestamp = base + uint32(time.Since(start)/(time.Second/8000))
			pkt := rtp.Packet{Header: hdr, Payload: chunk}
			b, _ := pkt.Marshal()
			_, _ = p.c.conn.WriteToUDPAddrPort(b, p.c.dest())
			hdr.Marker = false
			hdr.SequenceNumber++
			at = at.Add(frameEvery)
			if time.Since(at) > 5*frameEvery {
				at = time.Now()
			}
			t := time.NewTimer(time.Until(at))
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
	}
}
