package sip

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	siplib "github.com/emiago/sipgo/sip"
	"github.com/pion/rtp"
	"github.com/tonepay/tonepay"
)

// The far end of a SIP call's <Dial><Sip> (a trunk call bridged to its
// agent is one too): tonepay calls it as a user agent client, with
// X-Tonepay-CallSid naming the caller's call, passes its ringing on to a
// caller not yet answered, and once it answers relays audio both ways.
// Toward the agent the caller's DTMF is suppressed while a payment session
// is open on the call (dtmf.Suppressor for tones, RFC 4733 events
// dropped), and passes through otherwise.

// HeaderCallSid names the caller's call on the INVITE to the agent.
const HeaderCallSid = "X-Tonepay-CallSid"

// agent is one far end: its dialog and its RTP.
type agent struct {
	c      *call
	d      tonepay.LegDial
	ctx    context.Context // canceled when the leg ends: a CANCEL before the answer
	cancel context.CancelFunc
	conn   rtpConn
	out    *rtpOut // what the agent hears
	remote peer

	mu      sync.Mutex
	dlg     *sipgo.DialogClientSession
	codec   string
	pt      uint8
	te      int // the agent's telephone-event payload type; -1 none
	up      bool
	ended   bool
	waiting bool // its INVITE awaits a final answer (WaitAnswer)

	// Caller-bound state, packet's alone; codec, pt and te are set before
	// the far end's RTP is read.
	rx       rtp.Packet
	rxTS     tsMap
	rtp      *watch // (mu)
	stopRead func() // (mu)

	// Agent-bound state, the caller's reader's alone.
	payload []byte
	audioTS tsMap
	evSeen  bool // an event has been relayed, or dropped
	evDrop  bool // the current event began while paying: dropped to its end
}

// Dial implements tonepay.Dialer: it calls d's far end for d's call, a
// SIP call of this server. It returns at once.
func (s *Server) Dial(d tonepay.LegDial) {
	s.mu.Lock()
	c := s.bySid[d.CallSid]
	s.mu.Unlock()
	if c == nil {
		// The call is not this process's (or has just ended): nobody can
		// place its dial.
		go s.report(d, tonepay.CallFailed)
		return
	}
	go c.dial(d)
}

// Drop implements tonepay.Dialer: the call has left the dial; its far end
// gets a CANCEL or a BYE.
func (s *Server) Drop(accountSid, legSid string) {
	s.mu.Lock()
	a := s.agentBySid[legSid]
	s.mu.Unlock()
	if a != nil && a.d.AccountSid == accountSid {
		go a.end("the call left the dial", false)
	}
}

// report tells the runtime what d's far end did.
func (s *Server) report(d tonepay.LegDial, status string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Legs.DialStatus(ctx, d.AccountSid, d.LegSid, status); err != nil && tonepay.ErrorCode(err) != tonepay.CodeCallNotInProgress {
		s.log().Error("SIP: reporting a dial's far end", "call", d.CallSid, "leg", d.LegSid, "err", err)
	}
}

// dialStatus is what a final SIP answer to the INVITE makes of the dial.
func dialStatus(code int) string {
	switch code {
	case 486, 600:
		return tonepay.CallBusy
	case 408, 480, 487, 603:
		return tonepay.CallNoAnswer
	}
	return tonepay.CallFailed
}

// dial calls d's far end and bridges it to the caller once it answers.
func (c *call) dial(d tonepay.LegDial) {
	s := c.s
	var to siplib.Uri
	if err := siplib.ParseUri(d.To, &to); err != nil || to.Host == "" {
		s.log().Warn("SIP: a <Dial><Sip> URI that cannot be called", "call", c.sid, "err", err)
		s.report(d, tonepay.CallFailed)
		return
	}
	if !c.mayDial(to) {
		s.log().Warn("SIP: a <Dial><Sip> refused: its host is neither the trunk's agent's nor in the trunk's networks", "call", c.sid, "host", to.Host)
		c.warn("sip-dial", "<Dial><Sip> to "+to.Host+" refused: tonepay calls only the trunk's agent's host and addresses in the trunk's networks")
		s.report(d, tonepay.CallFailed)
		return
	}
	conn, err := s.rtpSocket()
	if err != nil {
		s.log().Error("SIP: no free RTP port to dial", "call", c.sid, "err", err)
		s.report(d, tonepay.CallFailed)
		return
	}
	ctx, cancel := context.WithCancel(c.ctx)
	a := &agent{c: c, d: d, ctx: ctx, cancel: cancel, conn: conn, te: -1}
	a.out = newRTPOut(conn, &a.remote)
	s.mu.Lock()
	if c.ctx.Err() != nil || s.closed {
		s.mu.Unlock()
		cancel()
		conn.Close()
		return
	}
	s.agentBySid[d.LegSid] = a
	s.mu.Unlock()
	c.mu.Lock()
	old := c.agent
	c.agent = a
	c.mu.Unlock()
	if old != nil {
		old.end("a new dial", false)
	}

	from := c.fromUser
	if d.From != "" && d.From != c.from {
		from = strings.TrimPrefix(d.From, "+") // the Dial's callerId
	}
	fh := &siplib.FromHeader{Address: siplib.Uri{User: from, Host: c.local.String(), Port: s.port}, Params: siplib.NewParams()}
	fh.Params.Add("tag", siplib.GenerateTagN(16))
	offer := offerSDP(c.local, conn.Port(), c.codecs(), rand.Uint64()>>2)
	dlg, err := s.clients.Invite(ctx, to, offer, fh, siplib.NewHeader("Content-Type", "application/sdp"),
		siplib.NewHeader(HeaderCallSid, c.sid))
	if err != nil {
		s.log().Warn("SIP: the INVITE to a dial's far end could not be sent", "call", c.sid, "to", to.Host, "err", err)
		a.fail(tonepay.CallFailed)
		return
	}
	a.mu.Lock()
	a.dlg, a.waiting = dlg, true
	a.mu.Unlock()
	s.mu.Lock()
	s.agentByID[dlg.InviteRequest.CallID().Value()] = a
	s.mu.Unlock()
	err = dlg.WaitAnswer(ctx, sipgo.AnswerOptions{OnResponse: func(res *siplib.Response) error {
		if res.StatusCode == 180 || res.StatusCode == 183 {
			c.ringing()
		}
		return nil
	}})
	a.mu.Lock()
	a.waiting = false
	a.mu.Unlock()
	if err == nil && ctx.Err() != nil {
		// It answered as it was dropped: acknowledged, then hung up.
		actx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = dlg.Ack(actx)
		cancel()
		a.end("dropped as it answered", true)
		return
	}
	if err != nil {
		if ctx.Err() != nil {
			a.end("canceled", false) // dropped, or the caller left
			return
		}
		var re *sipgo.ErrDialogResponse
		status := tonepay.CallFailed
		if errors.As(err, &re) {
			status = dialStatus(re.Res.StatusCode)
			c.failCode.Store(int32(re.Res.StatusCode))
		}
		s.log().Debug("SIP: a dial's far end did not answer", "call", c.sid, "err", err)
		a.fail(status)
		return
	}
	if err := dlg.Ack(ctx); err != nil {
		s.log().Warn("SIP: ACK to a dial's far end", "call", c.sid, "err", err)
	}
	o, err := parseOffer(dlg.InviteResponse.Body())
	codec, pt := "", uint8(0)
	if err == nil {
		for _, n := range []string{c.codec, "PCMU", "PCMA"} {
			if p, ok := o.codecs[n]; ok {
				codec, pt = n, p
				break
			}
		}
	}
	if codec == "" {
		s.log().Warn("SIP: a dial's far end answered with no audio codec of ours", "call", c.sid)
		a.end("no codec", true)
		s.report(d, tonepay.CallFailed)
		return
	}
	a.mu.Lock()
	a.codec, a.pt, a.te = codec, pt, o.te
	a.mu.Unlock()
	a.remote.set(o.rtp)
	// The relay runs before a caller not yet answered (a trunk call bridged
	// to its agent) is answered, so that its first packet is relayed; the
	// bridge is reported up once the caller is.
	a.mu.Lock()
	a.up = true
	a.mu.Unlock()
	c.relay.Store(a)
	a.mu.Lock() // end closes the socket after it stops its reader, or before one starts
	if !a.ended {
		a.rtp, a.stopRead = readRTP(a.conn, a.packet)
	}
	a.mu.Unlock()
	if err := c.pickUp(); err != nil {
		a.end("the caller could not be answered", true)
		return
	}
	s.report(d, tonepay.CallInProgress)
	s.log().Debug("SIP: bridged", "call", c.sid, "leg", d.LegSid, "codec", codec)
}

// mayDial reports whether a <Dial><Sip> may call to: its host is the
// trunk's agent's, or each of its addresses is in the trunk's networks
// (the PBX's side). An app's TwiML cannot make tonepay's SIP reach any
// other host, as the callback policy keeps its HTTP from other networks.
func (c *call) mayDial(to siplib.Uri) bool {
	var agent siplib.Uri
	if c.trunk.Agent != "" && siplib.ParseUri(c.trunk.Agent, &agent) == nil && strings.EqualFold(agent.Host, to.Host) {
		return true
	}
	ctx, cancel := context.WithTimeout(c.ctx, 5*time.Second)
	defer cancel()
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", strings.Trim(to.Host, "[]"))
	if err != nil || len(ips) == 0 {
		return false
	}
	for _, ip := range ips {
		if !slices.ContainsFunc(c.trunk.Networks, func(n netip.Prefix) bool { return n.Contains(ip.Unmap()) }) {
			return false
		}
	}
	return true
}

// fail ends a far end that never answered, and says so.
func (a *agent) fail(status string) {
	a.end("not answered", false)
	a.c.s.report(a.d, status)
}

// end ends the far end once: a CANCEL if it has not answered (ctx), a BYE
// if bye and it has; its RTP closes. The runtime is told by the caller of
// end where it needs to be (a hang-up of the leg, a failure).
func (a *agent) end(why string, bye bool) {
	a.mu.Lock()
	if a.ended {
		a.mu.Unlock()
		return
	}
	if a.waiting {
		// Its INVITE is pending: WaitAnswer sends the CANCEL, and the dial
		// ends the leg once that is through.
		a.mu.Unlock()
		a.cancel()
		return
	}
	a.ended = true
	up, dlg, stopRead := a.up, a.dlg, a.stopRead
	a.mu.Unlock()
	a.c.relay.CompareAndSwap(a, nil)
	a.cancel()
	s := a.c.s
	if dlg != nil && (up || bye) && dlg.LoadState() == siplib.DialogStateConfirmed {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := dlg.Bye(ctx); err != nil {
			s.log().Debug("SIP: BYE to a dial's far end", "leg", a.d.LegSid, "err", err)
		}
		cancel()
	}
	if dlg != nil {
		dlg.Close()
	}
	if stopRead != nil {
		stopRead()
	}
	a.conn.Close()
	s.mu.Lock()
	if s.agentBySid[a.d.LegSid] == a {
		delete(s.agentBySid, a.d.LegSid)
	}
	if dlg != nil {
		delete(s.agentByID, dlg.InviteRequest.CallID().Value())
	}
	s.mu.Unlock()
	a.c.mu.Lock()
	if a.c.agent == a {
		a.c.agent = nil
	}
	a.c.mu.Unlock()
	s.log().Debug("SIP: a dial's far end ended", "leg", a.d.LegSid, "why", why)
}

// hungUp: the far end sent a BYE, or went silent; the call's Dial ends.
func (a *agent) hungUp(why string) {
	a.end(why, why != "bye")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := a.c.s.Legs.HangUp(ctx, a.d.AccountSid, a.d.LegSid); err != nil && tonepay.ErrorCode(err) != tonepay.CodeCallNotInProgress {
		a.c.s.log().Error("SIP: ending a dial's leg", "leg", a.d.LegSid, "err", err)
	}
}

// packet relays one of the far end's RTP packets to the caller: audio in
// the caller's codec, events as events when the caller negotiated them.
func (a *agent) packet(b []byte, from netip.AddrPort) {
	pkt, c := &a.rx, a.c
	if pkt.Unmarshal(b) != nil {
		return
	}
	a.remote.set(from)
	switch {
	case a.te >= 0 && int(pkt.PayloadType) == a.te:
		if c.te >= 0 {
			c.out.write(uint8(c.te), pkt.Payload, pkt.Marker, a.rxTS.stamp(c.out, pkt.SSRC, pkt.Timestamp, pkt.Marker))
		}
	case pkt.PayloadType == a.pt:
		transcode(a.codec, c.codec, pkt.Payload)
		c.out.write(c.pt, pkt.Payload, pkt.Marker, a.rxTS.stamp(c.out, pkt.SSRC, pkt.Timestamp, pkt.Marker))
	}
}

// audio relays 20 ms of the caller's audio to the agent, as the call's
// suppressor left it: held back by dtmf.HoldBack, tones masked while
// paying. The caller's reader's.
func (a *agent) audio(pcm []int16, ssrc, ts uint32, marker bool) {
	a.payload = encode(a.codec, pcm, a.payload[:0])
	a.out.write(a.pt, a.payload, marker, a.audioTS.stamp(a.out, ssrc, ts, marker))
}

// event relays one of the caller's RFC 4733 packets to the agent, unless
// its event began while paying (it is dropped to its end: nothing of a key
// pressed during a session leaks, even if the session ends mid-key), or
// the agent has no telephone-event. The caller's reader's.
func (a *agent) event(pkt *rtp.Packet, began, paying bool) {
	if began || !a.evSeen { // events.packet decides where an event begins
		a.evSeen, a.evDrop = true, paying
	}
	if a.evDrop || a.te < 0 {
		return
	}
	a.out.write(uint8(a.te), pkt.Payload, pkt.Marker, a.audioTS.stamp(a.out, pkt.SSRC, pkt.Timestamp, false))
}

// offerSDP is the offer to a far end: audio on ip:port in codecs (with
// their static payload types) and telephone-event 101.
func offerSDP(ip netip.Addr, port int, codecs []string, session uint64) []byte {
	ipv := "IP4"
	if ip.Is6() {
		ipv = "IP6"
	}
	static := map[string]int{"PCMU": 0, "PCMA": 8}
	var fmts []string
	var maps strings.Builder
	for _, c := range codecs {
		fmts = append(fmts, strconv.Itoa(static[c]))
		fmt.Fprintf(&maps, "a=rtpmap:%d %s/8000\r\n", static[c], c)
	}
	fmts = append(fmts, "101")
	var b strings.Builder
	fmt.Fprintf(&b, "v=0\r\no=tonepay %d %d IN %s %s\r\ns=tonepay\r\nc=IN %s %s\r\nt=0 0\r\n", session, session, ipv, ip, ipv, ip)
	fmt.Fprintf(&b, "m=audio %d RTP/AVP %s\r\n%sa=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n", port, strings.Join(fmts, " "), maps.String())
	return []byte(b.String())
}
