package voice

import (
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzParse: any body parses or fails with a code, never panics, and a
// parsed document survives the JSON a runner persists it as.
func FuzzParse(f *testing.F) {
	for _, s := range []string{`<Response/>`, `<Response><Gather numDigits="2"><Say>x</Say></Gather></Response>`,
		`<Response><Dial action="a"><Number>+1</Number></Dial></Response>`, `<Response><Say`, `<Pay/>`, `<Response><Pay chargeAmount="1" validCardTypes="visa"><Prompt for="payment-card-number" attempt="1 2"><Say>x</Say></Prompt><Parameter name="a" value="b"/></Pay></Response>`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		doc, err := Parse([]byte(body), docURL)
		if err != nil {
			if err.Code == 0 {
				t.Fatalf("error without a code: %v", err)
			}
			return
		}
		b, jerr := json.Marshal(doc)
		if jerr != nil {
			t.Fatal(jerr)
		}
		var back Document
		if jerr := json.Unmarshal(b, &back); jerr != nil {
			t.Fatal(jerr)
		}
		if b2, _ := json.Marshal(&back); !reflect.DeepEqual(b, b2) {
			t.Fatalf("round trip\n%s\n%s", b, b2)
		}
	})
}
