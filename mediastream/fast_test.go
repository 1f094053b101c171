package mediastream

import (
	"encoding/json"
	"reflect"
	"testing"
)

// twilioMedia is a media frame exactly as twilio-voice.md §7.2 shows it.
const twilioMedia = `{"event":"media","sequenceNumber":"3","media":{"track":"inbound","chunk":"1","timestamp":"5","payload":"/////w=="},"streamSid":"MZ18ad3ab5a668481ce02b83e7395059f0"}`

// slowParse is Parse without its fast path.
func slowParse(b []byte) (*Frame, []byte, error) {
	var f Frame
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, nil, err
	}
	if f.Event != EventMedia {
		return &f, nil, nil
	}
	return Parse(b) // not a media frame for the fast path either
}

func TestParseMediaFastPath(t *testing.T) {
	tests := []struct {
		name string
		in   string
		fast bool // the fast path reads it (else encoding/json does)
	}{
		{"twilio's", twilioMedia, true},
		{"spaced", "{ \"event\" : \"media\" ,\n\"media\":{\"payload\":\"\"} }  ", true},
		{"fields in any order", `{"streamSid":"MZ1","media":{"payload":"AAAA","track":"outbound"},"event":"media"}`, true},
		{"an escape", `{"event":"media","media":{"payload":"AA\u0041A"}}`, false},
		{"upper-case key", `{"EVENT":"media","event":"media","media":{"payload":""}}`, false},
		{"unknown key", `{"event":"media","x":"1","media":{"payload":""}}`, false},
		{"a number", `{"event":"media","sequenceNumber":3,"media":{"payload":""}}`, false},
		{"not media", `{"event":"mark","mark":{"name":"a"}}`, false},
		{"trailing garbage", twilioMedia + "x", false},
		{"two media objects", `{"event":"media","media":{"track":"a","payload":""},"media":{"payload":"AAAA"}}`, true},
		{"no media", `{"event":"media"}`, false},
		{"non-ASCII", `{"event":"media","streamSid":"MZé","media":{"payload":""}}`, false},
		{"bad base64", `{"event":"media","media":{"payload":"***"}}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, fast := parseMedia([]byte(tt.in))
			if fast != tt.fast {
				t.Errorf("fast path took it: %v, want %v", fast, tt.fast)
			}
			f1, a1, err1 := Parse([]byte(tt.in))
			var f2 Frame
			err2 := json.Unmarshal([]byte(tt.in), &f2)
			if err2 == nil && err1 == nil && !reflect.DeepEqual(*f1, f2) {
				t.Errorf("Parse = %+v (media %+v), encoding/json = %+v", f1, f1.Media, f2)
			}
			if fast && len(a1) != len(f2.Media.Payload)/4*3-countPad(f2.Media.Payload) {
				t.Errorf("audio %d bytes for payload %q", len(a1), f2.Media.Payload)
			}
		})
	}
}

func countPad(s string) int {
	n := 0
	for i := len(s) - 1; i >= 0 && s[i] == '='; i-- {
		n++
	}
	return n
}

// TestAppend: a media frame written by hand reads back as the same frame,
// and other frames are encoding/json's.
func TestAppend(t *testing.T) {
	frames := []*Frame{
		MediaFrame("MZ1", Media{Track: "inbound", Chunk: "7", Timestamp: "140"}, []byte{0xff, 0x7f, 0}),
		{Event: EventMedia, Media: &Media{Payload: ""}},
		{Event: EventMedia, SequenceNumber: "9", StreamSid: "MZ<2>", Media: &Media{Payload: "AAAA"}}, // needs escaping: json's path
		{Event: EventMark, StreamSid: "MZ1", Mark: &Mark{Name: "a"}},
		{Event: EventConnected, Protocol: "Call", Version: "1.0.0"},
	}
	for _, f := range frames {
		f.SequenceNumber = "12"
		b, err := f.Append(nil)
		if err != nil {
			t.Fatal(err)
		}
		var got Frame
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if !reflect.DeepEqual(&got, f) {
			t.Errorf("%s read back as %+v, want %+v", b, got, f)
		}
	}
}

// FuzzParse: whatever the fast path reads, encoding/json reads the same.
func FuzzParse(f *testing.F) {
	f.Add([]byte(twilioMedia))
	f.Add([]byte(`{"event":"media","media":{"payload":""}}`))
	f.Add([]byte(`{"event":"start","start":{"callSid":"CA1","accountSid":"AC1"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		fast, audio, ok := parseMedia(b)
		if !ok {
			return
		}
		var slow Frame
		if err := json.Unmarshal(b, &slow); err != nil {
			t.Fatalf("fast path read %q, encoding/json refuses it: %v", b, err)
		}
		if !reflect.DeepEqual(*fast, slow) {
			t.Fatalf("%q: fast %+v %+v, encoding/json %+v %+v", b, fast, fast.Media, slow, slow.Media)
		}
		if _, a2, err := slowParse(b); err == nil && string(a2) != string(audio) {
			t.Fatalf("%q: audio differs", b)
		}
	})
}

func BenchmarkParseMedia(b *testing.B) {
	msg := []byte(mustAppend(MediaFrame("MZ18ad3ab5a668481ce02b83e7395059f0", Media{Track: "inbound", Chunk: "1234", Timestamp: "24680"}, make([]byte, 160))))
	b.Run("fast", func(b *testing.B) {
		for b.Loop() {
			parseMedia(msg)
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		for b.Loop() {
			var f Frame
			json.Unmarshal(msg, &f)
		}
	})
}

func mustAppend(f *Frame) []byte {
	b, err := f.Append(nil)
	if err != nil {
		panic(err)
	}
	return b
}
