package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/tonepay/tonepay/accounts"
	"github.com/tonepay/tonepay/cmd/tonepay/internal/cliflag"
	"github.com/tonepay/tonepay/seal"
)

const accountUsage = `Usage:
  tonepay account show [--db PATH]   print the main account's SID and auth token

It reads the store that "tonepay serve" uses: --db (TONEPAY_DB, default
tonepay.db), with its data key (TONEPAY_DATA_KEY, else the PATH.key file).
It creates nothing: a missing database or key file is an error.
`

// accountCmd is `tonepay account …`: the operator gets the main account's
// credentials back from the store, which keeps the token sealed with the data
// key. Whoever can read the database and its key can sign in anyway; this
// only saves them the trouble.
func accountCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("account", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, accountUsage) }
	cfg := defaultServeConfig()
	if v := getenv("TONEPAY_DB"); v != "" {
		cfg.DB = v
	}
	cfg.DataKey = getenv("TONEPAY_DATA_KEY")
	fs.StringVar(&cfg.DB, "db", cfg.DB, "SQLite file path, or a postgres:// URL (TONEPAY_DB)")
	if len(args) == 0 || args[0] == "help" {
		fs.Usage()
		return flag.ErrHelp
	}
	if args[0] != "show" {
		if err := cliflag.Parse(fs, args); err != nil {
			return err // -h and --help
		}
		fs.Usage()
		return fmt.Errorf("account: unknown command %q; the only one is show", args[0])
	}
	if err := cliflag.Parse(fs, args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	key, err := accountDataKey(cfg)
	if err != nil {
		return err
	}
	box, err := seal.New(key)
	if err != nil {
		return err
	}
	store, err := openStore(ctx, cfg, box)
	if err != nil {
		return err
	}
	defer store.Close()
	mains, err := accounts.New(store).MainAccounts(ctx)
	if err != nil {
		return err
	}
	if len(mains) == 0 {
		return errors.New("the store has no account yet: \"tonepay serve\" creates one on its first start")
	}
	for i, a := range mains {
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		fmt.Fprintf(stdout, "# %s (%s)\nTONEPAY_ACCOUNT_SID=%s\nTONEPAY_AUTH_TOKEN=%s\n", a.FriendlyName, a.Status, a.Sid, a.AuthToken.Reveal())
	}
	return nil
}

// accountDataKey is the serve's data key, read only: account show never
// makes a key, which would not open the tokens anyway.
func accountDataKey(cfg serveConfig) ([]byte, error) {
	if cfg.DataKey != "" {
		return decodeDataKey(cfg.DataKey)
	}
	if isPostgres(cfg.DB) {
		return nil, errors.New("TONEPAY_DATA_KEY is required with PostgreSQL: the one the servers use")
	}
	if _, err := os.Stat(cfg.DB); err != nil {
		return nil, fmt.Errorf("no database at %s (give the --db that serve uses): %w", cfg.DB, err)
	}
	k, err := readKeyFile(cfg.DB + ".key")
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("no data key: %s.key does not exist and TONEPAY_DATA_KEY is not set", cfg.DB)
	}
	return k, err
}
