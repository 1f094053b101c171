//go:build !linux

package bench

import (
	"net"
	"net/netip"
	"sync"
	"time"
)

// goNet is the portable RTP sockets: a goroutine reading each, arrivals
// stamped by the reader (so the bench's scheduling counts in the latency).
type goNet struct {
	mu    sync.Mutex
	conns []*net.UDPConn
}

type goSock struct {
	c    *net.UDPConn
	peer netip.AddrPort
}

func newRTPNet() (rtpNet, error) { return &goNet{}, nil }

func (n *goNet) kernelStamps() bool { return false }

func (n *goNet) open(fn func(pkt []byte, at int64)) (rtpSock, error) {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	n.mu.Lock()
	n.conns = append(n.conns, c)
	n.mu.Unlock()
	go func() {
		buf := make([]byte, 1500)
		for {
			m, err := c.Read(buf)
			if err != nil {
				return
			}
			fn(buf[:m], time.Now().UnixNano())
		}
	}()
	return &goSock{c: c}, nil
}

func (s *goSock) port() int { return s.c.LocalAddr().(*net.UDPAddr).Port }

func (s *goSock) connect(peer netip.AddrPort) error { s.peer = peer; return nil }

func (s *goSock) send(pkt []byte) error {
	_, err := s.c.WriteToUDPAddrPort(pkt, s.peer)
	return err
}

func (n *goNet) close() {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, c := range n.conns {
		c.Close()
	}
}
