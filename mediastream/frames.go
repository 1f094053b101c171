// Package mediastream speaks Twilio Media Streams (DESIGN §11): the
// WebSocket receiver that takes real calls Twilio streams to tonepay, and
// the sender that streams simulated calls to an app. frames.go is the one
// place for the wire format, both ways (twilio-voice.md §7).
package mediastream

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// Events of Twilio's frames.
const (
	EventConnected = "connected"
	EventStart     = "start"
	EventMedia     = "media"
	EventDTMF      = "dtmf"
	EventMark      = "mark"
	EventStop      = "stop"
	EventClear     = "clear" // app → Twilio only
)

// Frame is one JSON text message of a stream, either way. Twilio writes
// sequenceNumber, chunk and timestamp as strings, and sampleRate and
// channels as numbers; the types here keep exactly that, so one Marshal
// writes what Twilio writes and one Unmarshal reads it.
type Frame struct {
	Event          string `json:"event"`
	SequenceNumber string `json:"sequenceNumber,omitempty"`
	StreamSid      string `json:"streamSid,omitempty"`
	Protocol       string `json:"protocol,omitempty"` // connected: "Call"
	Version        string `json:"version,omitempty"`  // connected: "1.0.0"
	Start          *Start `json:"start,omitempty"`
	Media          *Media `json:"media,omitempty"`
	DTMF           *DTMF  `json:"dtmf,omitempty"`
	Mark           *Mark  `json:"mark,omitempty"`
	Stop           *Stop  `json:"stop,omitempty"`
}

// Start is the start frame's body.
type Start struct {
	AccountSid       string            `json:"accountSid"`
	StreamSid        string            `json:"streamSid"`
	CallSid          string            `json:"callSid"`
	Tracks           []string          `json:"tracks"`
	MediaFormat      MediaFormat       `json:"mediaFormat"`
	CustomParameters map[string]string `json:"customParameters"`
}

// MediaFormat is the audio's format: always mu-law, 8 kHz, mono on Twilio.
type MediaFormat struct {
	Encoding   string `json:"encoding"`
	SampleRate int    `json:"sampleRate"`
	Channels   int    `json:"channels"`
}

// A media frame carries 20 ms of audio: 160 bytes of 8 kHz mu-law, whose
// silence is 0xFF (mu-law's zero).
const (
	frameBytes   = 160
	frameEvery   = 20 * time.Millisecond
	mulawSilence = 0xFF
)

// Mulaw8k is the only format Twilio streams.
var Mulaw8k = MediaFormat{Encoding: "audio/x-mulaw", SampleRate: 8000, Channels: 1}

// Media is a media frame's body. From Twilio it has Track ("inbound" or
// "outbound"), Chunk (from "1") and Timestamp (ms since the stream
// started); to Twilio only Payload.
type Media struct {
	Track     string `json:"track,omitempty"`
	Chunk     string `json:"chunk,omitempty"`
	Timestamp string `json:"timestamp,omitempty"`
	Payload   string `json:"payload"` // base64 mu-law, no header
}

// DTMF is a dtmf frame's body: Track is "inbound_track".
type DTMF struct {
	Track string `json:"track"`
	Digit string `json:"digit"`
}

// Mark is a mark frame's body.
type Mark struct {
	Name string `json:"name"`
}

// Stop is a stop frame's body.
type Stop struct {
	AccountSid string `json:"accountSid"`
	CallSid    string `json:"callSid"`
}

// Parse reads one text message. It checks the shape Twilio's docs give
// each event (the body an event needs is present, media decodes as base64)
// and returns the audio of a media frame decoded.
func Parse(b []byte) (*Frame, []byte, error) {
	if f, audio, ok := parseMedia(b); ok {
		return f, audio, nil
	}
	var f Frame
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, nil, fmt.Errorf("not a JSON frame: %w", err)
	}
	var audio []byte
	switch f.Event {
	case EventConnected, EventClear:
	case EventStart:
		if f.Start == nil || f.Start.CallSid == "" || f.Start.AccountSid == "" {
			return nil, nil, fmt.Errorf("start frame without start.callSid and start.accountSid")
		}
	case EventMedia:
		if f.Media == nil {
			return nil, nil, fmt.Errorf("media frame without media")
		}
		var err error
		if audio, err = base64.StdEncoding.DecodeString(f.Media.Payload); err != nil {
			return nil, nil, fmt.Errorf("media payload is not base64")
		}
	case EventDTMF:
		if f.DTMF == nil || len(f.DTMF.Digit) != 1 {
			return nil, nil, fmt.Errorf("dtmf frame without one digit")
		}
	case EventMark:
		if f.Mark == nil {
			return nil, nil, fmt.Errorf("mark frame without mark")
		}
	case EventStop:
	default:
		return nil, nil, fmt.Errorf("unknown event %q", f.Event)
	}
	return &f, audio, nil
}

// Seq formats a sequence number, chunk or timestamp as Twilio does: a
// decimal string.
func Seq(n int64) string { return strconv.FormatInt(n, 10) }

// MediaFrame is a media frame carrying audio (mu-law bytes).
func MediaFrame(streamSid string, m Media, audio []byte) *Frame {
	m.Payload = base64.StdEncoding.EncodeToString(audio)
	return &Frame{Event: EventMedia, StreamSid: streamSid, Media: &m}
}
