package appliance

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"unsafe"

	"github.com/gwlb-lab/gwlb-lab/emulator/packet"
	"golang.org/x/sys/unix"
)

// UDP GSO for returns. A run of returns to one GWLB node from one local
// address and source port whose datagrams all have the size of the first
// (the last may be shorter) — what the returns of a GRO train are — goes
// to the kernel in one sendmsg with a UDP_SEGMENT size: the kernel (or the
// device) cuts it into exactly those datagrams, each one GENEVE packet
// with its own header, with IPv4 and UDP headers as the raw path writes
// them (TOS 0, DF, the appliance's TTL, UDP checksum) but for the IPv4
// identification, which the kernel numbers 0, 1, 2, ... per segment where
// the raw path leaves it 0: a DF datagram's identification means nothing
// (RFC 6864 §4.1, spec §2.4).
//
// The source port is the GWLB's per-flow port, which only a socket bound
// to it can send from, so GSO uses a small pool of UDP sockets, one per
// (local address, port) in use. A port that cannot be bound (6081 itself,
// or in use by another program) is remembered and its returns take the
// raw path; so do runs of one, and every run once the kernel refuses
// GSO (kernels before 4.18, a device that cannot checksum).
const (
	// gsoMaxSegments is what every kernel with UDP_SEGMENT accepts.
	gsoMaxSegments = 64
	// gsoMaxPayload bounds a run's UDP payloads (IPv4 and UDP headers and
	// the payloads fit in 64 KiB).
	gsoMaxPayload = 65535 - packet.IPv4Len - packet.UDPLen
	// gsoSockets bounds the pool of per-port sockets.
	gsoSockets = 128
)

// gsoRun returns how many returns from the start of msgs can be sent as
// one GSO send (see above); 1 when only the first.
func gsoRun(msgs []returnMsg) int {
	first := msgs[0]
	size := udpPayloadLen(first)
	total := size
	k := 1
	for k < len(msgs) && k < gsoMaxSegments {
		m := msgs[k]
		n := udpPayloadLen(m)
		if n > size || m.to != first.to || total+n > gsoMaxPayload ||
			[4]byte(m.hdr[12:16]) != [4]byte(first.hdr[12:16]) || // IPv4 source
			[2]byte(m.hdr[20:22]) != [2]byte(first.hdr[20:22]) { // UDP source port
			break
		}
		total += n
		k++
		if n < size {
			break // a shorter datagram ends a GSO train
		}
	}
	return k
}

func udpPayloadLen(m returnMsg) int {
	return len(m.hdr) - packet.IPv4Len - packet.UDPLen + len(m.inner)
}

// gsoSocket is a pooled UDP socket bound to one local address and port;
// fd is -1 for one that could not be bound.
type gsoSocket struct {
	fd   int
	used uint64
}

// gsoSender sends runs of returns with UDP_SEGMENT.
type gsoSender struct {
	ttl   uint8
	socks map[netip.AddrPort]*gsoSocket
	clock uint64
	iovs  []unix.Iovec
	name  unix.RawSockaddrInet4
	oob   []byte
	hdr   unix.Msghdr
	// off: the kernel refused GSO; every run takes the raw path.
	off bool
}

// newGSOSender returns a GSO sender, or nil when the kernel lacks UDP GSO
// (it knows the UDP_SEGMENT option and control message since 4.18; an
// older one would ignore the control message and send a run as one
// datagram).
func newGSOSender(ttl uint8) *gsoSender {
	probe, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
	if err != nil {
		return nil
	}
	err = unix.SetsockoptInt(probe, unix.IPPROTO_UDP, unix.UDP_SEGMENT, 1400)
	unix.Close(probe)
	if err != nil {
		return nil
	}
	s := &gsoSender{ttl: ttl, socks: map[netip.AddrPort]*gsoSocket{},
		iovs: make([]unix.Iovec, 2*gsoMaxSegments), oob: make([]byte, unix.CmsgSpace(2))}
	s.name.Family = unix.AF_INET
	binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&s.name.Port))[:], packet.GenevePort)
	h := (*unix.Cmsghdr)(unsafe.Pointer(&s.oob[0]))
	h.Level, h.Type = unix.IPPROTO_UDP, unix.UDP_SEGMENT
	h.SetLen(unix.CmsgLen(2))
	s.hdr.Name = (*byte)(unsafe.Pointer(&s.name))
	s.hdr.Namelen = unix.SizeofSockaddrInet4
	s.hdr.Iov = &s.iovs[0]
	s.hdr.Control = &s.oob[0]
	s.hdr.SetControllen(len(s.oob))
	return s
}

// errGSOUnavailable: the run was not sent; send it on the raw path.
var errGSOUnavailable = errors.New("no GSO socket for this source")

// send sends run (gsoRun's length, at least 2) as one GSO send. Any error
// means nothing was sent.
func (s *gsoSender) send(run []returnMsg) error {
	first := run[0]
	src := netip.AddrPortFrom(netip.AddrFrom4([4]byte(first.hdr[12:16])), binary.BigEndian.Uint16(first.hdr[20:22]))
	sock := s.socket(src)
	if sock.fd < 0 {
		return errGSOUnavailable
	}
	s.clock++
	sock.used = s.clock
	n := 0
	for _, m := range run {
		if g := m.hdr[packet.IPv4Len+packet.UDPLen:]; len(g) > 0 {
			s.iovs[n].Base = &g[0]
			s.iovs[n].SetLen(len(g))
			n++
		}
		if len(m.inner) > 0 {
			s.iovs[n].Base = &m.inner[0]
			s.iovs[n].SetLen(len(m.inner))
			n++
		}
	}
	s.hdr.SetIovlen(n)
	s.name.Addr = first.to.As4()
	binary.NativeEndian.PutUint16(s.oob[unix.CmsgLen(0):], uint16(udpPayloadLen(first)))
	for {
		_, _, errno := unix.Syscall(unix.SYS_SENDMSG, uintptr(sock.fd), uintptr(unsafe.Pointer(&s.hdr)), 0)
		switch errno {
		case 0:
			return nil
		case unix.EINTR:
			continue
		case unix.EIO, unix.EINVAL, unix.ENOPROTOOPT, unix.EOPNOTSUPP:
			// The kernel or the device does not do UDP GSO here.
			s.off = true
		}
		return errno
	}
}

// socket returns the pool's socket for src, binding one if there is none.
func (s *gsoSender) socket(src netip.AddrPort) *gsoSocket {
	if sock, ok := s.socks[src]; ok {
		return sock
	}
	if len(s.socks) >= gsoSockets {
		var oldest netip.AddrPort
		var o *gsoSocket
		for k, v := range s.socks {
			if o == nil || v.used < o.used {
				oldest, o = k, v
			}
		}
		if o.fd >= 0 {
			unix.Close(o.fd)
		}
		delete(s.socks, oldest)
	}
	sock := &gsoSocket{fd: s.bind(src)}
	s.socks[src] = sock
	return sock
}

// bind makes a UDP socket bound to src that sends DF datagrams with the
// appliance's TTL; -1 if it cannot.
func (s *gsoSender) bind(src netip.AddrPort) int {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
	if err != nil {
		return -1
	}
	// Nothing is read from it: a small receive buffer bounds what
	// datagrams sent to the port can hold.
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 1) != nil ||
		unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_TTL, int(s.ttl)) != nil ||
		unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, unix.IP_PMTUDISC_DO) != nil ||
		unix.Bind(fd, &unix.SockaddrInet4{Addr: src.Addr().As4(), Port: int(src.Port())}) != nil {
		unix.Close(fd)
		return -1
	}
	return fd
}

// close closes the pool's sockets.
func (s *gsoSender) close() {
	for k, v := range s.socks {
		if v.fd >= 0 {
			unix.Close(v.fd)
		}
		delete(s.socks, k)
	}
}

// returnSender is the echo path's batchSender in Run: runs that GSO can
// carry go as one send each, the rest with sendmmsg on the raw socket.
type returnSender struct {
	raw batchSender // sendmmsg on the raw socket
	gso *gsoSender  // nil: GSO off
}

func (s *returnSender) send(msgs []returnMsg) (int, error) {
	sent := 0
	for len(msgs) > 0 {
		// The returns up to the next run GSO can carry go raw.
		end := 0
		for end < len(msgs) {
			if s.gso != nil && !s.gso.off {
				if k := gsoRun(msgs[end:]); k > 1 {
					if end == 0 {
						if s.gso.send(msgs[:k]) == nil {
							sent += k
							msgs = msgs[k:]
							continue
						}
						end = k // GSO failed: these go raw
					}
					break
				}
			}
			end++
		}
		if end == 0 {
			continue
		}
		n, err := s.raw.send(msgs[:end])
		sent += n
		if err != nil {
			return sent, err
		}
		msgs = msgs[end:]
	}
	return sent, nil
}
