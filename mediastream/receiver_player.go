package mediastream

import (
	"context"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/internal/legaudio"
)

// What the caller hears: the call's TwiML's <Say> and <Play>, rendered by
// tonepay.Audio to 8 kHz mu-law (legaudio, shared with the SIP leg), sent
// back to Twilio as media frames of 20 ms, paced in real time so that
// Twilio's buffer stays short and a key (barge-in) stops the speech at once.

// player sends a stream's queued audio.
type player struct {
	*legaudio.Queue
	s    *stream
	done chan struct{}

	// mu guards out: the play goroutine writes media while the reader's
	// barge-in writes clear; one buffer shared unguarded sent Twilio a
	// media frame overwritten by a clear (seen as a malformed frame).
	mu  sync.Mutex
	out []byte // the frame being written, reused
}

func newPlayer(s *stream) *player {
	p := &player{Queue: legaudio.NewQueue(), s: s, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		p.Play(s.ctx, func(frame []byte, _ bool) bool { return p.write(MediaFrame(s.streamSid, Media{}, frame)) })
	}()
	return p
}

// clear drops the queued audio (the caller pressed a key), and tells Twilio
// to drop what it buffered.
func (p *player) clear() {
	if p.Clear() {
		p.write(&Frame{Event: EventClear, StreamSid: p.s.streamSid})
	}
}

// wait returns once the player has stopped (the stream's context is done).
func (p *player) wait() { <-p.done }

// write sends a frame within the write timeout; a peer that does not read
// it is closed (its reader then ends the leg), and blocks nobody else.
func (p *player) write(f *Frame) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
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

// play renders what the caller is to hear and queues it; the call's
// timeline gets one warning per stream and kind when it cannot be heard.
func (s *stream) play(heard []tonepay.Heard) {
	legaudio.Render(s.ctx, s.r.Audio, heard, s.player.Queue, "streamed call", s.warn)
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
