package webhook

import (
	"fmt"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/tonepay/tonepay"
)

// A call's cookies. Twilio's client keeps the cookies an application sets
// for the length of a call and sends them back on the call's later requests
// (apps keep IVR state in a session cookie). Twilio does not document its
// bounds; these are tonepay's, per call. A cookie over them is not kept
// (the ones kept stay), and the fetch warns on the call's timeline.
const (
	MaxCallCookies     = 20       // cookies kept for one call
	MaxCookieSize      = 4 << 10  // bytes of one cookie's name and value
	MaxCallCookieBytes = 16 << 10 // bytes of all of one call's cookies' names and values
)

// jarIdle is how long a call's jar is kept with no request: the end of a
// call is normally told (CallEnded), but a call another process ends is not.
// No call waits this long between two requests.
const jarIdle = 24 * time.Hour

// jars holds the cookie jar of each call this process fetches for, in
// memory: a call resumed by another process (after a crash, or in a
// cluster) starts there with no cookies.
type jars struct {
	mu    sync.Mutex
	m     map[jarKey]*callJar
	swept time.Time
}

// jarKey keeps calls apart, and accounts too: a jar is never shared.
type jarKey struct{ account, call string }

// get returns the call's jar, made if it has none. It forgets the jars
// unused for jarIdle, at most once a minute.
func (j *jars) get(account, call string, now time.Time) *callJar {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.m == nil {
		j.m = map[jarKey]*callJar{}
	}
	if now.Sub(j.swept) > time.Minute {
		j.swept = now
		for k, cj := range j.m {
			if now.Sub(cj.usedAt()) > jarIdle {
				delete(j.m, k)
			}
		}
	}
	k := jarKey{account, call}
	cj := j.m[k]
	if cj == nil {
		cj = newCallJar(now)
		j.m[k] = cj
	}
	cj.touch(now)
	return cj
}

// drop forgets the call's jar.
func (j *jars) drop(account, call string) {
	j.mu.Lock()
	delete(j.m, jarKey{account, call})
	j.mu.Unlock()
}

func (j *jars) len() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.m)
}

// callJar is one call's cookies: a net/http/cookiejar.Jar, which decides
// where a cookie goes (Domain, Path, Secure, Expires, Max-Age, host-only),
// behind a count of what it holds, which keeps it within the bounds.
type callJar struct {
	jar *cookiejar.Jar

	mu   sync.Mutex
	used time.Time
	kept map[string]keptCookie // by the jar's own identity: domain;path;name
	size int                   // of kept's names and values
}

type keptCookie struct {
	size    int
	expires time.Time // zero: until the call ends
}

func newCallJar(now time.Time) *callJar {
	j, _ := cookiejar.New(&cookiejar.Options{PublicSuffixList: lastLabel{}}) // never fails
	return &callJar{jar: j, used: now, kept: map[string]keptCookie{}}
}

func (c *callJar) touch(now time.Time) {
	c.mu.Lock()
	c.used = now
	c.mu.Unlock()
}

func (c *callJar) usedAt() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.used
}

// cookies are those u's request carries.
func (c *callJar) cookies(u *url.URL) []*http.Cookie { return c.jar.Cookies(u) }

// set keeps the cookies u's answer set, within the bounds, and returns a
// warning for each one it did not keep (naming the cookie, never its value).
//
// The count must see a cookie exactly as the jar stores it, or the bounds
// would not hold. So the cookies the jar would refuse for their Domain are
// dropped here first, and each is counted under the jar's own identity
// (domain, path, name): a new cookie with an identity already kept replaces
// it, in the jar as in the count. Where the two could still differ (a host
// written in Unicode, which the jar turns to punycode), the count only sees
// more cookies than the jar: it errs by keeping fewer, never more.
func (c *callJar) set(u *url.URL, cs []*http.Cookie, now time.Time) []string {
	if len(cs) == 0 {
		return nil
	}
	host := strings.ToLower(u.Hostname())
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, k := range c.kept {
		if !k.expires.IsZero() && !k.expires.After(now) {
			c.size -= k.size
			delete(c.kept, id)
		}
	}
	var warns []string
	var keep []*http.Cookie
	for _, ck := range cs {
		domain, ok := cookieDomain(host, ck.Domain)
		if !ok {
			warns = append(warns, fmt.Sprintf("cookie %q not kept: its Domain is not the host's", tonepay.Clip(ck.Name, 40)))
			continue
		}
		id := domain + ";" + cookiePath(u, ck.Path) + ";" + ck.Name
		old, had := c.kept[id]
		if ck.MaxAge < 0 || ck.MaxAge == 0 && !ck.Expires.IsZero() && !ck.Expires.After(now) {
			// A deletion: the jar removes it.
			if had {
				c.size -= old.size
				delete(c.kept, id)
			}
			keep = append(keep, ck)
			continue
		}
		size := len(ck.Name) + len(ck.Value)
		switch {
		case size > MaxCookieSize:
			warns = append(warns, fmt.Sprintf("cookie %q not kept: over %d bytes", tonepay.Clip(ck.Name, 40), MaxCookieSize))
			continue
		case !had && len(c.kept) >= MaxCallCookies:
			warns = append(warns, fmt.Sprintf("cookie %q not kept: the call holds %d cookies already", tonepay.Clip(ck.Name, 40), MaxCallCookies))
			continue
		case c.size-old.size+size > MaxCallCookieBytes:
			warns = append(warns, fmt.Sprintf("cookie %q not kept: the call's cookies would pass %d bytes", tonepay.Clip(ck.Name, 40), MaxCallCookieBytes))
			continue
		}
		k := keptCookie{size: size}
		switch {
		case ck.MaxAge > 0:
			k.expires = now.Add(time.Duration(ck.MaxAge) * time.Second)
		case !ck.Expires.IsZero():
			k.expires = ck.Expires
		}
		c.size += size - old.size
		c.kept[id] = k
		keep = append(keep, ck)
	}
	c.jar.SetCookies(u, keep)
	return warns
}

// cookieDomain is the domain the jar stores a cookie under, and false for
// a Domain attribute the jar refuses (RFC 6265 5.3): one that is not the
// host or a parent of it, a parent of an IP address, or a top-level domain.
func cookieDomain(host, attr string) (string, bool) {
	if attr == "" {
		return host, true // host-only
	}
	d := strings.ToLower(strings.TrimPrefix(attr, "."))
	switch {
	case d == "" || d[0] == '.' || d[len(d)-1] == '.':
		return "", false
	case d == host:
		return host, true
	case net.ParseIP(host) != nil, !strings.HasSuffix(host, "."+d), !strings.Contains(d, "."):
		return "", false
	}
	return d, true
}

// cookiePath is the path the jar stores a cookie under (RFC 6265 5.1.4).
func cookiePath(u *url.URL, attr string) string {
	if attr != "" && attr[0] == '/' {
		return attr
	}
	p := u.Path
	if p == "" || p[0] != '/' {
		return "/"
	}
	i := strings.LastIndexByte(p, '/')
	if i == 0 {
		return "/"
	}
	return p[:i]
}

// lastLabel is the jar's public suffix list: the last label of a name
// (the list's default rule). It keeps a cookie from being set for a whole
// top-level domain (Domain=com). tonepay bundles no list of the longer
// suffixes (co.uk): a cookie set for one reaches the other hosts under it
// that the same call requests, and no other call.
type lastLabel struct{}

func (lastLabel) PublicSuffix(domain string) string {
	return domain[strings.LastIndexByte(domain, '.')+1:]
}

func (lastLabel) String() string { return "last label" }
