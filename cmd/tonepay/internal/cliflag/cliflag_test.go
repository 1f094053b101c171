package cliflag

import (
	"bytes"
	"errors"
	"flag"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	newSet := func(out *bytes.Buffer) *flag.FlagSet {
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		fs.SetOutput(out)
		fs.String("addr", "", "listen address")
		fs.Usage = func() { out.WriteString("Usage: tonepay serve [flags]\n"); fs.PrintDefaults() }
		return fs
	}
	var out bytes.Buffer
	err := Parse(newSet(&out), []string{"--adr", "x"})
	if err == nil || out.Len() != 0 {
		t.Fatalf("a mistake: err %v, printed %q; want an error and nothing printed", err, out.String())
	}
	if got, want := err.Error(), "flag provided but not defined: -adr\nRun \"tonepay serve -h\" for usage."; got != want {
		t.Errorf("err = %q, want %q", got, want)
	}

	out.Reset()
	if err := Parse(newSet(&out), []string{"-h"}); !errors.Is(err, flag.ErrHelp) || !strings.Contains(out.String(), "Usage: tonepay serve") || !strings.Contains(out.String(), "-addr") {
		t.Errorf("-h: err %v, printed %q", err, out.String())
	}

	out.Reset()
	fs := newSet(&out)
	if err := Parse(fs, []string{"--addr", ":0", "rest"}); err != nil || fs.Lookup("addr").Value.String() != ":0" || fs.NArg() != 1 {
		t.Errorf("good flags: %v %v", err, fs.Args())
	}
}
