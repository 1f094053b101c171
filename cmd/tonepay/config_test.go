package main

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tonepay/tonepay"
)

func TestLoadConnectors(t *testing.T) {
	env := func(k string) string {
		return map[string]string{"ACME_PASSWORD": "hunter2", "EMPTY": ""}[k]
	}
	const acme = `
[[connector]]
name = "Acme"
type = "generic"
mode = "live"
accounts = ["AC0123456789abcdef0123456789abcdef"]
[connector.settings]
url = "https://pay.example.com/twilio"
username = "twilio"
password_env = "ACME_PASSWORD"
retries = 3
`
	tests := []struct {
		name    string
		file    string
		wantErr string
		check   func(t *testing.T, c tonepay.Connectors)
	}{
		{"sandbox and generic", `
[[connector]]
name = "Default"
type = "sandbox"
` + acme, "", func(t *testing.T, c tonepay.Connectors) {
			if len(c) != 2 || c["Default"].Capabilities().Mode != "test" || c["Acme"].Capabilities().Mode != "live" {
				t.Errorf("connectors %v", c)
			}
			l, ok := c["Acme"].(tonepay.AccountLimiter)
			if !ok || !l.Allows("AC0123456789abcdef0123456789abcdef", "") || l.Allows("ACffffffffffffffffffffffffffffffff", "ACffffffffffffffffffffffffffffffff") ||
				!l.Allows("ACffffffffffffffffffffffffffffffff", "AC0123456789abcdef0123456789abcdef") {
				t.Error("the account allow-list is not applied (subaccounts of a listed account are allowed)")
			}
		}},
		{"syntax error names the line", "[[connector]]\nname = \"x\"\ntype = generic\n", "c.toml:3:", nil},
		{"unknown key", "[[connector]]\nname = \"x\"\ntype = \"sandbox\"\nmdoe = \"test\"\n", "unknown key connector.mdoe", nil},
		{"no connectors", "# empty\n", "no [[connector]]", nil},
		{"no name", "[[connector]]\ntype = \"sandbox\"\n", "connector 1: name is required", nil},
		{"same name twice", "[[connector]]\nname = \"A\"\ntype = \"sandbox\"\n[[connector]]\nname = \"A\"\ntype = \"sandbox\"\n", `connector 2 ("A"): name "A" is used twice`, nil},
		{"unknown type", "[[connector]]\nname = \"A\"\ntype = \"paypal\"\n", `type "paypal" is not one of`, nil},
		{"bad mode", "[[connector]]\nname = \"A\"\ntype = \"sandbox\"\nmode = \"prod\"\n", `mode "prod"`, nil},
		{"sandbox live", "[[connector]]\nname = \"A\"\ntype = \"sandbox\"\nmode = \"live\"\n", "only a test mode", nil},
		{"bad account", "[[connector]]\nname = \"A\"\ntype = \"sandbox\"\naccounts = [\"bob\"]\n", `accounts: "bob"`, nil},
		{"secret written inline", strings.Replace(acme, `password_env = "ACME_PASSWORD"`, `password = "hunter2"`, 1), "settings.password is a secret", nil},
		{"secret variable not set", strings.Replace(acme, `"ACME_PASSWORD"`, `"EMPTY"`, 1), "names the environment variable EMPTY, which is not set", nil},
		{"misspelt setting names its line and the close match", strings.Replace(acme, "retries = 3", "timout = \"5s\"", 1),
			`c.toml:11: connector 1 ("Acme"): unknown setting "timout" for a generic connector (did you mean "timeout"?)`, nil},
		{"misspelt currencies", acme + "curencies = \"USD\"\n", `unknown setting "curencies" for a generic connector (did you mean "currencies"?)`, nil},
		{"misspelt secret suggests its _env", strings.Replace(acme, "password_env", "pasword_env", 1), `(did you mean "password_env"?)`, nil},
		{"unrelated setting lists the known ones", acme + "colour = \"blue\"\n", `unknown setting "colour" for a generic connector; it knows url, username`, nil},
		{"stripe setting", "[[connector]]\nname = \"S\"\ntype = \"stripe\"\n[connector.settings]\nsecret_key_env = \"K\"\napi_ulr = \"http://127.0.0.1:1\"\n",
			`c.toml:6: connector 1 ("S"): unknown setting "api_ulr" for a stripe connector (did you mean "api_url"?)`, nil},
		{"sandbox has no settings", "[[connector]]\nname = \"D\"\ntype = \"sandbox\"\n[connector.settings]\nlimit = 3\n", `unknown setting "limit" for a sandbox connector, which has no settings`, nil},
		{"connector's own check", strings.Replace(acme, `url = "https://pay.example.com/twilio"`, `url = "http://pay.example.com"`, 1), `connector 1 ("Acme"): settings.url must be https`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.toml")
			os.WriteFile(path, []byte(tt.file), 0o600)
			c, err := loadConnectors(path, env)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "hunter2") {
					t.Errorf("the error shows a secret: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

// TestLoadTwilioLinks: [[twilio]] links beside or instead of connectors; a
// file with links only keeps the Default sandbox. Mistakes stop start-up
// with one line naming the entry, never the token.
func TestLoadTwilioLinks(t *testing.T) {
	const tw = "AC0123456789abcdef0123456789abcdef"
	env := func(k string) string { return map[string]string{"TW_TOKEN": "sekrit-token"}[k] }
	link := "[[twilio]]\naccount_sid = \"" + tw + "\"\nauth_token_env = \"TW_TOKEN\"\n"
	tests := []struct {
		name, file, wantErr string
	}{
		{"links only keep the sandbox", link, ""},
		{"beside a connector", "[[connector]]\nname = \"Default\"\ntype = \"sandbox\"\n" + link, ""},
		{"unknown key", link + "acount = \"" + tw + "\"\n", "unknown key twilio.acount (a [[twilio]] link has account_sid, auth_token_env and account)"},
		{"variable not set", strings.Replace(link, "TW_TOKEN", "NOPE", 1), "[[twilio]] 1: auth_token_env names the environment variable NOPE, which is not set"},
		{"no variable", "[[twilio]]\naccount_sid = \"" + tw + "\"\n", "[[twilio]] 1: auth_token_env is required"},
		{"bad account_sid", strings.Replace(link, tw, "AC1", 1), `account_sid "AC1" is not a Twilio Account SID`},
		{"bad account", link + "account = \"bob\"\n", `account "bob" is not an Account SID`},
		{"linked twice", link + link, "[[twilio]] 2: account_sid " + tw + " is linked twice"},
		{"empty file", "# nothing\n", "no [[connector]], [[twilio]] or [[sip.trunk]] declared"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.toml")
			os.WriteFile(path, []byte(tt.file), 0o600)
			fc, err := loadConfig(path, env)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("err = %v, want one line containing %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "sekrit") {
					t.Errorf("the error shows the token: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(fc.Twilio) != 1 || fc.Twilio[0].AccountSid != tw || fc.Twilio[0].AuthToken.Reveal() != "sekrit-token" || fc.Connectors[tonepay.DefaultConnector] == nil {
				t.Errorf("links %+v, connectors %v", fc.Twilio, fc.Connectors)
			}
		})
	}
}

// TestLoadSIPTrunks: [[sip.trunk]] entries, their defaults, and each bad
// value stopping start-up with one line.
func TestLoadSIPTrunks(t *testing.T) {
	trunk := "[[sip.trunk]]\nname = \"pbx\"\nnetworks = [\"127.0.0.1/8\"]\n"
	for _, tt := range []struct{ name, file, wantErr string }{
		{"defaults", trunk, ""},
		{"unknown key", trunk + "codec = [\"PCMU\"]\n", "unknown key sip.trunk.codec (a [[sip.trunk]] has name, networks, account, agent and codecs)"},
		{"no name", "[[sip.trunk]]\nnetworks = [\"10.0.0.0/8\"]\n", "[[sip.trunk]] 1: name is required"},
		{"no networks", "[[sip.trunk]]\nname = \"pbx\"\n", "networks is required"},
		{"bad network", strings.Replace(trunk, "127.0.0.1/8", "10.0.0.300/8", 1), `networks: "10.0.0.300/8" is not a CIDR`},
		{"bad codec", trunk + "codecs = [\"G722\"]\n", `codecs: "G722" is not PCMU or PCMA`},
		{"bad agent", trunk + "agent = \"agents@pbx\"\n", `agent "agents@pbx" is not a sip: URI`},
		{"bad account", trunk + "account = \"bob\"\n", `account "bob" is not an Account SID`},
		{"twice", trunk + trunk, `[[sip.trunk]] 2: name "pbx" is declared twice`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.toml")
			os.WriteFile(path, []byte(tt.file), 0o600)
			fc, err := loadConfig(path, func(string) string { return "" })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("err = %v, want one line containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tr := fc.Trunks[0]
			if len(fc.Trunks) != 1 || tr.Name != "pbx" || tr.Networks[0].String() != "127.0.0.0/8" || strings.Join(tr.Codecs, ",") != "PCMU,PCMA" || tr.Account != "" {
				t.Errorf("trunks %+v", fc.Trunks)
			}
		})
	}
}

// TestTwilioLinkAccountMustExist: a link to a tonepay account the store
// does not have stops start-up with one line; with none named, the main
// account owns the calls.
func TestTwilioLinkAccountMustExist(t *testing.T) {
	const tw = "AC0123456789abcdef0123456789abcdef"
	missing := tonepay.NewSID("AC")
	for _, tt := range []struct{ name, account, wantErr string }{
		{"missing account", missing, "[[twilio]] 1: account " + missing + " does not exist in the store"},
		{"the main account by default", "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			conf := filepath.Join(dir, "c.toml")
			text := "[[twilio]]\naccount_sid = \"" + tw + "\"\nauth_token_env = \"TW\"\n"
			if tt.account != "" {
				text += "account = \"" + tt.account + "\"\n"
			}
			os.WriteFile(conf, []byte(text), 0o600)
			cfg := defaultServeConfig()
			cfg.Addr, cfg.DB, cfg.Config = "127.0.0.1:0", filepath.Join(dir, "s.db"), conf
			cfg.AccountSid, cfg.AuthToken = tonepay.NewSID("AC"), "maintoken1"
			s, err := buildServer(t.Context(), cfg, func(k string) string { return map[string]string{"TW": "tok"}[k] }, io.Discard, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer s.close(false)
			if len(s.streams.Links) != 1 || s.streams.Links[0].Account != cfg.AccountSid {
				t.Errorf("links %+v, want the main account %s", s.streams.Links, cfg.AccountSid)
			}
		})
	}
}
