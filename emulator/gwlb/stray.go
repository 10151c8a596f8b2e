package gwlb

import (
	"sync"
	"time"

	"github.com/gwlb-lab/gwlb-lab/emulator/packet"
)

// A GWLB node's namespace exists only so that its health checks leave from
// the node's address (spec §4.1). On AWS nothing but GENEVE and the answers
// to those checks ever reaches a node; here the namespace has a Linux
// kernel, which would answer anything else: a stray SYN with a RST, a SYN
// reflected back at its own socket with a simultaneous open. Appliances that
// reflect every packet they see (Snort 3's gwlb DAQ without a filter sends
// the node's own health-check packets back with the addresses swapped) then
// make the kernel reset its own checks, and every target goes unhealthy.
//
// So the node admits into its namespace only TCP segments that answer a
// connection the namespace opened: the fabric reports every packet the
// namespace sends (Sent), which records each SYN it sends and keeps the
// connection alive while it sends more, and asks before delivering anything
// but GENEVE to it (Admit). A SYN without ACK is never an answer, even on a
// recorded connection: only a peer opening a connection sends one, and
// that is exactly what a reflected SYN looks like. Everything else
// (ICMP, UDP, IPv6, fragments) is ignored and counted as DropStray. This is
// done here rather than with nftables in the namespace because conntrack
// would take a reflected SYN in the reply direction as part of the
// connection, and because the count belongs with the node's other drops.

// Bounds of the record of a node's own connections. Health checks open one
// short connection per target and interval, so a few thousand entries hold
// every check of a large lab; when full, idle entries go first, then
// arbitrary ones (an old check's late segments matter less than a new
// check's answers).
const (
	ownConnsMax  = 4096
	ownConnsIdle = 2 * time.Minute // lab time after the last segment the node sent
)

// ownConns is the set of TCP connections a node's namespace opened, keyed
// by ownKey, with the lab time of the last segment the node sent on each.
type ownConns struct {
	mu sync.Mutex
	m  map[uint64]time.Duration
}

func newOwnConns() *ownConns {
	return &ownConns{m: make(map[uint64]time.Duration, ownConnsMax)}
}

// ownKey packs a connection as the node sees it: its own port, the peer's
// IPv4 address and port.
func ownKey(local uint16, peer [4]byte, peerPort uint16) uint64 {
	return uint64(local)<<48 | uint64(peer[0])<<40 | uint64(peer[1])<<32 | uint64(peer[2])<<24 | uint64(peer[3])<<16 | uint64(peerPort)
}

// tcpOf returns the TCP header of an unfragmented IPv4 TCP packet.
func tcpOf(pkt []byte) (packet.IPv4, packet.TCP, bool) {
	if len(pkt) == 0 || pkt[0]>>4 != 4 {
		return nil, nil, false
	}
	ip := packet.IPv4(pkt)
	if ip.Validate() != nil || ip.Protocol() != packet.ProtoTCP || ip.Fragment() != packet.NotFragment {
		return nil, nil, false
	}
	t := packet.TCP(ip.Payload())
	if len(t) < packet.TCPLen {
		return nil, nil, false
	}
	return ip, t, true
}

// Sent tells the node about a packet its namespace sent: a TCP SYN from the
// node's address opens a connection whose answers Admit lets in, and any
// later segment on it keeps it open. It never allocates.
func (n *Node) Sent(pkt []byte, now time.Time) {
	ip, t, ok := tcpOf(pkt)
	if !ok || ip.Src() != n.IP {
		return
	}
	k := ownKey(t.SrcPort(), ip.Dst().As4(), t.DstPort())
	at := n.lb.since(now)
	opens := t.Flags()&(packet.TCPFlagSYN|packet.TCPFlagACK) == packet.TCPFlagSYN
	c := n.own
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[k]; !ok {
		if !opens {
			return
		}
		if len(c.m) >= ownConnsMax {
			c.evict(at)
		}
	}
	c.m[k] = at
}

// evict makes room for one connection: every idle one goes, or, if none is
// idle, one arbitrary entry.
func (c *ownConns) evict(at time.Duration) {
	for k, last := range c.m {
		if at-last >= ownConnsIdle {
			delete(c.m, k)
		}
	}
	if len(c.m) < ownConnsMax {
		return
	}
	for k := range c.m {
		delete(c.m, k)
		return
	}
}

// Admit reports whether a packet for the node's address that is not GENEVE
// for the load balancer may reach the node's namespace: only a TCP segment
// answering a connection the namespace opened, and never a SYN without ACK.
// Anything else is counted as DropStray. It never allocates.
func (n *Node) Admit(pkt []byte, now time.Time) bool {
	ip, t, ok := tcpOf(pkt)
	if !ok || ip.Dst() != n.IP || t.Flags()&(packet.TCPFlagSYN|packet.TCPFlagACK) == packet.TCPFlagSYN {
		n.drop(DropStray)
		return false
	}
	k := ownKey(t.DstPort(), ip.Src().As4(), t.SrcPort())
	at := n.lb.since(now)
	c := n.own
	c.mu.Lock()
	last, found := c.m[k]
	c.mu.Unlock()
	if !found || at-last >= ownConnsIdle {
		n.drop(DropStray)
		return false
	}
	return true
}
