package tts

import (
	"slices"
	"strings"
)

// Voices: TwiML's <Say voice language> to an espeak-ng voice.
//
// The language picks espeak-ng's voice for it (languages below; a tag not
// listed falls back to its primary subtag, then to en-us: espeak-ng has
// some 100 languages, so that is only for tags it does not speak). The voice picks
// the variant: female voices get +f3, male ones espeak-ng's default (male).
//
//	voice                      language used                 variant
//	"" / man                   language, else en-US          male
//	woman / alice              language, else en-US          +f3
//	Polly.<Name>[-Neural|...]  language, else the Polly       as the Polly voice (table)
//	                           voice's own
//	Google.<ll-CC>-<Kind>-<X>  language, else ll-CC in        male (Google's letters do not
//	                           the name                      say the gender across languages)
//	anything else              language, else en-US          male
//
// An explicit language attribute wins over a Polly or Google voice's own,
// so that a mismatched pair still speaks the language the app asked for.
var languages = map[string]string{
	"en-us": "en-us", "en-ca": "en-us", "en-gb": "en-gb", "en-au": "en-gb", "en-nz": "en-gb",
	"en-in": "en-gb", "en-ie": "en-gb", "en-za": "en-gb", "en-gb-wls": "en-gb", "en": "en-us",
	"es-es": "es", "es-mx": "es-419", "es-us": "es-419", "es": "es",
	"fr-fr": "fr-fr", "fr-ca": "fr-fr", "fr-be": "fr-be", "fr-ch": "fr-ch", "fr": "fr-fr",
	"de-de": "de", "de-at": "de", "de-ch": "de", "de": "de",
	"it-it": "it", "it": "it",
	"pt-br": "pt-br", "pt-pt": "pt", "pt": "pt",
	"nl-nl": "nl", "nl-be": "nl", "nl": "nl",
	"da-dk": "da", "da": "da", "sv-se": "sv", "sv": "sv", "nb-no": "nb", "no": "nb", "nb": "nb",
	"fi-fi": "fi", "fi": "fi", "is-is": "is", "is": "is",
	"pl-pl": "pl", "pl": "pl", "ru-ru": "ru", "ru": "ru", "tr-tr": "tr", "tr": "tr",
	"ca-es": "ca", "ca": "ca", "ro-ro": "ro", "ro": "ro", "cy-gb": "cy", "cy": "cy",
	"ja-jp": "ja", "ja": "ja", "ko-kr": "ko", "ko": "ko",
	"zh-cn": "cmn", "zh-tw": "cmn", "cmn-cn": "cmn", "zh": "cmn", "zh-hk": "yue", "yue-cn": "yue",
	"hi-in": "hi", "hi": "hi", "ar-ae": "ar", "arb": "ar", "ar": "ar",
}

// sameName are languages whose espeak-ng voice is their primary subtag.
var sameName = strings.Fields("af bg bn cs el et eu ga he hr hu hy id ka lt lv mk ms mt ro sk sl sq sr sw ta te th uk ur vi")

// polly is each Amazon Polly voice Twilio offers: its language, and whether
// it is female.
var polly = map[string]struct {
	lang   string
	female bool
}{
	"joanna": {"en-us", true}, "salli": {"en-us", true}, "kimberly": {"en-us", true},
	"kendra": {"en-us", true}, "ivy": {"en-us", true}, "ruth": {"en-us", true},
	"danielle": {"en-us", true}, "matthew": {"en-us", false}, "joey": {"en-us", false},
	"justin": {"en-us", false}, "kevin": {"en-us", false}, "stephen": {"en-us", false},
	"gregory": {"en-us", false},
	"amy":     {"en-gb", true}, "emma": {"en-gb", true}, "brian": {"en-gb", false}, "arthur": {"en-gb", false},
	"nicole": {"en-au", true}, "olivia": {"en-au", true}, "russell": {"en-au", false},
	"aditi": {"en-in", true}, "raveena": {"en-in", true}, "kajal": {"en-in", true},
	"geraint":  {"en-gb-wls", false},
	"conchita": {"es-es", true}, "lucia": {"es-es", true}, "enrique": {"es-es", false},
	"sergio": {"es-es", false}, "mia": {"es-mx", true}, "andres": {"es-mx", false},
	"lupe": {"es-us", true}, "penelope": {"es-us", true}, "miguel": {"es-us", false}, "pedro": {"es-us", false},
	"celine": {"fr-fr", true}, "céline": {"fr-fr", true}, "lea": {"fr-fr", true}, "léa": {"fr-fr", true},
	"mathieu": {"fr-fr", false}, "remi": {"fr-fr", false}, "rémi": {"fr-fr", false},
	"chantal": {"fr-ca", true}, "gabrielle": {"fr-ca", true}, "liam": {"fr-ca", false},
	"marlene": {"de-de", true}, "vicki": {"de-de", true}, "hans": {"de-de", false}, "daniel": {"de-de", false},
	"carla": {"it-it", true}, "bianca": {"it-it", true}, "giorgio": {"it-it", false}, "adriano": {"it-it", false},
	"camila": {"pt-br", true}, "vitoria": {"pt-br", true}, "ricardo": {"pt-br", false}, "thiago": {"pt-br", false},
	"ines": {"pt-pt", true}, "cristiano": {"pt-pt", false},
	"lotte": {"nl-nl", true}, "laura": {"nl-nl", true}, "ruben": {"nl-nl", false},
	"naja": {"da-dk", true}, "sofie": {"da-dk", true}, "mads": {"da-dk", false},
	"astrid": {"sv-se", true}, "elin": {"sv-se", true}, "liv": {"nb-no", true}, "ida": {"nb-no", true},
	"suvi": {"fi-fi", true}, "dora": {"is-is", true}, "karl": {"is-is", false},
	"ewa": {"pl-pl", true}, "maja": {"pl-pl", true}, "ola": {"pl-pl", true},
	"jacek": {"pl-pl", false}, "jan": {"pl-pl", false},
	"tatyana": {"ru-ru", true}, "maxim": {"ru-ru", false}, "filiz": {"tr-tr", true},
	"carmen": {"ro-ro", true}, "gwyneth": {"cy-gb", true},
	"mizuki": {"ja-jp", true}, "kazuha": {"ja-jp", true}, "tomoko": {"ja-jp", true}, "takumi": {"ja-jp", false},
	"seoyeon": {"ko-kr", true}, "zhiyu": {"cmn-cn", true}, "hiujin": {"yue-cn", true},
	"zeina": {"arb", true}, "hala": {"ar-ae", true}, "zayd": {"ar-ae", false},
}

// female is espeak-ng's variant for a female voice.
const female = "+f3"

// espeakVoice returns the espeak-ng voice (-v) for TwiML's voice and
// language attributes.
func espeakVoice(voice, language string) string {
	lang := strings.ToLower(strings.TrimSpace(language))
	v := strings.ToLower(strings.TrimSpace(voice))
	isFemale := false
	switch {
	case v == "woman" || v == "alice":
		isFemale = true
	case strings.HasPrefix(v, "polly."):
		name, _, _ := strings.Cut(v[len("polly."):], "-") // Joanna-Neural, -Generative
		if p, ok := polly[name]; ok {
			isFemale = p.female
			if lang == "" {
				lang = p.lang
			}
		}
	case strings.HasPrefix(v, "google.") && lang == "":
		// Google.en-US-Standard-C, Google.cmn-CN-Wavenet-A: ll-CC leads.
		parts := strings.SplitN(v[len("google."):], "-", 3)
		if len(parts) >= 2 {
			lang = parts[0] + "-" + parts[1]
		}
	}
	ev := espeakLanguage(lang)
	if isFemale {
		return ev + female
	}
	return ev
}

// espeakLanguage returns espeak-ng's voice for a BCP 47 tag: the tag, else
// its primary subtag, else en-us (Twilio's default language).
func espeakLanguage(lang string) string {
	if lang == "" {
		return "en-us"
	}
	lang = strings.ReplaceAll(lang, "_", "-")
	if ev, ok := languages[lang]; ok {
		return ev
	}
	primary, _, _ := strings.Cut(lang, "-")
	if ev, ok := languages[primary]; ok {
		return ev
	}
	if slices.Contains(sameName, primary) {
		return primary
	}
	return "en-us"
}
