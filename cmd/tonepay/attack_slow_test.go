package main

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The server's timeouts in TestAttackSlowClients, and how late past one a
// connection may still be closed before it counts as left open: generous,
// because the machine is shared, and still far below "never".
const (
	slowTimeout = 2 * time.Second
	slowSlack   = 4 * time.Second
)

// slowConn is one attacking connection: it writes head, then trickles body
// (or more header bytes) a byte at a time, until the server closes it.
type slowConn struct {
	closedAfter time.Duration // from the moment the timeout started to run; 0: still open
	err         string
}

// trickle opens a connection, sends head, then one byte of filler every
// 100 ms; it returns when the server closes the connection or at giveUp.
func trickle(addr, head string, filler byte, giveUp time.Time) slowConn {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return slowConn{err: err.Error()}
	}
	defer conn.Close()
	start := time.Now()
	if _, err := io.WriteString(conn, head); err != nil {
		return slowConn{err: err.Error()}
	}
	closed := make(chan struct{})
	go func() {
		io.Copy(io.Discard, conn) // until the server closes (or resets) it
		close(closed)
	}()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-closed:
			return slowConn{closedAfter: time.Since(start)}
		case <-tick.C:
			if time.Now().After(giveUp) {
				return slowConn{err: "still open"}
			}
			conn.SetWriteDeadline(time.Now().Add(time.Second))
			if _, err := conn.Write([]byte{filler}); err != nil {
				<-closed
				return slowConn{closedAfter: time.Since(start)}
			}
		}
	}
}

// idleKeepAlive sends one complete request, reads its answer, then waits
// for the server to close the idle connection.
func idleKeepAlive(addr string, giveUp time.Time) slowConn {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return slowConn{err: err.Error()}
	}
	defer conn.Close()
	io.WriteString(conn, "GET /_tonepay/health HTTP/1.1\r\nHost: tonepay\r\n\r\n")
	br := bufio.NewReader(conn)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		return slowConn{err: "no answer: " + err.Error()}
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || res.Close {
		return slowConn{err: fmt.Sprintf("answer %d, close=%v: not a keep-alive", res.StatusCode, res.Close)}
	}
	idle := time.Now()
	conn.SetReadDeadline(giveUp)
	if _, err := io.Copy(io.Discard, br); err != nil {
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			return slowConn{err: "still open"}
		}
	}
	return slowConn{closedAfter: time.Since(idle)}
}

// TestAttackSlowClients: 200 connections trickling a request body (100 of
// them without credentials), 200 idle keep-alive connections and 50 that
// trickle their headers (slowloris) are each closed within the server's
// timeouts, while ordinary requests keep being answered, and an event
// stream is not cut by the write timeout.
func TestAttackSlowClients(t *testing.T) {
	t.Parallel()
	sid, token := fixedAccount()
	to := slowTimeout.String()
	srv := startServer(t, append(append(storeDB(t, "slow"), "TONEPAY_ACCOUNT_SID="+sid, "TONEPAY_AUTH_TOKEN="+token,
		"TONEPAY_READ_TIMEOUT="+to, "TONEPAY_IDLE_TIMEOUT="+to, "TONEPAY_WRITE_TIMEOUT="+to), attackEnv...)...)
	c := newAttackClient(srv.URL, sid, token)
	sink := srv.URL + "/_tonepay/sink"
	fx := makeFixture(t, c, sid, token, sid, token, sink, "5100")
	addr := strings.TrimPrefix(srv.URL, "http://")
	auth := "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(sid+":"+token)) + "\r\n"
	post := "POST /2010-04-01/Accounts/" + sid + "/Calls.json HTTP/1.1\r\nHost: tonepay\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n"

	// An event stream, open across more than the write timeout.
	stream := make(chan string, 1)
	go func() { stream <- watchStream(srv.URL, sid, token, 3*slowTimeout) }()

	giveUp := time.Now().Add(slowTimeout + slowSlack + 6*time.Second)
	type group struct {
		name  string
		n     int
		run   func() slowConn
		bound time.Duration
	}
	groups := []group{
		{"body trickle with credentials", 100, func() slowConn { return trickle(addr, post+auth+"\r\n", 'x', giveUp) }, slowTimeout + slowSlack},
		{"body trickle without credentials", 100, func() slowConn { return trickle(addr, post+"\r\n", 'x', giveUp) }, slowTimeout + slowSlack},
		{"idle keep-alive", 200, func() slowConn { return idleKeepAlive(addr, giveUp) }, slowTimeout + slowSlack},
		// Headers are part of the request the read timeout bounds.
		{"slowloris headers", 50, func() slowConn {
			return trickle(addr, "GET /_tonepay/health HTTP/1.1\r\nHost: tonepay\r\nX-Slow: ", 'a', giveUp)
		}, slowTimeout + slowSlack},
	}
	results := make([][]slowConn, len(groups))
	var wg sync.WaitGroup
	for i, g := range groups {
		results[i] = make([]slowConn, g.n)
		for j := range g.n {
			wg.Go(func() { results[i][j] = g.run() })
		}
	}

	// Meanwhile, ordinary clients are served.
	var served, slow atomic.Int64
	var normal []string
	var mu sync.Mutex
	done := make(chan struct{})
	var nwg sync.WaitGroup
	nwg.Go(func() {
		cl := newAttackClient(srv.URL, sid, token)
		cl.http.Timeout = slowSlack
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			case <-time.After(100 * time.Millisecond):
			}
			q := rawReq{Path: "/2010-04-01/Accounts/" + sid + "/Calls/" + fx.Call + ".json"}
			if i%2 == 1 {
				q = rawReq{Path: "/_tonepay/health", NoAuth: true}
			}
			if res := cl.do(q); res.Err != nil || res.Status != 200 {
				slow.Add(1)
				mu.Lock()
				normal = append(normal, fmt.Sprintf("%s: %d %v", q.Path, res.Status, res.Err))
				mu.Unlock()
			} else {
				served.Add(1)
			}
		}
	})
	wg.Wait()
	close(done)
	nwg.Wait()

	tried, correct := 0, 0
	for i, g := range groups {
		open, late, worst := 0, 0, time.Duration(0)
		var firstErr string
		for _, r := range results[i] {
			tried++
			switch {
			case r.err != "":
				open++
				if firstErr == "" {
					firstErr = r.err
				}
			case r.closedAfter > g.bound:
				late++
			default:
				correct++
			}
			worst = max(worst, r.closedAfter)
		}
		t.Logf("%s: %d connections, %d closed within %v, %d later (latest after %v), %d not closed %s",
			g.name, g.n, g.n-open-late, g.bound, late, worst.Round(time.Millisecond), open, firstErr)
		if open+late > 0 {
			t.Errorf("%s: %d of %d connections not closed within %v", g.name, open+late, g.n, g.bound)
		}
	}
	tried += int(served.Load() + slow.Load())
	correct += int(served.Load())
	for _, n := range normal {
		t.Errorf("an ordinary request during the attack failed: %s", n)
	}
	tried++
	if got := <-stream; got == "" {
		correct++
	} else {
		t.Errorf("event stream: %s", got)
	}
	// And afterwards the server is fine.
	tried++
	if res := c.do(rawReq{Path: "/_tonepay/health", NoAuth: true}); res.Status == 200 {
		correct++
	} else {
		t.Errorf("health after the attack: %d %v", res.Status, res.Err)
	}
	figures(t, "attack-slow-clients", tried, correct, fmt.Sprintf("ordinary=%d/%d", served.Load(), served.Load()+slow.Load()))
}

// watchStream opens the account's event stream and keeps it past the write
// timeout; then a session change must still arrive on it. "" when it does.
func watchStream(base, sid, token string, wait time.Duration) string {
	req, _ := http.NewRequest("GET", base+"/_tonepay/Accounts/"+sid+"/Events", nil)
	req.SetBasicAuth(sid, token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err.Error()
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		return fmt.Sprintf("status %d", res.StatusCode)
	}
	lines := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	time.Sleep(wait)
	c := newAttackClient(base, sid, token)
	b := c.do(rawReq{Method: "POST", Path: "/2010-04-01/Accounts/" + sid + "/Calls.json", Body: form("To", "+15005550006", "From", "+15005550001", "Twiml", "<Response/>")})
	call := string(b.Body)
	if i := strings.Index(call, `"sid":"CA`); i >= 0 {
		call = call[i+7 : i+7+34]
	}
	c.do(rawReq{Method: "POST", Path: "/2010-04-01/Accounts/" + sid + "/Calls/" + call + "/Payments.json",
		Body: form("IdempotencyKey", "stream", "StatusCallback", base+"/_tonepay/sink")})
	deadline := time.After(slowSlack)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				return fmt.Sprintf("the stream ended after %v (write timeout %v): it must outlive it", wait, slowTimeout)
			}
			if strings.HasPrefix(l, "event: session") {
				return ""
			}
		case <-deadline:
			return "no session event arrived on a stream open for longer than the write timeout"
		}
	}
}
