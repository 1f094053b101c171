package main

import (
	"bufio"
	"context"
	bin "encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/client"
	"github.com/tonepay/tonepay/dtmf"
	"github.com/tonepay/tonepay/internal/suites"
	api "github.com/twilio/twilio-go/rest/api/v2010"
)

// SIP trunks (DESIGN §11) against a SIP peer nobody here wrote: SIPp
// (Debian's sip-tester) as the caller, over loopback (UDP; TCP once),
// replaying the RTP captures it ships (RFC 4733 keys, G.711 speech). Its
// scenarios are testdata/sipp/*.xml.
//
// A scenario cannot wait for tonepay (nothing tonepay sends says "the agent
// asked for the expiry now"), and an agent-assisted session drops keys
// typed while no field is being captured, so fixed pauses would race. The
// test paces SIPp instead, through SIPp's 3PCC twin socket: the scenario's
// <sendCmd> tells the test where it is ("Step: card"), its <recvCmd> waits
// for the test's go-ahead. The test listens; SIPp connects to it at start.

// sippRun is SIPp running one scenario as the caller of one call (-m 1).
type sippRun struct {
	t      *testing.T
	dir    string // its working directory: logs, pcap (SIPp's captures), what setup wrote
	conn   net.Conn
	cmds   chan string // the commands it sent, without their ESC delimiter
	callID string
	done   chan struct{}
	err    error // how it exited, once done is closed
	out    *lockedBuffer
}

// The twin socket's messages end with ESC (SIPp's 3PCC delimiter).
const twinEnd = 0x1b

// startSIPp runs testdata/sipp/<scenario> calling user at ss's SIP address,
// with its own random free ports on 127.0.0.1 (SIP, media, control; it
// tries again when one is taken), and returns once it has connected its
// twin socket. setup, if set, prepares its working directory first (the
// files a scenario plays must be there when SIPp reads it); args are more
// of SIPp's options.
func startSIPp(t *testing.T, ss *streamServer, scenario, user string, setup func(dir string), args ...string) *sippRun {
	t.Helper()
	pcaps, how := suites.SIPp()
	if how != "" {
		suites.Need(t, suites.SIPSuite, how)
	}
	s := &sippRun{t: t, dir: t.TempDir(), cmds: make(chan string, 16)}
	// The scenarios name SIPp's captures pcap/…, wherever they are
	// installed; SIPp looks for them next to the scenario first.
	sc, err := os.ReadFile(filepath.Join("testdata", "sipp", scenario))
	if err != nil {
		t.Fatal(err)
	}
	sf := filepath.Join(s.dir, scenario)
	if err := os.WriteFile(sf, sc, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(pcaps, filepath.Join(s.dir, "pcap")); err != nil {
		t.Fatal(err)
	}
	if setup != nil {
		setup(s.dir)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	accepted := make(chan net.Conn, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			accepted <- c
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(func() {
		cancel() // kills it if it is still running
		if s.done != nil {
			<-s.done
		}
		if s.conn != nil {
			s.conn.Close()
		}
		if t.Failed() {
			s.logs()
		}
	})
	for try := 1; ; try++ {
		sipPort, mediaPort, ctlPort := 41000+rand.IntN(8000), 50000+2*rand.IntN(4000), 20000+rand.IntN(9000)
		argv := append([]string{"-sf", sf, "-s", user, "-m", "1",
			"-i", "127.0.0.1", "-bind_local", "-p", fmt.Sprint(sipPort),
			"-mi", "127.0.0.1", "-mp", fmt.Sprint(mediaPort),
			"-ci", "127.0.0.1", "-cp", fmt.Sprint(ctlPort),
			"-3pcc", ln.Addr().String(), "-nostdin", "-timeout", "150s", "-timeout_error",
			"-trace_msg", "-message_file", filepath.Join(s.dir, "messages.log"),
			"-trace_err", "-error_file", filepath.Join(s.dir, "errors.log"),
			"-trace_screen", "-screen_file", filepath.Join(s.dir, "screen.log"),
		}, args...)
		cmd := exec.CommandContext(ctx, "sipp", append(argv, ss.srv.sip.Addr().String())...)
		cmd.Dir = s.dir
		s.out = &lockedBuffer{}
		cmd.Stdout, cmd.Stderr = s.out, s.out
		cmd.WaitDelay = 5 * time.Second
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		s.done = done
		go func() { s.err = cmd.Wait(); close(done) }()
		select {
		case s.conn = <-accepted:
		case <-s.done:
			// SIPp exits with 254 when it cannot bind a port.
			var ee *exec.ExitError
			if errors.As(s.err, &ee) && ee.ExitCode() == 254 && try < 5 {
				continue
			}
			t.Fatalf("SIPp exited before it connected its twin socket: %v\n%s", s.err, s.out.String())
		case <-time.After(30 * time.Second):
			t.Fatalf("SIPp did not connect its twin socket in 30 s")
		}
		break
	}
	go func() {
		defer close(s.cmds)
		r := bufio.NewReader(s.conn)
		for {
			m, err := r.ReadString(twinEnd)
			if err != nil {
				return
			}
			s.cmds <- strings.TrimSuffix(m, string(rune(twinEnd)))
		}
	}()
	return s
}

// step waits for the scenario to say it reached want (its "Step:" line).
func (s *sippRun) step(want string, d time.Duration) {
	s.t.Helper()
	select {
	case m, ok := <-s.cmds:
		if !ok {
			<-s.done
			s.t.Fatalf("SIPp closed its twin socket before step %q: %v", want, s.err)
		}
		var got string
		for _, l := range strings.Split(m, "\n") {
			k, v, _ := strings.Cut(strings.TrimSpace(l), ":")
			switch strings.ToLower(k) {
			case "call-id":
				s.callID = strings.TrimSpace(v)
			case "step":
				got = strings.TrimSpace(v)
			}
		}
		if got != want {
			s.t.Fatalf("SIPp at step %q, want %q (%q)", got, want, m)
		}
	case <-time.After(d):
		s.t.Fatalf("SIPp did not reach step %q in %v", want, d)
	}
}

// next lets the scenario go on past its <recvCmd>.
func (s *sippRun) next() {
	s.t.Helper()
	if _, err := fmt.Fprintf(s.conn, "Call-ID: %s\r\n\r\n%c", s.callID, twinEnd); err != nil {
		s.t.Fatalf("the go-ahead to SIPp: %v", err)
	}
}

// wait waits for SIPp to end, its call successful (exit status 0).
func (s *sippRun) wait(d time.Duration) {
	s.t.Helper()
	select {
	case <-s.done:
		if s.err != nil {
			s.t.Fatalf("SIPp: %v", s.err)
		}
	case <-time.After(d):
		s.t.Fatalf("SIPp still running after %v", d)
	}
}

// logs writes what SIPp traced (its messages, errors, last screen) and the
// tail of its output to the test's log.
func (s *sippRun) logs() {
	for _, f := range []string{"errors.log", "messages.log", "screen.log"} {
		if b, err := os.ReadFile(filepath.Join(s.dir, f)); err == nil {
			s.t.Logf("SIPp %s:\n%s", f, b)
		}
	}
	if s.out == nil {
		return
	}
	out := s.out.String()
	if len(out) > 4000 {
		out = out[len(out)-4000:]
	}
	s.t.Logf("SIPp output (tail):\n%s", out)
}

// TestSIPpAgentPayment: SIPp calls a number with no VoiceUrl on a trunk
// with no agent (the call is answered and held); the agent's app
// (twilio-go) opens a payment on its CallSid and asks for each field as
// the caller (SIPp's RFC 4733 captures) is about to type it; every field
// is reported masked through a signed status callback; complete succeeds.
// A # after a fixed-length field ends nothing and is dropped; no key is
// counted twice (each capture ends with three end packets, all with the
// same timestamp as every other key's). The caller's BYE completes the call.
func TestSIPpAgentPayment(t *testing.T) {
	ss := startSIPServer(t, []string{"127.0.0.0/8"}, nil)
	sp := startSIPp(t, ss, "agent.xml", "+15005550006", nil)
	sp.step("answered", 20*time.Second)
	call := ss.sipCall(t)

	tw, _ := newTwilio(t, ss.URL, ss.sid, ss.token, ss.sid, nil)
	rc := newReceiver(t, ss.token)
	pay, err := tw.CreatePayments(call, (&api.CreatePaymentsParams{}).SetIdempotencyKey("create").
		SetStatusCallback(rc.srv.URL).SetChargeAmount(10).SetPostalCode(false))
	if err != nil {
		t.Fatal(err)
	}
	view := func() *client.PaymentView {
		v, err := ss.client().PaymentView(context.Background(), call, *pay.Sid)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, f := range []struct {
		field, step   string // step: where agent.xml says it typed the field
		param, masked string
		dropped       int // keys dropped so far: the #s after the expiry and the security code
	}{
		{"payment-card-number", "card", "PaymentCardNumber", "xxxxxxxxxxxx4242", 0},
		{"expiration-date", "expiry", "ExpirationDate", "1230", 1},
		{"security-code", "security-code", "SecurityCode", "xxx", 2},
	} {
		if _, err := tw.UpdatePayments(call, *pay.Sid, (&api.UpdatePaymentsParams{}).SetIdempotencyKey("capture-"+f.field).
			SetStatusCallback(rc.srv.URL).SetCapture(f.field)); err != nil {
			t.Fatal(err)
		}
		sp.next()
		sp.step(f.step, 30*time.Second)
		waitFor(t, 10*time.Second, f.field+" reported "+f.masked, func() bool {
			for _, d := range rc.forSession(*pay.Sid) {
				if d.Form.Get("Capture") == f.field && d.Form.Get("PartialResult") == "false" && d.Form.Get(f.param) == f.masked {
					return true
				}
			}
			return false
		})
		// The # after a fixed-length field must be in before the next field
		// is asked for, or it would end that one empty.
		waitFor(t, 10*time.Second, fmt.Sprintf("%d keys dropped", f.dropped), func() bool { return view().DroppedDigits == f.dropped })
	}
	if _, err := tw.UpdatePayments(call, *pay.Sid, (&api.UpdatePaymentsParams{}).SetIdempotencyKey("complete").
		SetStatusCallback(rc.srv.URL).SetStatus("complete")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the payment's success", func() bool { return view().Result == tonepay.ResultSuccess })
	if v := view(); v.Captured["payment-card-number"] != "xxxxxxxxxxxx4242" || v.DroppedDigits != 2 || v.CardType != "visa" {
		t.Errorf("session %+v: want the card, visa, 2 keys dropped", v)
	}
	for _, d := range rc.deliveries() {
		if !d.Valid {
			t.Errorf("a status callback not signed with the account's token: %v", d.Form)
		}
		if strings.ContainsAny(d.Form.Get("SecurityCode"), "0123456789") || strings.Count(d.Form.Get("PaymentCardNumber"), "x") < len(d.Form.Get("PaymentCardNumber"))-4 {
			t.Errorf("clear card data in a status callback: %v", d.Form)
		}
	}

	sp.next() // the caller hangs up
	sp.wait(20 * time.Second)
	ss.waitStatus(call, tonepay.CallCompleted, 5*time.Second)
}

// TestSIPpPayIVR: SIPp calls a number whose VoiceUrl answers a <Pay>; once
// <Pay> asks for the card, SIPp types the whole card in one go (the expiry
// and security code ahead of their prompts, each with a # that ends
// nothing); the action gets success and the masked card, and its <Hangup/>
// reaches SIPp as a BYE.
func TestSIPpPayIVR(t *testing.T) {
	ss := startSIPServer(t, []string{"127.0.0.0/8"}, nil)
	app := payApp(t, ss.token, `<Pay chargeAmount="10.00" postalCode="false" action="/paid" statusCallback="/pay-status"/>`)
	ss.number(t, "+15005550007", app.url("/pay"))
	sp := startSIPp(t, ss, "pay.xml", "+15005550007", nil)
	sp.step("answered", 20*time.Second)
	call := ss.sipCall(t)
	waitFor(t, 15*time.Second, "<Pay> asking for the card", func() bool { return len(statusFor(app, call)) > 0 })
	sp.next()
	sp.step("typed", 30*time.Second)
	waitRequest(t, app, "/paid", call, 20*time.Second)
	a := actionOf(t, app, call)
	if a.Params.Get("Result") != "success" || a.Params.Get("PaymentCardNumber") != "xxxxxxxxxxxx4242" ||
		a.Params.Get("PaymentCardType") != "visa" || a.Params.Get("Direction") != "inbound" {
		t.Errorf("action %v", a.Params)
	}
	app.checkSigned()
	sp.wait(20 * time.Second) // its last step is tonepay's BYE, answered 200
	ss.waitStatus(call, tonepay.CallCompleted, 5*time.Second)
}

// TestSIPpSpeechNoFalseKeys: SIPp's G.711 A-law speech capture on a PCMA
// trunk call without telephone-event gives no key; the in-band tones that
// follow it (a capture the test writes: every key, PCMA) give each key
// once, so the leg was listening all along.
func TestSIPpSpeechNoFalseKeys(t *testing.T) {
	const keys = "1234567890*#"
	ss := startSIPServer(t, []string{"127.0.0.0/8"}, []string{"PCMA"})
	sp := startSIPp(t, ss, "speech.xml", "+15005550006", func(dir string) {
		d, err := writeTonesPcap(filepath.Join(dir, "tones.pcap"), keys)
		if err != nil {
			t.Fatal(err)
		}
		if d > 2400*time.Millisecond { // the scenario's pause after it
			t.Fatalf("tones.pcap lasts %v", d)
		}
	})
	sp.step("answered", 20*time.Second)
	call := ss.sipCall(t)
	sp.step("played", 30*time.Second)
	sp.next()
	sp.wait(20 * time.Second)
	ss.waitStatus(call, tonepay.CallCompleted, 5*time.Second)
	// Ended: every key the leg heard is on the timeline.
	var got []string
	if err := ss.client().EachEntry(context.Background(), call, func(e client.Entry) {
		if e.Kind == "key" {
			got = append(got, e.Text)
		}
	}); err != nil {
		t.Fatal(err)
	}
	if n := len(strings.Join(got, "")); n != len(keys) {
		t.Errorf("%d keys on the timeline (%q), want the %d tones only: the speech gave %d", n, got, len(keys), n-len(keys))
	}
}

// TestSIPpByeHangsUp: SIPp's BYE while the caller types the card number
// ends the call (completed) and the open session as caller-hung-up; over
// UDP, and over TCP (the trunk listens on both). The three 4s typed first,
// identical packets down to their RTP timestamps, count as three keys.
func TestSIPpByeHangsUp(t *testing.T) {
	ss := startSIPServer(t, []string{"127.0.0.0/8"}, nil)
	for _, tt := range []struct {
		name string
		args []string
	}{
		{"UDP", nil},
		{"TCP", []string{"-t", "t1"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sp := startSIPp(t, ss, "hangup.xml", "+15005550006", nil, tt.args...)
			sp.step("answered", 20*time.Second)
			call := ss.sipCall(t)
			tw, _ := newTwilio(t, ss.URL, ss.sid, ss.token, ss.sid, nil)
			rc := newReceiver(t, ss.token)
			pay, err := tw.CreatePayments(call, (&api.CreatePaymentsParams{}).SetIdempotencyKey("create").SetStatusCallback(rc.srv.URL))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tw.UpdatePayments(call, *pay.Sid, (&api.UpdatePaymentsParams{}).SetIdempotencyKey("capture").
				SetStatusCallback(rc.srv.URL).SetCapture("payment-card-number")); err != nil {
				t.Fatal(err)
			}
			sp.next()
			sp.step("typed", 20*time.Second)
			cl := ss.client()
			waitFor(t, 10*time.Second, "three keys typed", func() bool {
				v, err := cl.PaymentView(context.Background(), call, *pay.Sid)
				return err == nil && v.Typed == 3
			})
			sp.next() // BYE
			sp.wait(20 * time.Second)
			ss.waitStatus(call, tonepay.CallCompleted, 5*time.Second)
			v, err := cl.PaymentView(context.Background(), call, *pay.Sid)
			if err != nil || v.Status != "ended" || v.Result != tonepay.ResultHungUp {
				t.Errorf("session after SIPp's BYE: %+v %v", v, err)
			}
		})
	}
}

// writeTonesPcap writes keys as in-band DTMF (80 ms tones, 80 ms gaps) in
// A-law, 20 ms RTP packets (PT 8) in UDP over IPv4 over Ethernet: a capture
// SIPp's play_pcap_audio replays (it keeps the RTP and the timing, and sends
// each packet to the call's media address). It returns how long it lasts.
func writeTonesPcap(path, keys string) (time.Duration, error) {
	var pcm []int16
	for i := range len(keys) {
		pcm = append(pcm, dtmf.Tone(keys[i], 80, -8)...)
		pcm = append(pcm, dtmf.Silence(80)...)
	}
	le := bin.LittleEndian
	// The capture file's header: version 2.4, microseconds, Ethernet.
	out := le.AppendUint32(nil, 0xa1b2c3d4)
	out = le.AppendUint16(out, 2)
	out = le.AppendUint16(out, 4)
	out = le.AppendUint32(out, 0) // time zone
	out = le.AppendUint32(out, 0) // accuracy
	out = le.AppendUint32(out, 65535)
	out = le.AppendUint32(out, 1)
	be := bin.BigEndian
	var at time.Duration
	for i := 0; len(pcm) > 0; i++ {
		n := min(160, len(pcm))
		payload := make([]byte, n)
		for j, v := range pcm[:n] {
			payload[j] = dtmf.AlawEncode(v)
		}
		pcm = pcm[n:]
		r, err := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 8, Marker: i == 0, SequenceNumber: uint16(1000 + i),
			Timestamp: uint32(8000 + 160*i), SSRC: 0x5eed}, Payload: payload}).Marshal()
		if err != nil {
			return 0, err
		}
		udp := be.AppendUint16(nil, 6000) // ports and checksum: SIPp sets them
		udp = be.AppendUint16(udp, 6000)
		udp = be.AppendUint16(udp, uint16(8+len(r)))
		udp = be.AppendUint16(udp, 0)
		ip := []byte{0x45, 0, 0, 0, 0, 0, 0, 0, 64, 17, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1}
		be.PutUint16(ip[2:], uint16(20+len(udp)+len(r)))
		eth := []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x08, 0x00}
		frame := append(append(append(eth, ip...), udp...), r...)
		at = time.Duration(i) * 20 * time.Millisecond
		out = le.AppendUint32(out, uint32(at/time.Second))
		out = le.AppendUint32(out, uint32(at%time.Second/time.Microsecond))
		out = le.AppendUint32(out, uint32(len(frame)))
		out = le.AppendUint32(out, uint32(len(frame)))
		out = append(out, frame...)
	}
	return at + 20*time.Millisecond, os.WriteFile(path, out, 0o644)
}
