package dtmf_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/tonepay/tonepay/dtmf"
	"github.com/tonepay/tonepay/g711"
	fig "github.com/tonepay/tonepay/internal/figures"
)

// TestSuppressorSpeechCorpus measures how much of the espeak-ng corpus
// (speech_test.go) a Suppressor masks with masking on: each masked sample
// is speech the agent does not hear. Every voice must stay under 1%.
func TestSuppressorSpeechCorpus(t *testing.T) {
	tracks, _ := corpus(t)
	delay := int(dtmf.HoldBack * dtmf.SampleRate / time.Second)
	var masked, total, regions, under int
	worst := 0.0
	for _, tr := range tracks {
		in := make([]int16, len(tr.audio))
		for i, b := range tr.audio {
			in[i] = g711.MulawDecode(b)
		}
		s := dtmf.NewSuppressor()
		var out []int16
		for at := 0; at < len(in); at += 160 {
			out = append(out, s.Process(in[at:min(at+160, len(in))], true)...)
		}
		// Masked stretches: where the output differs from the input, runs
		// less than 5 ms apart joined.
		m, last := 0, -1000
		for i := 0; i+delay < len(out); i++ {
			if out[i+delay] == in[i] {
				continue
			}
			if i-last >= 40 {
				regions++
				m++
			} else {
				m += i - last
			}
			last = i
		}
		frac := float64(m) / float64(len(in))
		worst = max(worst, frac)
		if frac < 0.01 {
			under++
		}
		t.Logf("%s: %.3f%% masked", tr.name, 100*frac)
		masked += m
		total += len(in)
	}
	fig.Report(t, "dtmf-suppress-speech", len(tracks), under,
		fmt.Sprintf("minutes=%.1f masked=%.3f%% worst_voice=%.3f%% regions=%d",
			float64(total)/dtmf.SampleRate/60, 100*float64(masked)/float64(total), 100*worst, regions))
}
