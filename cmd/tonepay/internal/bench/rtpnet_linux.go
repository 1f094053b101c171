//go:build linux

package bench

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"sync"
	"syscall"
	"time"
)

// On Linux the bench's RTP sockets bypass Go's network poller: a
// goroutine per socket costs a wake-up and a second, empty read per
// packet, which at 500 calls (50,000 packets a second each way) made the
// bench as costly as the server it measures. Here one goroutine waits on
// one epoll set for every socket and reads each ready socket once; the
// kernel stamps each datagram's arrival (SO_TIMESTAMPNS), so reading in
// batches, a millisecond apart, changes no latency the bench reports.

// epollNet is every RTP socket of a run and their one reader.
type epollNet struct {
	epfd int
	done chan struct{}
	wg   sync.WaitGroup

	mu    sync.Mutex
	socks map[int32]*epollSock // by fd
}

type epollSock struct {
	fd int
	p  int
	fn func(pkt []byte, at int64)
}

func newRTPNet() (rtpNet, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	n := &epollNet{epfd: epfd, done: make(chan struct{}), socks: map[int32]*epollSock{}}
	n.wg.Go(n.run)
	return n, nil
}

func (n *epollNet) kernelStamps() bool { return true }

// open binds a loopback UDP socket whose datagrams go to fn with their
// arrival (UnixNano).
func (n *epollNet) open(fn func(pkt []byte, at int64)) (rtpSock, error) {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	s := &epollSock{fd: fd, fn: fn}
	err = syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}})
	if err == nil {
		err = syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1)
	}
	var sa syscall.Sockaddr
	if err == nil {
		sa, err = syscall.Getsockname(fd)
	}
	if err == nil {
		s.p = sa.(*syscall.SockaddrInet4).Port
		n.mu.Lock()
		n.socks[int32(fd)] = s
		n.mu.Unlock()
		err = syscall.EpollCtl(n.epfd, syscall.EPOLL_CTL_ADD, fd, &syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(fd)})
	}
	if err != nil {
		syscall.Close(fd)
		return nil, err
	}
	return s, nil
}

func (s *epollSock) port() int { return s.p }

// connect sends every packet to peer (and takes packets from it alone).
func (s *epollSock) connect(peer netip.AddrPort) error {
	return syscall.Connect(s.fd, &syscall.SockaddrInet4{Addr: peer.Addr().As4(), Port: int(peer.Port())})
}

func (s *epollSock) send(pkt []byte) error {
	_, err := syscall.Write(s.fd, pkt)
	return err
}

// run reads every ready socket once, then lets a millisecond of packets
// gather, until close.
func (n *epollNet) run() {
	evs := make([]syscall.EpollEvent, 512)
	buf, oob := make([]byte, 1500), make([]byte, 128)
	var ready []*epollSock
	for {
		select {
		case <-n.done:
			return
		default:
		}
		k, err := syscall.EpollWait(n.epfd, evs, 100)
		if err != nil && !errors.Is(err, syscall.EINTR) {
			return
		}
		n.mu.Lock()
		ready = ready[:0]
		for _, e := range evs[:max(k, 0)] {
			if s := n.socks[e.Fd]; s != nil {
				ready = append(ready, s)
			}
		}
		n.mu.Unlock()
		for _, s := range ready {
			m, oobn, _, _, err := syscall.Recvmsg(s.fd, buf, oob, 0)
			if err != nil {
				continue
			}
			s.fn(buf[:m], rxTime(oob[:oobn]))
		}
		if k < len(evs) {
			time.Sleep(time.Millisecond)
		}
	}
}

// rxTime is the kernel's arrival stamp among a read's control messages
// (UnixNano), or now.
func rxTime(oob []byte) int64 {
	msgs, err := syscall.ParseSocketControlMessage(oob)
	if err == nil {
		for _, m := range msgs {
			// A struct timespec: two 64-bit words on 64-bit Linux.
			if m.Header.Level == syscall.SOL_SOCKET && m.Header.Type == syscall.SCM_TIMESTAMPNS && len(m.Data) >= 16 {
				sec, nsec := binary.NativeEndian.Uint64(m.Data), binary.NativeEndian.Uint64(m.Data[8:])
				return int64(sec)*int64(time.Second) + int64(nsec)
			}
		}
	}
	return time.Now().UnixNano()
}

// close stops the reader, then closes every socket (not before: a closed
// descriptor's number could be reused under the reader).
func (n *epollNet) close() {
	close(n.done)
	n.wg.Wait()
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, s := range n.socks {
		syscall.Close(s.fd)
	}
	n.socks = nil
	syscall.Close(n.epfd)
}
