package sip

import (
	"math/rand/v2"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/tonepay/tonepay/g711"
)

// rtpOut is one RTP stream tonepay sends: one SSRC whose sequence numbers
// and timestamps stay continuous whoever writes to it (the call's TwiML
// audio, the far end relayed). Safe for concurrent use.
type rtpOut struct {
	conn rtpConn
	dest *peer

	mu    sync.Mutex
	hdr   rtp.Header
	start time.Time // the clock of timestamps written "now"
	base  uint32
	buf   [1500]byte
}

func newRTPOut(conn rtpConn, dest *peer) *rtpOut {
	o := &rtpOut{conn: conn, dest: dest, start: time.Now()}
	o.hdr = rtp.Header{Version: 2, SSRC: rand.Uint32(), SequenceNumber: uint16(rand.Uint32())}
	o.base = rand.Uint32()
	return o
}

// now is the timestamp of this instant: 8,000 a second from the start.
func (o *rtpOut) now() uint32 {
	return o.base + uint32(time.Since(o.start)/(time.Second/8000))
}

// write sends one packet of payload type pt stamped ts; marker begins a
// talkspurt (or an event).
func (o *rtpOut) write(pt uint8, payload []byte, marker bool, ts uint32) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.hdr.PayloadType, o.hdr.Marker, o.hdr.Timestamp = pt, marker, ts
	pkt := rtp.Packet{Header: o.hdr, Payload: payload}
	n, err := pkt.MarshalTo(o.buf[:])
	o.hdr.SequenceNumber++
	if err != nil {
		return
	}
	o.conn.WriteTo(o.buf[:n], o.dest.get())
}

// peer is where a leg's RTP goes: the SDP's address, then where its RTP
// comes from (symmetric RTP). Read for every packet sent, written when it
// changes, so without a lock.
type peer struct {
	p atomic.Pointer[netip.AddrPort]
}

func (p *peer) get() netip.AddrPort {
	if a := p.p.Load(); a != nil {
		return *a
	}
	return netip.AddrPort{}
}

// set makes a the destination; from an RTP source, an IPv4-mapped address
// is unmapped.
func (p *peer) set(a netip.AddrPort) {
	a = netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
	if old := p.p.Load(); old == nil || *old != a {
		p.p.Store(&a)
	}
}

// tsMap maps a relayed source's timestamps onto an rtpOut's: the offset is
// taken anew at the source's first packet, a new SSRC and each talkspurt,
// so the spacing within a talkspurt is the source's own.
type tsMap struct {
	ok    bool
	ssrc  uint32
	delta uint32
}

func (m *tsMap) stamp(o *rtpOut, ssrc, ts uint32, marker bool) uint32 {
	if !m.ok || ssrc != m.ssrc || marker {
		m.ok, m.ssrc, m.delta = true, ssrc, o.now()-ts
	}
	return ts + m.delta
}

// decode appends a G.711 payload's samples to pcm.
func decode(codec string, payload []byte, pcm []int16) []int16 {
	if codec == "PCMA" {
		for _, b := range payload {
			pcm = append(pcm, g711.AlawDecode(b))
		}
		return pcm
	}
	for _, b := range payload {
		pcm = append(pcm, g711.MulawDecode(b))
	}
	return pcm
}

// encode appends samples in a G.711 codec to b.
func encode(codec string, pcm []int16, b []byte) []byte {
	if codec == "PCMA" {
		for _, s := range pcm {
			b = append(b, g711.AlawEncode(s))
		}
		return b
	}
	for _, s := range pcm {
		b = append(b, g711.MulawEncode(s))
	}
	return b
}

// transcode rewrites a G.711 payload from one codec to the other in place.
func transcode(from, to string, payload []byte) {
	switch {
	case from == to:
	case to == "PCMA":
		for i, u := range payload {
			payload[i] = g711.AlawEncode(g711.MulawDecode(u))
		}
	default:
		for i, a := range payload {
			payload[i] = g711.MulawEncode(g711.AlawDecode(a))
		}
	}
}
