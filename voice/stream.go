package voice

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/tonepay/tonepay"
)

// Media Streams in TwiML (DESIGN §11 "sent"; twilio-voice.md §7.1):
// <Start><Stream> opens a unidirectional stream and the TwiML goes on at
// once; <Connect><Stream> opens the bidirectional one and the call waits in
// <Connect> until the stream ends (the app closed it, or it could not open),
// then requests <Connect action> or runs the next verb; <Stop><Stream
// name> stops the named unidirectional stream, <Stop><Stream/> every one.
// The engine keeps which streams are open (State.Streams) and says which to
// open and stop (Output.StartStreams, StopStreams); the runner opens them
// after commit, names them (Stream.Sid) and feeds StreamEnded back.

// Stream is a <Stream> noun and, once started, one of the call's streams.
type Stream struct {
	// Sid is the runner's (MZ…), set when the step that started the stream
	// is saved; the engine never makes one.
	Sid                  string            `json:"sid,omitempty"`
	Name                 string            `json:"name,omitempty"`
	URL                  string            `json:"url,omitempty"`   // ws:// or wss://, resolved; its query is kept
	Track                string            `json:"track,omitempty"` // inbound_track, outbound_track, both_tracks
	StatusCallback       string            `json:"statusCallback,omitempty"`
	StatusCallbackMethod string            `json:"statusCallbackMethod,omitempty"`
	Parameters           map[string]string `json:"parameters,omitempty"`
	Bidirectional        bool              `json:"bidirectional,omitempty"`
	// Invalid is why the stream cannot open (Twilio's code): the timeline
	// gets the error and the TwiML goes on, as Twilio reports stream errors
	// to the debugger and carries on with the call.
	Invalid *Error `json:"invalid,omitempty"`
}

// Tracks are the start frame's tracks for the stream's track attribute.
func (s *Stream) Tracks() []string {
	switch s.Track {
	case "outbound_track":
		return []string{"outbound"}
	case "both_tracks":
		return []string{"inbound", "outbound"}
	}
	return []string{"inbound"}
}

// MaxStreams is how many unidirectional streams a call may have open at
// once (Twilio: up to 4 tracks of unidirectional streams).
const MaxStreams = 4

// maxParameter bounds a <Parameter>'s name and value together (Twilio:
// under 500 characters).
const maxParameter = 500

// connect parses <Connect action method> and its nouns: the first <Stream>
// is what it runs; other nouns are kept by name, and the call parks there as
// it does on a <Dial>.
func (p *parser) connect(n *node, v *Verb) *Error {
	a := p.attrs(n, "action", "method")
	var err *Error
	if v.Method, err = method(a, 12200, n.Name); err != nil {
		return err
	}
	if a["action"] != "" {
		if v.Action, err = p.resolve(a["action"], CodeRelativeAction, n.Name); err != nil {
			return err
		}
	}
	for _, c := range n.Nodes {
		if c.Name == "Stream" && len(v.Streams) == 0 {
			v.Streams = append(v.Streams, p.stream(c, true))
			continue
		}
		p.attrs(c)
		v.Nouns = append(v.Nouns, Noun{Kind: c.Name})
	}
	return nil
}

// streams parses <Start> and <Stop>: their <Stream> nouns (for <Stop>, the
// name is all that counts). Their other nouns (<Siprec>, <Transcription>)
// are not run: a warning says so.
func (p *parser) streams(n *node, v *Verb) {
	p.attrs(n, "action", "method")
	for _, c := range n.Nodes {
		switch {
		case c.Name != "Stream":
			p.attrs(c)
			p.tolerate(CodeSchema, n.Name, c.Name, "", "tonepay runs only <Stream> here; ignored")
		case v.Name == "Stop":
			a := p.attrs(c, "name", "url", "connectorName", "track", "statusCallback", "statusCallbackMethod")
			v.Streams = append(v.Streams, Stream{Name: a["name"]})
		default:
			v.Streams = append(v.Streams, p.stream(c, false))
		}
	}
}

// stream parses a <Stream> of <Start> or (bidi) <Connect>.
func (p *parser) stream(n *node, bidi bool) Stream {
	a := p.attrs(n, "url", "name", "connectorName", "track", "statusCallback", "statusCallbackMethod")
	s := Stream{Name: a["name"], Track: def(a["track"], "inbound_track"), Bidirectional: bidi}
	s.URL, s.Invalid = streamURL(p.doc.URL, a["url"])
	switch {
	case s.Invalid != nil:
	case !slices.Contains([]string{"inbound_track", "outbound_track", "both_tracks"}, s.Track):
		s.Invalid = errorf(tonepay.CodeStreamTrack, "Stream: invalid track %q", tonepay.Clip(s.Track, clipAt))
	case bidi && s.Track != "inbound_track":
		s.Invalid = errorf(tonepay.CodeStreamTrack, "Stream: <Connect><Stream> allows only track=\"inbound_track\", not %q", tonepay.Clip(s.Track, clipAt))
	}
	if cb := strings.TrimSpace(a["statusCallback"]); cb != "" {
		u, err := Resolve(p.doc.URL, cb)
		if err != nil {
			p.tolerate(CodeSchema, n.Name, "statusCallback", cb, "not an http(s) URL; no stream status callbacks")
		} else {
			s.StatusCallback = u
			m, err := method(map[string]string{"method": a["statusCallbackMethod"]}, CodeSchema, "Stream")
			if err != nil {
				p.tolerate(CodeSchema, "Stream", "statusCallbackMethod", a["statusCallbackMethod"], "POST is used")
				m = "POST"
			}
			s.StatusCallbackMethod = m
		}
	}
	for _, c := range n.Nodes {
		if c.Name != "Parameter" {
			p.attrs(c)
			p.tolerate(CodeSchema, "Stream", c.Name, "", "only <Parameter> is allowed in <Stream>; ignored")
			continue
		}
		pa := p.attrs(c, "name", "value")
		switch name, value := pa["name"], pa["value"]; {
		case name == "":
			p.tolerate(CodeSchema, "Parameter", "name", "", "a <Parameter> needs a name; left out")
		case len(name)+len(value) >= maxParameter:
			p.tolerate(CodeSchema, "Parameter", "name", name, fmt.Sprintf("name and value over %d characters; left out", maxParameter-1))
		default:
			if s.Parameters == nil {
				s.Parameters = map[string]string{}
			}
			s.Parameters[name] = value
		}
	}
	return s
}

// streamURL resolves a <Stream url>: ws:// or wss:// (Twilio allows wss
// only; ws serves loopback tests and operators without TLS), or a reference
// relative to the document, which takes the document's scheme as ws or wss.
// Twilio says the URL takes no query string (use <Parameter>); tonepay keeps
// one, dials and signs it as written, and says nothing: an app that works
// here may still lose it on Twilio. A fragment is dropped.
func streamURL(docURL, raw string) (string, *Error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", errorf(tonepay.CodeStreamMalformed, "Stream: url is missing")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", errorf(tonepay.CodeStreamMalformed, "Stream: malformed url %q", tonepay.Clip(raw, clipAt))
	}
	if !u.IsAbs() {
		if docURL == "" {
			return "", errorf(tonepay.CodeStreamMalformed, "Stream: relative url %q in a document that has no URL", tonepay.Clip(raw, clipAt))
		}
		b, err := url.Parse(docURL)
		if err != nil {
			return "", errorf(tonepay.CodeStreamMalformed, "Stream: invalid document URL")
		}
		b.Fragment = ""
		u = b.ResolveReference(u)
		u.Scheme = map[string]string{"http": "ws", "https": "wss"}[strings.ToLower(u.Scheme)]
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if u.Scheme != "ws" && u.Scheme != "wss" {
		return "", errorf(tonepay.CodeStreamScheme, "Stream: url %q is not ws:// or wss://", tonepay.Clip(raw, clipAt))
	}
	if u.Host == "" {
		return "", errorf(tonepay.CodeStreamMalformed, "Stream: url %q has no host", tonepay.Clip(raw, clipAt))
	}
	u.Fragment, u.RawFragment = "", ""
	return u.String(), nil
}

// startStream opens s unless it is invalid, its name is taken, or (a
// unidirectional one) MaxStreams are open; it reports whether it did.
func (r *run) startStream(v Verb, s Stream) bool {
	st := r.s
	verb := v.Name
	if s.Invalid != nil {
		r.log(Entry{Kind: "error", Verb: verb, Code: s.Invalid.Code, Text: s.Invalid.Message + "; the stream was not opened"})
		return false
	}
	uni := 0
	for _, o := range st.Streams {
		if s.Name != "" && o.Name == s.Name {
			r.log(Entry{Kind: "error", Verb: verb, Text: fmt.Sprintf("Stream: a stream named %q is open already; the stream was not opened", tonepay.Clip(s.Name, clipAt))})
			return false
		}
		if !o.Bidirectional {
			uni++
		}
	}
	if !s.Bidirectional && uni >= MaxStreams {
		r.log(Entry{Kind: "error", Verb: verb, Text: fmt.Sprintf("Stream: %d unidirectional streams are open already; the stream was not opened", MaxStreams)})
		return false
	}
	p := &s
	st.Streams = append(st.Streams, p)
	r.out.StartStreams = append(r.out.StartStreams, p)
	text := "start"
	if s.Name != "" {
		text += " name=" + tonepay.Clip(s.Name, 64)
	}
	r.log(Entry{Kind: "stream", Verb: verb, URL: s.URL, Text: text + " track=" + s.Track})
	return true
}

// stopStreams stops the open streams match says, and reports how many.
func (r *run) stopStreams(match func(*Stream) bool) int {
	st := r.s
	n := 0
	st.Streams = slices.DeleteFunc(st.Streams, func(s *Stream) bool {
		if match(s) {
			r.out.StopStreams = append(r.out.StopStreams, s)
			n++
			return true
		}
		return false
	})
	if len(st.Streams) == 0 {
		st.Streams = nil
	}
	return n
}

// stop runs <Stop>: each <Stream name> stops that unidirectional stream;
// one without a name stops them all. A name no stream has is a warning.
func (r *run) stop(v Verb) {
	r.log(Entry{Kind: "verb", Verb: v.Name})
	for _, want := range v.Streams {
		n := r.stopStreams(func(s *Stream) bool { return !s.Bidirectional && (want.Name == "" || s.Name == want.Name) })
		if n == 0 && want.Name != "" {
			r.log(Entry{Kind: "warning", Verb: v.Name, Text: fmt.Sprintf("Stop: no open stream is named %q", tonepay.Clip(want.Name, clipAt))})
		}
	}
}

// streamEnded forgets the stream the runner says has ended; the one a
// <Connect> waits on ends the <Connect>.
func (r *run) streamEnded(sid string) {
	st := r.s
	i := slices.IndexFunc(st.Streams, func(s *Stream) bool { return s.Sid == sid })
	if sid == "" || i < 0 {
		return
	}
	s := st.Streams[i]
	st.Streams = slices.Delete(st.Streams, i, i+1)
	if len(st.Streams) == 0 {
		st.Streams = nil
	}
	if s.Bidirectional && st.Current != nil && st.Current.Name == "Connect" {
		r.bridgeEnd("")
	}
}

// stopBidirectional stops the <Connect>'s stream: the call left the
// <Connect> (a redirect, its far end, the call's end).
func (r *run) stopBidirectional() {
	r.stopStreams(func(s *Stream) bool { return s.Bidirectional })
}
