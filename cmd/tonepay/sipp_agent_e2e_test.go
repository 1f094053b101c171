package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	siplib "github.com/emiago/sipgo/sip"
	"github.com/pion/rtp"
	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/client"
	"github.com/tonepay/tonepay/dtmf"
	"github.com/tonepay/tonepay/internal/suites"
	api "github.com/twilio/twilio-go/rest/api/v2010"
)

// The agent bridge (DESIGN §11) against an agent nobody here wrote: SIPp
// (Debian's sip-tester) as the trunk's agent, a user agent server on
// loopback running testdata/sipp/agent_*.xml. With -rtp_echo SIPp sends
// every RTP packet it gets back to where it came from, so what reached the
// agent comes back to the caller through tonepay's relay: the caller runs
// a DTMF detector over what it hears and counts telephone-event packets.

// startSIPpAgent runs testdata/sipp/<scenario> as the agent of one call
// (-m 1, echoing RTP) on free loopback ports and returns it once it
// listens, with the SIP URI of the trunk's agent.
func startSIPpAgent(t *testing.T, scenario string) (*sippRun, string) {
	t.Helper()
	if _, how := suites.SIPp(); how != "" {
		suites.Need(t, suites.SIPSuite, how)
	}
	s := &sippRun{t: t, dir: t.TempDir()}
	sc, err := os.ReadFile(filepath.Join("testdata", "sipp", scenario))
	if err != nil {
		t.Fatal(err)
	}
	sf := filepath.Join(s.dir, scenario)
	if err := os.WriteFile(sf, sc, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(func() {
		cancel() // kills it if it is still running
		if s.done != nil {
			<-s.done
		}
		if t.Failed() {
			s.logs()
		}
	})
	for try := 1; ; try++ {
		// SIP, RTP (SIPp binds port and port+2) and the control socket, which
		// SIPp binds last: once it is taken, SIPp listens.
		sipPort, mediaPort, ctlPort, err := sippPorts()
		if err != nil {
			t.Fatal(err)
		}
		argv := []string{"-sf", sf, "-m", "1", "-rtp_echo",
			"-i", "127.0.0.1", "-bind_local", "-p", fmt.Sprint(sipPort),
			"-mi", "127.0.0.1", "-mp", fmt.Sprint(mediaPort),
			"-ci", "127.0.0.1", "-cp", fmt.Sprint(ctlPort),
			"-nostdin", "-timeout", "30s", "-timeout_error",
			"-trace_msg", "-message_file", filepath.Join(s.dir, "messages.log"),
			"-trace_err", "-error_file", filepath.Join(s.dir, "errors.log"),
			"-trace_screen", "-screen_file", filepath.Join(s.dir, "screen.log"),
			"-trace_logs", "-log_file", filepath.Join(s.dir, "agent.log"),
		}
		cmd := exec.CommandContext(ctx, "sipp", argv...)
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
		if sippListening(s.done, ctlPort, 10*time.Second) {
			return s, fmt.Sprintf("sip:agents@127.0.0.1:%d", sipPort)
		}
		select {
		case <-s.done:
			// A port taken since sippPorts let it go: SIPp cannot bind
			// it and exits at once. Try others.
			if try < 5 {
				continue
			}
			t.Fatalf("SIPp exited before it listened: %v\n%s", s.err, s.out.String())
		default:
			t.Fatalf("SIPp did not bind its control port in 10 s")
		}
	}
}

// sippPorts returns loopback UDP ports free a moment ago for SIPp's
// SIP, its RTP (media and media+2: SIPp binds both, media even) and its
// control socket.
func sippPorts() (sipPort, media, ctl int, err error) {
	var held []*net.UDPConn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	bind := func(port int) (int, error) {
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
		if err != nil {
			return 0, err
		}
		held = append(held, c)
		return c.LocalAddr().(*net.UDPAddr).Port, nil
	}
	if sipPort, err = bind(0); err != nil {
		return 0, 0, 0, err
	}
	if ctl, err = bind(0); err != nil {
		return 0, 0, 0, err
	}
	for range 100 {
		media = 40000 + 2*rand.IntN(10000)
		if _, err = bind(media); err != nil {
			continue
		}
		if _, err = bind(media + 2); err == nil {
			return sipPort, media, ctl, nil
		}
	}
	return 0, 0, 0, fmt.Errorf("no free pair of RTP ports: %w", err)
}

// sippListening waits until someone holds UDP port (SIPp, which binds it
// last of its sockets) or SIPp has exited (false).
func sippListening(done <-chan struct{}, port int, d time.Duration) bool {
	deadline := time.After(d)
	for {
		select {
		case <-done:
			return false
		case <-deadline:
			return false
		default:
		}
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
		if err != nil {
			select {
			case <-done:
				return false
			default:
				return true
			}
		}
		c.Close()
		select {
		case <-done:
			return false
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// heardBack is what the caller hears of its own sound, sent back by the agent.
type heardBack struct {
	mu     sync.Mutex
	tones  []byte // keys the detector finds in the audio
	events []byte // keys of the telephone-events that ended
	evPkts int    // telephone-event packets
	audio  int    // audio packets
	peak   float64
}

// hearEcho reads what c hears until the call's RTP socket closes.
func hearEcho(c *sipCaller) *heardBack {
	e := &heardBack{}
	go func() {
		det := dtmf.NewDetector()
		var pkt rtp.Packet
		buf := make([]byte, 1500)
		var evTS uint32
		var evEnded, seen bool
		pcm := make([]int16, 0, 160)
		for {
			n, err := c.rtp.Read(buf)
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if err != nil || pkt.Unmarshal(buf[:n]) != nil {
				continue
			}
			e.mu.Lock()
			switch pkt.PayloadType {
			case c.te:
				e.evPkts++
				if len(pkt.Payload) >= 4 {
					if !seen || pkt.Timestamp != evTS {
						seen, evTS, evEnded = true, pkt.Timestamp, false
					}
					if pkt.Payload[1]&0x80 != 0 && !evEnded {
						evEnded = true
						e.events = append(e.events, "0123456789*#ABCD"[pkt.Payload[0]&15])
					}
				}
			case c.pt:
				e.audio++
				pcm = pcm[:0]
				var sum float64
				for _, b := range pkt.Payload {
					v := dtmf.MulawDecode(b)
					if c.pt == 8 {
						v = dtmf.AlawDecode(b)
					}
					pcm = append(pcm, v)
					sum += float64(v) * float64(v)
				}
				if len(pcm) > 0 {
					e.peak = max(e.peak, math.Sqrt(sum/float64(len(pcm))))
				}
				for _, k := range det.Write(pcm) {
					e.tones = append(e.tones, k.Digit)
				}
			}
			e.mu.Unlock()
		}
	}()
	return e
}

// echoed is what came back since the last take.
type echoed struct {
	tones, events string
	evPkts, audio int
	peak          float64 // the loudest packet's RMS
}

// keys are the keys heard back, as tones or as events.
func (h echoed) keys() string { return h.tones + h.events }

// take returns what came back since the last take, and clears it.
func (e *heardBack) take() echoed {
	e.mu.Lock()
	defer e.mu.Unlock()
	h := echoed{string(e.tones), string(e.events), e.evPkts, e.audio, e.peak}
	e.tones, e.events, e.evPkts, e.audio, e.peak = nil, nil, 0, 0, 0
	return h
}

// agentLog is what the agent's scenario logged (its <log> actions), once
// SIPp has exited.
func (s *sippRun) agentLog() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "agent.log"))
	return string(b)
}

// TestSIPpAgentBridge: a trunk call with no app is bridged to SIPp as the
// agent. SIPp checks X-Tonepay-CallSid (the caller's call) and echoes the
// RTP; the caller hears its keys come back outside a payment session,
// nothing of them during one (no key detectable in the audio, which still
// comes back, masked; not one telephone-event packet), and again after it.
// The caller's BYE ends both legs (SIPp's call succeeds, exit 0).
func TestSIPpAgentBridge(t *testing.T) {
	for _, tt := range []struct {
		name    string
		formats string
		audio   bool // keys pressed as tones, else RFC 4733 events
	}{
		{"events", "0 101", false},
		{"tones PCMA", "8 101", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sp, uri := startSIPpAgent(t, "agent_uas.xml")
			ss := startSIPServer(t, []string{"127.0.0.0/8"}, []string{"PCMU", "PCMA"}, fmt.Sprintf("agent = %q", uri))
			c, err := dialSIP(t, ss, "+15005550006", tt.formats)
			if err != nil {
				t.Fatal(err)
			}
			call := ss.sipCall(t)
			ear := hearEcho(c)
			// tonepay answers the caller a moment before its bridge relays
			// (sip/agent.go: pickUp, then up); a packet the caller sends in
			// between does not reach the agent (seen under load). The leg is
			// reported in progress once the bridge is up.
			waitFor(t, 10*time.Second, "the bridge up", func() bool {
				legs := ss.children(t, call)
				return len(legs) == 1 && *legs[0].Status == tonepay.CallInProgress
			})
			press := c.events
			if tt.audio {
				press = c.tones
			}
			// want waits until the keys heard back are keys, and as events
			// every packet of them (6 a key; none in tones).
			want := func(stage, keys string) {
				t.Helper()
				pkts := 0
				if !tt.audio {
					pkts = 6 * len(keys)
				}
				var all echoed
				for deadline := time.Now().Add(10 * time.Second); ; {
					h := ear.take()
					all.tones += h.tones
					all.events += h.events
					all.evPkts += h.evPkts
					all.audio += h.audio
					if all.keys() == keys && all.evPkts >= pkts {
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("%s: heard back %+v in 10 s, want %q", stage, all, keys)
					}
					time.Sleep(10 * time.Millisecond) // polling
				}
				if all.evPkts != pkts {
					t.Errorf("%s: %d telephone-event packets heard back, want %d", stage, all.evPkts, pkts)
				}
			}

			// Outside a session: the agent gets the keys. The call has them
			// too (its timeline) before the session opens, or one handled
			// late would be a key dropped by the session.
			press("12")
			want("before the session", "12")
			waitFor(t, 10*time.Second, "the call's 2 keys", func() bool { return timelineKeys(t, ss, call) == 2 })

			// During one: the agent gets no key. In tones, the audio itself
			// comes back (all of it, once every packet sent is in), masked;
			// events are dropped, and one that leaked late would come back
			// before the 7 below.
			seq := c.seq
			agentPaymentOn(t, ss, call, press)
			var during echoed
			sent := 0
			if tt.audio {
				sent = int(c.seq - seq)
			}
			waitFor(t, 10*time.Second, fmt.Sprintf("the %d audio packets of the session heard back", sent), func() bool {
				h := ear.take()
				during.tones += h.tones
				during.events += h.events
				during.evPkts += h.evPkts
				during.audio += h.audio
				during.peak = max(during.peak, h.peak)
				return during.audio >= sent
			})
			t.Logf("during the session: %d audio packets back of %d sent, loudest RMS %.0f", during.audio, sent, during.peak)
			if during.keys() != "" || during.evPkts != 0 {
				t.Errorf("during the session the caller heard back keys %q and %d telephone-event packets", during.keys(), during.evPkts)
			}
			if tt.audio && during.peak < 1000 {
				t.Errorf("the audio heard back during the session peaks at RMS %.0f: the agent heard no mask", during.peak)
			}

			// After it: keys pass again once the leg knows (a key pressed as
			// the session ends is masked). 7 and 8 are keys the session's
			// fields do not have: any other key heard now leaked from it.
			var after echoed
			presses := 0
			waitFor(t, 10*time.Second, "a 7 heard back after the session", func() bool {
				press("7")
				h := ear.take()
				after.tones += h.tones
				after.events += h.events
				presses++
				return strings.Contains(after.keys(), "7")
			})
			t.Logf("after the session: %d presses of 7 until one came back", presses)
			if strings.Trim(after.keys(), "7") != "" {
				t.Errorf("after the session the caller heard back %q, want 7s only", after.keys())
			}
			press("8")
			want("after the session", "8")

			// The caller hangs up: tonepay's BYE ends SIPp's call.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := c.dlg.Bye(ctx); err != nil {
				t.Fatal(err)
			}
			ss.waitStatus(call, tonepay.CallCompleted, 5*time.Second)
			sp.wait(10 * time.Second)
			if l := sp.agentLog(); !strings.Contains(l, "X-Tonepay-CallSid: "+call) {
				t.Errorf("SIPp's log %q, want X-Tonepay-CallSid: %s", l, call)
			}
			waitFor(t, 5*time.Second, "the Dial's leg completed", func() bool {
				legs := ss.children(t, call)
				return len(legs) == 1 && *legs[0].Status == tonepay.CallCompleted && *legs[0].To == uri
			})
		})
	}
}

// TestSIPpAgentHangsUp: SIPp as the agent hangs up first (its BYE half a
// second after the ACK); tonepay ends the caller's call with its own BYE,
// and the call and its Dial's leg are completed.
func TestSIPpAgentHangsUp(t *testing.T) {
	sp, uri := startSIPpAgent(t, "agent_bye.xml")
	ss := startSIPServer(t, []string{"127.0.0.0/8"}, []string{"PCMU", "PCMA"}, fmt.Sprintf("agent = %q", uri))
	c, err := dialSIP(t, ss, "+15005550006", "0 101")
	if err != nil {
		t.Fatal(err)
	}
	sp.wait(10 * time.Second) // its BYE answered 200
	waitFor(t, 5*time.Second, "tonepay's BYE to the caller", func() bool { return c.dlg.LoadState() == siplib.DialogStateEnded })
	call := callFromCaller(t, ss)
	ss.waitStatus(call, tonepay.CallCompleted, 5*time.Second)
	if l := sp.agentLog(); !strings.Contains(l, "X-Tonepay-CallSid: "+call) {
		t.Errorf("SIPp's log %q, want X-Tonepay-CallSid: %s", l, call)
	}
	if legs := ss.children(t, call); len(legs) != 1 || *legs[0].Status != tonepay.CallCompleted || *legs[0].To != uri {
		t.Errorf("the Dial's leg: %+v", legs)
	}
}

// timelineKeys counts the keys on call's timeline (masked there).
func timelineKeys(t *testing.T, ss *streamServer, call string) int {
	t.Helper()
	n := 0
	if err := ss.client().EachEntry(context.Background(), call, func(e client.Entry) {
		if e.Kind == "key" {
			n += len(e.Text)
		}
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

// callFromCaller is the caller's call, whatever its status (sipCall's
// must still be in progress).
func callFromCaller(t *testing.T, ss *streamServer) string {
	t.Helper()
	tw, _ := newTwilio(t, ss.URL, ss.sid, ss.token, ss.sid, nil)
	calls, err := tw.ListCall((&api.ListCallParams{}).SetFrom("+15005550001"))
	if err != nil {
		t.Fatal(err)
	}
	for _, cl := range calls {
		if cl.ParentCallSid == nil && cl.Sid != nil {
			return *cl.Sid
		}
	}
	t.Fatalf("no call from the caller in %d", len(calls))
	return ""
}
