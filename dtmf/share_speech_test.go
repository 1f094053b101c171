package dtmf_test

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/tonepay/tonepay/dtmf"
	"github.com/tonepay/tonepay/g711"
)

// TestProcessKeysSpeechCorpus: over the espeak-ng corpus (speech_test.go),
// alone and with keys pressed over it, a Suppressor's ProcessKeys returns
// what a Detector's Write does, call by call.
func TestProcessKeysSpeechCorpus(t *testing.T) {
	tracks, _ := corpus(t)
	keys := 0
	for i, tr := range tracks {
		speech := make([]int16, len(tr.audio))
		for j, b := range tr.audio {
			speech[j] = g711.MulawDecode(b)
		}
		// Every 1.5–2.5 s a key of 40–150 ms at -25 to -4 dBm0.
		rng := rand.New(rand.NewPCG(uint64(i)+300, 25))
		pressed := slices.Clone(speech)
		for at := 8000 + rng.IntN(8000); at+2000 < len(pressed); at += 12000 + rng.IntN(8001) {
			tone := dtmf.Tone(dtmf.Keys[rng.IntN(len(dtmf.Keys))], 40+rng.IntN(111), -25+21*rng.Float64())
			for j, v := range tone {
				pressed[at+j] = g711.MulawDecode(g711.MulawEncode(int16(max(-32768, min(32767, int(pressed[at+j])+int(v))))))
			}
		}
		for _, in := range [][]int16{speech, pressed} {
			for _, chunk := range []int{1, 7, 160, 333} {
				for _, masking := range []bool{true, false} {
					d, s := dtmf.NewDetector(), dtmf.NewSuppressor()
					for at := 0; at < len(in); at += chunk {
						c := in[at:min(at+chunk, len(in))]
						want := d.Write(c)
						_, got := s.ProcessKeys(c, masking)
						if !slices.Equal(got, want) {
							t.Fatalf("%s, chunk %d, masking %v, call at %d: ProcessKeys %v, Detector %v", tr.name, chunk, masking, at, got, want)
						}
						if chunk == 160 && masking {
							keys += len(got)
						}
					}
				}
			}
		}
	}
	t.Logf("%d keys, the same from both", keys)
	if keys == 0 {
		t.Error("no key found: the test compares nothing but silence")
	}
}
