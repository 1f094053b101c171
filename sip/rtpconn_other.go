//go:build !linux

package sip

import (
	"net"
	"net/netip"
	"time"
)

// udpConn is an RTP socket of Go's net package.
type udpConn struct{ c *net.UDPConn }

func listenRTP(ap netip.AddrPort) (rtpConn, error) {
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(ap))
	if err != nil {
		return nil, err
	}
	return udpConn{c}, nil
}

func (u udpConn) Port() int                           { return u.c.LocalAddr().(*net.UDPAddr).Port }
func (u udpConn) WriteTo(b []byte, to netip.AddrPort) { _, _ = u.c.WriteToUDPAddrPort(b, to) }
func (u udpConn) Close() error                        { return u.c.Close() }

// readRTP reads conn on a goroutine of its own, handing each packet to
// handle, until stop; after stop returns, conn may be closed.
func readRTP(conn rtpConn, handle func([]byte, netip.AddrPort)) (w *watch, stop func()) {
	w = newWatch(conn, handle)
	u := conn.(udpConn)
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for {
			n, from, err := u.c.ReadFromUDPAddrPort(buf)
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
			w.deliver(buf[:n], netip.AddrPortFrom(from.Addr().Unmap(), from.Port()))
		}
	}()
	return w, func() {
		w.kill()
		_ = u.c.SetReadDeadline(time.Now()) // wakes the read
		<-done
	}
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
