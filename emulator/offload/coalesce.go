package offload

import "encoding/binary"

// MaxCoalesced bounds how many segments one coalesced frame carries (a
// writev of that many payloads plus its header).
const MaxCoalesced = 64

// Coalescer plans the writes of a batch of frames toward a node: Plan
// groups runs of TCP segments that the node's own GRO would merge
// (tcp_gro_receive's rules, stricter where simpler) and leaves every other
// frame as it is. A run joins segments of one flow that
//
//   - carry data and only the ACK flag (the last may add PSH, which ends
//     the run), with the same acknowledgment, window, TCP options, IP
//     header fields and Ethernet header;
//   - follow each other in sequence space, with IPv4 identifications
//     counting up by one, no IP options and no fragments;
//   - all carry the first one's payload size, but the last, which may be
//     shorter and then ends the run;
//   - have valid IP and TCP checksums (a damaged segment is written alone,
//     so the node drops it as it would have);
//   - fit together in one IP packet of at most 65,535 bytes;
//   - carry no 802.1Q tag.
//
// With UDP set, runs of UDP datagrams of one flow are grouped too (and
// written as one USO frame, VIRTIO_NET_HDR_GSO_UDP_L4): datagrams with the
// same Ethernet header, addresses, ports and IP header fields (the IPv4
// identification aside, see Header), IPv4 ones with DF set, no options and
// no fragments, IPv6 ones with no extension headers, each with a valid UDP
// checksum or, over IPv4, none (0); all of the first one's size but the
// last, which may be shorter and then ends the run; at most MaxCoalesced
// of them, in one IP packet of at most 65,535 bytes. Only a node that reads
// such a flow through a UDP socket gets back the datagrams as they were
// (the kernel splits the frame at the socket, or hands the train to a
// socket with UDP_GRO); anything reading the link itself sees the merged
// frame, so the caller turns UDP on per port.
//
// Runs need not be adjacent in the batch: frames of other flows may sit
// between them. Items come out in the order of their first frame, and a
// frame of a flow that cannot join its flow's open run closes that run, so
// no flow is reordered. A Coalescer is reused batch after batch and
// allocates only when a batch is larger than any before.
type Coalescer struct {
	// UDP groups runs of UDP datagrams too; see above.
	UDP bool

	info  []frameInfo
	items []item
	open  []int32 // items that may still grow
}

type frameInfo struct {
	l3, l4, hdrEnd int
	payload        int
	next           int32 // next frame of the same item, or -1
	tcp, udp, v6   bool  // a TCP segment or (with UDP on) a UDP datagram
	ok             bool  // eligible to join a run
}

type item struct {
	first, last int32
	count       int32
	size        int // payload bytes of the first segment: the GSO size
	total       int // payload bytes of all
	psh         bool
}

// Plan groups frames[i][off:] for writing; Items and the methods after it
// describe the result until the next Plan.
func (c *Coalescer) Plan(frames [][]byte, off int) {
	if cap(c.info) < len(frames) {
		c.info = make([]frameInfo, len(frames))
		c.items = make([]item, 0, len(frames))
		c.open = make([]int32, 0, len(frames))
	}
	c.info = c.info[:len(frames)]
	c.items, c.open = c.items[:0], c.open[:0]
	for i := range frames {
		f := frames[i][off:]
		fi := &c.info[i]
		*fi = classify(f, c.UDP)
		if !fi.tcp && !fi.udp {
			c.items = append(c.items, item{first: int32(i), last: int32(i), count: 1})
			continue
		}
		joined := false
		for k, it := range c.open {
			g := &c.items[it]
			lf := frames[g.last][off:]
			if !sameFlow(frames[g.first][off:], f, &c.info[g.first], fi) {
				continue
			}
			if fi.ok && c.canJoin(g, lf, f, fi) {
				c.info[g.last].next = int32(i)
				g.last = int32(i)
				g.count++
				g.total += fi.payload
				g.psh = fi.tcp && f[fi.l4+13]&tcpPSH != 0
				if g.psh || fi.payload < g.size || g.count == MaxCoalesced {
					c.open = append(c.open[:k], c.open[k+1:]...)
				}
				joined = true
			} else {
				c.open = append(c.open[:k], c.open[k+1:]...)
			}
			break
		}
		if joined {
			continue
		}
		c.items = append(c.items, item{first: int32(i), last: int32(i), count: 1, size: fi.payload, total: fi.payload})
		if fi.ok && (fi.udp || f[fi.l4+13]&tcpPSH == 0) {
			c.open = append(c.open, int32(len(c.items)-1))
		}
	}
}

// classify parses a frame: whether it is TCP (or, with udp, UDP), so it
// closes its flow's open run, and whether it may be part of a run.
func classify(f []byte, udp bool) frameInfo {
	fi := frameInfo{next: -1}
	l3, et, ok := l3Offset(f)
	if !ok {
		return fi
	}
	var proto byte
	switch et {
	case ethTypeIPv4:
		if len(f) < l3+20 || f[l3] != 0x45 {
			return fi
		}
		fi.l4, proto = l3+20, f[l3+9]
	case ethTypeIPv6:
		if len(f) < l3+40 || f[l3]>>4 != 6 {
			return fi
		}
		fi.l4, fi.v6, proto = l3+40, true, f[l3+6]
	default:
		return fi
	}
	if proto == protoUDP && udp {
		return classifyUDP(f, l3, fi)
	}
	if proto != protoTCP {
		return fi
	}
	if len(f) < fi.l4+20 {
		return fi
	}
	fi.l3, fi.tcp = l3, true
	if l3 != 14 {
		return fi // tagged: a GSO frame with a tag is not worth the kernel's doubts
	}
	fi.hdrEnd = fi.l4 + int(f[fi.l4+12]>>4)*4
	if fi.hdrEnd < fi.l4+20 || fi.hdrEnd >= len(f) {
		return fi // no payload (or a broken header): never joins
	}
	fi.payload = len(f) - fi.hdrEnd
	if fi.v6 {
		if int(binary.BigEndian.Uint16(f[l3+4:])) != len(f)-l3-40 {
			return fi // padding or a truncated packet
		}
	} else {
		if int(binary.BigEndian.Uint16(f[l3+2:])) != len(f)-l3 ||
			binary.BigEndian.Uint16(f[l3+6:])&0x3fff != 0 || checksum(f[l3:fi.l4], 0) != 0xffff {
			return fi
		}
	}
	if fl := f[fi.l4+13]; fl&^(tcpPSH|tcpECE) != tcpACK {
		return fi
	}
	if checksum(f[fi.l4:], pseudoSum(f[l3:], fi.v6, protoTCP, len(f)-fi.l4)) != 0xffff {
		return fi
	}
	fi.ok = true
	return fi
}

// classifyUDP is classify for a UDP datagram whose IP header starts at l3.
func classifyUDP(f []byte, l3 int, fi frameInfo) frameInfo {
	if len(f) < fi.l4+8 {
		return fi
	}
	fi.l3, fi.udp = l3, true
	if l3 != 14 {
		return fi
	}
	fi.hdrEnd = fi.l4 + 8
	if fi.hdrEnd >= len(f) || int(binary.BigEndian.Uint16(f[fi.l4+4:])) != len(f)-fi.l4 {
		return fi // empty, padded or truncated
	}
	fi.payload = len(f) - fi.hdrEnd
	if fi.v6 {
		if int(binary.BigEndian.Uint16(f[l3+4:])) != len(f)-l3-40 {
			return fi
		}
	} else if int(binary.BigEndian.Uint16(f[l3+2:])) != len(f)-l3 ||
		binary.BigEndian.Uint16(f[l3+6:]) != 0x4000 || checksum(f[l3:fi.l4], 0) != 0xffff {
		return fi // not DF, a fragment, or a damaged header
	}
	if cs := binary.BigEndian.Uint16(f[fi.l4+6:]); cs != 0 || fi.v6 {
		if cs == 0 || checksum(f[fi.l4:], pseudoSum(f[l3:], fi.v6, protoUDP, len(f)-fi.l4)) != 0xffff {
			return fi
		}
	}
	fi.ok = true
	return fi
}

// sameFlow reports whether two TCP (or two UDP) frames belong to one flow and link:
// Ethernet addresses, IP version, addresses and ports.
func sameFlow(a, b []byte, ia, ib *frameInfo) bool {
	if ia.v6 != ib.v6 || ia.udp != ib.udp || ia.l3 != ib.l3 || string(a[:ia.l3]) != string(b[:ib.l3]) {
		return false
	}
	if ia.v6 {
		if string(a[ia.l3+8:ia.l3+40]) != string(b[ib.l3+8:ib.l3+40]) {
			return false
		}
	} else if string(a[ia.l3+12:ia.l3+20]) != string(b[ib.l3+12:ib.l3+20]) {
		return false
	}
	return string(a[ia.l4:ia.l4+4]) == string(b[ib.l4:ib.l4+4])
}

// canJoin reports whether segment f may follow lf, the last segment of g.
func (c *Coalescer) canJoin(g *item, lf, f []byte, fi *frameInfo) bool {
	li := &c.info[g.last]
	if fi.hdrEnd != li.hdrEnd || li.payload < g.size || fi.payload > g.size {
		return false
	}
	if fi.hdrEnd-fi.l3+g.total+fi.payload > 0xffff {
		return false
	}
	l3, l4 := fi.l3, fi.l4
	if fi.udp {
		// Version, IHL, TOS; flags, TTL, protocol. The identification of
		// a DF datagram that is no fragment means nothing (RFC 6864).
		if fi.v6 {
			return string(lf[l3:l3+4]) == string(f[l3:l3+4]) && string(lf[l3+6:l3+8]) == string(f[l3+6:l3+8])
		}
		return string(lf[l3:l3+2]) == string(f[l3:l3+2]) && string(lf[l3+6:l3+10]) == string(f[l3+6:l3+10])
	}
	if fi.v6 {
		// Version, class, flow label; next header and hop limit.
		if string(lf[l3:l3+4]) != string(f[l3:l3+4]) || string(lf[l3+6:l3+8]) != string(f[l3+6:l3+8]) {
			return false
		}
	} else {
		// Version, IHL, TOS; flags, TTL, protocol; and the ID counts up.
		if string(lf[l3:l3+2]) != string(f[l3:l3+2]) || string(lf[l3+6:l3+10]) != string(f[l3+6:l3+10]) ||
			binary.BigEndian.Uint16(f[l3+4:]) != binary.BigEndian.Uint16(lf[l3+4:])+1 {
			return false
		}
	}
	if binary.BigEndian.Uint32(f[l4+4:]) != binary.BigEndian.Uint32(lf[l4+4:])+uint32(li.payload) {
		return false
	}
	// Acknowledgment, data offset, window, urgent pointer, options.
	if string(lf[l4+8:l4+13]) != string(f[l4+8:l4+13]) || lf[l4+13]&^tcpPSH != f[l4+13]&^tcpPSH ||
		string(lf[l4+14:l4+16]) != string(f[l4+14:l4+16]) || string(lf[l4+18:fi.hdrEnd]) != string(f[l4+18:fi.hdrEnd]) {
		return false
	}
	return true
}

// Items is how many writes the plan makes.
func (c *Coalescer) Items() int { return len(c.items) }

// Item returns the first frame of write i and how many frames it carries;
// Next walks the others.
func (c *Coalescer) Item(i int) (first, count int) {
	return int(c.items[i].first), int(c.items[i].count)
}

// UDPRun reports whether write i is of UDP datagrams.
func (c *Coalescer) UDPRun(i int) bool { return c.info[c.items[i].first].udp }

// Next returns the frame after frame j in its write, or -1.
func (c *Coalescer) Next(j int) int { return int(c.info[j].next) }

// Payload returns the part of frame j (a member of a write of several
// frames) that follows the headers.
func (c *Coalescer) Payload(frame []byte, j int) []byte { return frame[c.info[j].hdrEnd:] }

// MaxHeader is the most Header writes: a virtio-net header and the
// Ethernet (with a tag), IPv4 or IPv6 and TCP (or UDP) headers.
const MaxHeader = HdrLen + 18 + 40 + 60

// Header writes into dst, for write i of several frames (whose first frame
// is first, that is frames[Item(i)][off:]), the virtio-net header of the
// coalesced frame followed by its headers: the first segment's, with the
// IP length of the whole, PSH if the last segment had it, and the TCP
// checksum field holding the pseudo-header sum the kernel completes
// (NEEDS_CSUM). The payloads of the members follow it on the wire. It
// returns the length written.
//
// A run of UDP datagrams gets the UDP length of the whole and USO
// (GSOUDPL4, gso_size the first datagram's payload size). The kernel that
// splits it numbers the IPv4 identifications of the datagrams up from the
// first one's and fills in every UDP checksum, also where the datagram
// had none: what a UDP socket receives (the payloads) is unchanged.
func (c *Coalescer) Header(i int, first []byte, dst []byte) int {
	g := &c.items[i]
	fi := &c.info[g.first]
	n := copy(dst[HdrLen:], first[:fi.hdrEnd])
	hdr := dst[HdrLen : HdrLen+n]
	l3, l4 := fi.l3, fi.l4
	if fi.udp {
		if fi.v6 {
			binary.BigEndian.PutUint16(hdr[l3+4:], uint16(8+g.total))
		} else {
			binary.BigEndian.PutUint16(hdr[l3+2:], uint16(28+g.total))
			hdr[l3+10], hdr[l3+11] = 0, 0
			binary.BigEndian.PutUint16(hdr[l3+10:], ^checksum(hdr[l3:l4], 0))
		}
		binary.BigEndian.PutUint16(hdr[l4+4:], uint16(8+g.total))
		binary.BigEndian.PutUint16(hdr[l4+6:], pseudoSum(hdr[l3:], fi.v6, protoUDP, 8+g.total))
		Hdr{
			Flags: FlagNeedsCsum, GSOType: GSOUDPL4, HdrLen: uint16(fi.hdrEnd), GSOSize: uint16(g.size),
			CsumStart: uint16(l4), CsumOffset: 6,
		}.Put(dst)
		return HdrLen + n
	}
	gt := uint8(GSOTCPv4)
	if fi.v6 {
		gt = GSOTCPv6
		binary.BigEndian.PutUint16(hdr[l3+4:], uint16(fi.hdrEnd-l3-40+g.total))
	} else {
		binary.BigEndian.PutUint16(hdr[l3+2:], uint16(fi.hdrEnd-l3+g.total))
		hdr[l3+10], hdr[l3+11] = 0, 0
		binary.BigEndian.PutUint16(hdr[l3+10:], ^checksum(hdr[l3:l4], 0))
	}
	if g.psh {
		hdr[l4+13] |= tcpPSH
	}
	binary.BigEndian.PutUint16(hdr[l4+16:], pseudoSum(hdr[l3:], fi.v6, protoTCP, fi.hdrEnd-l4+g.total))
	Hdr{
		Flags: FlagNeedsCsum, GSOType: gt, HdrLen: uint16(fi.hdrEnd), GSOSize: uint16(g.size),
		CsumStart: uint16(l4), CsumOffset: 16,
	}.Put(dst)
	return HdrLen + n
}
