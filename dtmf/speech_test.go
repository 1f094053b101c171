package dtmf_test

// Talk-off on real speech (issue 22): espeak-ng speaking IVR and payment
// phrases, numbers and digit strings (the hard case: a voice saying "five"
// must not press 5) in five languages, male and female, rendered through
// tts's own pipeline (espeak-ng, resampling, mu-law) as a real leg hears it.

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tonepay/tonepay/dtmf"
	"github.com/tonepay/tonepay/g711"
	fig "github.com/tonepay/tonepay/internal/figures"
	"github.com/tonepay/tonepay/internal/suites"
	"github.com/tonepay/tonepay/tts"
)

// corpusSeconds is how much speech each voice speaks: 10 voices × 62 s is
// over ten minutes.
const corpusSeconds = 62

// speakers are the corpus's voices, as TwiML names them.
var speakers = []struct{ voice, language string }{
	{"man", "en-US"}, {"woman", "en-US"},
	{"man", "en-GB"}, {"woman", "en-GB"},
	{"man", "es-ES"}, {"woman", "es-ES"},
	{"man", "fr-FR"}, {"woman", "fr-FR"},
	{"man", "de-DE"}, {"woman", "de-DE"},
}

// phrases per language; {n} is a number (up to six digits), {d} a digit
// string spoken digit by digit, {a} an amount, {c} a card-like group of 4.
var phrases = map[string][]string{
	"en": {
		"Please enter your card number, followed by the pound key.",
		"Your balance is {a} dollars.",
		"Your card ending in {c} has been charged {a} dollars.",
		"Press {n1} for billing, press {n1} for support, or press {n1} to speak to an agent.",
		"Your confirmation number is {d}.",
		"Call us at {d}.",
		"The expiration date is {n1} {n2}.",
		"We received your payment of {a} dollars on the {n2} of March.",
		"One two three four five six seven eight nine zero.",
		"Zero, zero, seven. Nine one one. Four four four.",
		"Enter the security code on the back of your card.",
		"Sorry, I did not get that. Please try again.",
		"The quick brown fox jumps over the lazy dog.",
		"Thank you for calling. Your order {n} will ship in {n1} days.",
	},
	"es": {
		"Por favor, introduzca el número de su tarjeta, seguido de la tecla almohadilla.",
		"Su saldo es de {a} euros.",
		"Pulse {n1} para facturación, pulse {n1} para soporte.",
		"Su número de confirmación es {d}.",
		"Uno dos tres cuatro cinco seis siete ocho nueve cero.",
		"Hemos recibido su pago de {a} euros el día {n2}.",
		"Introduzca el código de seguridad. Gracias por su llamada.",
		"Su pedido {n} llegará en {n1} días.",
	},
	"fr": {
		"Veuillez saisir le numéro de votre carte, suivi de la touche dièse.",
		"Votre solde est de {a} euros.",
		"Tapez {n1} pour la facturation, tapez {n1} pour le service client.",
		"Votre numéro de confirmation est le {d}.",
		"Un deux trois quatre cinq six sept huit neuf zéro.",
		"Nous avons bien reçu votre paiement de {a} euros le {n2} mars.",
		"Merci de votre appel. Votre commande {n} partira dans {n1} jours.",
		"Soixante-dix-sept, quatre-vingt-dix-neuf, quatre-vingt-onze.",
	},
	"de": {
		"Bitte geben Sie Ihre Kartennummer ein, gefolgt von der Rautetaste.",
		"Ihr Kontostand beträgt {a} Euro.",
		"Drücken Sie die {n1} für Rechnungen oder die {n1} für den Kundendienst.",
		"Ihre Bestätigungsnummer lautet {d}.",
		"Eins zwei drei vier fünf sechs sieben acht neun null.",
		"Wir haben Ihre Zahlung von {a} Euro am {n2}. März erhalten.",
		"Vielen Dank für Ihren Anruf. Ihre Bestellung {n} wird in {n1} Tagen versandt.",
		"Siebenundsiebzig, neunundneunzig, einundneunzig.",
	},
}

// fill replaces a phrase's placeholders, each with a new random number.
func fill(p string, rng *rand.Rand) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(p, '{')
		if i < 0 {
			return b.String() + p
		}
		j := strings.IndexByte(p[i:], '}') + i
		b.WriteString(p[:i])
		switch p[i+1 : j] {
		case "n":
			fmt.Fprint(&b, rng.IntN(999999))
		case "n1":
			fmt.Fprint(&b, 1+rng.IntN(9))
		case "n2":
			fmt.Fprint(&b, 1+rng.IntN(30))
		case "d":
			for k := range 6 + rng.IntN(5) {
				if k > 0 {
					b.WriteByte(' ')
				}
				b.WriteByte(byte('0' + rng.IntN(10)))
			}
		case "a":
			fmt.Fprintf(&b, "%d.%02d", rng.IntN(5000), rng.IntN(100))
		case "c":
			fmt.Fprintf(&b, "%04d", rng.IntN(10000))
		}
		p = p[j+1:]
	}
}

// voiceTrack is one speaker's speech: 8 kHz mu-law, utterances joined by
// pauses of 0–400 ms.
type voiceTrack struct {
	name  string
	audio []byte
}

type corpusStats struct {
	seconds      float64       // of speech, pauses included
	renders      int           // espeak-ng runs (utterances)
	renderTime   time.Duration // summed over renders: espeak-ng, resampling, mu-law
	renderedSecs float64       // of rendered audio, pauses excluded
}

var (
	corpusOnce  sync.Once
	corpusData  []voiceTrack
	corpusStat  corpusStats
	corpusError error
)

// corpus renders the speech once per test binary run (both tests below
// share it in memory); it takes seconds. Two speakers render at a time.
func corpus(t *testing.T) ([]voiceTrack, corpusStats) {
	t.Helper()
	bin, how := suites.FindEspeak()
	if bin == "" {
		suites.Need(t, suites.SpeechSuite, how)
	}
	corpusOnce.Do(func() {
		engine := tts.New(tts.Config{Binary: bin})
		tracks := make([]voiceTrack, len(speakers))
		stats := make([]corpusStats, len(speakers))
		errs := make([]error, len(speakers))
		sem := make(chan struct{}, 2)
		var wg sync.WaitGroup
		for i, sp := range speakers {
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				rng := rand.New(rand.NewPCG(uint64(i)+1, 22))
				list := phrases[sp.language[:2]]
				var audio []byte
				for len(audio) < corpusSeconds*8000 {
					text := fill(list[rng.IntN(len(list))], rng) + " " + fill(list[rng.IntN(len(list))], rng)
					start := time.Now()
					a, err := engine.Speak(context.Background(), text, sp.voice, sp.language)
					if err != nil {
						errs[i] = err
						return
					}
					stats[i].renderTime += time.Since(start)
					stats[i].renders++
					stats[i].renderedSecs += float64(len(a)) / 8000
					audio = append(audio, a...)
					audio = append(audio, silence(rng.IntN(401))...)
				}
				tracks[i] = voiceTrack{name: sp.voice + "/" + sp.language, audio: audio}
			})
		}
		wg.Wait()
		for i := range stats {
			if errs[i] != nil && corpusError == nil {
				corpusError = errs[i]
			}
			corpusStat.seconds += float64(len(tracks[i].audio)) / 8000
			corpusStat.renders += stats[i].renders
			corpusStat.renderTime += stats[i].renderTime
			corpusStat.renderedSecs += stats[i].renderedSecs
		}
		corpusData = tracks
	})
	if corpusError != nil {
		t.Fatal(corpusError)
	}
	return corpusData, corpusStat
}

func silence(ms int) []byte {
	b := make([]byte, ms*8)
	for i := range b {
		b[i] = 0xFF
	}
	return b
}

// feed runs mu-law audio through a new detector in 20 ms payloads, as a
// media stream's frames come.
func feed(audio []byte) []dtmf.Key {
	d := dtmf.NewDetector()
	var keys []dtmf.Key
	for len(audio) > 0 {
		n := min(160, len(audio))
		keys = append(keys, d.WriteMulaw(audio[:n])...)
		audio = audio[n:]
	}
	return keys
}

// TestTalkOffSpeech: over ten minutes of speech, no key is detected.
func TestTalkOffSpeech(t *testing.T) {
	tracks, st := corpus(t)
	start := time.Now()
	falseKeys := 0
	clean := 0
	for _, tr := range tracks {
		keys := feed(tr.audio)
		if len(keys) == 0 {
			clean++
		}
		for _, k := range keys {
			falseKeys++
			t.Errorf("%s: false %q at %.2f s", tr.name, k.Digit, float64(k.Offset)/8000)
		}
	}
	detect := time.Since(start)
	hours := st.seconds / 3600
	t.Logf("talk-off: %d false keys in %.1f min of espeak-ng speech, %d voices (%.1f per hour)",
		falseKeys, st.seconds/60, len(tracks), float64(falseKeys)/hours)
	t.Logf("render: %d utterances, %.1f s of speech in %v summed (%.1f ms per second of speech); detector: %.1f ms per minute of audio",
		st.renders, st.renderedSecs, st.renderTime.Round(time.Millisecond),
		float64(st.renderTime.Milliseconds())/st.renderedSecs, float64(detect.Microseconds())/1000/(st.seconds/60))
	fig.Report(t, "dtmf-talkoff-speech", len(tracks), clean,
		fmt.Sprintf("minutes=%.1f false_keys=%d per_hour=%.1f", st.seconds/60, falseKeys, float64(falseKeys)/hours))
}

// activeLevel is the RMS (16-bit scale) of audio's 20 ms frames louder
// than -50 dBm0: speech's level while it speaks, roughly as ITU-T P.56
// measures it.
func activeLevel(s []int16) float64 {
	floor := dtmf.Amplitude(-50) / math.Sqrt2
	var sum float64
	n := 0
	for i := 0; i+160 <= len(s); i += 160 {
		e := 0.0
		for _, v := range s[i : i+160] {
			e += float64(v) * float64(v)
		}
		if math.Sqrt(e/160) > floor {
			sum += e
			n += 160
		}
	}
	return math.Sqrt(sum / float64(max(n, 1)))
}

// TestKeysOverSpeech: keys pressed while someone talks in the background
// are each detected once, with no extra key. Each voice's track is scaled
// to an active speech level of -30 to -20 dBm0 (a voice in the room or on
// the line, below the caller's keypad), and every 1.5–2.5 s a random key of
// 60–150 ms at -10 to -4 dBm0 per component (Q.23 senders: about -6 to -10)
// is added over it, wherever it falls: on words, on digits being spoken, in
// pauses.
func TestKeysOverSpeech(t *testing.T) {
	tracks, _ := corpus(t)
	tried, found := 0, 0
	for i, tr := range tracks {
		rng := rand.New(rand.NewPCG(uint64(i)+100, 24))
		speech := make([]int16, len(tr.audio))
		for j, b := range tr.audio {
			speech[j] = g711.MulawDecode(b)
		}
		level := -30 + 10*rng.Float64()
		gain := dtmf.Amplitude(level) / math.Sqrt2 / activeLevel(speech)
		mix := make([]float64, len(speech))
		for j, v := range speech {
			mix[j] = gain * float64(v)
		}
		type press struct {
			digit byte
			at    int
		}
		var presses []press
		for at := 8000; ; {
			at += 12000 + rng.IntN(8001)
			key := dtmf.Keys[rng.IntN(len(dtmf.Keys))]
			tone := dtmf.Tone(key, 60+rng.IntN(91), -10+6*rng.Float64())
			if at+len(tone)+4000 > len(mix) {
				break
			}
			for j, v := range tone {
				mix[at+j] += float64(v)
			}
			presses = append(presses, press{key, at})
		}
		audio := make([]byte, len(mix))
		for j, v := range mix {
			audio[j] = g711.MulawEncode(int16(max(-32768, min(32767, math.Round(v)))))
		}
		keys := feed(audio)
		tried += len(presses)
		// Each press must be found once, near where it was pressed; any
		// other key is an error.
		used := make([]bool, len(keys))
		for _, p := range presses {
			n := 0
			for j, k := range keys {
				if !used[j] && k.Digit == p.digit && math.Abs(float64(k.Offset-int64(p.at))) < 400 {
					used[j] = true
					n++
				}
			}
			if n == 1 {
				found++
			} else {
				t.Errorf("%s at %.0f dBm0 speech: key %q at %.2f s found %d times", tr.name, level, p.digit, float64(p.at)/8000, n)
			}
		}
		for j, k := range keys {
			if !used[j] {
				t.Errorf("%s at %.0f dBm0 speech: extra key %q at %.2f s", tr.name, level, k.Digit, float64(k.Offset)/8000)
			}
		}
	}
	fig.Report(t, "dtmf-keys-over-speech", tried, found, "")
}
