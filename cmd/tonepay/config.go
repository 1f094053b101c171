package main

import (
	"errors"
	"fmt"
	"github.com/tonepay/tonepay/sip"
	"maps"
	"net/netip"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/tonepay/tonepay"
	"github.com/tonepay/tonepay/connector/generic"
	"github.com/tonepay/tonepay/connector/sandbox"
	"github.com/tonepay/tonepay/connector/stripe"
	"github.com/tonepay/tonepay/payments"
)

// factories are the connector types a config file may name. The map is built
// here, explicitly, rather than by packages registering themselves.
var factories = map[string]tonepay.ConnectorFactory{
	"sandbox": newSandbox,
	"generic": generic.New,
	"stripe":  stripe.New,
}

// settingKeys are the settings each type reads (a secret one is written
// NAME_env): any other is a typo that would silently not apply.
var settingKeys = map[string][]string{
	"sandbox": nil,
	"generic": generic.SettingKeys,
	"stripe":  stripe.SettingKeys,
}

func newSandbox(cfg tonepay.ConnectorConfig) (tonepay.Connector, error) {
	if cfg.Mode != tonepay.ModeTest {
		return nil, errors.New("the sandbox has only a test mode")
	}
	return sandbox.New(), nil
}

// secretSettings may not be written into the file: they come from the
// environment variable that NAME_env names, so that the file can be shared
// and committed.
var secretSettings = []string{"password", "secret_key", "api_key", "token"}

// configFile is the shape of the config file:
//
//	[[connector]]
//	name = "Acme"
//	type = "generic"          # sandbox, generic or stripe
//	mode = "test"             # test (default) or live
//	accounts = ["AC…"]        # optional: who may use it; default everyone
//	[connector.settings]
//	url = "https://pay.example.com/twilio"
//	username = "twilio"
//	password_env = "ACME_PASSWORD"
//
//	[[twilio]]                           # a Twilio account whose calls stream here (DESIGN §11)
//	account_sid = "AC…"
//	auth_token_env = "TWILIO_AUTH_TOKEN" # the variable holding its auth token
//	account = "AC…"                      # the tonepay account of its calls; default the main account
//
//	[[sip.trunk]]                        # a SIP trunk whose calls tonepay answers (DESIGN §11)
//	name = "pbx"
//	networks = ["127.0.0.0/8"]           # source addresses whose INVITEs are accepted
//	account = "AC…"                      # default the main account
//	agent = "sip:agents@127.0.0.1:5070"  # where a call without an app is bridged
//	codecs = ["PCMU", "PCMA"]            # the default
type configFile struct {
	Connector []struct {
		Name     string         `toml:"name"`
		Type     string         `toml:"type"`
		Mode     string         `toml:"mode"`
		Accounts []string       `toml:"accounts"`
		Settings map[string]any `toml:"settings"`
	} `toml:"connector"`
	Twilio []struct {
		AccountSid   string `toml:"account_sid"`
		AuthTokenEnv string `toml:"auth_token_env"`
		Account      string `toml:"account"`
	} `toml:"twilio"`
	SIP struct {
		Trunk []struct {
			Name     string   `toml:"name"`
			Networks []string `toml:"networks"`
			Account  string   `toml:"account"`
			Agent    string   `toml:"agent"`
			Codecs   []string `toml:"codecs"`
		} `toml:"trunk"`
	} `toml:"sip"`
}

// twilioLink is a [[twilio]] entry read: Account "" is the main account,
// and is checked against the store once it is open (linkAccounts).
type twilioLink struct {
	AccountSid string
	AuthToken  tonepay.Secret
	Account    string
	where      string // for start-up errors: the file and the entry
}

// fileConfig is what the config file declares.
type fileConfig struct {
	Connectors tonepay.Connectors // with no [[connector]]: the sandbox as Default
	Twilio     []twilioLink
	Trunks     []sipTrunk
}

// sipTrunk is a [[sip.trunk]] read; its Account "" is the main account,
// resolved once the store is open (trunkAccounts).
type sipTrunk struct {
	sip.Trunk
	where string
}

// loadConnectors reads the config file's connectors (loadConfig).
func loadConnectors(path string, getenv func(string) string) (tonepay.Connectors, error) {
	fc, err := loadConfig(path, getenv)
	if err != nil {
		return nil, err
	}
	return fc.Connectors, nil
}

// loadConfig reads the config file, makes each connector and reads each
// Twilio link. Errors name the file and the line or the key at fault, never
// a secret.
func loadConfig(path string, getenv func(string) string) (*fileConfig, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f configFile
	md, err := toml.Decode(string(b), &f)
	var perr toml.ParseError
	if errors.As(err, &perr) {
		return nil, fmt.Errorf("%s:%d: %s", path, perr.Position.Line, perr.Message)
	} else if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if keys := md.Undecoded(); len(keys) > 0 {
		if len(keys[0]) > 0 && keys[0][0] == "sip" {
			return nil, fmt.Errorf("%s: unknown key %s (a [[sip.trunk]] has name, networks, account, agent and codecs)", path, keys[0])
		}
		if len(keys[0]) > 0 && keys[0][0] == "twilio" {
			return nil, fmt.Errorf("%s: unknown key %s (a [[twilio]] link has account_sid, auth_token_env and account)", path, keys[0])
		}
		return nil, fmt.Errorf("%s: unknown key %s (a connector has name, type, mode, accounts and settings)", path, keys[0])
	}
	if len(f.Connector) == 0 && len(f.Twilio) == 0 && len(f.SIP.Trunk) == 0 {
		return nil, fmt.Errorf("%s: no [[connector]], [[twilio]] or [[sip.trunk]] declared", path)
	}
	fc := &fileConfig{}
	names := map[string]bool{}
	for i, tr := range f.SIP.Trunk {
		where := fmt.Sprintf("%s: [[sip.trunk]] %d", path, i+1)
		t := sipTrunk{Trunk: sip.Trunk{Name: tr.Name, Account: tr.Account, Agent: tr.Agent, Codecs: tr.Codecs}, where: where}
		switch {
		case tr.Name == "":
			return nil, fmt.Errorf("%s: name is required", where)
		case names[tr.Name]:
			return nil, fmt.Errorf("%s: name %q is declared twice", where, tr.Name)
		case len(tr.Networks) == 0:
			return nil, fmt.Errorf("%s: networks is required: the CIDRs whose INVITEs are accepted", where)
		case tr.Account != "" && !tonepay.IsSID(tr.Account, tonepay.PrefixAccount):
			return nil, fmt.Errorf("%s: account %q is not an Account SID", where, tr.Account)
		case tr.Agent != "" && !strings.HasPrefix(tr.Agent, "sip:"):
			return nil, fmt.Errorf("%s: agent %q is not a sip: URI", where, tr.Agent)
		}
		names[tr.Name] = true
		for _, n := range tr.Networks {
			p, err := netip.ParsePrefix(n)
			if err != nil {
				return nil, fmt.Errorf("%s: networks: %q is not a CIDR (like 10.0.0.0/8)", where, n)
			}
			t.Networks = append(t.Networks, p.Masked())
		}
		if len(t.Codecs) == 0 {
			t.Codecs = []string{"PCMU", "PCMA"}
		}
		for j, c := range t.Codecs {
			t.Codecs[j] = strings.ToUpper(c)
			if t.Codecs[j] != "PCMU" && t.Codecs[j] != "PCMA" {
				return nil, fmt.Errorf("%s: codecs: %q is not PCMU or PCMA", where, c)
			}
		}
		fc.Trunks = append(fc.Trunks, t)
	}
	seen := map[string]bool{}
	for i, tw := range f.Twilio {
		where := fmt.Sprintf("%s: [[twilio]] %d", path, i+1)
		switch {
		case !tonepay.IsSID(tw.AccountSid, tonepay.PrefixAccount):
			return nil, fmt.Errorf("%s: account_sid %q is not a Twilio Account SID (AC and 32 hex digits)", where, tw.AccountSid)
		case seen[tw.AccountSid]:
			return nil, fmt.Errorf("%s: account_sid %s is linked twice", where, tw.AccountSid)
		case tw.AuthTokenEnv == "":
			return nil, fmt.Errorf("%s: auth_token_env is required: the environment variable holding the Twilio account's auth token", where)
		case tw.Account != "" && !tonepay.IsSID(tw.Account, tonepay.PrefixAccount):
			return nil, fmt.Errorf("%s: account %q is not an Account SID", where, tw.Account)
		}
		tok := getenv(tw.AuthTokenEnv)
		if tok == "" {
			return nil, fmt.Errorf("%s: auth_token_env names the environment variable %s, which is not set", where, tw.AuthTokenEnv)
		}
		seen[tw.AccountSid] = true
		fc.Twilio = append(fc.Twilio, twilioLink{AccountSid: tw.AccountSid, AuthToken: tonepay.NewSecret(tok), Account: tw.Account, where: where})
	}
	if len(f.Connector) == 0 {
		fc.Connectors = tonepay.Connectors{tonepay.DefaultConnector: sandbox.New()}
		return fc, nil
	}
	out := tonepay.Connectors{}
	for i, c := range f.Connector {
		where := fmt.Sprintf("%s: connector %d", path, i+1)
		if c.Name != "" {
			where += fmt.Sprintf(" (%q)", c.Name)
		}
		cfg := tonepay.ConnectorConfig{Name: c.Name, Type: c.Type, Mode: c.Mode, Settings: map[string]string{}}
		if cfg.Mode == "" {
			cfg.Mode = tonepay.ModeTest // as Twilio's connectors start
		}
		factory, known := factories[c.Type]
		switch {
		case c.Name == "":
			return nil, fmt.Errorf("%s: name is required", where)
		case out[c.Name] != nil:
			return nil, fmt.Errorf("%s: name %q is used twice", where, c.Name)
		case !known:
			return nil, fmt.Errorf("%s: type %q is not one of %s", where, c.Type, strings.Join(typeNames(), ", "))
		case cfg.Mode != tonepay.ModeTest && cfg.Mode != tonepay.ModeLive:
			return nil, fmt.Errorf("%s: mode %q is not test or live", where, c.Mode)
		}
		for _, a := range c.Accounts {
			if !tonepay.IsSID(a, tonepay.PrefixAccount) {
				return nil, fmt.Errorf("%s: accounts: %q is not an Account SID", where, a)
			}
		}
		for _, k := range slices.Sorted(maps.Keys(c.Settings)) { // the first mistake, the same every time
			v := c.Settings[k]
			if name := strings.TrimSuffix(k, "_env"); !slices.Contains(settingKeys[c.Type], name) {
				return nil, unknownSetting(path, string(b), where, c.Type, k, settingKeys[c.Type])
			}
			s, ok := v.(string)
			if !ok {
				s = fmt.Sprint(v)
				if _, isMap := v.(map[string]any); isMap {
					return nil, fmt.Errorf("%s: settings.%s must be a single value", where, k)
				}
			}
			name, fromEnv := strings.CutSuffix(k, "_env")
			switch {
			case fromEnv:
				if s = getenv(s); s == "" {
					return nil, fmt.Errorf("%s: settings.%s names the environment variable %s, which is not set", where, k, fmt.Sprint(v))
				}
			case slices.Contains(secretSettings, k):
				return nil, fmt.Errorf("%s: settings.%s is a secret: put it in an environment variable and write %s_env = \"VARIABLE\"", where, k, k)
			}
			cfg.Settings[name] = s
		}
		conn, err := factory(cfg)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", where, err)
		}
		if len(c.Accounts) > 0 {
			conn = payments.LimitTo(conn, c.Accounts)
		}
		out[c.Name] = conn
	}
	fc.Connectors = out
	return fc, nil
}

// unknownSetting names the file's line of the key, the keys the type knows
// and the closest of them.
func unknownSetting(path, text, where, typ, key string, known []string) error {
	at := path
	// The decoder keeps no positions: the line is the first that sets key
	// inside a settings table (good enough to point at; the text says which).
	in := false
	for i, line := range strings.Split(text, "\n") {
		l := strings.TrimSpace(line)
		if strings.HasPrefix(l, "[") {
			in = strings.HasSuffix(strings.TrimSpace(strings.SplitN(l, "#", 2)[0]), "settings]")
			continue
		}
		if k, _, ok := strings.Cut(l, "="); ok && in && strings.Trim(strings.TrimSpace(k), `"'`) == key {
			at = fmt.Sprintf("%s:%d", path, i+1)
			break
		}
	}
	msg := fmt.Sprintf("%s: %s: unknown setting %q for a %s connector", at, strings.TrimPrefix(where, path+": "), key, typ)
	if len(known) == 0 {
		return errors.New(msg + ", which has no settings")
	}
	if best := closest(strings.TrimSuffix(key, "_env"), known); best != "" {
		if strings.HasSuffix(key, "_env") || slices.Contains(secretSettings, best) {
			best += "_env"
		}
		msg += fmt.Sprintf(" (did you mean %q?)", best)
	}
	return fmt.Errorf("%s; it knows %s", msg, strings.Join(known, ", "))
}

// closest is the known word within a third of key's length in edits, if any.
func closest(key string, known []string) string {
	best, bestD := "", len(key)/3+1
	for _, k := range known {
		if d := editDistance(key, k); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

// editDistance is Levenshtein's, on bytes (setting names are ASCII).
func editDistance(a, b string) int {
	prev, cur := make([]int, len(b)+1), make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func typeNames() []string {
	var names []string
	for n := range factories {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
