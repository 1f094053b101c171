package main

import (
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
