package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	siplib "github.com/emiago/sipgo/sip"
	"github.com/pion/rtp"
	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/client"
	"github.com/tonepay/tonepay/dtmf"
	api "github.com/twilio/twilio-go/rest/api/v2010"
)

// SIP trunks (DESIGN §11), driven by a Go SIP user agent (sipgo as UAC)
// and RTP over loopback, to a served tonepay with the real SQLite store.

// startSIPServer serves tonepay with one [[sip.trunk]] of networks and
// codecs (nil: the defaults), and the trunk's extra lines, on a free
// loopback port.
func startSIPServer(t *testing.T, networks []string, codecs []string, extra ...string) *streamServer {
	t.Helper()
	return startSIPServerWith(t, networks, codecs, nil, extra...)
}

// startSIPServerWith is startSIPServer with the serve configuration
// changed by set.
func startSIPServerWith(t *testing.T, networks []string, codecs []string, set func(*serveConfig), extra ...string) *streamServer {
	t.Helper()
	ss := &streamServer{t: t, sid: tonepay.NewSID("AC"), token: "sipmaintoken0001"}
	dir := t.TempDir()
	conf := fmt.Sprintf("[[sip.trunk]]\nname = \"pbx\"\nnetworks = [%s]\n", quoteList(networks))
	if codecs != nil {
		conf += fmt.Sprintf("codecs = [%s]\n", quoteList(codecs))
	}
	for _, l := range extra {
		conf += l + "\n"
	}
	os.WriteFile(filepath.Join(dir, "tonepay.toml"), []byte(conf), 0o600)
	cfg := defaultServeConfig()
	cfg.Addr, cfg.DB, cfg.Config = "127.0.0.1:0", filepath.Join(dir, "s.db"), filepath.Join(dir, "tonepay.toml")
	cfg.AccountSid, cfg.AuthToken = ss.sid, ss.token
	cfg.SIPAddr = "127.0.0.1:0"
	lo := 30000 + 2*rand.IntN(5000)
	cfg.RTPPorts = fmt.Sprintf("%d-%d", lo, lo+999)
	if set != nil {
		set(&cfg)
	}
	ss.logs = &lockedBuffer{}
	level := slog.LevelInfo
	if os.Getenv("TONEPAY_TEST_SIP_DEBUG") != "" {
		level = slog.LevelDebug // sipgo's and the leg's
	}
	log := slog.New(slog.NewTextHandler(ss.logs, &slog.HandlerOptions{Level: level}))
	s, err := buildServer(context.Background(), cfg, func(string) string { return "" }, io.Discard, log)
	if err != nil {
		t.Fatal(err)
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

func quoteList(l []string) string {
	q := make([]string, len(l))
	for i, s := range l {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}

// sipCaller is a caller's SIP phone: a sipgo UAC and an RTP socket.
type sipCaller struct {
	t      *testing.T
	ua     *sipgo.UserAgent
	dlg    *sipgo.DialogClientSession
	rtp    *net.UDPConn
	remote netip.AddrPort // tonepay's RTP
	answer string         // tonepay's SDP answer
	pt, te uint8
	seq    uint16
	ts     uint32
	call   string // the tonepay CallSid
}

// dialSIP sends an INVITE to user@tonepay offering formats (an m= line's
// payload types, with their rtpmaps) and returns the caller once answered,
// or the final response's error.
func dialSIP(t *testing.T, ss *streamServer, user, formats string) (*sipCaller, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return dialSIPCtx(ctx, t, ss, user, formats)
}

// transportKey in dialSIPCtx's ctx names the INVITE's transport ("tcp").
type transportKey struct{}

// dialSIPCtx is dialSIP until ctx is done (a CANCEL before the answer).
func dialSIPCtx(ctx context.Context, t *testing.T, ss *streamServer, user, formats string) (*sipCaller, error) {
	t.Helper()
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("test-caller"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ua.Close() })
	// The caller's phone listens too: tonepay's BYE comes to its Contact.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sport := pc.LocalAddr().(*net.UDPAddr).Port
	cli, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"), sipgo.WithClientPort(sport))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	port := conn.LocalAddr().(*net.UDPAddr).Port
	sdp := fmt.Sprintf("v=0\r\no=caller 1 1 IN IP4 127.0.0.1\r\ns=call\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio %d RTP/AVP %s\r\n", port, formats)
	for _, f := range strings.Fields(formats) {
		switch f {
		case "0":
			sdp += "a=rtpmap:0 PCMU/8000\r\n"
		case "8":
			sdp += "a=rtpmap:8 PCMA/8000\r\n"
		case "9":
			sdp += "a=rtpmap:9 G722/8000\r\n"
		case "101":
			sdp += "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n"
		}
	}
	sdp += "a=sendrecv\r\n"
	dc := sipgo.NewDialogClientCache(cli, siplib.ContactHeader{Address: siplib.Uri{User: "caller", Host: "127.0.0.1", Port: sport}})
	srv, err := sipgo.NewServer(ua)
	if err != nil {
		t.Fatal(err)
	}
	srv.OnBye(func(req *siplib.Request, tx siplib.ServerTransaction) { _ = dc.ReadBye(req, tx) })
	go srv.ServeUDP(pc)
	t.Cleanup(func() { pc.Close() })
	addr := ss.srv.sip.Addr().(*net.UDPAddr)
	from := &siplib.FromHeader{Address: siplib.Uri{User: "+15005550001", Host: "127.0.0.1"}, Params: siplib.NewParams()}
	from.Params.Add("tag", siplib.GenerateTagN(8))
	to := &siplib.ToHeader{Address: siplib.Uri{User: user, Host: "127.0.0.1"}}
	to_ := siplib.Uri{User: user, Host: addr.IP.String(), Port: addr.Port}
	if tr, ok := ctx.Value(transportKey{}).(string); ok {
		to_.UriParams = siplib.NewParams()
		to_.UriParams.Add("transport", tr)
	}
	dlg, err := dc.Invite(ctx, to_, []byte(sdp),
		siplib.NewHeader("Content-Type", "application/sdp"), from, to)
	if err != nil {
		t.Fatal(err)
	}
	if err := dlg.WaitAnswer(ctx, sipgo.AnswerOptions{}); err != nil {
		return nil, err
	}
	if err := dlg.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	c := &sipCaller{t: t, ua: ua, dlg: dlg, rtp: conn, answer: string(dlg.InviteResponse.Body()), seq: 1, ts: 1000}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = dlg.Bye(ctx)
	})
	var rport int
	var codecPT, tePT int = -1, -1
	for _, l := range strings.Split(c.answer, "\r\n") {
		if strings.HasPrefix(l, "m=audio ") {
			fs := strings.Fields(l)
			fmt.Sscan(fs[1], &rport)
			fmt.Sscan(fs[3], &codecPT)
		}
		if strings.Contains(l, "telephone-event/8000") {
			fmt.Sscanf(l, "a=rtpmap:%d", &tePT)
		}
	}
	c.remote = netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(rport))
	c.pt, c.te = uint8(codecPT), uint8(tePT)
	return c, nil
}

// status is the final response code of a refused INVITE.
func status(err error) int {
	var e *sipgo.ErrDialogResponse
	if errors.As(err, &e) {
		return e.Res.StatusCode
	}
	return 0
}

func (c *sipCaller) send(pkt *rtp.Packet) {
	b, err := pkt.Marshal()
	if err != nil {
		c.t.Fatal(err)
	}
	if _, err := c.rtp.WriteToUDPAddrPort(b, c.remote); err != nil {
		c.t.Fatal(err)
	}
	time.Sleep(2 * time.Millisecond) // paced a little, as a phone sends (not a wait for a condition)
}

// audio sends 8 kHz samples as 20 ms packets in the call's codec.
func (c *sipCaller) audio(s []int16) {
	for len(s) > 0 {
		n := min(160, len(s))
		var payload []byte
		for _, v := range s[:n] {
			if c.pt == 8 {
				payload = append(payload, dtmf.AlawEncode(v))
			} else {
				payload = append(payload, dtmf.MulawEncode(v))
			}
		}
		s = s[n:]
		c.send(&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: c.pt, SequenceNumber: c.seq, Timestamp: c.ts, SSRC: 7}, Payload: payload})
		c.seq++
		c.ts += 160
	}
}

// tones presses keys as in-band tones only.
func (c *sipCaller) tones(keys string) error {
	for i := range len(keys) {
		c.audio(dtmf.Tone(keys[i], 80, -8))
		c.audio(dtmf.Silence(80))
	}
	return nil
}

// events presses keys as RFC 4733 events only: a marked start, growing
// durations, three end packets, as phones send them.
func (c *sipCaller) events(keys string) error {
	code := map[byte]byte{'*': 10, '#': 11}
	for i := range len(keys) {
		ev, ok := code[keys[i]]
		if !ok {
			ev = keys[i] - '0'
		}
		for j, d := range []uint16{160, 320, 480, 640, 640, 640} {
			end := j >= 3
			b := []byte{ev, 10, byte(d >> 8), byte(d)}
			if end {
				b[1] |= 0x80
			}
			c.send(&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: c.te, Marker: j == 0, SequenceNumber: c.seq, Timestamp: c.ts, SSRC: 7}, Payload: b})
			c.seq++
		}
		c.ts += 800
	}
	return nil
}

// callSid finds the tonepay call of the caller's SIP call: the account's
// only call from its number (not a leg its <Dial> made).
func (ss *streamServer) sipCall(t *testing.T) string {
	t.Helper()
	tw, _ := newTwilio(t, ss.URL, ss.sid, ss.token, ss.sid, nil)
	var sid string
	waitFor(t, 10*time.Second, "the SIP call registered", func() bool {
		calls, err := tw.ListCall(nil)
		if err != nil {
			return false
		}
		for _, cl := range calls {
			if cl.Status != nil && *cl.Status == tonepay.CallInProgress && cl.From != nil && *cl.From == "+15005550001" && cl.Sid != nil && cl.ParentCallSid == nil {
				sid = *cl.Sid
				return true
			}
		}
		return false
	})
	return sid
}

// TestSIPRefusals: a source in no trunk's networks is 403 (one log line
// for many), an offer with no common codec 488; neither registers a call.
func TestSIPRefusals(t *testing.T) {
	t.Run("403 from outside the trunk's networks", func(t *testing.T) {
		ss := startSIPServer(t, []string{"10.0.0.0/8"}, nil)
		for range 2 {
			if _, err := dialSIP(t, ss, "+15005550006", "0 101"); status(err) != 403 {
				t.Fatalf("INVITE from loopback: %v, want 403", err)
			}
		}
		if n := strings.Count(ss.logs.String(), "SIP INVITE refused (403)"); n != 1 {
			t.Errorf("%d log lines for 2 refusals, want 1", n)
		}
	})
	t.Run("488 with no common codec", func(t *testing.T) {
		ss := startSIPServer(t, []string{"127.0.0.0/8"}, []string{"PCMA"})
		if _, err := dialSIP(t, ss, "+15005550006", "0 9 101"); status(err) != 488 {
			t.Fatalf("INVITE with PCMU and G722 only: %v, want 488", err)
		}
	})
}

// TestSIPAnswersWithTheTrunksCodec: the first of the trunk's codecs the
// offer has, and telephone-event when offered.
func TestSIPAnswersWithTheTrunksCodec(t *testing.T) {
	ss := startSIPServer(t, []string{"127.0.0.0/8"}, []string{"PCMA", "PCMU"})
	c, err := dialSIP(t, ss, "+15005550006", "0 8 101")
	if err != nil {
		t.Fatal(err)
	}
	if c.pt != 8 || c.te != 101 || !strings.Contains(c.answer, "a=rtpmap:8 PCMA/8000") || strings.Contains(c.answer, "PCMU") {
		t.Errorf("answer:\n%s\nwant PCMA (8) and telephone-event (101) only", c.answer)
	}
}

// TestSIPAgentPayment: an agent-assisted payment on a SIP call whose keys
// are in-band tones only (PCMA), and one whose keys are RFC 4733 events
// only; then the caller's BYE completes the call.
func TestSIPAgentPayment(t *testing.T) {
	ss := startSIPServer(t, []string{"127.0.0.0/8"}, []string{"PCMA", "PCMU"})
	for _, tt := range []struct {
		name, formats string
		press         func(c *sipCaller) func(string) error
	}{
		{"tones", "8", func(c *sipCaller) func(string) error { return c.tones }},
		{"events", "0 101", func(c *sipCaller) func(string) error { return c.events }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := dialSIP(t, ss, "+15005550006", tt.formats)
			if err != nil {
				t.Fatal(err)
			}
			c.call = ss.sipCall(t)
			agentPaymentOn(t, ss, c.call, tt.press(c))
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := c.dlg.Bye(ctx); err != nil {
				t.Fatal(err)
			}
			ss.waitStatus(c.call, tonepay.CallCompleted, 5*time.Second)
		})
	}
}

// TestSIPByeHangsUp: the caller's BYE ends the call, and its open payment
// session as caller-hung-up.
func TestSIPByeHangsUp(t *testing.T) {
	ss := startSIPServer(t, []string{"127.0.0.0/8"}, nil)
	rc := newReceiver(t, ss.token)
	c, err := dialSIP(t, ss, "+15005550006", "0 101")
	if err != nil {
		t.Fatal(err)
	}
	call := ss.sipCall(t)
	cl := ss.client()
	ctx := context.Background()
	pay, err := cl.CreatePayment(ctx, call, client.PaymentParams{IdempotencyKey: "k", StatusCallback: rc.srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.UpdatePayment(ctx, call, pay.Sid, client.PaymentUpdate{IdempotencyKey: "c", StatusCallback: rc.srv.URL, Capture: "payment-card-number"}); err != nil {
		t.Fatal(err)
	}
	c.events("42")
	bctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := c.dlg.Bye(bctx); err != nil {
		t.Fatal(err)
	}
	ss.waitStatus(call, tonepay.CallCompleted, 5*time.Second)
	v, err := cl.PaymentView(ctx, call, pay.Sid)
	if err != nil || v.Status != "ended" || v.Result != tonepay.ResultHungUp {
		t.Errorf("session after the BYE: %+v %v", v, err)
	}
}

// TestSIPPayIVR: a trunk call to a number of the account with a VoiceUrl
// runs its <Pay> on the real call; the caller pays with RFC 4733 events,
// typing once <Pay> asks (it hears the welcome first, in real time).
func TestSIPPayIVR(t *testing.T) {
	ss := startSIPServer(t, []string{"127.0.0.0/8"}, nil)
	app := payApp(t, ss.token, `<Pay chargeAmount="10.00" postalCode="false" action="/paid" statusCallback="/pay-status"/>`)
	ss.number(t, "+15005550007", app.url("/pay"))
	c, err := dialSIP(t, ss, "+15005550007", "0 101")
	if err != nil {
		t.Fatal(err)
	}
	call := ss.sipCall(t)
	waitFor(t, 15*time.Second, "<Pay> asking for the card", func() bool { return len(statusFor(app, call)) > 0 })
	if err := c.events("4242424242424242#1230123"); err != nil {
		t.Fatal(err)
	}
	waitRequest(t, app, "/paid", call, 20*time.Second)
	if r := actionOf(t, app, call); r.Params.Get("Result") != "success" || r.Params.Get("Direction") != "inbound" {
		t.Errorf("action %v", r.Params)
	}
	app.checkSigned()
	ss.waitStatus(call, tonepay.CallCompleted, 10*time.Second) // /paid hangs up: tonepay sends BYE
}

// number gives the account the IncomingPhoneNumber phone, whose VoiceUrl
// runs on the calls a trunk sends it.
func (ss *streamServer) number(t *testing.T, phone, voiceURL string) {
	t.Helper()
	tw, _ := newTwilio(t, ss.URL, ss.sid, ss.token, ss.sid, nil)
	if _, err := tw.CreateIncomingPhoneNumber((&api.CreateIncomingPhoneNumberParams{}).SetPhoneNumber(phone).SetVoiceUrl(voiceURL)); err != nil {
		t.Fatal(err)
	}
}

// waitRequest waits up to d for the app's first request on path about
// call, and returns it.
func waitRequest(t *testing.T, app *voiceApp, path, call string, d time.Duration) appRequest {
	t.Helper()
	var got appRequest
	waitFor(t, d, "the app's "+path, func() bool {
		for _, r := range app.requests() {
			if r.Path == path && r.Params.Get("CallSid") == call {
				got = r
				return true
			}
		}
		return false
	})
	return got
}
