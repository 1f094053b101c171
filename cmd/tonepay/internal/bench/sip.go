package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	siplib "github.com/emiago/sipgo/sip"
	"github.com/pion/rtp"
	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/client"
	"github.com/tonepay/tonepay/dtmf"
)

// The SIP measure (issue 7): the bench plays a trunk's phones and the
// agents' phone at once. Its callers place n calls through one sipgo user
// agent to the child's trunk; having no app, each is bridged to the
// trunk's agent, the bench's one sipgo UAS answering them all. Every call
// then sends a 20 ms PCMU packet each way every 20 ms (the caller's a
// loud, noisy line, so that tonepay's detector and suppressor analyse
// every frame), from one goroutine for all calls: its 1 ms ticker serves
// the calls whose phase is that millisecond, so the packets are spread
// over the 20 ms as independent phones' are, not sent in one burst.
//
// Relay latency: tonepay relays each packet as it arrives, one out for one
// in, but the caller's audio comes out 60 ms late in content (the
// suppressor's hold-back) and re-encoded, so a packet cannot be known by
// its payload. It is known by its RTP timestamp: tonepay maps each source's
// timestamps onto its own stream with one offset, taken anew only at a
// marker or a new SSRC, and the bench marks only a call's first packet;
// so the relay of packet k carries the relayed timestamp of packet 0 plus
// 160·k, whatever order relays arrive in and whichever are lost. The
// latency runs from the bench's write of packet k to the arrival of its
// relay, stamped by the kernel (SO_TIMESTAMPNS) when the socket queues it,
// so that the bench's own scheduling on the shared cores is not counted.
// A packet sent but never relayed, after a drain, is lost.

// sipPhases is how many 1 ms slots a 20 ms packet interval has.
const sipPhases = 20

// sipTrunkTo is the number the callers dial: not an IncomingPhoneNumber,
// so the trunk bridges the call to its agent.
const sipTrunkTo = "+15005550006"

// sipFrom is bench call i's From user, which tonepay passes on to the
// agent: it is how the agent knows which call its INVITE belongs to.
func sipFrom(i int) string { return fmt.Sprintf("+1555%07d", i) }

// flow is one direction of one call: when the bench wrote each packet k
// and when its relay arrived on the other leg.
type flow struct {
	mu       sync.Mutex
	sent     []int64 // UnixNano of packet k's write; 0: slot k carried no audio (a key's events)
	recv     []int64 // arrival of packet k's relay; 0: none (yet)
	anchor   uint32  // the relayed timestamp of packet 0
	anchored bool
	loose    int // relays that could not be placed (packet 0's relay missing, off the grid)
	dups     int
}

func (f *flow) wrote(k int, at int64) {
	f.mu.Lock()
	for len(f.sent) <= k {
		f.sent = append(f.sent, 0)
	}
	f.sent[k] = at
	f.mu.Unlock()
}

// relayed records a relay of this flow stamped ts (marker: the relay of
// packet 0) that arrived at at.
func (f *flow) relayed(marker bool, ts uint32, at int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if marker && !f.anchored {
		f.anchored, f.anchor = true, ts
	}
	d := ts - f.anchor
	k := int(d / 160)
	if !f.anchored || d%160 != 0 || k >= len(f.sent) {
		f.loose++
		return
	}
	for len(f.recv) <= k {
		f.recv = append(f.recv, 0)
	}
	if f.recv[k] != 0 {
		f.dups++
		return
	}
	f.recv[k] = at
}

// relayStats are a direction's figures over every call.
type relayStats struct {
	sent, lost, loose, dups int
	lat                     []time.Duration
}

// add counts f's packets written in [from, to).
func (s *relayStats) add(f *flow, from, to int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for k, t := range f.sent {
		if t == 0 || t < from || t >= to {
			continue
		}
		s.sent++
		if k >= len(f.recv) || f.recv[k] == 0 {
			s.lost++
			continue
		}
		s.lat = append(s.lat, time.Duration(f.recv[k]-t))
	}
	s.loose += f.loose
	s.dups += f.dups
}

// maxMS is the largest of ds in milliseconds.
func maxMS(ds []time.Duration) float64 {
	var m time.Duration
	for _, d := range ds {
		m = max(m, d)
	}
	return float64(m) / float64(time.Millisecond)
}

// rtpNet opens the bench's RTP sockets and reads them all (rtpnet_*.go).
type rtpNet interface {
	// open binds a loopback UDP socket whose datagrams go to fn, with
	// their arrival (UnixNano), on the reader's goroutine.
	open(fn func(pkt []byte, at int64)) (rtpSock, error)
	kernelStamps() bool // arrivals are the kernel's stamps
	close()             // closes every socket
}

// rtpSock is one leg's RTP socket.
type rtpSock interface {
	port() int
	connect(peer netip.AddrPort) error // where send sends: tonepay's RTP for that leg
	send(pkt []byte) error
}

// sipCall is one bridged call: the caller's RTP socket and the agent's,
// and what each sent and got.
type sipCall struct {
	i       int
	sid     string // tonepay's CallSid, from the agent's X-Tonepay-CallSid
	dlg     *sipgo.DialogClientSession
	caller  rtpSock
	agent   rtpSock
	agentUp chan struct{} // closed when the agent answered
	det     *dtmf.Detector
	typing  bool
	tones   atomic.Int64 // keys the agent's detector found in its audio
	events  atomic.Int64 // RFC 4733 packets that reached the agent

	toAgent, toCaller flow

	// The sender's alone.
	startAt        time.Time
	started        bool
	k              int // the next slot
	ts0            uint32
	ssrcC, ssrcA   uint32
	seqC, seqA     uint16
	keySlot, keyTS uint32

	mu      sync.Mutex
	key     byte           // being typed; 0 none
	keySent chan time.Time // gets the first end packet's write
}

// sipRun is one run of the measure.
type sipRun struct {
	b         *bench
	socks     rtpNet
	mu        sync.Mutex
	phases    [sipPhases][]*sipCall
	writeErrs atomic.Int64
}

// benchAgent is the agents' phone: one sipgo UAS that answers every
// INVITE tonepay sends it for a call the bench expects.
type benchAgent struct {
	ua  *sipgo.UserAgent
	pc  net.PacketConn
	uri string

	mu    sync.Mutex
	calls map[string]*sipCall // expected, by From user
	run   *sipRun
}

// startAgent listens for the agent's INVITEs before the server starts:
// the trunk in its config file names the agent's address.
func (b *bench) startAgent() error {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	port := pc.LocalAddr().(*net.UDPAddr).Port
	a := &benchAgent{pc: pc, uri: fmt.Sprintf("sip:agents@127.0.0.1:%d", port), calls: map[string]*sipCall{}}
	if a.ua, err = sipgo.NewUA(sipgo.WithUserAgent("tonepay-bench-agent")); err != nil {
		pc.Close()
		return err
	}
	srv, err := sipgo.NewServer(a.ua)
	var cli *sipgo.Client
	if err == nil {
		cli, err = sipgo.NewClient(a.ua, sipgo.WithClientHostname("127.0.0.1"), sipgo.WithClientPort(port))
	}
	if err != nil {
		a.close()
		return err
	}
	dc := sipgo.NewDialogServerCache(cli, siplib.ContactHeader{Address: siplib.Uri{User: "agent", Host: "127.0.0.1", Port: port}})
	srv.OnInvite(func(req *siplib.Request, tx siplib.ServerTransaction) { a.onInvite(dc, req, tx) })
	srv.OnAck(func(req *siplib.Request, tx siplib.ServerTransaction) { _ = dc.ReadAck(req, tx) })
	srv.OnBye(func(req *siplib.Request, tx siplib.ServerTransaction) { _ = dc.ReadBye(req, tx) })
	go srv.ServeUDP(pc)
	b.agent = a
	return nil
}

func (a *benchAgent) close() {
	a.ua.Close()
	a.pc.Close()
}

// sipConfig is the child's trunk: loopback's calls, bridged to the agent.
func (b *bench) sipConfig() string {
	return fmt.Sprintf("[[sip.trunk]]\nname = \"bench\"\nnetworks = [\"127.0.0.0/8\"]\nagent = %q\ncodecs = [\"PCMU\"]\n", b.agent.uri)
}

// expect makes the agent answer the call whose caller is c.
func (a *benchAgent) expect(r *sipRun, c *sipCall) {
	a.mu.Lock()
	a.calls[sipFrom(c.i)], a.run = c, r
	a.mu.Unlock()
}

func (a *benchAgent) onInvite(dc *sipgo.DialogServerCache, req *siplib.Request, tx siplib.ServerTransaction) {
	var from string
	if f := req.From(); f != nil {
		from = f.Address.User
	}
	a.mu.Lock()
	c, r := a.calls[from], a.run
	delete(a.calls, from)
	a.mu.Unlock()
	h := req.GetHeader("X-Tonepay-CallSid")
	to, err := sdpAddr(req.Body())
	if c == nil || h == nil || err != nil {
		_ = tx.Respond(siplib.NewResponseFromRequest(req, 404, "Not Found", nil))
		return
	}
	dlg, err := dc.ReadInvite(req, tx)
	if err != nil {
		return
	}
	conn, err := r.socks.open(r.agentReader(c))
	if err == nil {
		err = conn.connect(to)
	}
	if err != nil {
		_ = dlg.Respond(503, "Service Unavailable", nil)
		return
	}
	c.sid, c.agent = h.Value(), conn
	sdp := fmt.Sprintf("v=0\r\no=agent 1 1 IN IP4 127.0.0.1\r\ns=agent\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio %d RTP/AVP 0 101\r\n"+
		"a=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n", conn.port())
	if dlg.RespondSDP([]byte(sdp)) == nil {
		close(c.agentUp)
	}
}

// sdpAddr is an SDP body's audio address (c= and m=audio).
func sdpAddr(body []byte) (netip.AddrPort, error) {
	var ip netip.Addr
	port := 0
	for _, l := range strings.Split(string(body), "\n") {
		l = strings.TrimSpace(l)
		if v, ok := strings.CutPrefix(l, "c=IN IP4 "); ok {
			ip, _ = netip.ParseAddr(v)
		}
		if v, ok := strings.CutPrefix(l, "m=audio "); ok && len(strings.Fields(v)) > 0 {
			port, _ = strconv.Atoi(strings.Fields(v)[0])
		}
	}
	if !ip.IsValid() || port <= 0 || port > 65535 {
		return netip.AddrPort{}, fmt.Errorf("no audio address in the SDP %q", body)
	}
	return netip.AddrPortFrom(ip, uint16(port)), nil
}

// agentReader takes what reaches c's agent: the caller's audio relayed,
// run through a detector on the typing calls, and any RFC 4733 event (the
// callers type only during payment sessions, so any is a leak).
func (r *sipRun) agentReader(c *sipCall) func([]byte, int64) {
	return func(pkt []byte, at int64) {
		var p rtp.Packet
		if p.Unmarshal(pkt) != nil {
			return
		}
		switch p.PayloadType {
		case 0:
			c.toAgent.relayed(p.Marker, p.Timestamp, at)
			if c.det != nil {
				c.tones.Add(int64(len(c.det.WriteMulaw(p.Payload))))
			}
		case 101:
			c.events.Add(1)
		}
	}
}

// callerReader takes what reaches c's caller: the agent's audio relayed.
func (r *sipRun) callerReader(c *sipCall) func([]byte, int64) {
	return func(pkt []byte, at int64) {
		var p rtp.Packet
		if p.Unmarshal(pkt) == nil && p.PayloadType == 0 {
			c.toCaller.relayed(p.Marker, p.Timestamp, at)
		}
	}
}

// send writes every started call's packets, each call in its phase's
// millisecond, until ctx ends: one goroutine and one ticker for all.
// Slots a late tick skipped are served at once, so every call keeps one
// packet per 20 ms on average, as a phone's clock does.
func (r *sipRun) send(ctx context.Context) {
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	start := time.Now()
	buf := make([]byte, 12+160)
	next := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		now := int(time.Since(start) / time.Millisecond)
		for ; next <= now; next++ {
			r.mu.Lock()
			cs := r.phases[next%sipPhases]
			r.mu.Unlock()
			for _, c := range cs {
				r.slot(c, buf)
			}
		}
	}
}

// slot writes call c's packets of one 20 ms slot: the caller's audio (or
// the key being typed, as RFC 4733 events instead, as phones send them)
// and the agent's audio.
func (r *sipRun) slot(c *sipCall, buf []byte) {
	if !c.started {
		if time.Now().Before(c.startAt) {
			return
		}
		c.started = true
	}
	k := c.k
	c.k++
	ts := c.ts0 + uint32(160*k)
	if !r.typeKey(c, ts, buf) {
		r.write(c.caller, rtpPacket(buf, 0, k == 0, c.seqC, ts, c.ssrcC, lineNoise[k%len(lineNoise)]), &c.toAgent, k)
		c.seqC++
	}
	r.write(c.agent, rtpPacket(buf, 0, k == 0, c.seqA, ts, c.ssrcA, lineNoise[(k+len(lineNoise)/2)%len(lineNoise)]), &c.toCaller, k)
	c.seqA++
}

// keySlots is a key as RFC 4733 events: five 20 ms updates (100 ms), then
// the end packet three times, in the sixth slot.
const keySlots = 6

// typeKey writes this slot's event packets if c's caller is typing a key.
func (r *sipRun) typeKey(c *sipCall, ts uint32, buf []byte) bool {
	c.mu.Lock()
	key, sent := c.key, c.keySent
	c.mu.Unlock()
	if key == 0 {
		return false
	}
	if c.keySlot == 0 {
		c.keyTS = ts // every packet of one event carries its start's timestamp
	}
	c.keySlot++
	code := byte(strings.IndexByte("0123456789*#", key))
	dur := uint16(160 * min(c.keySlot, keySlots-1))
	ev := []byte{code, 10, byte(dur >> 8), byte(dur)}
	if c.keySlot < keySlots {
		r.write(c.caller, rtpPacket(buf, 101, c.keySlot == 1, c.seqC, c.keyTS, c.ssrcC, ev), nil, 0)
		c.seqC++
		return true
	}
	ev[1] |= 0x80 // the end
	var first int64
	for i := range 3 {
		at := r.write(c.caller, rtpPacket(buf, 101, false, c.seqC, c.keyTS, c.ssrcC, ev), nil, 0)
		c.seqC++
		if i == 0 {
			first = at
		}
	}
	c.keySlot = 0
	c.mu.Lock()
	c.key, c.keySent = 0, nil
	c.mu.Unlock()
	sent <- time.Unix(0, first)
	return true
}

// press has c's caller type key; sent gets its first end packet's write.
func (c *sipCall) press(key byte, sent chan time.Time) {
	c.mu.Lock()
	c.key, c.keySent = key, sent
	c.mu.Unlock()
}

// rtpPacket lays out one RTP packet in buf.
func rtpPacket(buf []byte, pt uint8, marker bool, seq uint16, ts, ssrc uint32, payload []byte) []byte {
	h := rtp.Header{Version: 2, PayloadType: pt, Marker: marker, SequenceNumber: seq, Timestamp: ts, SSRC: ssrc}
	n, _ := h.MarshalTo(buf)
	return append(buf[:n], payload...)
}

// write sends one packet and returns when (UnixNano); audio packets
// (f not nil) are noted as packet k of f first, since the relay may be
// read before the write returns.
func (r *sipRun) write(conn rtpSock, pkt []byte, f *flow, k int) int64 {
	at := time.Now().UnixNano()
	if f != nil {
		f.wrote(k, at)
	}
	if err := conn.send(pkt); err != nil {
		r.writeErrs.Add(1)
	}
	return at
}

// sipCallers is the trunk's side: one sipgo user agent placing every call,
// listening for tonepay's BYEs on its own port.
type sipCallers struct {
	ua   *sipgo.UserAgent
	pc   net.PacketConn
	dc   *sipgo.DialogClientCache
	sipd netip.AddrPort // tonepay's SIP address
}

func newCallers(sipAddr string) (*sipCallers, error) {
	to, err := netip.ParseAddrPort(sipAddr)
	if err != nil {
		return nil, fmt.Errorf("tonepay's SIP address %q: %v", sipAddr, err)
	}
	s := &sipCallers{sipd: to}
	if s.ua, err = sipgo.NewUA(sipgo.WithUserAgent("tonepay-bench-trunk")); err != nil {
		return nil, err
	}
	if s.pc, err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
		s.ua.Close()
		return nil, err
	}
	port := s.pc.LocalAddr().(*net.UDPAddr).Port
	cli, err := sipgo.NewClient(s.ua, sipgo.WithClientHostname("127.0.0.1"), sipgo.WithClientPort(port))
	if err != nil {
		s.close()
		return nil, err
	}
	s.dc = sipgo.NewDialogClientCache(cli, siplib.ContactHeader{Address: siplib.Uri{User: "trunk", Host: "127.0.0.1", Port: port}})
	srv, err := sipgo.NewServer(s.ua)
	if err != nil {
		s.close()
		return nil, err
	}
	srv.OnBye(func(req *siplib.Request, tx siplib.ServerTransaction) { _ = s.dc.ReadBye(req, tx) })
	go srv.ServeUDP(s.pc)
	return s, nil
}

func (s *sipCallers) close() {
	s.ua.Close()
	s.pc.Close()
}

// dial places call c and waits until both legs are answered.
func (r *sipRun) dial(ctx context.Context, s *sipCallers, c *sipCall) error {
	var err error
	if c.caller, err = r.socks.open(r.callerReader(c)); err != nil {
		return err
	}
	r.b.agent.expect(r, c)
	port := c.caller.port()
	offer := fmt.Sprintf("v=0\r\no=caller 1 1 IN IP4 127.0.0.1\r\ns=call\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio %d RTP/AVP 0 101\r\n"+
		"a=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n", port)
	from := &siplib.FromHeader{Address: siplib.Uri{User: sipFrom(c.i), Host: "127.0.0.1"}, Params: siplib.NewParams()}
	from.Params.Add("tag", siplib.GenerateTagN(8))
	to := &siplib.ToHeader{Address: siplib.Uri{User: sipTrunkTo, Host: "127.0.0.1"}}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	dlg, err := s.dc.Invite(ctx, siplib.Uri{User: sipTrunkTo, Host: s.sipd.Addr().String(), Port: int(s.sipd.Port())}, []byte(offer),
		siplib.NewHeader("Content-Type", "application/sdp"), from, to)
	if err != nil {
		return err
	}
	if err := dlg.WaitAnswer(ctx, sipgo.AnswerOptions{}); err != nil {
		return fmt.Errorf("call %d: %w", c.i, err)
	}
	if err := dlg.Ack(ctx); err != nil {
		return err
	}
	c.dlg = dlg
	rtpTo, err := sdpAddr(dlg.InviteResponse.Body())
	if err != nil {
		return err
	}
	if err := c.caller.connect(rtpTo); err != nil {
		return err
	}
	select {
	case <-c.agentUp: // before the caller's answer: tonepay answers the caller once the agent has
	case <-ctx.Done():
		return fmt.Errorf("call %d: the agent's leg never came up", c.i)
	}
	// The first packets 100 ms from now: tonepay starts relaying a bridge
	// just after it answers the caller, and packet 0 anchors the timestamps.
	c.startAt = time.Now().Add(100 * time.Millisecond)
	r.mu.Lock()
	r.phases[c.i%sipPhases] = append(r.phases[c.i%sipPhases], c)
	r.mu.Unlock()
	return nil
}

// sip runs the SIP bridge measure into res: n calls bridged at once, every
// call relaying audio both ways for d (tonepay's CPU measured meanwhile),
// then typing of the callers typing five keys each into an agent-assisted
// payment, 300 ms apart, with the audio still flowing.
func (b *bench) sip(res *benchResult, say func(string, ...any), n, typing int, d time.Duration) error {
	if b.sipAddr == "" {
		return errors.New("tonepay serve did not say where it listens for SIP")
	}
	callers, err := newCallers(b.sipAddr)
	if err != nil {
		return err
	}
	defer callers.close()
	rn, err := newRTPNet()
	if err != nil {
		return err
	}
	r := &sipRun{b: b, socks: rn}
	calls := make([]*sipCall, n)
	for i := range calls {
		calls[i] = &sipCall{i: i, agentUp: make(chan struct{}), ts0: rand.Uint32(), ssrcC: rand.Uint32(), ssrcA: rand.Uint32(),
			seqC: uint16(rand.Uint32()), seqA: uint16(rand.Uint32())}
	}
	typers := make([]*sipCall, typing)
	for j := range typers {
		typers[j] = calls[j*n/typing] // spread over the phases
		typers[j].typing, typers[j].det = true, dtmf.NewDetector()
	}
	ctx, stop := context.WithCancel(b.ctx)
	defer stop()
	var sender sync.WaitGroup
	sender.Go(func() { r.send(ctx) })
	defer func() {
		stop()
		sender.Wait()
		hangUp(calls)
		rn.close()
	}()

	say("%d SIP calls bridged to an agent, 20 ms PCMU both ways, suppressor and detector on…", n)
	t := time.Now()
	if err := parallel(n, 32, func(i int) error { return r.dial(ctx, callers, calls[i]) }); err != nil {
		return fmt.Errorf("placing the SIP calls: %w", err)
	}
	res.SIPSetupPerS = float64(n) / time.Since(t).Seconds()
	pks := make([]string, typing)
	if err := parallel(typing, 32, func(j int) error {
		p, err := b.api.CreatePayment(b.ctx, typers[j].sid, client.PaymentParams{IdempotencyKey: tonepay.RandomHex(8), StatusCallback: b.callbackURL, ChargeAmount: "10.00"})
		if err != nil {
			return err
		}
		pks[j] = p.Sid
		return b.update(typers[j].sid, p.Sid, client.PaymentUpdate{Capture: "payment-card-number"})
	}); err != nil {
		return fmt.Errorf("payments on the SIP calls: %w", err)
	}
	b.quiet()
	drops0, dropsOK := udpRcvbufErrors()

	// The window: every call relaying, nobody typing.
	from := time.Now().UnixNano()
	s0, err := cpuTicks(b.cmd.Process.Pid)
	if err != nil {
		return err
	}
	o0, _ := cpuTicks(os.Getpid())
	t0 := time.Now()
	b.profile(d) // or sleeps as long
	s1, _ := cpuTicks(b.cmd.Process.Pid)
	o1, _ := cpuTicks(os.Getpid())
	el := time.Since(t0).Seconds()
	res.SIPCalls, res.SIPSeconds = n, el
	res.SIPCPUPercent = float64(s1-s0) / el
	res.SIPCPUPerCallMS = float64(s1-s0) * 10 / el / float64(n)
	res.SIPBenchCPUPercent = float64(o1-o0) / el
	say("  server CPU %.0f%% of one core (%.2f ms per call per second); the bench's own %.0f%%", res.SIPCPUPercent, res.SIPCPUPerCallMS, res.SIPBenchCPUPercent)

	if typing > 0 {
		say("key (RFC 4733 events) to partial-result callback, %d of the %d callers typing…", typing, n)
		lat, missed, err := b.sipTyping(typers, pks)
		if err != nil {
			return err
		}
		res.SIPKeys, res.SIPKeysMissed, res.SIPTyping = len(lat), missed, typing
		res.SIPKeyP50MS, res.SIPKeyP99MS = Percentile(lat, 50), Percentile(lat, 99)
	}
	to := time.Now().UnixNano()
	stop()
	sender.Wait()
	drain(calls)
	if drops1, ok := udpRcvbufErrors(); ok && dropsOK {
		res.SIPUDPDrops = int(drops1 - drops0)
	} else {
		res.SIPUDPDrops = -1
	}

	var up, down relayStats
	for _, c := range calls {
		up.add(&c.toAgent, from, to)
		down.add(&c.toCaller, from, to)
		res.SIPAgentEvents += int(c.events.Load())
		res.SIPAgentTones += int(c.tones.Load())
	}
	res.SIPToAgentSent, res.SIPToAgentLost = up.sent, up.lost
	res.SIPToCallerSent, res.SIPToCallerLost = down.sent, down.lost
	res.SIPToAgentP50MS, res.SIPToAgentP99MS, res.SIPToAgentMaxMS = Percentile(up.lat, 50), Percentile(up.lat, 99), maxMS(up.lat)
	res.SIPToCallerP50MS, res.SIPToCallerP99MS, res.SIPToCallerMaxMS = Percentile(down.lat, 50), Percentile(down.lat, 99), maxMS(down.lat)
	res.SIPUnplaced = up.loose + up.dups + down.loose + down.dups
	res.SIPWriteErrors = int(r.writeErrs.Load())
	res.SIPKernelStamps = rn.kernelStamps()
	return nil
}

// sipKeyWait is how long a key may take to reach its partial-result
// callback before it counts as missed: twice a field's entry timeout, past
// which the caller's field has failed anyway.
const sipKeyWait = 10 * time.Second

// sipTyping has each typer's caller type five keys, 300 ms apart, and
// returns each key's time from its first end packet to its partial-result
// callback, and how many keys had none within sipKeyWait. A caller whose
// key is missed stops typing (its field times out): the key and the
// caller's remaining keys count as missed. The bench does not stop there,
// so that an overloaded server's other figures are still reported.
func (b *bench) sipTyping(typers []*sipCall, pks []string) ([]time.Duration, int, error) {
	var mu sync.Mutex
	var lat []time.Duration
	var missed atomic.Int64
	err := parallel(len(typers), len(typers), func(j int) error {
		c := typers[j]
		time.Sleep(time.Duration(j%300) * time.Millisecond) // callers do not type in step
		for k := 1; k <= 5; k++ {
			ch := make(chan time.Time, 1)
			key := pks[j] + ":" + strconv.Itoa(k)
			b.mu.Lock()
			b.partial[key] = ch
			b.mu.Unlock()
			sent := make(chan time.Time, 1)
			c.press('4', sent)
			var t time.Time
			select {
			case t = <-sent:
			case <-time.After(10 * time.Second):
				return errors.New("a key's events were never sent")
			}
			select {
			case at := <-ch:
				mu.Lock()
				lat = append(lat, at.Sub(t))
				mu.Unlock()
			case <-time.After(sipKeyWait):
				b.mu.Lock()
				delete(b.partial, key)
				b.mu.Unlock()
				missed.Add(int64(6 - k))
				return nil
			}
			b.mu.Lock()
			delete(b.partial, key)
			b.mu.Unlock()
			time.Sleep(300 * time.Millisecond)
		}
		return nil
	})
	return lat, int(missed.Load()), err
}

// udpRcvbufErrors is the machine's count of UDP datagrams dropped because
// a socket's receive buffer was full (/proc/net/snmp; Linux).
func udpRcvbufErrors() (int64, bool) {
	b, err := os.ReadFile("/proc/net/snmp")
	if err != nil {
		return 0, false
	}
	var names []string
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) == 0 || f[0] != "Udp:" {
			continue
		}
		if names == nil {
			names = f
			continue
		}
		for i, n := range names {
			if n == "RcvbufErrors" && i < len(f) {
				v, err := strconv.ParseInt(f[i], 10, 64)
				return v, err == nil
			}
		}
	}
	return 0, false
}

// drain waits until no relay has arrived for 300 ms (at most 5 s): the
// packets still in tonepay's queues arrive or are lost.
func drain(calls []*sipCall) {
	count := func() (n int) {
		for _, c := range calls {
			for _, f := range []*flow{&c.toAgent, &c.toCaller} {
				f.mu.Lock()
				for _, t := range f.recv {
					if t != 0 {
						n++
					}
				}
				f.mu.Unlock()
			}
		}
		return n
	}
	last := count()
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); {
		time.Sleep(300 * time.Millisecond)
		n := count()
		if n == last {
			return
		}
		last = n
	}
}

// hangUp ends every call placed: the caller's BYE; tonepay sends the
// agent its own.
func hangUp(calls []*sipCall) {
	_ = parallel(len(calls), 32, func(i int) error {
		if c := calls[i]; c.dlg != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = c.dlg.Bye(ctx)
			cancel()
		}
		return nil
	})
}
