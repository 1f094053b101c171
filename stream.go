package tonepay

import (
	"context"
	"time"
)

// PrefixStream is a Media Stream's SID prefix (MZ…), as Twilio's.
const PrefixStream = "MZ"

// Streamer opens the Twilio Media Streams a simulated call's TwiML starts
// (<Start><Stream>, <Connect><Stream>; DESIGN §11 "sent"): the WebSocket to
// the app, under the callback policy, signed with the account's auth token,
// sending Twilio's frames in real time. mediastream.Sender implements it; the
// call runtime (calls/stream.go) opens streams after the commit that started
// them and tells them the caller's keys.
type Streamer interface {
	// OpenStream returns at once: the dial and everything after happen on
	// the stream's own goroutine, and what happens is told to ev, Ended
	// last and exactly once. ctx ends the stream as Stop does (a shutdown).
	OpenStream(ctx context.Context, req StreamRequest, ev StreamEvents) Stream
}

// StreamRequest is one stream to open.
type StreamRequest struct {
	AccountSid string // whose auth token signs the upgrade
	CallSid    string
	StreamSid  string // MZ…, the runtime's
	// URL is ws:// or wss://, as the TwiML wrote it (resolved), query and
	// all: the upgrade is signed over it as dialled.
	URL string
	// Tracks are the start frame's: "inbound", "outbound" or both.
	Tracks []string
	// Bidirectional: <Connect><Stream>. Only these get dtmf frames and take
	// the app's media, mark and clear frames.
	Bidirectional bool
	// Parameters are the <Parameter> nouns: start.customParameters.
	Parameters map[string]string
}

// Stream is an open (or opening) stream. Its methods never block.
type Stream interface {
	// Press tells the stream the caller pressed key: its tones go out in
	// the inbound audio, and a bidirectional stream sends a dtmf frame.
	Press(key byte)
	// Stop sends the stop frame and closes the socket (a hang-up, <Stop>);
	// Ended follows with StreamStopped. A second Stop does nothing.
	Stop()
}

// StreamEvents are what a stream tells the runtime, on the stream's
// goroutine. Each may be nil.
type StreamEvents struct {
	Started func()            // the app accepted the upgrade; connected and start were sent
	Mark    func(name string) // a mark was echoed back to the app
	Ended   func(StreamEnd)   // the stream is over; nothing follows
}

// Why a stream ended. Append only.
const (
	StreamStopped = "stopped" // Stop (a hang-up, <Stop><Stream>, the call left <Connect>)
	StreamClosed  = "closed"  // the app closed the socket
	StreamFailed  = "failed"  // it could not be opened, or the app broke the protocol or stalled
)

// StreamEnd says how a stream ended.
type StreamEnd struct {
	Why   string // StreamStopped, StreamClosed, StreamFailed
	Code  int    // StreamFailed: Twilio's (CodeStreamHandshake, ...)
	Error string // StreamFailed: a few fixed words, safe to show the tenant
	// Audio is how much audio the app sent (8,000 bytes a second).
	Audio time.Duration
}

// Twilio's Media Streams error codes (twilio-voice.md §6).
const (
	CodeStreamHandshake   = 31920 // the WebSocket could not be opened
	CodeStreamClose       = 31921 // the socket broke (not a close handshake)
	CodeStreamScheme      = 31922 // the URL is not ws:// or wss://
	CodeStreamMalformed   = 31923 // the URL is malformed
	CodeStreamProtocol    = 31924 // a write stalled, or a frame the protocol does not allow
	CodeStreamTrack       = 31941 // a track <Connect> or Twilio does not allow
	CodeStreamBadMessage  = 31950 // a frame from the app that is not JSON of Twilio's shape
	CodeStreamBadContents = 31951 // a frame from the app of an unknown event
)
