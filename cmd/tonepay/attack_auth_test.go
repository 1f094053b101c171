package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// fromAddress returns a client whose connections come from the loopback
// address ip (Linux answers all of 127.0.0.0/8): another client address.
func fromAddress(base, user, pass, ip string) *attackClient {
	c := newAttackClient(base, user, pass)
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	c.http.Transport = &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		return d.DialContext(ctx, network, addr)
	}}
	return c
}

// TestAttackCredentialGuessing: wrong passwords from one client address are
// answered 401 up to --auth-fail-limit a minute, then 429/20429 with
// Retry-After, for every credential from that address (a right guess must
// not show through); another address is not affected; after Retry-After the
// right credentials work again. The per-account limit's 429 has Retry-After too.
func TestAttackCredentialGuessing(t *testing.T) {
	t.Parallel()
	// A minute: one more every 10 s once spent, so nothing refills while the
	// test looks, and Retry-After is at most 10 s.
	const limit = 6
	sid, token := fixedAccount()
	srv := startServer(t, append(storeDB(t, "guess"), "TONEPAY_ACCOUNT_SID="+sid, "TONEPAY_AUTH_TOKEN="+token,
		"TONEPAY_AUTH_FAIL_LIMIT="+strconv.Itoa(limit), "TONEPAY_RATE_LIMIT=5")...)
	here := fromAddress(srv.URL, sid, token, "127.0.0.1")
	there := fromAddress(srv.URL, sid, token, "127.0.0.2")
	calls := rawReq{Path: "/2010-04-01/Accounts/" + sid + "/Calls.json"}
	subBody := here.mustDo(t, 201, rawReq{Method: "POST", Path: "/2010-04-01/Accounts.json"})
	subSid, subTok := jsonField(t, subBody, "sid"), jsonField(t, subBody, "auth_token")

	tried, correct := 0, 0
	expect := func(what string, res rawRes, status, code int) rawRes {
		t.Helper()
		tried++
		e, problem := checkTwilioError(res)
		switch {
		case res.Err != nil:
			t.Errorf("%s: %v", what, res.Err)
		case res.Status != status:
			t.Errorf("%s: got %d, want %d: %.200s", what, res.Status, status, res.Body)
		case status >= 400 && problem != "":
			t.Errorf("%s: %s", what, problem)
		case status >= 400 && e.Code != code:
			t.Errorf("%s: code %d, want %d", what, e.Code, code)
		default:
			correct++
		}
		return res
	}
	retryAfter := func(what string, res rawRes) int {
		t.Helper()
		tried++
		n, err := strconv.Atoi(res.Header.Get("Retry-After"))
		if err != nil || n < 1 || n > 60 {
			t.Errorf("%s: Retry-After %q, want whole seconds from 1 to 60", what, res.Header.Get("Retry-After"))
			return 0
		}
		correct++
		return n
	}

	expect("right credentials before", here.do(calls), 200, 0)
	wrong := func(c *attackClient, i int) rawRes {
		q := calls
		if i%2 == 0 {
			q.User, q.Pass = sid, fmt.Sprintf("guess%08d", i)
		} else {
			q.User, q.Pass = "SK0123456789abcdef0123456789abcdef", fmt.Sprintf("guess%08d", i)
		}
		return c.do(q)
	}
	start := time.Now()
	for i := range limit {
		expect(fmt.Sprintf("wrong password %d (within the limit)", i+1), wrong(here, i), 401, 20003)
	}
	// Spent: a token bucket may hand back one attempt a second, no more.
	limited, wait, given := 0, 0, 0
	for i := range 20 {
		res := wrong(here, limit+i)
		if res.Status == 401 && given < int(time.Since(start)/(60*time.Second/limit)) {
			tried++
			correct++ // one back per 60/limit seconds, on a slow machine
			given++
			continue
		}
		if expect(fmt.Sprintf("wrong password %d (over the limit)", limit+i+1), res, 429, 20429).Status == 429 {
			limited++
			wait = max(wait, retryAfter("429 to a guess", res))
		}
	}
	if limited < 19 {
		t.Errorf("only %d of 20 guesses over the limit got 429", limited)
	}
	// While limited, the right password from that address gets 429 too:
	// otherwise guessing goes on and a right guess shows through.
	if res := expect("right credentials from the limited address", here.do(calls), 429, 20429); res.Status == 429 {
		retryAfter("429 to the right credentials", res)
	}
	expect("health from the limited address", here.do(rawReq{Path: "/_tonepay/health", NoAuth: true}), 200, 0)
	// Another client address has its own allowance.
	expect("right credentials from another address", there.do(calls), 200, 0)
	expect("a wrong password from another address", wrong(there, 0), 401, 20003)

	// After Retry-After, the right credentials work again.
	if wait > 0 {
		t.Logf("waiting %d s (Retry-After)", wait)
		time.Sleep(time.Duration(wait)*time.Second + 200*time.Millisecond)
	}
	expect("right credentials after Retry-After", here.do(calls), 200, 0)

	// The per-account request limit (5/s) answers 429 with Retry-After as well.
	sub := newAttackClient(srv.URL, subSid, subTok)
	got429 := false
	for i := 0; i < 30 && !got429; i++ {
		res := sub.do(rawReq{Path: "/2010-04-01/Accounts/" + subSid + "/Calls.json"})
		if res.Status == 429 {
			got429 = true
			expect("account rate limit", res, 429, 20429)
			retryAfter("account rate limit", res)
		}
	}
	tried++
	if got429 {
		correct++
	} else {
		t.Error("30 requests at once never met the per-account limit of 5/s")
	}
	figures(t, "attack-auth-guessing", tried, correct, "")
}
