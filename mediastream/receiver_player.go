package mediastream

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/tonepay/tonepay"
)

// What the caller hears: the call's TwiML's <Say> and <Play>, rendered by
// tonepay.Audio to 8 kHz mu-law, sent back to Twilio as media frames of 20
// ms (160 bytes), paced in real time so that Twilio's buffer stays short and
// a key (barge-in) stops the speech at once.

const (
	// maxQueued bounds the audio waiting on one stream: five minutes.
	maxQueued = 5 * 60 * 8000
	// maxLoop bounds a <Say loop> or <Play loop>.
	maxLoop = 10
	// maxDrain bounds how long a call that ended keeps its socket open
	// for the last words queued (a <Say> before <Hangup/>).
	maxDrain = 30 * time.Second
)

// player sends a stream's queued audio.
type player struct {
	s    *stream
	out  []byte // the frame being written, reused
	mu   sync.Mutex
	buf  []byte
	busy bool // a chunk taken by next is being sent or paced
	wake chan struct{}
	done chan struct{}
}

func newPlayer(s *stream) *player {
	p := &player{s: s, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go p.run()
	return p
}

// add queues audio.
func (p *player) add(b []byte) {
	p.mu.Lock()
	if room := maxQueued - len(p.buf); len(b) > room {
		b = b[:max(room, 0)]
	}
	p.buf = append(p.buf, b...)
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// clear drops the queued audio (the caller pressed a key), and tells Twilio
// to drop what it buffered.
func (p *player) clear() {
	p.mu.Lock()
	had := len(p.buf) > 0
	p.buf = nil
	p.mu.Unlock()
	if had {
		p.write(&Frame{Event: EventClear, StreamSid: p.s.streamSid})
	}
}

// drain returns once the queued audio has been sent and paced (the
// caller heard it), or ctx is done.
func (p *player) drain(ctx context.Context) {
	t := time.NewTicker(frameEvery)
	defer t.Stop()
	for {
		p.mu.Lock()
		idle := len(p.buf) == 0 && !p.busy
		p.mu.Unlock()
		if idle {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// wait returns once the player has stopped (the stream's context is done).
func (p *player) wait() { <-p.done }

// next takes the next frame's audio, padded to 160 bytes, or nil.
func (p *player) next() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.buf) == 0 {
		p.busy = false
		return nil
	}
	p.busy = true
	n := min(frameBytes, len(p.buf))
	chunk := make([]byte, frameBytes)
	copy(chunk, p.buf[:n])
	for i := n; i < frameBytes; i++ {
		chunk[i] = mulawSilence
	}
	p.buf = p.buf[n:]
	if len(p.buf) == 0 {
		p.buf = nil
	}
	return chunk
}

func (p *player) run() {
	defer close(p.done)
	ctx := p.s.ctx
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.wake:
		}
		at := time.Now()
		for chunk := p.next(); chunk != nil; chunk = p.next() {
			if !p.write(MediaFrame(p.s.streamSid, Media{}, chunk)) {
				return
			}
			at = at.Add(frameEvery)
			if late := time.Since(at); late > 5*frameEvery {
				at = time.Now() // a slow write: go on from now rather than burst
			}
			t := time.NewTimer(time.Until(at))
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
	}
}

// write sends a frame within the write timeout; a peer that does not read
// it is closed (its reader then ends the leg), and blocks nobody else.
func (p *player) write(f *Frame) bool {
	var err error
	if p.out, err = f.Append(p.out[:0]); err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(p.s.ctx, p.s.r.writeTimeout())
	defer cancel()
	if err := p.s.conn.Write(ctx, websocket.MessageText, p.out); err != nil {
		if p.s.ctx.Err() == nil {
			p.s.r.log().Warn("media stream closed: the peer does not read what is sent", "call", p.s.callSid())
			p.s.conn.CloseNow()
		}
		return false
	}
	return true
}

// play renders what the caller is to hear and queues it. With no Audio, or
// no speech engine, the caller hears silence and the call's timeline gets
// one warning per stream saying why.
func (s *stream) play(heard []tonepay.Heard) {
	if s.r.Audio == nil {
		s.warn("no-audio", "the caller of this streamed call hears nothing: tonepay has no audio (text-to-speech) configured")
		return
	}
	for _, h := range heard {
		ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
		var b []byte
		var err error
		if h.Play {
			b, err = s.r.Audio.Play(ctx, h.URL)
		} else {
			b, err = s.r.Audio.Speak(ctx, h.Text, h.Voice, h.Language)
		}
		cancel()
		switch {
		case errors.Is(err, tonepay.ErrNoSpeech):
			s.warn("no-speech", "the caller of this streamed call hears nothing: no speech engine (install espeak-ng)")
			continue
		case err != nil && s.ctx.Err() == nil:
			s.warn("audio:"+tonepay.RedactURL(h.URL), "the caller could not hear a <"+map[bool]string{true: "Play", false: "Say"}[h.Play]+">: "+tonepay.ErrorMessage(err))
			continue
		case err != nil:
			return
		}
		loops := h.Loop
		if loops < 1 {
			loops = 1 // 0 is Twilio's "until the call moves on": once here
		}
		for range min(loops, maxLoop) {
			s.player.add(b)
		}
	}
}

// warn puts a warning on the call's timeline, once per stream and kind.
func (s *stream) warn(kind, text string) {
	if s.warned[kind] || s.leg == nil {
		return
	}
	s.warned[kind] = true
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.r.Legs.Warn(ctx, s.leg.account, s.leg.call, tonepay.RedactURLs(text)); err != nil {
		s.r.log().Debug("media stream: warning on the timeline", "call", s.leg.call, "err", err)
	}
}
