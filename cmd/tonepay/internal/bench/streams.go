package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/client"
	"github.com/tonepay/tonepay/dtmf"
	"github.com/tonepay/tonepay/g711"
	"github.com/tonepay/tonepay/mediastream"
)

// The streams measure (issue 22): the bench plays Twilio, holding n Media
// Streams open on tonepay's receiver at once, each sending a 20 ms mu-law
// frame every 20 ms of real time, as Twilio does for a live call, with the
// detector running on every frame. It reports how many streams the process
// held, the CPU they cost, how many frames left late (the server not
// reading fast enough pushes back on the socket), and, with a payment
// capturing on every call, the time from a key's first tone frame to its
// partial-result callback: the detector's recognition (about 40 ms of
// tone) is part of it, as it is for a real caller.

// twilioTokenEnv holds the linked "Twilio" account's token for the child
// server; the bench plays that account.
const twilioTokenEnv = "TONEPAY_BENCH_TWILIO_TOKEN"

// streamsConfig is the child server's config file: the bench's Twilio
// account linked to its main account.
func (b *bench) streamsConfig() string {
	return fmt.Sprintf("[[twilio]]\naccount_sid = %q\nauth_token_env = %q\n", b.twilioSid, twilioTokenEnv)
}

// benchStream is one call Twilio streams: its socket and the tone frames
// waiting to replace silence.
type benchStream struct {
	conn  *websocket.Conn
	call  string
	sid   string // MZ…
	seq   int64
	chunk int64

	err atomic.Pointer[error] // why run stopped early

	mu    sync.Mutex
	tones [][]byte // mu-law frames of a key being pressed
	sent  chan time.Time
}

// lineNoise is what every stream sends when its caller is not pressing a
// key: a second of white noise at -20 dBm0, looped. Digital silence would
// flatter the detector (it skips quiet frames at once); a loud, noisy line
// makes it analyse every frame, as speech does: the worst case.
var lineNoise = func() [][]byte {
	rng := rand.New(rand.NewPCG(22, 22))
	a := dtmf.Amplitude(-20)
	s := make([]int16, dtmf.SampleRate)
	for i := range s {
		s[i] = int16(rng.NormFloat64() * a / math.Sqrt2)
	}
	b := g711.MulawEncodeAll(s)
	out := make([][]byte, 0, len(b)/160)
	for i := 0; i+160 <= len(b); i += 160 {
		out = append(out, b[i:i+160])
	}
	return out
}()

// toneFrames is key pressed for 100 ms then released, as 20 ms frames.
func toneFrames(key byte) [][]byte {
	s := g711.MulawEncodeAll(dtmf.Tone(key, 100, -10))
	var out [][]byte
	for i := 0; i+160 <= len(s); i += 160 {
		out = append(out, s[i:i+160])
	}
	return out
}

// openStream dials the receiver as Twilio does (a signed upgrade, then
// connected and start).
func (b *bench) openStream(ctx context.Context) (*benchStream, error) {
	u := strings.Replace(b.base, "http://", "ws://", 1) + "/_tonepay/streams"
	h := http.Header{"X-Twilio-Signature": {tonepay.Signature(tonepay.NewSecret(b.twilioToken), u, nil)}}
	c, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		return nil, err
	}
	s := &benchStream{conn: c, call: tonepay.NewSID(tonepay.PrefixCall), sid: tonepay.NewSID("MZ")}
	if err := s.write(ctx, &mediastream.Frame{Event: mediastream.EventConnected, Protocol: "Call", Version: "1.0.0"}); err != nil {
		return nil, err
	}
	s.seq = 1
	start := &mediastream.Frame{Event: mediastream.EventStart, SequenceNumber: "1", StreamSid: s.sid, Start: &mediastream.Start{
		AccountSid: b.twilioSid, StreamSid: s.sid, CallSid: s.call, Tracks: []string{"inbound"}, MediaFormat: mediastream.Mulaw8k,
		CustomParameters: map[string]string{"From": "+15005550001", "To": "+15005550006"}}}
	return s, s.write(ctx, start)
}

func (s *benchStream) write(ctx context.Context, f *mediastream.Frame) error {
	b, err := json.Marshal(f)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return s.conn.Write(ctx, websocket.MessageText, b)
}

// runShard sends a media frame on each of its streams every 20 ms until
// ctx ends, then stop: one goroutine and one ticker for many streams, as a
// media server writes, so that the bench's own cost stays small beside the
// server's on a shared machine. It counts frames written more than a
// frame's time after their tick.
func runShard(ctx context.Context, ss []*benchStream, frames, late *atomic.Int64) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var buf []byte
	for {
		select {
		case <-ctx.Done():
			for _, s := range ss {
				s.seq++
				s.write(context.Background(), &mediastream.Frame{Event: mediastream.EventStop, SequenceNumber: mediastream.Seq(s.seq), StreamSid: s.sid})
				s.conn.Close(websocket.StatusNormalClosure, "")
			}
			return
		case now := <-tick.C:
			for _, s := range ss {
				if s.err.Load() != nil {
					continue
				}
				audio := lineNoise[s.chunk%int64(len(lineNoise))]
				var sent chan time.Time
				s.mu.Lock()
				if len(s.tones) > 0 {
					audio, s.tones = s.tones[0], s.tones[1:]
					sent, s.sent = s.sent, nil
				}
				s.mu.Unlock()
				s.seq++
				s.chunk++
				m := mediastream.Media{Track: "inbound", Chunk: mediastream.Seq(s.chunk), Timestamp: mediastream.Seq(s.chunk * 20)}
				f := mediastream.MediaFrame(s.sid, m, audio)
				f.SequenceNumber = mediastream.Seq(s.seq)
				buf, _ = f.Append(buf[:0])
				if err := s.conn.Write(context.Background(), websocket.MessageText, buf); err != nil {
					if ctx.Err() == nil {
						s.err.Store(&err)
					}
					continue
				}
				if sent != nil {
					sent <- time.Now()
				}
				frames.Add(1)
				if time.Since(now) > 20*time.Millisecond {
					late.Add(1)
				}
			}
		}
	}
}

// press queues key's tones; sent gets the time its first frame was written.
func (s *benchStream) press(key byte, sent chan time.Time) {
	s.mu.Lock()
	s.tones, s.sent = toneFrames(key), sent
	s.mu.Unlock()
}

// cpuTicks is the server's user+system CPU time in clock ticks (1/100 s).
func cpuTicks(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return u + st, nil
}

// streamsPerShard is how many streams one of the bench's goroutines writes.
const streamsPerShard = 50

// streams runs the streams measure into res: n streams at once, typing of
// them pressing five keys each, 300 ms apart.
func (b *bench) streams(res *benchResult, say func(string, ...any), n, typing int) error {
	typing = max(1, min(typing, n))
	say("%d concurrent Twilio Media Streams, a 20 ms frame every 20 ms each, detector on…", n)
	ctx, stop := context.WithCancel(b.ctx)
	defer stop()
	ss := make([]*benchStream, n)
	if err := parallel(n, 32, func(i int) (err error) {
		ss[i], err = b.openStream(ctx)
		return err
	}); err != nil {
		return fmt.Errorf("opening streams: %w", err)
	}
	var frames, late atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < n; i += streamsPerShard {
		shard := ss[i:min(i+streamsPerShard, n)]
		wg.Go(func() { runShard(ctx, shard, &frames, &late) })
	}
	defer wg.Wait()
	defer stop()
	// Every call is registered once its start was read: a Payment on each.
	pks := make([]string, n)
	err := parallel(n, 32, func(i int) error {
		var p *client.Payment
		var err error
		for try := 0; ; try++ { // the start frame is read by the server's own goroutine
			p, err = b.api.CreatePayment(b.ctx, ss[i].call, client.PaymentParams{IdempotencyKey: tonepay.RandomHex(8), StatusCallback: b.callbackURL, ChargeAmount: "10.00"})
			var ce *client.Error
			if err == nil || !errors.As(err, &ce) || ce.Code != tonepay.CodeNotFound || try > 100 {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if err != nil {
			return err
		}
		pks[i] = p.Sid
		return b.update(ss[i].call, p.Sid, client.PaymentUpdate{Capture: "payment-card-number"})
	})
	if err != nil {
		return fmt.Errorf("payments on the streamed calls: %w", err)
	}
	b.quiet()
	// CPU while every stream sends audio and nobody presses.
	f0, l0 := frames.Load(), late.Load()
	c0, err := cpuTicks(b.cmd.Process.Pid)
	if err != nil {
		return err
	}
	t0 := time.Now()
	b.profile(5 * time.Second) // or sleeps as long
	c1, _ := cpuTicks(b.cmd.Process.Pid)
	el := time.Since(t0)
	res.Streams = n
	res.StreamCPUPercent = float64(c1-c0) / 100 / el.Seconds() * 100
	res.StreamCPUPerStreamMS = float64(c1-c0) * 10 / el.Seconds() / float64(n) // ms of CPU per second per stream
	res.StreamFramesPerS = float64(frames.Load()-f0) / el.Seconds()
	if d := frames.Load() - f0; d > 0 {
		res.StreamLateRatio = float64(late.Load()-l0) / float64(d)
	}
	say("  server CPU %.0f%% of one core (%.2f ms per stream per second), %.0f frames/s, %.2f%% late", res.StreamCPUPercent, res.StreamCPUPerStreamMS, res.StreamFramesPerS, 100*res.StreamLateRatio)
	say("key (in-band tones) to partial-result callback, %d of the %d callers typing…", typing, n)
	b.profileBehind("keys", 3*time.Second)
	var mu sync.Mutex
	var lat []time.Duration
	err = parallel(typing, typing, func(j int) error {
		i := j * n / typing // spread over the streams (and so over the bench's writers)
		time.Sleep(time.Duration(j%300) * time.Millisecond)
		for k := 1; k <= 5; k++ {
			ch := make(chan time.Time, 1)
			key := pks[i] + ":" + strconv.Itoa(k)
			b.mu.Lock()
			b.partial[key] = ch
			b.mu.Unlock()
			sent := make(chan time.Time, 1)
			ss[i].press('4', sent)
			var t time.Time
			select {
			case t = <-sent:
			case <-time.After(10 * time.Second):
				return errors.New("a tone frame was never sent")
			}
			select {
			case at := <-ch:
				mu.Lock()
				lat = append(lat, at.Sub(t))
				mu.Unlock()
			case <-time.After(30 * time.Second):
				b.mu.Lock()
				seen := b.seen[pks[i]]
				b.mu.Unlock()
				if e := ss[i].err.Load(); e != nil {
					return fmt.Errorf("stream %d stopped sending: %w", i, *e)
				}
				v, verr := b.api.PaymentView(b.ctx, ss[i].call, pks[i])
				c, cerr := b.api.FetchCall(b.ctx, ss[i].call)
				cbs, _ := b.api.Callbacks(b.ctx, ss[i].call, pks[i])
				var st []string
				for _, cb := range cbs {
					st = append(st, cb.Status+":"+cb.Params["PaymentCardNumber"]+":"+strconv.Itoa(len(cb.Attempts)))
				}
				return fmt.Errorf("key %d sent as tones never reached its partial callback (the latest had %d digits); view %+v %v; call %+v %v; callbacks %v", k, seen, v, verr, c, cerr, st)
			}
			b.mu.Lock()
			delete(b.partial, key)
			b.mu.Unlock()
			time.Sleep(300 * time.Millisecond)
		}
		return nil
	})
	if err != nil {
		return err
	}
	res.StreamKeys, res.StreamTyping = len(lat), typing
	res.StreamKeyP50MS, res.StreamKeyP99MS = Percentile(lat, 50), Percentile(lat, 99)
	return nil
}

// profileBehind, with TONEPAY_BENCH_PROFILE set, takes the server's CPU
// profile over the next d in the background, into that name + "." + name.
func (b *bench) profileBehind(name string, d time.Duration) { profileOf(b.pprof, name, d) }

// profileOf is profileBehind for the server whose pprof listener is at
// pprof (a further child's).
func profileOf(pprof, name string, d time.Duration) {
	p := os.Getenv("TONEPAY_BENCH_PROFILE")
	if p == "" || pprof == "" {
		return
	}
	go func() {
		res, err := http.Get(pprof + "/debug/pprof/profile?seconds=" + strconv.Itoa(int(d/time.Second)))
		if err != nil {
			return
		}
		defer res.Body.Close()
		if f, err := os.Create(p + "." + name); err == nil {
			io.Copy(f, res.Body)
			f.Close()
		}
	}()
}

// profile waits d; with TONEPAY_BENCH_PROFILE set, it takes the server's CPU
// profile over that time into the file it names (go tool pprof reads it).
func (b *bench) profile(d time.Duration) {
	p := os.Getenv("TONEPAY_BENCH_PROFILE")
	if p == "" {
		time.Sleep(d)
		return
	}
	res, err := http.Get(b.pprof + "/debug/pprof/profile?seconds=" + strconv.Itoa(int(d/time.Second)))
	if err != nil {
		time.Sleep(d)
		return
	}
	defer res.Body.Close()
	if f, err := os.Create(p); err == nil {
		io.Copy(f, res.Body)
		f.Close()
	}
}
