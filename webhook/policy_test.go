package webhook_test

import (
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/tonepay/tonepay/webhook"
)

func TestParsePolicy(t *testing.T) {
	tests := []struct {
		spec    string
		err     string            // a part of the error; "" for none
		allowed []string          // addresses (ip:port) the policy lets through
		refused map[string]string // address -> the reason given
	}{
		{spec: "", // the default
			allowed: []string{"127.0.0.1:80", "[::1]:80", "10.1.2.3:80", "8.8.8.8:443", "[2606:4700::1111]:443", "100.64.0.1:80", "[fd00::1]:80", "0.0.0.0:80"},
			refused: map[string]string{"169.254.169.254:80": "link-local", "[fe80::1]:80": "link-local", "[::ffff:169.254.169.254]:80": "link-local",
				"[64:ff9b::a9fe:a9fe]:80": "link-local", "[fe80::1%eth0]:80": "link-local"}},
		{spec: "public",
			allowed: []string{"8.8.8.8:443", "[2606:4700::1111]:443", "1.1.1.1:80", "[::ffff:8.8.8.8]:80"},
			refused: map[string]string{"127.0.0.1:80": "loopback", "127.9.9.9:80": "loopback", "[::1]:80": "loopback", "0.0.0.0:80": "loopback", "[::]:80": "loopback",
				"[::ffff:127.0.0.1]:80": "loopback", "10.0.0.1:80": "private", "172.16.5.4:80": "private", "192.168.1.1:80": "private",
				"100.64.0.1:80": "private", "100.127.255.255:80": "private", "[fd12::1]:80": "private", "[fc00::1]:80": "private",
				"169.254.169.254:80": "link-local", "[fe80::1]:80": "link-local", "224.0.0.1:80": "multicast", "[ff02::1]:80": "multicast",
				"255.255.255.255:80": "reserved", "192.0.2.1:80": "reserved", "[2001:db8::1]:80": "reserved", "[::10.0.0.1]:80": "reserved",
				"[64:ff9b::7f00:1]:80": "loopback"}},
		{spec: "private, LOOPBACK",
			allowed: []string{"10.0.0.1:80", "[fd00::1]:80", "100.64.0.1:80", "127.0.0.1:80", "[::1]:80", "0.0.0.0:80"},
			refused: map[string]string{"8.8.8.8:80": "public", "169.254.169.254:80": "link-local"}},
		{spec: "10.1.0.0/16,2001:db8:1::/48, 192.0.2.7",
			allowed: []string{"10.1.2.3:80", "[::ffff:10.1.2.3]:80", "[2001:db8:1::5]:443", "192.0.2.7:80"},
			refused: map[string]string{"10.2.0.1:80": "private", "192.0.2.8:80": "reserved", "127.0.0.1:80": "loopback", "8.8.8.8:80": "public"}},
		{spec: "::ffff:10.0.0.0/104", allowed: []string{"10.9.9.9:80"}, refused: map[string]string{"11.0.0.1:80": "public"}},
		{spec: "10.1.2.3/8", allowed: []string{"10.200.0.1:80"}},                                                                  // not masked: taken as 10.0.0.0/8
		{spec: "169.254.0.0/16", allowed: []string{"169.254.169.254:80"}, refused: map[string]string{"127.0.0.1:80": "loopback"}}, // the operator's explicit choice
		{spec: "pubic", err: `"pubic" is not a CIDR, an IP address, or one of public, private, loopback`},
		{spec: "public,,private", err: "an empty entry"},
		{spec: "public,", err: "an empty entry"},
		{spec: "10.0.0.0/33", err: `"10.0.0.0/33" is not a CIDR`},
		{spec: "10.0.0/8", err: `"10.0.0/8" is not a CIDR`},
		{spec: "fe80::1%eth0", err: "is not a CIDR, an IP address"},
		{spec: "all", err: `"all" is not a CIDR`},
		{spec: "10.0.0.0/8 192.168.0.0/16", err: "is not a CIDR"},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			p, err := webhook.ParsePolicy(tt.spec)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ParsePolicy(%q) = %v, want an error containing %q", tt.spec, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParsePolicy(%q): %v", tt.spec, err)
			}
			for _, a := range tt.allowed {
				if err := p.Check(netip.MustParseAddrPort(a)); err != nil {
					t.Errorf("%s: %v, want allowed", a, err)
				}
			}
			for a, reason := range tt.refused {
				var re *webhook.RefusedError
				if err := p.Check(netip.MustParseAddrPort(a)); !errors.As(err, &re) || re.Reason != reason {
					t.Errorf("%s: %v, want refused (%s)", a, err, reason)
				}
			}
		})
	}
}

func TestRefusedErrorText(t *testing.T) {
	err := webhook.DefaultPolicy().Check(netip.MustParseAddrPort("[::ffff:169.254.169.254]:80"))
	if want := "destination 169.254.169.254:80 refused by callback-networks (link-local)"; err == nil || err.Error() != want {
		t.Errorf("got %v, want %q", err, want)
	}
}

// TestDenyListener: an own listener's port is refused on every address of
// this host, and only there.
func TestDenyListener(t *testing.T) {
	for _, l := range []string{"127.0.0.1:8081", "0.0.0.0:8081", "[::]:8081", "[::1]:8081"} {
		p, _ := webhook.ParsePolicy("")
		p.DenyListener(net.TCPAddrFromAddrPort(netip.MustParseAddrPort(l)))
		for _, a := range []string{"127.0.0.1:8081", "127.0.0.2:8081", "0.0.0.0:8081", "[::]:8081", "[::1]:8081", "[::ffff:127.0.0.1]:8081", "[64:ff9b::7f00:1]:8081"} {
			var re *webhook.RefusedError
			if err := p.Check(netip.MustParseAddrPort(a)); !errors.As(err, &re) || re.Reason != "tonepay's own listener" {
				t.Errorf("listener %s: %s: %v, want refused as tonepay's own", l, a, err)
			}
		}
		for _, a := range []string{"127.0.0.1:8082", "8.8.8.8:8081", "10.255.255.1:8081"} {
			if err := p.Check(netip.MustParseAddrPort(a)); err != nil {
				t.Errorf("listener %s: %s: %v, want allowed", l, a, err)
			}
		}
	}
}
