package main

import (
	"context"
	binenc "encoding/binary"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	siplib "github.com/emiago/sipgo/sip"
	"github.com/pion/rtp"
	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/dtmf"
)

// A SIP call's life (DESIGN §11): no RTP for the timeout ends it, unless
// a re-INVITE put it on hold; the caller hears the call's TwiML as RTP; a
// <Dial><Sip> nobody answers is canceled at the Dial's timeout; INVITEs
// over TCP are answered as over UDP.

// reinvite sends an in-dialog INVITE offering direction dir and returns
// tonepay's answer.
func (c *sipCaller) reinvite(t *testing.T, dir string) string {
	t.Helper()
	port := c.rtp.LocalAddr().(interface{ String() string }).String()
	_, p, _ := strings.Cut(port, ":")
	sdp := fmt.Sprintf("v=0\r\no=caller 1 2 IN IP4 127.0.0.1\r\ns=call\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio %s RTP/AVP %d\r\na=%s\r\n", p, c.pt, dir)
	req := siplib.NewRequest(siplib.INVITE, c.dlg.InviteResponse.Contact().Address)
	req.SetBody([]byte(sdp))
	req.AppendHeader(siplib.NewHeader("Content-Type", "application/sdp"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := c.dlg.Do(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 200 {
		t.Fatalf("re-INVITE: %d", res.StatusCode)
	}
	ack := siplib.NewRequest(siplib.ACK, c.dlg.InviteResponse.Contact().Address)
	if err := c.dlg.WriteRequest(ack); err != nil {
		t.Fatal(err)
	}
	return string(res.Body())
}

func TestSIPRTPTimeoutAndHold(t *testing.T) {
	short := func(c *serveConfig) { c.RTPTimeout = time.Second }
	t.Run("no RTP ends the call", func(t *testing.T) {
		ss := startSIPServerWith(t, []string{"127.0.0.0/8"}, nil, short)
		c, err := dialSIP(t, ss, "+15005550006", "0 101")
		if err != nil {
			t.Fatal(err)
		}
		call := ss.sipCall(t)
		ss.waitStatus(call, tonepay.CallCompleted, 10*time.Second)
		waitFor(t, 5*time.Second, "tonepay's BYE", func() bool { return c.dlg.LoadState() == siplib.DialogStateEnded })
		if !strings.Contains(ss.logs.String(), "no RTP for 1s") {
			t.Error("no log line for the RTP timeout")
		}
	})
	t.Run("on hold there is no timeout", func(t *testing.T) {
		ss := startSIPServerWith(t, []string{"127.0.0.0/8"}, nil, short)
		c, err := dialSIP(t, ss, "+15005550006", "0 101")
		if err != nil {
			t.Fatal(err)
		}
		call := ss.sipCall(t)
		if ans := c.reinvite(t, "sendonly"); !strings.Contains(ans, "a=recvonly") {
			t.Errorf("hold answered:\n%s\nwant a=recvonly", ans)
		}
		// Three timeouts pass on hold (the server's log says when a call
		// would have ended; the call stays up).
		deadline := time.Now().Add(3 * time.Second)
		waitFor(t, 10*time.Second, "three RTP timeouts' time on hold", func() bool { return time.Now().After(deadline) })
		if s := ss.callStatus(call); s != tonepay.CallInProgress {
			t.Fatalf("on hold the call is %s", s)
		}
		if ans := c.reinvite(t, "sendrecv"); !strings.Contains(ans, "a=sendrecv") {
			t.Errorf("resume answered:\n%s", ans)
		}
		ss.waitStatus(call, tonepay.CallCompleted, 10*time.Second) // silent again after the resume
	})
	t.Run("a re-INVITE outside any call is 481, an INVITE without SDP 488", func(t *testing.T) {
		ss := startSIPServer(t, []string{"127.0.0.0/8"}, nil)
		ua, _ := sipgo.NewUA()
		defer ua.Close()
		cli, _ := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"))
		addr := ss.srv.sip.Addr().String()
		host, port, _ := strings.Cut(addr, ":")
		var p int
		fmt.Sscan(port, &p)
		req := siplib.NewRequest(siplib.INVITE, siplib.Uri{User: "x", Host: host, Port: p})
		to := &siplib.ToHeader{Address: siplib.Uri{User: "x", Host: host}, Params: siplib.NewParams()}
		to.Params.Add("tag", "nosuchdialog")
		req.AppendHeader(to)
		req.SetBody([]byte("v=0\r\no=x 1 1 IN IP4 127.0.0.1\r\ns=x\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"))
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		res, err := cli.Do(ctx, req)
		if err != nil || res.StatusCode != 481 {
			t.Fatalf("re-INVITE of no call: %v %v, want 481", res, err)
		}
		if !strings.Contains(ss.logs.String(), "INVITE refused (481)") {
			t.Error("no log line for the 481")
		}
		// An INVITE with no SDP (a delayed offer) is refused clearly.
		req = siplib.NewRequest(siplib.INVITE, siplib.Uri{User: "+15005550006", Host: host, Port: p})
		res, err = cli.Do(ctx, req)
		if err != nil || res.StatusCode != 488 || !strings.Contains(ss.logs.String(), "no SDP offer (a delayed offer)") {
			t.Fatalf("INVITE without SDP: %v %v, want 488 and a log line", res, err)
		}
	})
}

// TestSIPCallerHearsTheTwiML: what the call's TwiML says reaches the
// caller as RTP in the call's codec.
func TestSIPCallerHearsTheTwiML(t *testing.T) {
	ss := startSIPServer(t, []string{"127.0.0.0/8"}, []string{"PCMA"})
	wav := serveWAV(t, 8000) // one second of a 440 Hz tone
	app := newVoiceApp(t, ss.token, map[string]string{"/voice": `<Response><Play>` + wav + `</Play><Pause length="5"/></Response>`})
	ss.number(t, "+15005550007", app.url("/voice"))
	c, err := dialSIP(t, ss, "+15005550007", "8")
	if err != nil {
		t.Fatal(err)
	}
	var pkt rtp.Packet
	buf := make([]byte, 1500)
	loud := 0
	waitFor(t, 10*time.Second, "a second of the <Play> as PCMA RTP", func() bool {
		c.rtp.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		n, err := c.rtp.Read(buf)
		if err != nil || pkt.Unmarshal(buf[:n]) != nil || pkt.PayloadType != 8 {
			return false
		}
		for _, b := range pkt.Payload {
			if s := dtmf.AlawDecode(b); s > 4000 || s < -4000 {
				loud++
				break
			}
		}
		return loud >= 40
	})
}

// TestSIPDialNoAnswer: a <Dial><Sip> whose far end only rings is canceled
// at the Dial's timeout, and its action gets no-answer.
func TestSIPDialNoAnswer(t *testing.T) {
	ag := startSIPAgent(t)
	ag.ring = make(chan struct{})
	defer close(ag.ring)
	ss := startSIPServer(t, []string{"127.0.0.0/8"}, nil)
	app := newVoiceApp(t, ss.token, map[string]string{
		"/voice":  fmt.Sprintf(`<Response><Dial action="/dialed" timeout="1"><Sip>%s</Sip></Dial></Response>`, ag.uri),
		"/dialed": `<Response><Hangup/></Response>`,
	})
	ss.number(t, "+15005550007", app.url("/voice"))
	if _, err := dialSIP(t, ss, "+15005550007", "0 101"); err != nil {
		t.Fatal(err)
	}
	call := ss.sipCall(t)
	waitFor(t, 10*time.Second, "the agent's CANCEL", func() bool { _, _, c := ag.counts(); return c == 1 })
	if r := waitRequest(t, app, "/dialed", call, 10*time.Second); r.Params.Get("DialCallStatus") != "no-answer" {
		t.Errorf("Dial action %v, want DialCallStatus=no-answer", r.Params)
	}
	ss.waitStatus(call, tonepay.CallCompleted, 10*time.Second)
	if legs := ss.children(t, call); len(legs) != 1 || *legs[0].Status != tonepay.CallNoAnswer {
		t.Errorf("the Dial's leg: %+v", legs)
	}
}

// serveWAV serves n samples of a loud 440 Hz tone as an 8 kHz 16-bit WAV
// file and returns its URL.
func serveWAV(t *testing.T, n int) string {
	t.Helper()
	pcm := dtmf.TwoTone(440, 440, 8000, 0, n)
	b := make([]byte, 44+2*n)
	copy(b, "RIFF")
	binenc.LittleEndian.PutUint32(b[4:], uint32(36+2*n))
	copy(b[8:], "WAVEfmt ")
	binenc.LittleEndian.PutUint32(b[16:], 16)
	binenc.LittleEndian.PutUint16(b[20:], 1) // PCM
	binenc.LittleEndian.PutUint16(b[22:], 1)
	binenc.LittleEndian.PutUint32(b[24:], 8000)
	binenc.LittleEndian.PutUint32(b[28:], 16000)
	binenc.LittleEndian.PutUint16(b[32:], 2)
	binenc.LittleEndian.PutUint16(b[34:], 16)
	copy(b[36:], "data")
	binenc.LittleEndian.PutUint32(b[40:], uint32(2*n))
	for i, v := range pcm {
		binenc.LittleEndian.PutUint16(b[44+2*i:], uint16(v))
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "audio/wav")
		w.Write(b)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/tone.wav"
}

// TestSIPOverTCP: an INVITE over TCP is answered, and its keys reach a
// payment as over UDP.
func TestSIPOverTCP(t *testing.T) {
	ss := startSIPServer(t, []string{"127.0.0.0/8"}, nil)
	ctx, cancel := context.WithTimeout(context.WithValue(context.Background(), transportKey{}, "tcp"), 20*time.Second)
	defer cancel()
	c, err := dialSIPCtx(ctx, t, ss, "+15005550006", "0 101")
	if err != nil {
		t.Fatal(err)
	}
	if v := c.dlg.InviteRequest.Via(); v == nil || !strings.EqualFold(v.Transport, "TCP") {
		t.Fatalf("the INVITE went over %v", v)
	}
	agentPaymentOn(t, ss, ss.sipCall(t), c.events)
}

// TestSIPDialSipElsewhereRefused: an app's <Dial><Sip> to a host that is
// neither the trunk's agent's nor in the trunk's networks is not called:
// the Dial fails and the timeline says why.
func TestSIPDialSipElsewhereRefused(t *testing.T) {
	ss := startSIPServer(t, []string{"127.0.0.0/8"}, nil)
	app := newVoiceApp(t, ss.token, map[string]string{
		"/voice":  `<Response><Dial action="/dialed"><Sip>sip:agent@192.0.2.10:5060</Sip></Dial></Response>`,
		"/dialed": `<Response><Hangup/></Response>`,
	})
	ss.number(t, "+15005550007", app.url("/voice"))
	if _, err := dialSIP(t, ss, "+15005550007", "0 101"); err != nil {
		t.Fatal(err)
	}
	call := ss.sipCall(t)
	if r := waitRequest(t, app, "/dialed", call, 10*time.Second); r.Params.Get("DialCallStatus") != "failed" {
		t.Errorf("Dial action %v, want DialCallStatus=failed", r.Params)
	}
	if !strings.Contains(ss.logs.String(), "a <Dial><Sip> refused") {
		t.Error("no log line for the refused dial")
	}
}
