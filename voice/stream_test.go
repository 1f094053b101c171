package voice

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/tonepay/tonepay"
)

// sstep is one input to a call whose document has streams, and what it
// must cause: streams are named by their URL's last path segment.
type sstep struct {
	in      Input
	ended   string // the stream (by segment) StreamEnded names, instead of in
	start   []string
	stop    []string
	fetch   string // Output.Fetch's URL, "" none
	hangup  bool
	errCode int      // an error entry with this code (-1: one with no code)
	heard   []string // say entries, when set
	open    []string // State.Streams after the step
}

func seg(u string) string { return u[strings.LastIndex(u, "/")+1:] }

func names(ss []*Stream) []string {
	var out []string
	for _, s := range ss {
		out = append(out, seg(s.URL))
	}
	return out
}

func TestStreams(t *testing.T) {
	ws := func(s string) string { return `url="wss://app.acme.io/` + s + `"` }
	answered := Input{Kind: Answered}
	tests := []struct {
		name  string
		twiml string
		steps []sstep
	}{
		{"start opens and the TwiML goes on at once", `<Response><Start><Stream ` + ws("a") + `/></Start><Say>Hi</Say><Pause length="9"/></Response>`,
			[]sstep{{in: answered, start: []string{"a"}, heard: []string{"Hi"}, open: []string{"a"}}}},
		{"the end of the call stops every stream", `<Response><Start><Stream ` + ws("a") + `/><Stream ` + ws("b") + `/></Start><Say>Bye</Say></Response>`,
			[]sstep{{in: answered, start: []string{"a", "b"}, stop: []string{"a", "b"}, hangup: true}}},
		{"stop by name stops that one", `<Response><Start><Stream name="one" ` + ws("a") + `/><Stream name="two" ` + ws("b") + `/></Start><Stop><Stream name="two"/></Stop><Pause length="9"/></Response>`,
			[]sstep{{in: answered, start: []string{"a", "b"}, stop: []string{"b"}, open: []string{"a"}}}},
		{"stop without a name stops every unidirectional one", `<Response><Start><Stream ` + ws("a") + `/><Stream ` + ws("b") + `/></Start><Stop><Stream/></Stop><Pause length="9"/></Response>`,
			[]sstep{{in: answered, start: []string{"a", "b"}, stop: []string{"a", "b"}}}},
		{"stop of an unknown name is a warning", `<Response><Start><Stream name="one" ` + ws("a") + `/></Start><Stop><Stream name="nine"/></Stop><Pause length="9"/></Response>`,
			[]sstep{{in: answered, start: []string{"a"}, open: []string{"a"}}}},
		{"a fifth unidirectional stream is refused", `<Response><Start><Stream ` + ws("a") + `/><Stream ` + ws("b") + `/><Stream ` + ws("c") + `/><Stream ` + ws("d") + `/><Stream ` + ws("e") + `/></Start><Pause length="9"/></Response>`,
			[]sstep{{in: answered, start: []string{"a", "b", "c", "d"}, errCode: -1, open: []string{"a", "b", "c", "d"}}}},
		{"a name already open is refused", `<Response><Start><Stream name="x" ` + ws("a") + `/><Stream name="x" ` + ws("b") + `/></Start><Pause length="9"/></Response>`,
			[]sstep{{in: answered, start: []string{"a"}, errCode: -1, open: []string{"a"}}}},
		{"a unidirectional stream the app closes is forgotten", `<Response><Start><Stream ` + ws("a") + `/></Start><Pause length="9"/></Response>`,
			[]sstep{{in: answered, start: []string{"a"}, open: []string{"a"}}, {ended: "a"}}},
		{"connect waits until the app closes, then its action", `<Response><Connect action="https://ivr.acme.io/after"><Stream ` + ws("a") + `><Parameter name="k" value="v"/></Stream></Connect><Say>Not heard</Say></Response>`,
			[]sstep{{in: answered, start: []string{"a"}, open: []string{"a"}}, {ended: "a", fetch: "https://ivr.acme.io/after"}}},
		{"connect without action: the next verb", `<Response><Connect><Stream ` + ws("a") + `/></Connect><Say>After</Say></Response>`,
			[]sstep{{in: answered, start: []string{"a"}, open: []string{"a"}}, {ended: "a", heard: []string{"After"}, hangup: true}}},
		{"connect with a bad track: 31941, the TwiML goes on", `<Response><Connect><Stream track="both_tracks" ` + ws("a") + `/></Connect><Say>After</Say></Response>`,
			[]sstep{{in: answered, errCode: tonepay.CodeStreamTrack, heard: []string{"After"}, hangup: true}}},
		{"start with an https url: 31922", `<Response><Start><Stream url="https://app.acme.io/a"/></Start><Say>On</Say></Response>`,
			[]sstep{{in: answered, errCode: tonepay.CodeStreamScheme, heard: []string{"On"}, hangup: true}}},
		{"start with no url: 31923", `<Response><Start><Stream/></Start><Say>On</Say></Response>`,
			[]sstep{{in: answered, errCode: tonepay.CodeStreamMalformed, heard: []string{"On"}, hangup: true}}},
		{"a redirect leaves connect: its stream stops, start's go on", `<Response><Start><Stream ` + ws("a") + `/></Start><Connect><Stream ` + ws("b") + `/></Connect></Response>`,
			[]sstep{{in: answered, start: []string{"a", "b"}, open: []string{"a", "b"}},
				{in: Input{Kind: Update, Twiml: `<Response><Pause length="9"/></Response>`}, stop: []string{"b"}, open: []string{"a"}}}},
		{"a caller hang-up in connect stops it and notifies the action", `<Response><Connect action="https://ivr.acme.io/after"><Stream ` + ws("a") + `/></Connect></Response>`,
			[]sstep{{in: answered, start: []string{"a"}, open: []string{"a"}}, {in: Input{Kind: CallerHangUp}, stop: []string{"a"}, hangup: true}}},
		{"a stale end changes nothing", `<Response><Connect><Stream ` + ws("a") + `/></Connect></Response>`,
			[]sstep{{in: answered, start: []string{"a"}, open: []string{"a"}}, {in: Input{Kind: StreamEnded, Stream: "MZnope"}, open: []string{"a"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newCall(func(s *State) { s.URL, s.Twiml = "", tt.twiml })
			for i, st := range tt.steps {
				in := st.in
				if st.ended != "" {
					in = Input{Kind: StreamEnded, Stream: "MZ" + st.ended}
				}
				o := Engine{Instant: true}.Step(s, in, t0)
				for _, p := range o.StartStreams { // as the runner names them
					p.Sid = "MZ" + seg(p.URL)
				}
				if got := names(o.StartStreams); !slices.Equal(got, st.start) {
					t.Errorf("step %d: started %v, want %v", i, got, st.start)
				}
				if got := names(o.StopStreams); !slices.Equal(got, st.stop) {
					t.Errorf("step %d: stopped %v, want %v", i, got, st.stop)
				}
				if got := names(s.Streams); !slices.Equal(got, st.open) {
					t.Errorf("step %d: open %v, want %v", i, got, st.open)
				}
				fetch := ""
				if o.Fetch != nil {
					fetch = o.Fetch.URL
				}
				if fetch != st.fetch || (o.Ended != "") != st.hangup {
					t.Errorf("step %d: fetch %q ended %q, want %q %v", i, fetch, o.Ended, st.fetch, st.hangup)
				}
				var heard []string
				errs := 0
				for _, en := range o.Timeline {
					switch {
					case en.Kind == "say":
						heard = append(heard, en.Text)
					case en.Kind == "error" && (en.Code == st.errCode || st.errCode == -1 && en.Code == 0):
						errs++
					}
				}
				if st.heard != nil && !slices.Equal(heard, st.heard) {
					t.Errorf("step %d: heard %v, want %v", i, heard, st.heard)
				}
				if (errs > 0) != (st.errCode != 0) {
					t.Errorf("step %d: want error %d, timeline %+v", i, st.errCode, o.Timeline)
				}
			}
		})
	}
}

func TestParseStream(t *testing.T) {
	tests := []struct {
		name, stream string
		want         Stream
		warns        int
	}{
		{"defaults", `<Stream url="wss://a.io/s"/>`, Stream{URL: "wss://a.io/s", Track: "inbound_track"}, 0},
		{"ws for loopback", `<Stream url="ws://127.0.0.1:9/s"/>`, Stream{URL: "ws://127.0.0.1:9/s", Track: "inbound_track"}, 0},
		{"relative takes the document's scheme as wss", `<Stream url="../media?x=1#frag"/>`, Stream{URL: "wss://ivr.acme.io/media?x=1", Track: "inbound_track"}, 0},
		{"query kept, no warning", `<Stream url="wss://a.io/s?token=1"/>`, Stream{URL: "wss://a.io/s?token=1", Track: "inbound_track"}, 0},
		{"every attribute", `<Stream name="n" url="WSS://a.io/s" track="both_tracks" statusCallback="/cb" statusCallbackMethod="get"><Parameter name="a" value="1"/><Parameter name="b" value=""/></Stream>`,
			Stream{Name: "n", URL: "wss://a.io/s", Track: "both_tracks", StatusCallback: "https://ivr.acme.io/cb", StatusCallbackMethod: "GET", Parameters: map[string]string{"a": "1", "b": ""}}, 0},
		{"a long parameter is left out", `<Stream url="wss://a.io/s"><Parameter name="a" value="` + strings.Repeat("v", 499) + `"/><Parameter value="x"/></Stream>`,
			Stream{URL: "wss://a.io/s", Track: "inbound_track"}, 1},
		{"a bad statusCallbackMethod is POST", `<Stream url="wss://a.io/s" statusCallback="https://cb.io/x" statusCallbackMethod="PUT"/>`,
			Stream{URL: "wss://a.io/s", Track: "inbound_track", StatusCallback: "https://cb.io/x", StatusCallbackMethod: "POST"}, 1},
		{"a bad track", `<Stream url="wss://a.io/s" track="sideways"/>`, Stream{URL: "wss://a.io/s", Track: "sideways", Invalid: &Error{tonepay.CodeStreamTrack, `Stream: invalid track "sideways"`}}, 0},
		{"http is not a stream", `<Stream url="http://a.io/s"/>`, Stream{Track: "inbound_track", Invalid: &Error{tonepay.CodeStreamScheme, `Stream: url "http://a.io/s" is not ws:// or wss://`}}, 0},
		{"no host", `<Stream url="wss:///s"/>`, Stream{Track: "inbound_track", Invalid: &Error{tonepay.CodeStreamMalformed, `Stream: url "wss:///s" has no host`}}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := Parse([]byte(`<Response><Start>`+tt.stream+`</Start></Response>`), docURL)
			if err != nil {
				t.Fatal(err)
			}
			if got := doc.Verbs[0].Streams; len(got) != 1 || !reflect.DeepEqual(got[0], tt.want) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
			if len(doc.Warnings) != tt.warns {
				t.Errorf("warnings %v, want %d", doc.Warnings, tt.warns)
			}
		})
	}
}
