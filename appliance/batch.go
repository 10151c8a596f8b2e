package appliance

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"unsafe"

	"github.com/gwlb-lab/gwlb-lab/emulator/packet"
	"golang.org/x/sys/unix"
)

// The echo path moves datagrams in batches: recvmmsg reads up to
// receiveBatch messages per system call from the GENEVE socket, each with
// the address it was sent to (IP_PKTINFO: the return leaves from that
// address); with UDP GRO on, one message can be a train of datagrams of one
// sender coalesced by the kernel, which the loop splits at the segment size
// the kernel reports. Returns are queued, each as its own IPv4 + UDP +
// GENEVE headers and the inner packet still in the receive buffer, and
// sent with sendmmsg on the raw socket after each read (or when
// returnBatch are queued): one datagram per GENEVE packet, headers exactly
// as a single send would build them.
const (
	// receiveBatch is how many messages one recvmmsg reads at the most.
	receiveBatch = 32
	// receiveBufSize holds the largest UDP payload, or a GRO train.
	receiveBufSize = 65535
	// returnBatch is how many returns one sendmmsg sends at the most.
	returnBatch = 64
	// maxReturnHeaders is IPv4 + UDP + GENEVE with the most options.
	maxReturnHeaders = packet.IPv4Len + packet.UDPLen + packet.GeneveLen + 63*4
	// controlLen holds an IP_PKTINFO and a UDP_GRO control message.
	controlLen = 64
)

// receiver reads batches of datagrams from the GENEVE socket.
type receiver struct {
	rc interface {
		Read(func(uintptr) bool) error
	}
	gro   bool // the kernel coalesces datagrams (UDP_GRO)
	bufs  []byte
	hdrs  []unix.Mmsghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet4
	oob   []byte
	// readFn is the recvmmsg call given to rc.Read, made once; n and err
	// are its results.
	readFn func(fd uintptr) bool
	n      int
	err    error
}

// newReceiver sets the socket up to report each datagram's destination
// address and, where the kernel has it, to coalesce datagrams (UDP_GRO).
func newReceiver(c *net.UDPConn) (*receiver, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	r := &receiver{rc: rc}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		if serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_PKTINFO, 1); serr != nil {
			return
		}
		// Kernels before 5.0 lack UDP_GRO: then each datagram is read
		// alone, as before.
		r.gro = unix.SetsockoptInt(int(fd), unix.IPPROTO_UDP, unix.UDP_GRO, 1) == nil
	}); err != nil {
		return nil, err
	}
	if serr != nil {
		return nil, fmt.Errorf("IP_PKTINFO: %w", serr)
	}
	r.init(receiveBatch)
	return r, nil
}

// init allocates the buffers of n messages.
func (r *receiver) init(n int) {
	r.bufs = make([]byte, n*receiveBufSize)
	r.hdrs = make([]unix.Mmsghdr, n)
	r.iovs = make([]unix.Iovec, n)
	r.names = make([]unix.RawSockaddrInet4, n)
	r.oob = make([]byte, n*controlLen)
	for i := range r.hdrs {
		r.iovs[i].Base = &r.bufs[i*receiveBufSize]
		r.iovs[i].SetLen(receiveBufSize)
		h := &r.hdrs[i].Hdr
		h.Name = (*byte)(unsafe.Pointer(&r.names[i]))
		h.Iov = &r.iovs[i]
		h.SetIovlen(1)
		h.Control = &r.oob[i*controlLen]
	}
	r.readFn = func(fd uintptr) bool {
		for i := range r.hdrs {
			h := &r.hdrs[i].Hdr
			h.Namelen = unix.SizeofSockaddrInet4
			h.SetControllen(controlLen)
			h.Flags = 0
			r.hdrs[i].Len = 0
		}
		for {
			n, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&r.hdrs[0])), uintptr(len(r.hdrs)), 0, 0, 0)
			switch errno {
			case 0:
				r.n, r.err = int(n), nil
			case unix.EAGAIN:
				return false // wait for the poller
			case unix.EINTR:
				continue
			default:
				r.n, r.err = 0, errno
			}
			return true
		}
	}
}

// read waits for datagrams and returns how many messages it read.
func (r *receiver) read() (int, error) {
	if err := r.rc.Read(r.readFn); err != nil {
		return 0, err
	}
	return r.n, r.err
}

// message returns message i of the last read: its payload, the size of
// each datagram in it (the whole payload unless GRO coalesced several),
// its sender and the address it was sent to. ok is false for a message
// without those (not IPv4, truncated).
func (r *receiver) message(i int) (payload []byte, seg int, from netip.AddrPort, local netip.Addr, ok bool) {
	h := &r.hdrs[i]
	if h.Hdr.Flags&(unix.MSG_TRUNC|unix.MSG_CTRUNC) != 0 || h.Hdr.Namelen < unix.SizeofSockaddrInet4 {
		return nil, 0, from, local, false
	}
	sa := &r.names[i]
	if sa.Family != unix.AF_INET {
		return nil, 0, from, local, false
	}
	port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&sa.Port))[:])
	from = netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), port)
	payload = r.bufs[i*receiveBufSize : i*receiveBufSize+int(h.Len)]
	seg = len(payload)
	local, gso, ok := parseControl(r.oob[i*controlLen : i*controlLen+int(h.Hdr.Controllen)])
	if !ok {
		return nil, 0, from, local, false
	}
	if gso > 0 && gso < seg {
		seg = gso
	}
	if seg == 0 {
		seg = 1 // an empty datagram: handled once, as malformed
	}
	return payload, seg, from, local, true
}

// parseControl finds the destination address (IP_PKTINFO) and the GRO
// segment size (UDP_GRO, 0 when absent) in control messages b, without
// allocating.
func parseControl(b []byte) (local netip.Addr, gso int, ok bool) {
	const hdrLen = unix.SizeofCmsghdr
	for len(b) >= hdrLen {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
		l := int(h.Len)
		if l < hdrLen || l > len(b) {
			break
		}
		data := b[unix.CmsgLen(0):l]
		switch {
		case h.Level == unix.IPPROTO_IP && h.Type == unix.IP_PKTINFO && len(data) >= unix.SizeofInet4Pktinfo:
			// struct in_pktinfo: ifindex, spec_dst, addr (the header's
			// destination address).
			local, ok = netip.AddrFrom4([4]byte(data[8:12])), true
		case h.Level == unix.IPPROTO_UDP && h.Type == unix.UDP_GRO && len(data) >= 4:
			gso = int(*(*int32)(unsafe.Pointer(&data[0])))
		}
		next := unix.CmsgSpace(l - unix.CmsgLen(0))
		if next > len(b) {
			break
		}
		b = b[next:]
	}
	return local, gso, ok
}

// returnMsg is one queued return: its IPv4, UDP and GENEVE headers, the
// inner packet and the GWLB node it goes to.
type returnMsg struct {
	hdr, inner []byte
	to         netip.Addr
}

// returnQueue holds returns until they are sent, with room for the headers
// of each; nothing in it is allocated after newReturnQueue.
type returnQueue struct {
	hdrs []byte
	msgs []returnMsg
}

func newReturnQueue(n int) returnQueue {
	return returnQueue{hdrs: make([]byte, n*maxReturnHeaders), msgs: make([]returnMsg, 0, n)}
}

func (q *returnQueue) full() bool { return len(q.msgs) == cap(q.msgs) }
func (q *returnQueue) reset()     { q.msgs = q.msgs[:0] }

// add queues the return of inner with GENEVE header hdr to gwlb from
// local; the queue must not be full. inner is referred to, not copied.
func (q *returnQueue) add(hdr, inner []byte, gwlb netip.AddrPort, local netip.Addr, ttl uint8, m Misbehave) error {
	i := len(q.msgs)
	slot := q.hdrs[i*maxReturnHeaders : (i+1)*maxReturnHeaders]
	n, err := putReturnHeaders(slot, hdr, inner, gwlb, local, ttl, m)
	if err != nil {
		return err
	}
	q.msgs = append(q.msgs, returnMsg{hdr: slot[:n], inner: inner, to: gwlb.Addr()})
	return nil
}

// putReturnHeaders writes the IPv4 and UDP headers and the GENEVE header
// hdr (as m alters it) of the return of inner, from local and the GWLB's
// source port to the GWLB node on 6081, into out, and returns their
// length. The UDP checksum covers inner, which follows them on the wire.
func putReturnHeaders(out, hdr, inner []byte, gwlb netip.AddrPort, local netip.Addr, ttl uint8, m Misbehave) (int, error) {
	const hdrs = packet.IPv4Len + packet.UDPLen
	if hdrs+len(hdr) > len(out) {
		return 0, errors.New("GENEVE header too long")
	}
	copy(out[hdrs:], hdr)
	hl := m.apply(out[hdrs : hdrs+len(hdr)])
	n := hdrs + hl
	total := n + len(inner)
	if total > 65535 {
		return 0, errors.New("packet too big")
	}
	ip := packet.IPv4(out[:n])
	ip.SetHeaderLen(packet.IPv4Len)
	ip.SetTOS(0)
	ip.SetTotalLen(uint16(total))
	ip.SetID(0)
	ip.SetFlags(packet.IPv4FlagDF)
	ip.SetFragOffset(0)
	ip.SetTTL(ttl)
	ip.SetProtocol(packet.ProtoUDP)
	ip.SetSrc(local)
	ip.SetDst(gwlb.Addr())
	ip.ComputeChecksum()
	u := packet.UDP(out[packet.IPv4Len:n])
	sport := gwlb.Port()
	if m.ReplyFromPort != 0 {
		sport = m.ReplyFromPort
	}
	u.SetSrcPort(sport)
	u.SetDstPort(packet.GenevePort)
	u.SetLength(uint16(total - packet.IPv4Len))
	u.SetChecksum(0)
	// The UDP and GENEVE headers are 8 + a multiple of 4 bytes long, so
	// the inner packet's sum adds on at an even offset.
	sum := packet.PseudoHeaderChecksum(packet.ProtoUDP, local, gwlb.Addr(), total-packet.IPv4Len)
	sum = packet.Checksum(out[packet.IPv4Len:n], sum)
	sum = packet.Checksum(inner, sum)
	c := ^sum
	if c == 0 {
		c = 0xffff
	}
	u.SetChecksum(c)
	return n, nil
}

// batchSender sends returns in order until the kernel refuses one: it
// returns how many it sent and, if it stopped early, the error of the
// first one not sent.
type batchSender interface {
	send(msgs []returnMsg) (int, error)
}

// rawSender sends returns with sendmmsg on a raw IPv4 socket (IP_HDRINCL),
// each as two pieces: the headers and the inner packet.
type rawSender struct {
	fd    int
	hdrs  []unix.Mmsghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet4
}

func newRawSender(fd int) *rawSender {
	s := &rawSender{fd: fd, hdrs: make([]unix.Mmsghdr, returnBatch), iovs: make([]unix.Iovec, 2*returnBatch), names: make([]unix.RawSockaddrInet4, returnBatch)}
	for i := range s.hdrs {
		s.names[i].Family = unix.AF_INET
		h := &s.hdrs[i].Hdr
		h.Name = (*byte)(unsafe.Pointer(&s.names[i]))
		h.Namelen = unix.SizeofSockaddrInet4
		h.Iov = &s.iovs[2*i]
	}
	return s
}

func (s *rawSender) send(msgs []returnMsg) (int, error) {
	sent := 0
	for len(msgs) > 0 {
		n := min(len(msgs), len(s.hdrs))
		for i, m := range msgs[:n] {
			s.names[i].Addr = m.to.As4()
			iov := s.iovs[2*i : 2*i+2]
			iov[0].Base = &m.hdr[0]
			iov[0].SetLen(len(m.hdr))
			h := &s.hdrs[i].Hdr
			if len(m.inner) > 0 {
				iov[1].Base = &m.inner[0]
				iov[1].SetLen(len(m.inner))
				h.SetIovlen(2)
			} else {
				h.SetIovlen(1)
			}
		}
		r, _, errno := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(s.fd), uintptr(unsafe.Pointer(&s.hdrs[0])), uintptr(n), 0, 0, 0)
		if errno == unix.EINTR {
			continue
		}
		if errno != 0 {
			return sent, errno
		}
		if r == 0 {
			return sent, unix.EAGAIN
		}
		sent += int(r)
		msgs = msgs[r:]
	}
	return sent, nil
}
