package sip

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	siplib "github.com/emiago/sipgo/sip"
	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/internal/legaudio"
)

// The SIP leg (DESIGN §11, "SIP trunks and the agent bridge"), the media
// stream receiver's sibling: a trunk's INVITE becomes an in-progress
// inbound tonepay call; the caller's keys (RFC 4733 events and in-band
// tones) go through the call runtime's one door; what the call's TwiML says
// goes back as RTP. Signalling is sipgo's; no SIP is parsed here.

// Defaults of a call's life.
const (
	// DefaultRTPTimeout ends a call whose caller sent no RTP for this long.
	DefaultRTPTimeout = 30 * time.Second
	// DefaultRTPPorts is --rtp-ports' default.
	DefaultRTPPorts = "10000-20000"
)

// Trunk is a [[sip.trunk]] of the config file.
type Trunk struct {
	Name     string
	Networks []netip.Prefix // source addresses whose INVITEs are accepted
	Account  string         // the tonepay account of its calls
	Agent    string         // where a call without an app is bridged ("" holds it)
	Codecs   []string       // PCMU, PCMA, in order of preference
}

// Server answers trunk calls on one address, UDP and TCP. Set the fields,
// then Listen; they are not changed afterwards.
type Server struct {
	Legs   tonepay.LegService
	Trunks []Trunk
	Audio  tonepay.Audio // renders what the caller hears; nil: silence and a warning
	Logger *slog.Logger
	// RTPPorts is the range of local RTP ports ("10000-20000"; "" the
	// default); RTPTimeout ends a call with no RTP (DefaultRTPTimeout).
	RTPPorts   string
	RTPTimeout time.Duration

	ua      *sipgo.UserAgent
	srv     *sipgo.Server
	dialogs *sipgo.DialogServerCache // the callers'
	clients *sipgo.DialogClientCache // the far ends'
	port    int
	udp     net.PacketConn
	tcp     net.Listener
	ip      netip.Addr // of the listener, for SDP

	portLo, portHi int

	done       chan struct{} // closed by Close
	mu         sync.Mutex
	calls      map[string]*call  // by SIP Call-ID
	bySid      map[string]*call  // by CallSid
	agentByID  map[string]*agent // far ends, by SIP Call-ID
	agentBySid map[string]*agent // far ends, by their leg's CallSid
	nextPort   int
	closed     bool
	refused    legaudio.LogLimit // 403s
	unknown    legaudio.LogLimit // 481s
}

// sipgoLog is what tonepay's log shows of sipgo's: its errors as they are,
// the rest at debug (its warnings are its own bookkeeping: a connection's
// reference count, a retransmission). sipgoDefault sets it, once per
// process, for the lines sipgo logs outside any user agent.
type sipgoLog struct{ h slog.Handler }

var sipgoDefault sync.Once

func (l sipgoLog) Enabled(ctx context.Context, v slog.Level) bool {
	if v >= slog.LevelError {
		return l.h.Enabled(ctx, v)
	}
	return l.h.Enabled(ctx, slog.LevelDebug)
}

func (l sipgoLog) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < slog.LevelError {
		r.Level = slog.LevelDebug
	}
	return l.h.Handle(ctx, r)
}

func (l sipgoLog) WithAttrs(as []slog.Attr) slog.Handler { return sipgoLog{l.h.WithAttrs(as)} }
func (l sipgoLog) WithGroup(g string) slog.Handler       { return sipgoLog{l.h.WithGroup(g)} }

// ParsePorts reads an RTP port range "lo-hi".
func ParsePorts(s string) (lo, hi int, err error) {
	a, b, ok := strings.Cut(s, "-")
	lo, err1 := strconv.Atoi(strings.TrimSpace(a))
	hi, err2 := strconv.Atoi(strings.TrimSpace(b))
	if !ok || err1 != nil || err2 != nil || lo < 1 || hi > 65535 || lo > hi {
		return 0, 0, fmt.Errorf("RTP ports %q: want a range like 10000-20000", s)
	}
	return lo, hi, nil
}

func (s *Server) log() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return s.Logger
}

func (s *Server) rtpTimeout() time.Duration {
	if s.RTPTimeout > 0 {
		return s.RTPTimeout
	}
	return DefaultRTPTimeout
}

// Listen opens addr (host:port) for UDP and TCP on the same port (port 0:
// one free for both) and serves INVITEs until Close.
func (s *Server) Listen(addr string) error {
	ports := s.RTPPorts
	if ports == "" {
		ports = DefaultRTPPorts
	}
	var err error
	if s.portLo, s.portHi, err = ParsePorts(ports); err != nil {
		return err
	}
	s.nextPort = s.portLo + rand.IntN(s.portHi-s.portLo+1)
	for try := 0; ; try++ {
		if s.udp, err = net.ListenPacket("udp", addr); err != nil {
			return err
		}
		ua := s.udp.LocalAddr().(*net.UDPAddr)
		s.tcp, err = net.Listen("tcp", ua.String())
		if err == nil {
			break
		}
		s.udp.Close()
		if _, p, _ := net.SplitHostPort(addr); p != "0" || try == 10 {
			return err
		}
	}
	ap := s.udp.LocalAddr().(*net.UDPAddr).AddrPort()
	s.ip = ap.Addr().Unmap()
	quiet := slog.New(sipgoLog{s.log().Handler()})
	sipgoDefault.Do(func() { siplib.SetDefaultLogger(quiet) })
	if s.ua, err = sipgo.NewUA(sipgo.WithUserAgent("tonepay"),
		sipgo.WithUserAgentTransportLayerOptions(siplib.WithTransportLayerLogger(quiet)),
		sipgo.WithUserAgentTransactionLayerOptions(siplib.WithTransactionLayerLogger(quiet))); err != nil {
		return err
	}
	if s.srv, err = sipgo.NewServer(s.ua, sipgo.WithServerLogger(quiet)); err != nil {
		return err
	}
	host := s.ip.String()
	if s.ip.IsUnspecified() {
		host = "127.0.0.1" // replaced per call by the address the INVITE reached
	}
	s.port = int(ap.Port())
	cli, err := sipgo.NewClient(s.ua, sipgo.WithClientHostname(host), sipgo.WithClientPort(s.port))
	if err != nil {
		return err
	}
	contact := siplib.ContactHeader{Address: siplib.Uri{Host: host, Port: s.port}}
	s.dialogs = sipgo.NewDialogServerCache(cli, contact)
	s.clients = sipgo.NewDialogClientCache(cli, contact)
	s.calls, s.bySid = map[string]*call{}, map[string]*call{}
	s.agentByID, s.agentBySid = map[string]*agent{}, map[string]*agent{}
	s.srv.OnInvite(s.onInvite)
	s.srv.OnAck(func(req *siplib.Request, tx siplib.ServerTransaction) { _ = s.dialogs.ReadAck(req, tx) })
	s.srv.OnBye(s.onBye)
	s.srv.OnOptions(func(req *siplib.Request, tx siplib.ServerTransaction) {
		_ = tx.Respond(siplib.NewResponseFromRequest(req, 200, "OK", nil))
	})
	s.done = make(chan struct{})
	go s.srv.ServeUDP(s.udp)
	go s.srv.ServeTCP(s.tcp)
	go s.idle()
	return nil
}

// idle ends the calls, and the far ends, whose RTP stopped for RTPTimeout
// (not while a leg is on hold), looking every tenth of it (a second at
// most): the sockets are read by epoll loops, with no read deadline.
func (s *Server) idle() {
	timeout := s.rtpTimeout()
	t := time.NewTicker(min(time.Second, timeout/10))
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case now := <-t.C:
			var calls []*call
			var agents []*agent
			s.mu.Lock()
			for _, c := range s.bySid {
				calls = append(calls, c)
			}
			for _, a := range s.agentBySid {
				agents = append(agents, a)
			}
			s.mu.Unlock()
			for _, c := range calls {
				c.mu.Lock()
				w := c.rtp
				c.mu.Unlock()
				if w != nil && c.ctx.Err() == nil && !c.held.Load() && w.idle(now) > timeout {
					s.log().Warn("SIP call ended: no RTP for "+timeout.String(), "call", c.sid)
					go c.end("no RTP", true)
				}
			}
			for _, a := range agents {
				a.mu.Lock()
				w, ended := a.rtp, a.ended
				a.mu.Unlock()
				if w != nil && !ended && !a.c.held.Load() && w.idle(now) > timeout {
					s.log().Warn("SIP: a dial's far end ended: no RTP for "+timeout.String(), "call", a.c.sid, "leg", a.d.LegSid)
					go a.hungUp("no RTP")
				}
			}
		}
	}
}

// Addr is the address listened on (UDP and TCP).
func (s *Server) Addr() net.Addr { return s.udp.LocalAddr() }

// Close ends every call (with a BYE) and stops listening.
func (s *Server) Close() {
	s.mu.Lock()
	if !s.closed && s.done != nil {
		close(s.done)
	}
	s.closed = true
	var cs []*call
	for _, c := range s.calls {
		cs = append(cs, c)
	}
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Add(1)
		go func() { defer wg.Done(); c.end("shutdown", true) }()
	}
	wg.Wait()
	if s.srv != nil {
		s.srv.Close()
		s.ua.Close()
	}
	if s.udp != nil {
		s.udp.Close()
		s.tcp.Close()
	}
}

// trunk is the trunk whose networks hold src, or nil.
func (s *Server) trunk(src string) *Trunk {
	ap, err := netip.ParseAddrPort(src)
	if err != nil {
		return nil
	}
	ip := ap.Addr().Unmap()
	for i := range s.Trunks {
		for _, n := range s.Trunks[i].Networks {
			if n.Contains(ip) {
				return &s.Trunks[i]
			}
		}
	}
	return nil
}

func respond(req *siplib.Request, tx siplib.ServerTransaction, code int, reason string) {
	_ = tx.Respond(siplib.NewResponseFromRequest(req, code, reason, nil))
}

func (s *Server) onInvite(req *siplib.Request, tx siplib.ServerTransaction) {
	if to := req.To(); to != nil && to.Params != nil {
		if _, ok := to.Params.Get("tag"); ok {
			s.reinvite(req, tx)
			return
		}
	}
	tr := s.trunk(req.Source())
	if tr == nil {
		if n, ok := s.refused.Allow(time.Now()); ok {
			s.log().Warn("SIP INVITE refused (403): its source is in no [[sip.trunk]]'s networks", "source", req.Source(), "refused_since_last_line", n)
		}
		respond(req, tx, 403, "Forbidden")
		return
	}
	if len(req.Body()) == 0 {
		s.log().Warn("SIP INVITE refused (488): it has no SDP offer (a delayed offer); set the trunk to send its offer in the INVITE", "trunk", tr.Name, "source", req.Source())
		respond(req, tx, 488, "Not Acceptable Here")
		return
	}
	o, err := parseOffer(req.Body())
	if err != nil {
		s.log().Warn("SIP INVITE refused (488): "+err.Error(), "trunk", tr.Name, "source", req.Source())
		respond(req, tx, 488, "Not Acceptable Here")
		return
	}
	codec, pt := "", uint8(0)
	for _, c := range tr.Codecs {
		if p, ok := o.codecs[c]; ok {
			codec, pt = c, p
			break
		}
	}
	if codec == "" {
		s.log().Warn("SIP INVITE refused (488): no audio codec in common", "trunk", tr.Name, "source", req.Source(), "codecs", strings.Join(tr.Codecs, ","))
		respond(req, tx, 488, "Not Acceptable Here")
		return
	}
	conn, err := s.rtpSocket()
	if err != nil {
		s.log().Error("SIP INVITE refused (503): no free RTP port", "err", err)
		respond(req, tx, 503, "Service Unavailable")
		return
	}
	dlg, err := s.dialogs.ReadInvite(req, tx)
	if err != nil {
		conn.Close()
		respond(req, tx, 400, "Bad Request")
		return
	}
	_ = dlg.Respond(100, "Trying", nil)
	c := newCall(s, dlg, conn, o, codec, pt)
	c.account, c.trunk, c.sid = tr.Account, tr, tonepay.NewSID(tonepay.PrefixCall)
	if f := req.From(); f != nil {
		c.fromUser = f.Address.User
	}
	c.local = s.ip
	if c.local.IsUnspecified() {
		if a, err := netip.ParseAddr(req.Recipient.Host); err == nil {
			c.local = a
		} else {
			c.local = o.rtp.Addr()
		}
	}
	c.answerSDP = answer(c.local, conn.Port(), codec, pt, o.te, rand.Uint64()>>2)
	lr := &tonepay.LegRequest{Leg: tonepay.LegSIP, CallSid: c.sid, Number: number(req.Recipient.User)}
	lr.AccountSid, lr.From, lr.To = tr.Account, party(req.From()), party(req.To())
	if lr.From == "" {
		lr.From = "anonymous"
	}
	c.from = lr.From
	if tr.Agent != "" {
		lr.NoApp = bridgeTwiml(tr.Agent)
		c.pickup, c.picked = make(chan struct{}), make(chan error, 1)
	}
	// Registered before the call is: its TwiML may dial at once.
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		conn.Close()
		_ = dlg.Respond(503, "Service Unavailable", nil)
		return
	}
	c.callID = req.CallID().Value()
	s.calls[c.callID] = c
	s.bySid[c.sid] = c
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	tc, err := s.Legs.StartLeg(ctx, lr)
	cancel()
	if err != nil {
		s.log().Error("SIP call could not be registered", "trunk", tr.Name, "err", tonepay.ErrorMessage(err))
		c.unregistered = true // nothing to hang up
		c.failCode.Store(500)
		c.end("not registered", false)
		return
	}
	c.start()
	if c.pickup != nil && tc.Twiml == lr.NoApp {
		// Bridged to the agent: answered when the agent answers (agent.go),
		// here, since sipgo ends the INVITE's transaction when this
		// handler returns; a CANCEL from the caller ends the call.
		// tx.Done comes only once the 487 is acknowledged and timer I has
		// run (5 s on UDP): OnCancel tells the CANCEL itself.
		canceled := make(chan struct{})
		var once sync.Once
		if !tx.OnCancel(func(*siplib.Request) { once.Do(func() { close(canceled) }) }) {
			once.Do(func() { close(canceled) })
		}
		select {
		case <-canceled:
			s.log().Info("SIP call canceled by the caller before the agent answered (487)", "call", c.sid)
			c.end("canceled", false)
		case <-c.pickup:
			err := c.answer()
			c.picked <- err
			if err != nil {
				c.end("not answered: "+err.Error(), false)
			}
		case <-tx.Done():
			c.end("its INVITE's transaction ended", false)
		case <-c.ctx.Done():
			code := int(c.failCode.Load())
			if code < 400 {
				code = 480 // nobody answered, or the dial failed on our side
			}
			_ = c.dlg.Respond(code, reasons[code], nil)
		}
		return
	}
	if err := c.answerNow(); err != nil {
		// A CANCEL before the answer, or no ACK.
		c.end("not answered: "+err.Error(), false)
		return
	}
	s.log().Debug("SIP call answered", "call", c.sid, "trunk", tr.Name, "codec", codec)
}

// bridgeTwiml is what a trunk call with no app runs: a <Dial> of the
// trunk's agent.
func bridgeTwiml(agent string) string {
	var b strings.Builder
	b.WriteString("<Response><Dial><Sip>")
	_ = xml.EscapeText(&b, []byte(agent))
	b.WriteString("</Sip></Dial></Response>")
	return b.String()
}

// reinvite answers a re-INVITE of a call (a hold, a resume, a new address)
// with the same media: the direction it asks for mirrored, RTP sent where
// it now says. A leg on hold sends no RTP, so it has no RTP timeout.
func (s *Server) reinvite(req *siplib.Request, tx siplib.ServerTransaction) {
	id := req.CallID().Value()
	s.mu.Lock()
	c, a := s.calls[id], s.agentByID[id]
	s.mu.Unlock()
	if c == nil && a == nil {
		s.noDialog(req, tx)
		return
	}
	o, err := parseOffer(req.Body())
	if err != nil {
		respond(req, tx, 488, "Not Acceptable Here")
		return
	}
	// An old-style hold is a connection address of 0.0.0.0.
	hold := o.dir != "sendrecv" || o.rtp.Addr().IsUnspecified()
	var body []byte
	if c != nil {
		if !o.rtp.Addr().IsUnspecified() {
			c.remote.set(o.rtp)
		}
		c.held.Store(hold)
		body = answer(c.local, c.conn.Port(), c.codec, c.pt, c.te, rand.Uint64()>>2)
	} else {
		if !o.rtp.Addr().IsUnspecified() {
			a.remote.set(o.rtp)
		}
		a.mu.Lock()
		codec, pt, te := a.codec, a.pt, a.te
		a.mu.Unlock()
		a.c.held.Store(hold)
		body = answer(a.c.local, a.conn.Port(), codec, pt, te, rand.Uint64()>>2)
	}
	body = []byte(strings.Replace(string(body), "a=sendrecv", "a="+mirror[o.dir], 1))
	res := siplib.NewSDPResponseFromRequest(req, body)
	_ = tx.Respond(res)
	s.log().Debug("SIP re-INVITE answered", "direction", o.dir)
}

// mirror is the direction that answers an offer's.
var mirror = map[string]string{"sendrecv": "sendrecv", "sendonly": "recvonly", "recvonly": "sendonly", "inactive": "inactive"}

func (s *Server) onBye(req *siplib.Request, tx siplib.ServerTransaction) {
	s.mu.Lock()
	a := s.agentByID[req.CallID().Value()]
	s.mu.Unlock()
	if a != nil {
		if err := s.clients.ReadBye(req, tx); err != nil {
			s.noDialog(req, tx)
			return
		}
		a.hungUp("bye")
		return
	}
	if err := s.dialogs.ReadBye(req, tx); err != nil {
		if errors.Is(err, sipgo.ErrDialogDoesNotExists) || errors.Is(err, sipgo.ErrDialogOutsideDialog) {
			s.noDialog(req, tx)
			return
		}
	}
	s.mu.Lock()
	c := s.calls[req.CallID().Value()]
	s.mu.Unlock()
	if c != nil {
		c.end("bye", false)
	}
}

// noDialog refuses a request for a call tonepay does not have (481), with
// a log line a minute at most: a peer retrying for a call lost in a
// restart is one line, not a flood.
func (s *Server) noDialog(req *siplib.Request, tx siplib.ServerTransaction) {
	if n, ok := s.unknown.Allow(time.Now()); ok {
		s.log().Warn("SIP "+string(req.Method)+" refused (481): no such call", "source", req.Source(), "refused_since_last_line", n)
	}
	respond(req, tx, 481, "Call/Transaction Does Not Exist")
}

// rtpSocket binds a free even port of the range on the listener's address.
func (s *Server) rtpSocket() (rtpConn, error) {
	n := s.portHi - s.portLo + 1
	var last error
	for range n {
		s.mu.Lock()
		p := s.nextPort
		s.nextPort++
		if s.nextPort > s.portHi {
			s.nextPort = s.portLo
		}
		s.mu.Unlock()
		if p%2 == 1 {
			continue
		}
		c, err := listenRTP(netip.AddrPortFrom(s.ip, uint16(p)))
		if err == nil {
			return c, nil
		}
		last = err
	}
	return nil, fmt.Errorf("every port of %d-%d is taken: %v", s.portLo, s.portHi, last)
}

// party is a From or To header's user, in E.164 where it is a number.
func party(h interface{ Value() string }) string {
	switch v := h.(type) {
	case *siplib.FromHeader:
		if v == nil {
			return ""
		}
		return number(v.Address.User)
	case *siplib.ToHeader:
		if v == nil {
			return ""
		}
		return number(v.Address.User)
	}
	return ""
}

// number is a SIP user part in E.164 where it is one ("+15551234567", or
// its digits alone), else as it is.
func number(user string) string {
	switch {
	case tonepay.IsE164(user):
		return user
	case user != "" && tonepay.IsE164("+"+user):
		return "+" + user
	}
	return user
}
