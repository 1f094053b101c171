package webhook

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// Policy says which destinations webhook requests (status callbacks, and
// TwiML fetches later) may reach. A tenant chooses the URL; without a policy
// it could make tonepay post to the cloud's metadata service, to tonepay's
// own API or its pprof port, or probe the operator's internal network.
//
// The check is made on each address the dialer is about to connect to, after
// name resolution (see NewClient), so that a hostname that resolves to a
// refused address, at first or later (DNS rebinding), is refused too.
//
// A Policy is safe for concurrent use; DenyListener may be called while
// requests are under way.
type Policy struct {
	spec  string
	all   bool // the default: every address but link-local
	words map[string]bool
	nets  []netip.Prefix

	mu    sync.RWMutex
	ports map[uint16]bool // of tonepay's own listeners

	localMu  sync.Mutex
	local    map[netip.Addr]bool // this host's interface addresses
	localAge time.Time
}

// The classes of address a policy names with a word. Every address is in
// exactly one class (see Class).
const (
	// ClassPublic: globally routable unicast, that is everything not below.
	ClassPublic = "public"
	// ClassPrivate: 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, carrier-grade
	// NAT 100.64.0.0/10, IPv6 unique-local fc00::/7, deprecated site-local
	// fec0::/10, and local-use NAT64 64:ff9b:1::/48.
	ClassPrivate = "private"
	// ClassLoopback: 127.0.0.0/8, ::1, and the unspecified 0.0.0.0/8 and ::,
	// which a connect() takes to mean this host.
	ClassLoopback = "loopback"
	// ClassLinkLocal: 169.254.0.0/16 (cloud metadata services live at
	// 169.254.169.254) and fe80::/10. Refused by default.
	ClassLinkLocal = "link-local"
	// ClassMulticast: 224.0.0.0/4 and ff00::/8.
	ClassMulticast = "multicast"
	// ClassReserved: 240.0.0.0/4 and broadcast, 192.0.0.0/24, the
	// documentation and benchmarking ranges, IPv4-compatible ::/96, 100::/64,
	// 2001:db8::/32.
	ClassReserved = "reserved"
)

var classNets = []struct {
	class string
	p     netip.Prefix
}{
	{ClassLoopback, netip.MustParsePrefix("127.0.0.0/8")},
	{ClassLoopback, netip.MustParsePrefix("0.0.0.0/8")},
	{ClassLoopback, netip.MustParsePrefix("::1/128")},
	{ClassLoopback, netip.MustParsePrefix("::/128")},
	{ClassLinkLocal, netip.MustParsePrefix("169.254.0.0/16")},
	{ClassLinkLocal, netip.MustParsePrefix("fe80::/10")},
	{ClassPrivate, netip.MustParsePrefix("10.0.0.0/8")},
	{ClassPrivate, netip.MustParsePrefix("172.16.0.0/12")},
	{ClassPrivate, netip.MustParsePrefix("192.168.0.0/16")},
	{ClassPrivate, netip.MustParsePrefix("100.64.0.0/10")},
	{ClassPrivate, netip.MustParsePrefix("fc00::/7")},
	{ClassPrivate, netip.MustParsePrefix("fec0::/10")},
	{ClassPrivate, netip.MustParsePrefix("64:ff9b:1::/48")},
	{ClassMulticast, netip.MustParsePrefix("224.0.0.0/4")},
	{ClassMulticast, netip.MustParsePrefix("ff00::/8")},
	{ClassReserved, netip.MustParsePrefix("240.0.0.0/4")},
	{ClassReserved, netip.MustParsePrefix("192.0.0.0/24")},
	{ClassReserved, netip.MustParsePrefix("192.0.2.0/24")},
	{ClassReserved, netip.MustParsePrefix("198.51.100.0/24")},
	{ClassReserved, netip.MustParsePrefix("203.0.113.0/24")},
	{ClassReserved, netip.MustParsePrefix("198.18.0.0/15")},
	{ClassReserved, netip.MustParsePrefix("::/96")}, // IPv4-compatible (deprecated); after :: and ::1 above
	{ClassReserved, netip.MustParsePrefix("100::/64")},
	{ClassReserved, netip.MustParsePrefix("2001:db8::/32")},
}

// nat64 embeds an IPv4 address in its last 32 bits: a NAT64 gateway takes a
// connection there to that IPv4 address, so it is classed as that address.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// canon is the address a connection really goes to: IPv4-mapped IPv6
// (::ffff:a.b.c.d) and well-known NAT64 (64:ff9b::a.b.c.d) are their IPv4
// address, and a zone does not change the address.
func canon(ip netip.Addr) netip.Addr {
	ip = ip.WithZone("").Unmap()
	if nat64.Contains(ip) {
		b := ip.As16()
		return netip.AddrFrom4([4]byte(b[12:]))
	}
	return ip
}

// Class returns the class of ip (ClassPublic, ClassPrivate…), as a
// connection to it would go: ::ffff:169.254.169.254 is link-local.
func Class(ip netip.Addr) string {
	ip = canon(ip)
	for _, c := range classNets {
		if c.p.Contains(ip) {
			return c.class
		}
	}
	return ClassPublic
}

// ParsePolicy parses --callback-networks: a comma-separated list of CIDRs
// (10.1.0.0/16, fd00::/8; a bare address means just it) and the words
// public, private and loopback (see the Class constants for what each
// covers). An empty spec is the default: every address except link-local.
// Whatever the spec, tonepay's own listeners are refused (DenyListener).
func ParsePolicy(spec string) (*Policy, error) {
	p := &Policy{spec: strings.TrimSpace(spec), words: map[string]bool{}, ports: map[uint16]bool{}}
	if p.spec == "" {
		p.all = true
		return p, nil
	}
	for item := range strings.SplitSeq(p.spec, ",") {
		item = strings.TrimSpace(item)
		switch w := strings.ToLower(item); {
		case item == "":
			return nil, fmt.Errorf("callback-networks: an empty entry in %q", spec)
		case w == ClassPublic || w == ClassPrivate || w == ClassLoopback:
			p.words[w] = true
		case strings.Contains(item, "/"):
			pfx, err := netip.ParsePrefix(item)
			if err != nil {
				return nil, fmt.Errorf("callback-networks: %q is not a CIDR (%v)", item, err)
			}
			p.nets = append(p.nets, canonPrefix(pfx))
		default:
			ip, err := netip.ParseAddr(item)
			if err != nil || ip.Zone() != "" {
				return nil, fmt.Errorf("callback-networks: %q is not a CIDR, an IP address, or one of public, private, loopback", item)
			}
			p.nets = append(p.nets, canonPrefix(netip.PrefixFrom(ip, ip.BitLen())))
		}
	}
	return p, nil
}

// canonPrefix writes ::ffff:10.0.0.0/104 as 10.0.0.0/8, since addresses are
// checked in their canonical form.
func canonPrefix(p netip.Prefix) netip.Prefix {
	p = p.Masked()
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p
}

// DefaultPolicy is the policy of an empty spec: every address except
// link-local, and not tonepay's own listeners once they are denied.
func DefaultPolicy() *Policy {
	p, _ := ParsePolicy("")
	return p
}

// String returns the spec the policy was parsed from ("" for the default).
func (p *Policy) String() string { return p.spec }

// DenyListener refuses the address of one of tonepay's own listeners (the
// API's, pprof's), so that a tenant cannot reach them through a callback.
// cmd/tonepay calls it once each listener is bound. The port is refused on
// every address of this host (loopback, unspecified, interface addresses)
// whatever the listener is bound to: a listener on 0.0.0.0 or :: has them
// all, and a more precise rule buys nothing but risk.
func (p *Policy) DenyListener(addr net.Addr) {
	ap, err := netip.ParseAddrPort(addr.String())
	if err != nil {
		if ta, ok := addr.(*net.TCPAddr); ok {
			ap = ta.AddrPort()
		} else {
			return
		}
	}
	p.mu.Lock()
	p.ports[ap.Port()] = true
	p.mu.Unlock()
}

// RefusedError is a destination the policy refuses. Its text is what the
// tenant's view shows for the attempt.
type RefusedError struct {
	Addr   netip.AddrPort
	Reason string // the address's class, or "tonepay's own listener"
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("destination %s refused by callback-networks (%s)", e.Addr, e.Reason)
}

// ownListener is the reason for refusing one of tonepay's own listeners.
const ownListener = "tonepay's own listener"

// Check returns nil if a connection to ap is allowed, else a *RefusedError.
func (p *Policy) Check(ap netip.AddrPort) error {
	return p.check(ap, false)
}

// check is Check; with sink, tonepay's own listeners are allowed (see the
// sink transport in client.go).
func (p *Policy) check(ap netip.AddrPort, sink bool) error {
	ip := canon(ap.Addr())
	ap = netip.AddrPortFrom(ip, ap.Port())
	if p.own(ip, ap.Port()) {
		if sink {
			return nil
		}
		return &RefusedError{ap, ownListener}
	}
	class := Class(ip)
	if p.all {
		if class == ClassLinkLocal {
			return &RefusedError{ap, class}
		}
		return nil
	}
	if p.words[class] {
		return nil
	}
	for _, n := range p.nets {
		if n.Contains(ip) {
			return nil
		}
	}
	return &RefusedError{ap, class}
}

// own reports whether ip:port reaches one of tonepay's own listeners.
func (p *Policy) own(ip netip.Addr, port uint16) bool {
	p.mu.RLock()
	mine := p.ports[port]
	p.mu.RUnlock()
	if !mine {
		return false
	}
	return Class(ip) == ClassLoopback || p.isLocal(ip)
}

// isLocal reports whether ip is one of this host's interface addresses. The
// list is read again at most every 5 s: interfaces come and go, and the look
// is made only for a port of our own.
func (p *Policy) isLocal(ip netip.Addr) bool {
	p.localMu.Lock()
	defer p.localMu.Unlock()
	if p.local == nil || time.Since(p.localAge) > 5*time.Second {
		p.local = map[netip.Addr]bool{}
		p.localAge = time.Now()
		addrs, _ := net.InterfaceAddrs()
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok {
				if ip, ok := netip.AddrFromSlice(n.IP); ok {
					p.local[canon(ip)] = true
				}
			}
		}
	}
	return p.local[ip]
}
