// Package cliflag parses a tonepay command's flags so that every command
// reports a mistake the same way: the error once, and one line saying where
// the help is. The flag package alone prints the error, then the command's
// whole usage (some fifty lines for serve), and main printed the error
// again under it: the mistake scrolled out of sight.
package cliflag

import (
	"errors"
	"flag"
	"fmt"
	"io"
)

// Parse is fs.Parse(args) for the command "tonepay NAME", NAME being fs's
// name. -h and --help print fs's usage (to its output) and return
// flag.ErrHelp, as fs.Parse does. A mistake prints nothing: the error it
// returns says what was wrong and, on a line of its own, to run
// "tonepay NAME -h".
func Parse(fs *flag.FlagSet, args []string) error {
	out, usage := fs.Output(), fs.Usage // flag.NewFlagSet sets a default Usage
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	err := fs.Parse(args)
	fs.SetOutput(out)
	fs.Usage = usage
	switch {
	case errors.Is(err, flag.ErrHelp):
		usage()
		return err
	case err != nil:
		return Mistake(fs.Name(), err)
	}
	return nil
}

// Mistake is err, a mistake on the command line of "tonepay name", with
// the line that says where the help is.
func Mistake(name string, err error) error {
	//lint:ignore ST1005 printed to a person as its own sentence, after the flag error
	return fmt.Errorf("%w\nRun \"tonepay %s -h\" for usage.", err, name)
}
