// Package legaudio is what the real call legs (mediastream's receiver, sip)
// share to play a call's TwiML to its caller: rendering what the caller is
// to hear with tonepay.Audio, a queue of 8 kHz mu-law sent in 20 ms frames
// paced in real time (so that a key, barge-in, stops the speech at once),
// and a log limit for refusals. Each leg writes the frames its own way.
package legaudio

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/tonepay/tonepay"
)

const (
	// FrameBytes is 20 ms of 8 kHz mu-law; FrameEvery its time.
	FrameBytes = 160
	FrameEvery = 20 * time.Millisecond
	// MaxDrain bounds how long a call that ended keeps its line open for
	// the last words queued (a <Say> before <Hangup/>).
	MaxDrain = 30 * time.Second

	maxQueued    = 5 * 60 * 8000 // five minutes of audio waiting on one call
	maxLoop      = 10            // a <Say loop> or <Play loop>
	mulawSilence = 0xFF
)

// Queue is the audio a caller is yet to hear.
type Queue struct {
	mu   sync.Mutex
	buf  []byte
	busy bool // a frame taken by next is being sent or paced
	wake chan struct{}
}

// NewQueue returns an empty queue.
func NewQueue() *Queue { return &Queue{wake: make(chan struct{}, 1)} }

// Add queues audio (beyond five minutes waiting, the rest is dropped).
func (q *Queue) Add(b []byte) {
	q.mu.Lock()
	if room := maxQueued - len(q.buf); len(b) > room {
		b = b[:max(room, 0)]
	}
	q.buf = append(q.buf, b...)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Clear drops the queued audio (the caller pressed a key) and reports
// whether there was any.
func (q *Queue) Clear() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	had := len(q.buf) > 0
	q.buf = nil
	return had
}

// Drain returns once the queued audio has been sent and paced (the caller
// heard it), or ctx is done.
func (q *Queue) Drain(ctx context.Context) {
	t := time.NewTicker(FrameEvery)
	defer t.Stop()
	for {
		q.mu.Lock()
		idle := len(q.buf) == 0 && !q.busy
		q.mu.Unlock()
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

// next takes the next frame's audio, padded with silence, or nil.
func (q *Queue) next() []byte {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.buf) == 0 {
		q.busy = false
		return nil
	}
	q.busy = true
	n := min(FrameBytes, len(q.buf))
	chunk := make([]byte, FrameBytes)
	copy(chunk, q.buf[:n])
	for i := n; i < FrameBytes; i++ {
		chunk[i] = mulawSilence
	}
	q.buf = q.buf[n:]
	if len(q.buf) == 0 {
		q.buf = nil
	}
	return chunk
}

// Play sends the queued audio, a frame every FrameEvery, through send
// (first: the frame begins a talkspurt) until ctx is done or send fails.
func (q *Queue) Play(ctx context.Context, send func(frame []byte, first bool) bool) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-q.wake:
		}
		at, first := time.Now(), true
		for chunk := q.next(); chunk != nil; chunk = q.next() {
			if !send(chunk, first) {
				return
			}
			first = false
			at = at.Add(FrameEvery)
			if time.Since(at) > 5*FrameEvery {
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

// Render renders what the caller is to hear with a and queues it on q.
// With no Audio, or no speech engine, the caller hears silence, and warn
// (kind, text) is told why; what (a "streamed call", a "SIP call") names
// the leg in its words. It stops once ctx is done.
func Render(ctx context.Context, a tonepay.Audio, heard []tonepay.Heard, q *Queue, what string, warn func(kind, text string)) {
	if a == nil {
		warn("no-audio", "the caller of this "+what+" hears nothing: tonepay has no audio (text-to-speech) configured")
		return
	}
	for _, h := range heard {
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		var b []byte
		var err error
		if h.Play {
			b, err = a.Play(rctx, h.URL)
		} else {
			b, err = a.Speak(rctx, h.Text, h.Voice, h.Language)
		}
		cancel()
		switch {
		case errors.Is(err, tonepay.ErrNoSpeech):
			warn("no-speech", "the caller of this "+what+" hears nothing: no speech engine (install espeak-ng)")
			continue
		case err != nil && ctx.Err() == nil:
			verb := "Say"
			if h.Play {
				verb = "Play"
			}
			warn("audio:"+tonepay.RedactURL(h.URL), "the caller could not hear a <"+verb+">: "+tonepay.ErrorMessage(err))
			continue
		case err != nil:
			return
		}
		// Loop 0 is Twilio's "until the call moves on": once here.
		for range min(max(h.Loop, 1), maxLoop) {
			q.Add(b)
		}
	}
}

// LogLimit lets one log line through a minute and counts the rest.
type LogLimit struct {
	mu     sync.Mutex
	last   time.Time
	missed int
}

// Allow reports whether a line may be written at now, and how many were
// held back since the last one.
func (l *LogLimit) Allow(now time.Time) (missed int, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.last.IsZero() && now.Sub(l.last) < time.Minute {
		l.missed++
		return 0, false
	}
	missed, l.missed, l.last = l.missed, 0, now
	return missed, true
}
