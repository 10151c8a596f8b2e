package port

import (
	"encoding/binary"
	"fmt"
	"os"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// QueueDrops are the frames the kernel dropped at a TAP, as the interface's
// link statistics in the node's namespace count them, since the port was
// opened. The names are the node's view of its eth0:
//
//   - TxDropped: frames the node sent that found the TAP's queue to the
//     emulator full (the emulator read too slowly). The kernel drops them
//     in the TAP's transmit path (tun_net_xmit) and counts tx_dropped.
//   - RxDropped: frames the emulator wrote that the node's kernel refused
//     on the way in (rx_dropped).
type QueueDrops struct {
	TxDropped uint64 `json:"tx_dropped"`
	RxDropped uint64 `json:"rx_dropped"`
}

// linkStats asks the kernel for one interface's statistics over a netlink
// socket made inside the interface's namespace: a socket stays in the
// namespace it was made in, so later questions need no namespace switch.
type linkStats struct {
	mu    sync.Mutex
	fd    int
	index int32
	seq   uint32
	buf   []byte
	base  QueueDrops
}

// openLinkStats must run inside the interface's namespace.
func openLinkStats(index int) (*linkStats, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("netlink socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("netlink bind: %w", err)
	}
	// A kernel that does not answer must not hang status.
	tv := unix.Timeval{Sec: 2}
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("netlink timeout: %w", err)
	}
	l := &linkStats{fd: fd, index: int32(index), buf: make([]byte, 64<<10)}
	base, err := l.read()
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	l.base = base
	return l, nil
}

// drops returns the counters since openLinkStats.
func (l *linkStats) drops() (QueueDrops, error) {
	d, err := l.read()
	if err != nil {
		return QueueDrops{}, err
	}
	return QueueDrops{TxDropped: d.TxDropped - l.base.TxDropped, RxDropped: d.RxDropped - l.base.RxDropped}, nil
}

// read sends RTM_GETLINK for the interface and reads the dropped counters
// of the IFLA_STATS64 attribute of the answer.
func (l *linkStats) read() (QueueDrops, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fd < 0 {
		return QueueDrops{}, fmt.Errorf("link statistics: %w", os.ErrClosed)
	}
	l.seq++
	req := make([]byte, unix.NLMSG_HDRLEN+unix.SizeofIfInfomsg)
	*(*unix.NlMsghdr)(unsafe.Pointer(&req[0])) = unix.NlMsghdr{
		Len: uint32(len(req)), Type: unix.RTM_GETLINK, Flags: unix.NLM_F_REQUEST, Seq: l.seq,
	}
	*(*unix.IfInfomsg)(unsafe.Pointer(&req[unix.NLMSG_HDRLEN])) = unix.IfInfomsg{Family: unix.AF_UNSPEC, Index: l.index}
	if err := unix.Sendto(l.fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return QueueDrops{}, fmt.Errorf("link statistics: %w", err)
	}
	for {
		n, _, err := unix.Recvfrom(l.fd, l.buf, 0)
		if err != nil {
			return QueueDrops{}, fmt.Errorf("link statistics: %w", err)
		}
		msgs, err := syscall.ParseNetlinkMessage(l.buf[:n])
		if err != nil {
			return QueueDrops{}, fmt.Errorf("link statistics: %w", err)
		}
		for _, m := range msgs {
			if m.Header.Seq != l.seq {
				continue // the answer to an earlier, timed-out question
			}
			switch m.Header.Type {
			case unix.NLMSG_ERROR:
				if len(m.Data) >= 4 {
					if errno := int32(binary.NativeEndian.Uint32(m.Data)); errno != 0 {
						return QueueDrops{}, fmt.Errorf("link statistics: %w", syscall.Errno(-errno))
					}
				}
				return QueueDrops{}, fmt.Errorf("link statistics: empty answer")
			case unix.RTM_NEWLINK:
				attrs, err := syscall.ParseNetlinkRouteAttr(&m)
				if err != nil {
					return QueueDrops{}, fmt.Errorf("link statistics: %w", err)
				}
				for _, a := range attrs {
					// struct rtnl_link_stats64: rx_packets, tx_packets,
					// rx_bytes, tx_bytes, rx_errors, tx_errors,
					// rx_dropped, tx_dropped, ...
					if a.Attr.Type == unix.IFLA_STATS64 && len(a.Value) >= 64 {
						return QueueDrops{
							RxDropped: binary.NativeEndian.Uint64(a.Value[48:]),
							TxDropped: binary.NativeEndian.Uint64(a.Value[56:]),
						}, nil
					}
				}
				return QueueDrops{}, fmt.Errorf("link statistics: no IFLA_STATS64 in the answer")
			}
		}
	}
}

func (l *linkStats) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fd >= 0 {
		unix.Close(l.fd)
		l.fd = -1
	}
}

// attachedQueues returns how many queues of the TAP with the given index
// are attached (IFLA_TUN_NUM_QUEUES); it must run inside the TAP's
// namespace. A kernel that does not report it gives an error.
func attachedQueues(index int) (int, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return 0, fmt.Errorf("netlink socket: %w", err)
	}
	defer unix.Close(fd)
	tv := unix.Timeval{Sec: 2}
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return 0, fmt.Errorf("netlink timeout: %w", err)
	}
	req := make([]byte, unix.NLMSG_HDRLEN+unix.SizeofIfInfomsg)
	*(*unix.NlMsghdr)(unsafe.Pointer(&req[0])) = unix.NlMsghdr{
		Len: uint32(len(req)), Type: unix.RTM_GETLINK, Flags: unix.NLM_F_REQUEST, Seq: 1,
	}
	*(*unix.IfInfomsg)(unsafe.Pointer(&req[unix.NLMSG_HDRLEN])) = unix.IfInfomsg{Family: unix.AF_UNSPEC, Index: int32(index)}
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return 0, fmt.Errorf("tap queues: %w", err)
	}
	buf := make([]byte, 64<<10)
	n, _, err := unix.Recvfrom(fd, buf, 0)
	if err != nil {
		return 0, fmt.Errorf("tap queues: %w", err)
	}
	msgs, err := syscall.ParseNetlinkMessage(buf[:n])
	if err != nil {
		return 0, fmt.Errorf("tap queues: %w", err)
	}
	for _, m := range msgs {
		if m.Header.Type != unix.RTM_NEWLINK {
			continue
		}
		attrs, err := syscall.ParseNetlinkRouteAttr(&m)
		if err != nil {
			return 0, fmt.Errorf("tap queues: %w", err)
		}
		for _, a := range attrs {
			if a.Attr.Type != unix.IFLA_LINKINFO {
				continue
			}
			for _, info := range nestedAttrs(a.Value) {
				if info.Attr.Type != unix.IFLA_INFO_DATA {
					continue
				}
				for _, d := range nestedAttrs(info.Value) {
					if d.Attr.Type == unix.IFLA_TUN_NUM_QUEUES && len(d.Value) >= 4 {
						return int(binary.NativeEndian.Uint32(d.Value)), nil
					}
				}
			}
		}
	}
	return 0, fmt.Errorf("tap queues: the kernel did not report IFLA_TUN_NUM_QUEUES")
}

// nestedAttrs parses the attributes nested in an attribute's value.
func nestedAttrs(b []byte) []syscall.NetlinkRouteAttr {
	var attrs []syscall.NetlinkRouteAttr
	for len(b) >= unix.SizeofRtAttr {
		l := int(binary.NativeEndian.Uint16(b))
		if l < unix.SizeofRtAttr || l > len(b) {
			break
		}
		attrs = append(attrs, syscall.NetlinkRouteAttr{
			Attr:  syscall.RtAttr{Len: uint16(l), Type: binary.NativeEndian.Uint16(b[2:]) &^ unix.NLA_F_NESTED},
			Value: b[unix.SizeofRtAttr:l],
		})
		b = b[min(len(b), (l+unix.RTA_ALIGNTO-1)&^(unix.RTA_ALIGNTO-1)):]
	}
	return attrs
}
