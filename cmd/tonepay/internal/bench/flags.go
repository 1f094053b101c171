package bench

import (
	"flag"
	"fmt"
)

// hidden are flags --help leaves out: for tests.
var hidden = map[string]bool{"grow-rows": true}

// usage prints the bench's flags as flag.PrintDefaults does, hidden ones
// left out.
func usage(fs *flag.FlagSet) {
	shown := flag.NewFlagSet(fs.Name(), flag.ContinueOnError)
	shown.SetOutput(fs.Output())
	fs.VisitAll(func(f *flag.Flag) {
		if !hidden[f.Name] {
			shown.Var(f.Value, f.Name, f.Usage)
			shown.Lookup(f.Name).DefValue = f.DefValue
		}
	})
	fmt.Fprintf(fs.Output(), "Usage of %s:\n", fs.Name())
	shown.PrintDefaults()
}
