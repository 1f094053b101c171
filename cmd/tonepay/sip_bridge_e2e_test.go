package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
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

// The agent bridge (DESIGN §11): a trunk call with no app is bridged to
// the trunk's agent, a Go SIP user agent here that records what it is
// sent: the INVITE's headers, the RFC 4733 events, and the keys a DTMF
// detector finds in its audio.

// sipAgent is an agent's phone: a sipgo UAS on loopback.
type sipAgent struct {
	t    *testing.T
	uri  string
	busy bool          // answer 486
	ring chan struct{} // when set, answer only once it is closed

	mu      sync.Mutex
	invites []*siplib.Request
	dlg     *sipgo.DialogServerSession
	byes    int
	cancels int
	events  []byte // RFC 4733 events received (one per event)
	keys    []byte // keys the detector found in the audio
	packets int    // audio packets received
	energy  float64
	rtp     *net.UDPConn
	caller  *net.UDPAddr // where tonepay wants the agent's RTP
	pt      uint8
}

func startSIPAgent(t *testing.T) *sipAgent {
	t.Helper()
	a := &sipAgent{t: t}
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("test-agent"))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sipgo.NewServer(ua)
	if err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := pc.LocalAddr().(*net.UDPAddr).Port
	a.uri = fmt.Sprintf("sip:agents@127.0.0.1:%d", port)
	cli, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"), sipgo.WithClientPort(port))
	if err != nil {
		t.Fatal(err)
	}
	dc := sipgo.NewDialogServerCache(cli, siplib.ContactHeader{Address: siplib.Uri{User: "agent", Host: "127.0.0.1", Port: port}})
	a.rtp, err = net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	srv.OnInvite(func(req *siplib.Request, tx siplib.ServerTransaction) {
		a.mu.Lock()
		a.invites = append(a.invites, req)
		a.mu.Unlock()
		dlg, err := dc.ReadInvite(req, tx)
		if err != nil {
			return
		}
		_ = dlg.Respond(180, "Ringing", nil)
		if a.busy {
			_ = dlg.Respond(486, "Busy Here", nil)
			return
		}
		if a.ring != nil {
			canceled := make(chan struct{})
			var once sync.Once
			if !tx.OnCancel(func(*siplib.Request) { once.Do(func() { close(canceled) }) }) {
				once.Do(func() { close(canceled) })
			}
			select {
			case <-a.ring:
			case <-canceled:
				a.mu.Lock()
				a.cancels++
				a.mu.Unlock()
				return
			}
		}
		a.mu.Lock()
		a.dlg = dlg
		a.caller = offerAddr(string(req.Body()))
		a.pt = 0
		a.mu.Unlock()
		sdp := fmt.Sprintf("v=0\r\no=agent 1 1 IN IP4 127.0.0.1\r\ns=agent\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio %d RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n",
			a.rtp.LocalAddr().(*net.UDPAddr).Port)
		_ = dlg.RespondSDP([]byte(sdp))
	})
	srv.OnAck(func(req *siplib.Request, tx siplib.ServerTransaction) { _ = dc.ReadAck(req, tx) })
	srv.OnBye(func(req *siplib.Request, tx siplib.ServerTransaction) {
		a.mu.Lock()
		a.byes++
		a.mu.Unlock()
		_ = dc.ReadBye(req, tx)
	})
	go srv.ServeUDP(pc)
	go a.read()
	t.Cleanup(func() { srv.Close(); ua.Close(); pc.Close(); a.rtp.Close() })
	return a
}

// offerAddr is the RTP address of an SDP body.
func offerAddr(sdp string) *net.UDPAddr {
	var port int
	for _, l := range strings.Split(sdp, "\r\n") {
		if strings.HasPrefix(l, "m=audio ") {
			fmt.Sscan(strings.Fields(l)[1], &port)
		}
	}
	return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}
}

// read records what reaches the agent.
func (a *sipAgent) read() {
	det := dtmf.NewDetector()
	var pkt rtp.Packet
	buf := make([]byte, 1500)
	var evTS uint32
	var evEnded, seen bool
	for {
		n, err := a.rtp.Read(buf)
		if err != nil {
			return
		}
		if pkt.Unmarshal(buf[:n]) != nil {
			continue
		}
		a.mu.Lock()
		switch pkt.PayloadType {
		case 101:
			if len(pkt.Payload) >= 4 {
				if !seen || pkt.Timestamp != evTS {
					seen, evTS, evEnded = true, pkt.Timestamp, false
				}
				if pkt.Payload[1]&0x80 != 0 && !evEnded {
					evEnded = true
					a.events = append(a.events, "0123456789*#ABCD"[pkt.Payload[0]&15])
				}
			}
		case 0:
			a.packets++
			pcm := make([]int16, len(pkt.Payload))
			for i, b := range pkt.Payload {
				pcm[i] = dtmf.MulawDecode(b)
				a.energy += float64(pcm[i]) * float64(pcm[i])
			}
			for _, k := range det.Write(pcm) {
				a.keys = append(a.keys, k.Digit)
			}
		}
		a.mu.Unlock()
	}
}

// heard returns the events and detected keys so far, and clears them.
func (a *sipAgent) heard() (events, keys string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	events, keys = string(a.events), string(a.keys)
	a.events, a.keys = nil, nil
	return events, keys
}

func (a *sipAgent) packetCount() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.packets
}

// say sends the caller n packets of a tone (the agent talking).
func (a *sipAgent) say(n int) {
	a.mu.Lock()
	to := a.caller
	a.mu.Unlock()
	tone := dtmf.TwoTone(440, 440, 8000, 0, 160*n)
	for i := range n {
		payload := make([]byte, 160)
		for j := range payload {
			payload[j] = dtmf.MulawEncode(tone[i*160+j])
		}
		b, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: uint16(i), Timestamp: uint32(160 * i), SSRC: 99}, Payload: payload}).Marshal()
		a.rtp.WriteToUDP(b, to)
	}
}

func (a *sipAgent) counts() (invites, byes, cancels int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.invites), a.byes, a.cancels
}

// received counts the caller's audio packets that reached it.
func (c *sipCaller) received(d time.Duration) int {
	buf := make([]byte, 1500)
	n := 0
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		c.rtp.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		if _, err := c.rtp.Read(buf); err == nil {
			n++
		}
	}
	return n
}

func bridgeServer(t *testing.T, a *sipAgent) *streamServer {
	return startSIPServer(t, []string{"127.0.0.0/8"}, []string{"PCMU", "PCMA"}, fmt.Sprintf("agent = %q", a.uri))
}

// TestSIPBridge: a trunk call with no app rings the agent (180 passed
// on), is answered when the agent answers, carries X-Tonepay-CallSid and
// the caller's From; audio flows both ways; the caller's DTMF passes to
// the agent outside a payment session and none of it (not one event, not
// one detectable tone) during one; a BYE on either leg ends both.
func TestSIPBridge(t *testing.T) {
	for _, tt := range []struct {
		name    string
		formats string
		press   func(c *sipCaller) func(string) error
	}{
		{"events", "0 101", func(c *sipCaller) func(string) error { return c.events }},
		{"tones PCMA", "8 101", func(c *sipCaller) func(string) error { return c.tones }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ag := startSIPAgent(t)
			ss := bridgeServer(t, ag)
			c, err := dialSIP(t, ss, "+15005550006", tt.formats)
			if err != nil {
				t.Fatal(err)
			}
			call := ss.sipCall(t)
			ag.mu.Lock()
			inv := ag.invites[0]
			ag.mu.Unlock()
			if h := inv.GetHeader("X-Tonepay-CallSid"); h == nil || h.Value() != call {
				t.Errorf("X-Tonepay-CallSid %v, want %s", h, call)
			}
			if f := inv.From(); f == nil || f.Address.User != "+15005550001" {
				t.Errorf("From %v, want the caller's user", f)
			}
			press := tt.press(c)
			want := func(stage, keys string) {
				t.Helper()
				got := ""
				waitFor(t, 10*time.Second, stage+": the agent gets "+keys, func() bool {
					ev, k := ag.heard()
					got += ev + k
					return got == keys
				})
				t.Logf("%s: got %q", stage, got)
			}
			// Outside a session: DTMF passes through.
			press("12")
			want("before the session", "12")
			// The call has them too before the session opens (a key handled
			// late would be one the session drops).
			waitFor(t, 10*time.Second, "the call's 2 keys", func() bool { return timelineKeys(t, ss, call) == 2 })
			// During one: nothing reaches the agent.
			agentPaymentOn(t, ss, call, press)
			ev, k := ag.heard()
			if ev != "" || k != "" {
				t.Errorf("during the session the agent got events %q and detected keys %q", ev, k)
			}
			// After it: passes through again, once the leg has been told
			// (after the commit the API already shows): a key pressed
			// as the session ends is masked.
			got := ""
			waitFor(t, 10*time.Second, "the agent gets a key after the session", func() bool {
				press("3")
				ev, k := ag.heard()
				got += ev + k
				return strings.Contains(got, "3")
			})
			press("4")
			want("after the session", "4")
			// The agent talks; the caller hears it.
			ag.say(25)
			if n := c.received(time.Second); n < 10 {
				t.Errorf("the caller got %d packets of the agent's 25", n)
			}
			c.audio(dtmf.TwoTone(300, 300, 2000, 0, 1600))
			waitFor(t, 5*time.Second, "the caller's audio at the agent", func() bool { return ag.packetCount() >= 10 })
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := c.dlg.Bye(ctx); err != nil {
				t.Fatal(err)
			}
			ss.waitStatus(call, tonepay.CallCompleted, 5*time.Second)
			waitFor(t, 5*time.Second, "the agent's BYE", func() bool { _, b, _ := ag.counts(); return b == 1 })
		})
	}
}

// TestSIPBridgeEnds: the agent's BYE ends the caller's call (tonepay's
// BYE); a busy agent is a 486 to the caller; a caller's CANCEL while the
// agent rings is a CANCEL to the agent; Calls update Status=completed
// sends BYE to both.
func TestSIPBridgeEnds(t *testing.T) {
	t.Run("agent hangs up", func(t *testing.T) {
		ag := startSIPAgent(t)
		ss := bridgeServer(t, ag)
		c, err := dialSIP(t, ss, "+15005550006", "0 101")
		if err != nil {
			t.Fatal(err)
		}
		call := ss.sipCall(t)
		ag.mu.Lock()
		dlg := ag.dlg
		ag.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := dlg.Bye(ctx); err != nil {
			t.Fatal(err)
		}
		ss.waitStatus(call, tonepay.CallCompleted, 5*time.Second)
		waitFor(t, 5*time.Second, "tonepay's BYE to the caller", func() bool { return c.dlg.LoadState() == siplib.DialogStateEnded })
		legs := ss.children(t, call)
		if len(legs) != 1 || *legs[0].Status != tonepay.CallCompleted || *legs[0].To != ag.uri {
			t.Errorf("the Dial's leg: %+v", legs)
		}
	})
	t.Run("agent busy", func(t *testing.T) {
		ag := startSIPAgent(t)
		ag.busy = true
		ss := bridgeServer(t, ag)
		if _, err := dialSIP(t, ss, "+15005550006", "0 101"); status(err) != 486 {
			t.Fatalf("INVITE to a busy agent: %v, want 486", err)
		}
	})
	t.Run("caller cancels while the agent rings", func(t *testing.T) {
		ag := startSIPAgent(t)
		ag.ring = make(chan struct{})
		ss := bridgeServer(t, ag)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { _, err := dialSIPCtx(ctx, t, ss, "+15005550006", "0 101"); done <- err }()
		waitFor(t, 10*time.Second, "the agent's INVITE", func() bool { i, _, _ := ag.counts(); return i == 1 })
		call := ss.sipCall(t)
		cancel()
		<-done
		waitFor(t, 10*time.Second, "the agent's CANCEL", func() bool { _, _, c := ag.counts(); return c == 1 })
		ss.waitStatus(call, tonepay.CallCompleted, 5*time.Second)
		close(ag.ring)
	})
	t.Run("Calls update completed", func(t *testing.T) {
		ag := startSIPAgent(t)
		ss := bridgeServer(t, ag)
		c, err := dialSIP(t, ss, "+15005550006", "0 101")
		if err != nil {
			t.Fatal(err)
		}
		call := ss.sipCall(t)
		tw, _ := newTwilio(t, ss.URL, ss.sid, ss.token, ss.sid, nil)
		if _, err := tw.UpdateCall(call, (&api.UpdateCallParams{}).SetStatus("completed")); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 5*time.Second, "the agent's BYE", func() bool { _, b, _ := ag.counts(); return b == 1 })
		waitFor(t, 5*time.Second, "the caller's BYE", func() bool { return c.dlg.LoadState() == siplib.DialogStateEnded })
	})
}

// TestSIPDialSipFromApp: a SIP call's TwiML <Dial><Sip> calls the far end
// for real; when it hangs up the Dial's action gets DialCallStatus and the
// leg, and the TwiML goes on.
func TestSIPDialSipFromApp(t *testing.T) {
	ag := startSIPAgent(t)
	ss := startSIPServer(t, []string{"127.0.0.0/8"}, nil)
	app := newVoiceApp(t, ss.token, map[string]string{
		"/voice":  fmt.Sprintf(`<Response><Dial action="/dialed" timeout="10"><Sip>%s</Sip></Dial></Response>`, ag.uri),
		"/dialed": `<Response><Hangup/></Response>`,
	})
	ss.number(t, "+15005550007", app.url("/voice"))
	if _, err := dialSIP(t, ss, "+15005550007", "0 101"); err != nil {
		t.Fatal(err)
	}
	call := ss.sipCall(t)
	waitFor(t, 10*time.Second, "the far end answered", func() bool {
		ag.mu.Lock()
		defer ag.mu.Unlock()
		return ag.dlg != nil
	})
	legs := ss.children(t, call)
	waitFor(t, 5*time.Second, "the leg in progress", func() bool {
		legs = ss.children(t, call)
		return len(legs) == 1 && *legs[0].Status == tonepay.CallInProgress
	})
	ag.mu.Lock()
	dlg := ag.dlg
	ag.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := dlg.Bye(ctx); err != nil {
		t.Fatal(err)
	}
	if r := waitRequest(t, app, "/dialed", call, 10*time.Second); r.Params.Get("DialCallStatus") != "completed" || r.Params.Get("DialCallSid") != *legs[0].Sid {
		t.Errorf("Dial action %v", r.Params)
	}
	app.checkSigned()
}

// children are the legs a call's <Dial>s made (Calls list by
// ParentCallSid, read as JSON).
func (ss *streamServer) children(t *testing.T, call string) []api.ApiV2010Call {
	t.Helper()
	req, _ := http.NewRequest("GET", ss.URL+"/2010-04-01/Accounts/"+ss.sid+"/Calls.json?ParentCallSid="+call, nil)
	req.SetBasicAuth(ss.sid, ss.token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var page struct{ Calls []api.ApiV2010Call }
	if err := json.NewDecoder(res.Body).Decode(&page); err != nil {
		t.Fatal(err)
	}
	return page.Calls
}

// TestSIPBridgeOtherAccount: another account (a subaccount is a tenant of
// its own) cannot see the bridged call or open a payment on it, and the
// Digits API does not type for a real caller.
func TestSIPBridgeOtherAccount(t *testing.T) {
	ag := startSIPAgent(t)
	ss := bridgeServer(t, ag)
	if _, err := dialSIP(t, ss, "+15005550006", "0 101"); err != nil {
		t.Fatal(err)
	}
	call := ss.sipCall(t)
	tw, _ := newTwilio(t, ss.URL, ss.sid, ss.token, ss.sid, nil)
	sub, err := tw.CreateAccount((&api.CreateAccountParams{}).SetFriendlyName("other"))
	if err != nil {
		t.Fatal(err)
	}
	other, _ := newTwilio(t, ss.URL, *sub.Sid, *sub.AuthToken, *sub.Sid, nil)
	if _, err := other.FetchCall(call, nil); err == nil {
		t.Error("another account fetched the SIP call")
	} else if code, status := twilioCode(t, err); code != 20404 || status != 404 {
		t.Errorf("another account's fetch: %d %d, want 20404", code, status)
	}
	if _, err := other.CreatePayments(call, (&api.CreatePaymentsParams{}).SetIdempotencyKey("k").SetStatusCallback("https://example.com/cb")); err == nil {
		t.Error("another account opened a payment on the SIP call")
	} else if code, _ := twilioCode(t, err); code != 20404 {
		t.Errorf("another account's payment: %d, want 20404", code)
	}
	var ce *client.Error
	if _, err := ss.client().Press(context.Background(), call, "4"); !errors.As(err, &ce) || ce.Code != tonepay.CodeInvalidParameter {
		t.Errorf("Digits on a SIP call: %v, want 64020", err)
	}
}
