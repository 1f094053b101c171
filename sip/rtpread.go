package sip

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Reading and writing RTP. A SIP call has one socket per leg and a packet
// on each every 20 ms: at 500 bridged calls, 50,000 packets a second each
// way. Read by a goroutine per socket (Go's poller), each packet costs a
// read, an empty read, a park and a wake-up. On Linux (rtpconn_linux.go)
// the sockets are made outside Go's poller and read by one epoll loop per
// CPU, which lets packets gather for 300 µs between rounds and reads each
// ready socket once a round; elsewhere (rtpconn_other.go) a goroutine
// per socket reads. The RTP timeout is the server's idle check of each
// socket's last packet, not a read deadline (docs/performance.md, "SIP
// bridge").

// rtpConn is one RTP socket.
type rtpConn interface {
	Port() int
	// WriteTo sends b to to; a packet the kernel has no room for is lost,
	// as RTP expects.
	WriteTo(b []byte, to netip.AddrPort)
	Close() error
}

// watch is one socket being read: handle gets each packet (b is valid
// during the call only), on the reader's goroutine.
type watch struct {
	conn   rtpConn
	handle func(b []byte, from netip.AddrPort)
	last   atomic.Int64 // when a packet last came (Unix nanoseconds): the RTP timeout's clock

	mu   sync.Mutex // held while handle runs: stop waits for it
	dead bool
}

func newWatch(conn rtpConn, handle func([]byte, netip.AddrPort)) *watch {
	w := &watch{conn: conn, handle: handle}
	w.last.Store(time.Now().UnixNano())
	return w
}

// idle is how long the socket has had no packet.
func (w *watch) idle(now time.Time) time.Duration {
	return now.Sub(time.Unix(0, w.last.Load()))
}

// kill stops deliveries: once it returns, handle is never called again.
func (w *watch) kill() {
	w.mu.Lock()
	w.dead = true
	w.mu.Unlock()
}
