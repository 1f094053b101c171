package sip

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Reading RTP: a goroutine per socket hands each packet to its leg's
// handler; the RTP timeout is the server's idle check of when a packet last
// came, not a read deadline (updating one for every packet costs a timer
// update). One epoll loop per CPU reading every socket was tried and
// dropped: at 100 calls it cost more CPU than the goroutines, at 500 it fell
// seconds behind (docs/performance.md, "SIP bridge").

// watch is one socket being read: handle gets each packet (b is valid
// during the call only), on the reader's goroutine.
type watch struct {
	conn   *net.UDPConn
	handle func(b []byte, from netip.AddrPort)
	last   atomic.Int64 // when a packet last came (Unix nanoseconds): the RTP timeout's clock

	mu   sync.Mutex // held while handle runs: stop waits for it
	dead bool
}

// idle is how long the socket has had no packet.
func (w *watch) idle(now time.Time) time.Duration {
	return now.Sub(time.Unix(0, w.last.Load()))
}

// deliver hands a packet to handle unless the watch was stopped.
func (w *watch) deliver(b []byte, from netip.AddrPort) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.dead {
		return
	}
	w.last.Store(time.Now().UnixNano())
	w.handle(b, from)
}

// kill stops deliveries: once it returns, handle is never called again.
func (w *watch) kill() {
	w.mu.Lock()
	w.dead = true
	w.mu.Unlock()
}

func newWatch(conn *net.UDPConn, handle func([]byte, netip.AddrPort)) *watch {
	w := &watch{conn: conn, handle: handle}
	w.last.Store(time.Now().UnixNano())
	return w
}

// readRTP reads conn on a goroutine of its own, handing each packet to
// handle, until stop; after stop returns, conn may be closed.
func readRTP(conn *net.UDPConn, handle func([]byte, netip.AddrPort)) (w *watch, stop func()) {
	w = newWatch(conn, handle)
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for {
			n, from, err := w.conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					w.mu.Lock()
					dead := w.dead
					w.mu.Unlock()
					if !dead {
						continue
					}
				}
				return
			}
			w.deliver(buf[:n], from)
		}
	}()
	return w, func() {
		w.kill()
		_ = w.conn.SetReadDeadline(time.Now()) // wakes the read
		<-done
	}
}
