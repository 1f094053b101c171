// Command tonepay serves Twilio's agent-assisted Payments API.
//
//	tonepay serve    run the server (see `tonepay serve -h`)
//	tonepay demo     a scripted payment, end to end, on a temporary server
//	                 (--ivr: a <Pay> IVR from the caller's side)
//	tonepay call     play the caller against a running server
//	tonepay test     run caller scripts: YAML tests of a voice app (DESIGN §13)
//	tonepay account  print the main account's credentials from the store
//	tonepay processor  a reference Generic Pay Connector processor
//	tonepay version  the binary's module version and VCS revision
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/tonepay/tonepay/cmd/tonepay/internal/bench"
	"github.com/tonepay/tonepay/cmd/tonepay/internal/cliflag"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "tonepay:", err)
		}
		os.Exit(exitCode(err))
	}
}

// exitError is an error with the status main exits with: a command that
// did its work but found something wrong (a call whose app failed) exits
// 1; usage mistakes and every other error exit 2.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func exitCode(err error) int {
	if e := (*exitError)(nil); errors.As(err, &e) {
		return e.code
	}
	return 2
}

const usage = `tonepay serves Twilio's agent-assisted Payments API.

Usage:
  tonepay serve [flags]     run the server; "tonepay serve -h" lists the flags and variables
  tonepay demo [--ivr]      watch a payment go through, end to end, in ten seconds
                            (--ivr: a caller pays a <Pay> IVR by keypad)
  tonepay call ...          play the caller against a running server ("tonepay call -h")
  tonepay mcp               MCP for AI agents over stdio, relayed to a running server ("tonepay mcp -h")
  tonepay test FILES...     run caller scripts (YAML tests of a voice app) as CI tests ("tonepay test -h")
  tonepay account show      print the main account's credentials from the store ("tonepay account -h")
  tonepay processor         a reference Generic Pay Connector processor to try connectors with
  tonepay bench [--json]    measure this machine: tonepay against a bare net/http server
  tonepay version           the module version and VCS revision of this binary

Every command takes -h. Run "go test ./..." in the source tree to test it.
`

const demoUsage = `Usage: tonepay demo [--ivr]

Starts a server on a temporary database and a free loopback port, plays an
agent and a caller through one card payment with the sandbox connector, and
prints each step. It leaves nothing behind.

  --ivr   the self-service flow instead: a small <Pay> IVR (examples/pay)
          runs on loopback, a call is placed to it and a caller types a card
          on the keypad; it prints, in time order, what the caller hears, what
          they type (never the digits) and each webhook the app receives
          (TwiML fetches, statusCallbacks, the action), with its signature
          checked
`

// run is main without the process: tests call it with their own arguments,
// environment and output. Help asked for (-h, --help) is printed on stdout
// and is a success; a usage mistake prints it on stderr and is an error.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return flag.ErrHelp
	}
	help := wantsHelp(args[1:])
	if help {
		stderr = stdout // the flag package writes usage to its output
	}
	err := command(ctx, args, getenv, stdout, stderr, help)
	if help && errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return err
}

func command(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, help bool) error {
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], getenv, stdout, stderr)
	case "demo":
		fl := flag.NewFlagSet("demo", flag.ContinueOnError)
		fl.SetOutput(stderr)
		fl.Usage = func() { fmt.Fprint(stderr, demoUsage) }
		ivr := fl.Bool("ivr", false, "")
		if err := cliflag.Parse(fl, args[1:]); err != nil {
			return err
		}
		if help || fl.NArg() > 0 {
			fl.Usage()
			return flag.ErrHelp
		}
		if *ivr {
			return demoIVR(ctx, stdout)
		}
		return demo(ctx, stdout)
	case "call":
		return callCmd(ctx, args[1:], getenv, stdout, stderr)
	case "mcp":
		return mcpCmd(ctx, args[1:], getenv, stderr)
	case "test":
		return testCmd(ctx, args[1:], getenv, stdout, stderr)
	case "account":
		return accountCmd(ctx, args[1:], getenv, stdout, stderr)
	case "bench":
		exe, err := os.Executable() // the child it measures is this very binary
		if err != nil {
			return err
		}
		return bench.Main(ctx, args[1:], exe, stdout, stderr)
	case "processor":
		return processorCmd(ctx, args[1:], getenv, stderr)
	case "version":
		if help || len(args) > 1 {
			fmt.Fprintln(stderr, "Usage: tonepay version   (prints the module version and VCS revision)")
			return flag.ErrHelp
		}
		fmt.Fprintln(stdout, version())
		return nil
	case "help", "-h", "--help", "-help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

// wantsHelp tells whether a command's arguments ask for its help: -h, -help
// or --help before any "--", or "help" as the first word.
func wantsHelp(args []string) bool {
	for i, a := range args {
		switch {
		case a == "--":
			return false
		case a == "-h" || a == "-help" || a == "--help" || (i == 0 && a == "help"):
			return true
		}
	}
	return false
}

// version is the module's version (v1.2.3, or (devel) for a build in the
// source tree) and, when the build recorded it, the VCS revision and time;
// when it did not, why there is none.
func version() string {
	return versionOf(debug.ReadBuildInfo())
}

// noRevision says why a build has no revision: go build stamps one only in
// a VCS checkout, and go run, go test's binaries and -buildvcs=false (or
// GOFLAGS=-buildvcs=false) never do.
const noRevision = "revision unknown (built without VCS information, e.g. go run or -buildvcs=false)"

func versionOf(bi *debug.BuildInfo, ok bool) string {
	if !ok {
		return "tonepay (no build information)"
	}
	v := "tonepay " + bi.Main.Version
	var rev, at, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = " (modified)"
			}
		}
	}
	if rev == "" {
		return v + " " + bi.GoVersion + "; " + noRevision
	}
	v += " " + rev + dirty
	if at != "" {
		v += " " + at
	}
	return v + " " + bi.GoVersion
}
