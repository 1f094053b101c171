package voice

import (
	"encoding/json"
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

// The documents of issue 19 (items 2 and 7): what a hostile app serves
// within the fetcher's 64 KiB.

// nestedDoc is <Response><Say> holding n nested <a> around a word: 63 KB
// for n = 9000.
func nestedDoc(n int) string {
	return `<Response><Say>` + strings.Repeat("<a>", n) + "deep" + strings.Repeat("</a>", n) + `</Say></Response>`
}

// flatDoc is n sibling SSML elements in one <Say>: as large, no depth.
func flatDoc(n int) string {
	return `<Response><Say>` + strings.Repeat("<a>w</a> ", n) + `</Say></Response>`
}

// attrs is n attributes no verb knows, 5 bytes each for n = 12500.
func attrs(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, ` a%d=""`, i)
	}
	return b.String()
}

// allocBytes is the bytes f allocates, the least of three runs (another
// goroutine's allocations only add).
func allocBytes(f func()) uint64 {
	var least uint64
	for i := range 3 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		f()
		runtime.ReadMemStats(&after)
		if d := after.TotalAlloc - before.TotalAlloc; i == 0 || d < least {
			least = d
		}
	}
	return least
}

// TestParseDeepNesting: a document nested deeper than Twilio's documents
// ever are is a 12100 found early, not a parse whose cost grows with the
// square of the depth (9,000 levels in 63 KB allocated ~300 MiB).
func TestParseDeepNesting(t *testing.T) {
	body := []byte(nestedDoc(9000))
	var err *Error
	n := allocBytes(func() { _, err = Parse(body, docURL) })
	if err == nil || err.Code != CodeParse {
		t.Fatalf("%d-byte nested document: %v, want %d", len(body), err, CodeParse)
	}
	t.Logf("%d bytes nested 9000 deep: %d bytes allocated, %v", len(body), n, err)
	if n > 4<<20 {
		t.Errorf("%d bytes allocated for a %d-byte document, want < 4 MiB", n, len(body))
	}

	// The limit: as deep as <Pay><Prompt><Say> with SSML four levels in
	// parses; one more level does not.
	ok := `<Response><Pay><Prompt for="payment-card-number"><Say><p><s><prosody rate="slow"><emphasis>Card</emphasis></prosody></s></p></Say></Prompt></Pay></Response>`
	if _, err := Parse([]byte(ok), docURL); err != nil {
		t.Errorf("depth %d: %v", maxDepth, err)
	}
	deeper := strings.Replace(ok, `>Card<`, `><sub alias="card">Card</sub><`, 1)
	if _, err := Parse([]byte(deeper), docURL); err == nil || err.Code != CodeParse {
		t.Errorf("depth %d: %v, want %d", maxDepth+1, err, CodeParse)
	}
}

// TestParseCostLinear: twice the document, about twice the allocations,
// whatever its shape (nesting was quadratic: each level copied its subtree).
func TestParseCostLinear(t *testing.T) {
	tests := []struct {
		name string
		doc  func(n int) string
		n    int
	}{
		{"flat", flatDoc, 3000},
		{"nested", nestedDoc, 4500},
		{"attributes", func(n int) string { return `<Response><Say` + attrs(n) + `>Hi</Say></Response>` }, 6000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			small, large := []byte(tt.doc(tt.n)), []byte(tt.doc(2*tt.n))
			a := allocBytes(func() { Parse(small, docURL) })
			b := allocBytes(func() { Parse(large, docURL) })
			t.Logf("%d bytes: %d allocated; %d bytes: %d allocated", len(small), a, len(large), b)
			if float64(b) > 2.6*float64(a) {
				t.Errorf("twice the document allocates %.1f times as much", float64(b)/float64(a))
			}
			if b > 64*uint64(len(large)) {
				t.Errorf("%d bytes allocated for %d bytes of document", b, len(large))
			}
		})
	}
}

// TestParseUnknownAttributes: 12,500 unknown attributes are one 12200
// warning that counts them and names a few, and the call's saved state
// (State as JSON, rewritten on every key) carries none of them.
func TestParseUnknownAttributes(t *testing.T) {
	many := attrs(12500)
	body := []byte(`<Response><Say` + many + `>Hello</Say></Response>`)
	var doc *Document
	var err *Error
	n := allocBytes(func() { doc, err = Parse(body, docURL) })
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d-byte document: %d bytes allocated", len(body), n)
	if n > 8<<20 {
		t.Errorf("%d bytes allocated for a %d-byte document, want < 8 MiB", n, len(body))
	}
	if len(doc.Warnings) != 1 {
		t.Fatalf("%d warnings, want 1", len(doc.Warnings))
	}
	w := doc.Warnings[0]
	if w.Code != CodeSchema || !strings.Contains(w.Message, "12500") || !strings.Contains(w.Message, `"a0" on <Say>`) ||
		strings.Contains(w.Message, `"a9"`) || len(w.Message) > 300 {
		t.Errorf("warning %+v", w)
	}
	if v := doc.Verbs[0]; v.Text != "Hello" || v.Streams != nil {
		t.Errorf("verb %+v", v)
	}

	// Served to a call, on every verb that keeps the call waiting: the
	// call runs, its timeline has one warning, its saved state is small.
	docs := map[string]string{
		"say then gather": `<Response><Say` + many + `>Hello</Say><Gather numDigits="1"` + attrs(100) + `><Say` + attrs(100) + `>Press</Say></Gather></Response>`,
		"connect":         `<Response><Connect action="after"` + attrs(6000) + `><Stream url="wss://s.example/x"` + attrs(6000) + `><Parameter name="k" value="v"` + attrs(400) + `/></Stream></Connect></Response>`,
	}
	for name, body := range docs {
		t.Run(name, func(t *testing.T) {
			s := newCall(nil)
			e := Engine{}
			e.Step(s, Input{Kind: Answered}, t0)
			o := e.Step(s, Input{Kind: Fetched, Seq: s.Fetch.Seq, Status: 200, ContentType: "text/xml", Body: []byte(body)}, t0)
			warnings := 0
			for _, en := range o.Timeline {
				if en.Kind == "warning" {
					warnings++
				}
				if en.Kind == "error" {
					t.Errorf("timeline %+v", en)
				}
			}
			if warnings != 1 || s.Current == nil || o.Ended != "" {
				t.Fatalf("%d warnings, current %v, ended %q", warnings, s.Current, o.Ended)
			}
			b, jerr := json.Marshal(s)
			if jerr != nil {
				t.Fatal(jerr)
			}
			t.Logf("%d-byte document: %d bytes of state", len(body), len(b))
			if len(b) > 8<<10 {
				t.Errorf("%d bytes of saved state: %.300s", len(b), b)
			}
		})
	}
}

// TestParseConnectKept: <Connect>'s <Stream> is parsed into the verb, with
// only the attributes tonepay knows (the others are one warning).
func TestParseConnectKept(t *testing.T) {
	doc, err := Parse([]byte(`<Response><Connect action="/after" method="GET" colour="red">
		<Stream url="wss://x.example/s?a=1&amp;b=2" track="inbound_track" size="9"><Parameter name="k" value="&lt;v&gt;"/></Stream>
	</Connect></Response>`), docURL)
	if err != nil {
		t.Fatal(err)
	}
	v := doc.Verbs[0]
	want := Stream{URL: "wss://x.example/s?a=1&b=2", Track: "inbound_track", Bidirectional: true, Parameters: map[string]string{"k": "<v>"}}
	if len(v.Streams) != 1 || !reflect.DeepEqual(v.Streams[0], want) || v.Action != "https://ivr.acme.io/after" || v.Method != "GET" {
		t.Errorf("connect %+v\nwant stream %+v", v, want)
	}
	if len(doc.Warnings) != 1 || !strings.Contains(doc.Warnings[0].Message, "2 ") {
		t.Errorf("warnings %v", doc.Warnings)
	}
}

// TestSayWords: the words of a <Say> are in the order the caller hears
// them; an SSML element is no word boundary unless it is a pause.
func TestSayWords(t *testing.T) {
	tests := []struct{ body, want string }{
		{`to pay your <say-as interpret-as="characters">Dentist bill</say-as> today`, "to pay your Dentist bill today"},
		{`<prosody rate="slow">Your balance</prosody> is <emphasis>ten</emphasis> dollars`, "Your balance is ten dollars"},
		{`un<emphasis>believ</emphasis>able`, "unbelievable"},
		{`One<break time="1s"/>two`, "One two"},
		{`<p>First</p><p>Second</p><s>Third</s>`, "First Second Third"},
		{"Hello <!-- not said --> there <![CDATA[& you]]>", "Hello there & you"},
	}
	for _, tt := range tests {
		doc, err := Parse([]byte(`<Response><Say>`+tt.body+`</Say></Response>`), docURL)
		if err != nil {
			t.Fatalf("%s: %v", tt.body, err)
		}
		if got := doc.Verbs[0].Text; got != tt.want {
			t.Errorf("%s: %q, want %q", tt.body, got, tt.want)
		}
	}
}

func BenchmarkParseNested(b *testing.B) {
	body := []byte(nestedDoc(9000))
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		Parse(body, docURL)
	}
}

func BenchmarkParseAttributes(b *testing.B) {
	body := []byte(`<Response><Say` + strings.Repeat(` a=""`, 12500) + `>Hello</Say></Response>`)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		Parse(body, docURL)
	}
}
