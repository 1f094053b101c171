package callerscript

import (
	"fmt"
	"regexp"
	"strings"
)

// Pattern is what an expect step looks for in the words heard: a substring
// (case-insensitive) or a /regular expression/ with optional flags i, m, s.
type Pattern struct {
	Source string // as written
	re     *regexp.Regexp
}

// ParsePattern reads an expect step's text: /re/flags is a regular
// expression (Go's syntax); anything else is a substring matched without
// regard to case.
func ParsePattern(s string) (*Pattern, error) {
	if s == "" {
		return nil, fmt.Errorf("empty text: it would match anything")
	}
	if len(s) >= 2 && s[0] == '/' {
		if end := strings.LastIndexByte(s, '/'); end > 0 {
			expr, flags := s[1:end], s[end+1:]
			if strings.Trim(flags, "ims") == "" && expr != "" {
				if flags != "" {
					expr = "(?" + flags + ")" + expr
				}
				re, err := regexp.Compile(expr)
				if err != nil {
					return nil, fmt.Errorf("%q is not a regular expression: %v", s, err)
				}
				return &Pattern{Source: s, re: re}, nil
			}
		}
	}
	return &Pattern{Source: s, re: regexp.MustCompile("(?i)" + regexp.QuoteMeta(s))}, nil
}

// Find returns where p matches in text: [start, end), or ok false.
func (p *Pattern) Find(text string) (start, end int, ok bool) {
	loc := p.re.FindStringIndex(text)
	if loc == nil {
		return 0, 0, false
	}
	return loc[0], loc[1], true
}

// Transcript is the words a caller heard, in order, and how far expect steps
// have matched: each expect searches after the previous one's match, so the
// rest of an utterance still counts.
type Transcript struct {
	text string
	pos  int
}

// Add appends one utterance (a <Say>'s words, a <Play>'s URL).
func (t *Transcript) Add(words string) {
	words = strings.TrimSpace(words)
	if words == "" {
		return
	}
	if t.text != "" {
		t.text += " "
	}
	t.text += words
}

// Expect looks for p in what was heard since the last match, and moves past
// the match if it finds one.
func (t *Transcript) Expect(p *Pattern) bool {
	_, end, ok := p.Find(t.text[t.pos:])
	if ok {
		t.pos += end
	}
	return ok
}

// Unmatched is what was heard since the last match, its last max bytes at
// most (cut on a word), for a failure's "heard".
func (t *Transcript) Unmatched(max int) string { return lastWords(t.text[t.pos:], max) }

// Last is the last max bytes heard before the last match point (the words
// matched last), for a failure where nothing was heard since.
func (t *Transcript) Last(max int) string {
	done := strings.TrimSpace(t.text[:t.pos])
	if len(done) <= max {
		return done
	}
	return "…" + done[len(done)-max:]
}

// Tail is the last max bytes heard, matched or not (cut on a word), for a
// failure that is not an expect's.
func (t *Transcript) Tail(max int) string { return lastWords(t.text, max) }

// lastWords is text's last max bytes, trimmed and cut on a word, "…" first
// when something was cut.
func lastWords(text string, max int) string {
	text = strings.TrimSpace(text)
	if len(text) <= max {
		return text
	}
	cut := text[len(text)-max:]
	if i := strings.IndexByte(cut, ' '); i >= 0 && i < len(cut)-1 {
		cut = cut[i+1:]
	}
	return "…" + cut
}
