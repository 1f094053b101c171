package mediastream

import (
	"encoding/base64"
	"encoding/json"
)

// A live stream is 50 media frames a second each way, so the media frame
// has a fast path both ways: encoding/json's reflection was a tenth of the
// receiver's CPU at 1,000 streams. The fast paths handle exactly the frames
// Twilio writes (keys in lower case, strings with no escapes, plain ASCII)
// and hand anything else to encoding/json, so what a frame means never
// depends on which path read it (FuzzParse checks that both agree).

// Append appends f as one JSON text message: media frames by hand, others
// through encoding/json.
func (f *Frame) Append(dst []byte) ([]byte, error) {
	if f.Event != EventMedia || f.Media == nil || f.Start != nil || f.DTMF != nil || f.Mark != nil || f.Stop != nil ||
		f.Protocol != "" || f.Version != "" || !plain(f.SequenceNumber, f.StreamSid, f.Media.Track, f.Media.Chunk, f.Media.Timestamp, f.Media.Payload) {
		b, err := json.Marshal(f)
		return append(dst, b...), err
	}
	dst = append(dst, `{"event":"media"`...)
	if f.SequenceNumber != "" {
		dst = appendString(append(dst, `,"sequenceNumber":`...), f.SequenceNumber)
	}
	if f.StreamSid != "" {
		dst = appendString(append(dst, `,"streamSid":`...), f.StreamSid)
	}
	dst = append(dst, `,"media":{`...)
	m := f.Media
	for _, kv := range [...][2]string{{`"track":`, m.Track}, {`"chunk":`, m.Chunk}, {`"timestamp":`, m.Timestamp}} {
		if kv[1] != "" {
			dst = append(appendString(append(dst, kv[0]...), kv[1]), ',')
		}
	}
	dst = appendString(append(dst, `"payload":`...), m.Payload)
	return append(dst, "}}"...), nil
}

// appendString appends s, which needs no escaping (plain), quoted.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

// plain reports whether every s needs no JSON escaping: printable ASCII
// other than " and \ (and no HTML characters, which encoding/json escapes).
func plain(ss ...string) bool {
	for _, s := range ss {
		for i := 0; i < len(s); i++ {
			if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
				return false
			}
		}
	}
	return true
}

// parseMedia reads a media frame written as Twilio writes it, or says it
// cannot (ok false) and Parse reads it with encoding/json.
func parseMedia(b []byte) (f *Frame, audio []byte, ok bool) {
	s := scan{b: b}
	f = &Frame{}
	if !s.object(func(k []byte) bool {
		switch string(k) {
		case "media":
			if f.Media == nil { // a second "media" object overlays the first, as in encoding/json
				f.Media = &Media{}
			}
			return s.object(func(k []byte) bool {
				v, ok := s.str()
				switch string(k) {
				case "track":
					f.Media.Track = v
				case "chunk":
					f.Media.Chunk = v
				case "timestamp":
					f.Media.Timestamp = v
				case "payload":
					f.Media.Payload = v
				default:
					return false
				}
				return ok
			})
		case "event":
			v, ok := s.str()
			f.Event = v
			return ok && v == EventMedia
		case "sequenceNumber":
			v, ok := s.str()
			f.SequenceNumber = v
			return ok
		case "streamSid":
			v, ok := s.str()
			f.StreamSid = v
			return ok
		}
		return false
	}) || f.Event != EventMedia || f.Media == nil {
		return nil, nil, false
	}
	s.ws()
	if s.i != len(b) {
		return nil, nil, false
	}
	audio, err := base64.StdEncoding.AppendDecode(make([]byte, 0, base64.StdEncoding.DecodedLen(len(f.Media.Payload))), []byte(f.Media.Payload))
	if err != nil {
		return nil, nil, false // encoding/json's path says why
	}
	return f, audio, true
}

// scan is a reader of the JSON subset parseMedia accepts.
type scan struct {
	b []byte
	i int
}

func (s *scan) ws() {
	for s.i < len(s.b) && (s.b[s.i] == ' ' || s.b[s.i] == '\t' || s.b[s.i] == '\n' || s.b[s.i] == '\r') {
		s.i++
	}
}

// str reads a string with no escapes, of plain ASCII.
func (s *scan) str() (string, bool) {
	b, ok := s.raw()
	return string(b), ok
}

// raw is str's bytes, in place.
func (s *scan) raw() ([]byte, bool) {
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return nil, false
	}
	start := s.i + 1
	for j := start; j < len(s.b); j++ {
		switch c := s.b[j]; {
		case c == '"':
			s.i = j + 1
			return s.b[start:j], true
		case c < 0x20 || c >= 0x7f || c == '\\':
			return nil, false
		}
	}
	return nil, false
}

// object reads {"key": value, ...}, calling field for each key with the
// reader before its value; field reads the value and says whether it could.
func (s *scan) object(field func(k []byte) bool) bool {
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != '{' {
		return false
	}
	s.i++
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		return true
	}
	for {
		k, ok := s.raw()
		if !ok {
			return false
		}
		s.ws()
		if s.i >= len(s.b) || s.b[s.i] != ':' {
			return false
		}
		s.i++
		if !field(k) {
			return false
		}
		s.ws()
		if s.i >= len(s.b) {
			return false
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case '}':
			s.i++
			return true
		default:
			return false
		}
	}
}
