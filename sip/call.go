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
	"github.com/tonepay/tonepay/internal/legaudio"
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
	player        *legaudio.Queue
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
	c.player = legaudio.NewQueue()
	return c
}

// start reads the caller's RTP and plays what the call's TwiML says.
func (c *call) start() {
	go c.read()
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
	c.player.Clear()
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

// What the caller hears: 8 kHz mu-law from tonepay.Audio (legaudio, shared
// with the media-stream leg), sent as RTP in 20 ms packets (A-law when that
// is the call's codec), paced in real time so that a key (barge-in) stops
// the speech at once.
func (c *call) sendAudio() {
	hdr := rtp.Header{Version: 2, PayloadType: c.pt, SSRC: rand.Uint32(), SequenceNumber: uint16(rand.Uint32()), Timestamp: rand.Uint32()}
	start := time.Now()
	base := hdr.Timestamp
	c.player.Play(c.ctx, func(frame []byte, first bool) bool {
		if c.codec == "PCMA" {
			for i, u := range frame {
				frame[i] = g711.AlawEncode(g711.MulawDecode(u))
			}
		}
		hdr.Marker = first // a talkspurt begins
		// The timestamp follows real time, so silences between talkspurts
		// are gaps of the right length.
		hdr.Timestamp = base + uint32(time.Since(start)/(time.Second/8000))
		pkt := rtp.Packet{Header: hdr, Payload: frame}
		b, _ := pkt.Marshal()
		_, _ = c.conn.WriteToUDPAddrPort(b, c.dest())
		hdr.SequenceNumber++
		return true
	})
}
