package gwlb

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gwlb-lab/gwlb-lab/emulator/flow"
	"github.com/gwlb-lab/gwlb-lab/emulator/packet"
)

// Flow is one flow as `gwlb-lab flows` shows it, and one line of the
// control API's flow listing.
type Flow struct {
	GWLB     string `json:"gwlb"`
	Node     string `json:"node"`
	AZ       string `json:"az"`
	Endpoint string `json:"endpoint"`
	// Src and Dst are the initiator's side and the responder's.
	Src       string `json:"src"`
	Dst       string `json:"dst"`
	Proto     uint8  `json:"proto"`
	Target    string `json:"target"`
	TargetIP  string `json:"target_ip"`
	Cookie    string `json:"cookie"`
	OuterPort uint16 `json:"outer_port"`
	Age       string `json:"age"`
	Idle      string `json:"idle"`
	// Packets and bytes from the initiator (Orig) and towards it (Reply).
	OrigPackets  uint64 `json:"orig_packets"`
	OrigBytes    uint64 `json:"orig_bytes"`
	ReplyPackets uint64 `json:"reply_packets"`
	ReplyBytes   uint64 `json:"reply_bytes"`
}

// FlowFilter selects flows of a listing. The zero value selects every flow;
// each field set narrows the selection.
type FlowFilter struct {
	GWLB      string   // load balancer name
	Node      string   // GWLB node name
	Endpoints []uint64 // endpoint numbers (GENEVE option 1 values); any of them
	Target    string   // target name or address
	// Hosts selects flows with either end (initiator or responder) in one
	// of the prefixes; a single address is a /32 or /128.
	Hosts []netip.Prefix
	Proto int // IP protocol number; 0 for any
}

// FlowSummary ends a flow listing: Matched counts every live flow the filter
// selected, Listed those sent (after Offset, at most Limit).
type FlowSummary struct {
	Matched int `json:"matched"`
	Listed  int `json:"listed"`
	Offset  int `json:"offset,omitempty"`
	Limit   int `json:"limit,omitempty"`
}

// FlowRef is a flow met while walking a node's tables: the entry is the
// walk's copy, valid only during the callback.
type FlowRef struct {
	Node     *Node
	Endpoint uint64
	Entry    *flow.Entry
	// At is the lab time of the walk, since the load balancer's epoch.
	At time.Duration
}

// WalkFlows calls fn with every live flow of the node that f selects, and
// reports whether it reached the end (fn returns false to stop). Flows are
// copied out of the tables a chunk at a time into buf (see flow.Table.Walk),
// so the walk needs buf's memory however many flows there are, and fn may
// take its time: no lock is held while it runs.
func (n *Node) WalkFlows(now time.Time, f *FlowFilter, buf []flow.Entry, fn func(FlowRef) bool) bool {
	if (f.GWLB != "" && f.GWLB != n.lb.Name) || (f.Node != "" && f.Node != n.Name) {
		return true
	}
	var targets []bool // by target index; nil selects every target
	if f.Target != "" {
		targets = make([]bool, len(n.lb.targets))
		for _, t := range n.lb.targets {
			targets[t.index] = t.Name == f.Target || t.IP.String() == f.Target
		}
	}
	at := n.lb.since(now)
	for _, ep := range slices.Sorted(maps.Keys(n.tables)) {
		if f.Endpoints != nil && !slices.Contains(f.Endpoints, ep) {
			continue
		}
		ok := n.tables[ep].Walk(at, buf, func(e *flow.Entry) bool {
			if targets != nil && !targets[e.Target] {
				return true
			}
			if f.Proto != 0 && int(e.Key.Proto) != f.Proto {
				return true
			}
			if f.Hosts != nil && !hostsMatch(f.Hosts, e.Key.Src, e.Key.Dst) {
				return true
			}
			return fn(FlowRef{Node: n, Endpoint: ep, Entry: e, At: at})
		})
		if !ok {
			return false
		}
	}
	return true
}

func hostsMatch(hosts []netip.Prefix, src, dst netip.Addr) bool {
	for _, h := range hosts {
		if h.Contains(src) || h.Contains(dst) {
			return true
		}
	}
	return false
}

// HasTarget reports whether the load balancer has a target of that name or
// address, so a listing can tell a typo from a target without flows.
func (lb *LB) HasTarget(nameOrIP string) bool {
	for _, t := range lb.targets {
		if t.Name == nameOrIP || t.IP.String() == nameOrIP {
			return true
		}
	}
	return false
}

// Flow returns the flow as the listing shows it.
func (r FlowRef) Flow() Flow {
	var out Flow
	// One encoder, so the two forms cannot disagree; the listing's JSON is
	// always valid, so this cannot fail.
	if err := json.Unmarshal(r.AppendJSON(nil), &out); err != nil {
		panic(fmt.Sprintf("flow listing wrote invalid JSON: %v", err))
	}
	return out
}

// AppendJSON appends the flow as one JSON object, the encoding of Flow,
// without allocating once b has room: a listing of any length costs the
// emulator no garbage per flow.
func (r FlowRef) AppendJSON(b []byte) []byte {
	n, e := r.Node, r.Entry
	t := n.lb.targets[e.Target]
	b = append(b, `{"gwlb":`...)
	b = appendString(b, n.lb.Name)
	b = append(b, `,"node":`...)
	b = appendString(b, n.Name)
	b = append(b, `,"az":`...)
	b = appendString(b, n.AZ)
	b = append(b, `,"endpoint":"vpce-`...)
	b = appendHex(b, r.Endpoint, 17)
	b = append(b, `","src":"`...)
	b = appendAddrPort(b, e.Key.Src, e.Key.SrcPort, e.Key.Proto)
	b = append(b, `","dst":"`...)
	b = appendAddrPort(b, e.Key.Dst, e.Key.DstPort, e.Key.Proto)
	b = append(b, `","proto":`...)
	b = strconv.AppendUint(b, uint64(e.Key.Proto), 10)
	b = append(b, `,"target":`...)
	b = appendString(b, t.Name)
	b = append(b, `,"target_ip":"`...)
	b = t.IP.AppendTo(b)
	b = append(b, `","cookie":"`...)
	b = appendHex(b, uint64(e.Cookie), 8)
	b = append(b, `","outer_port":`...)
	b = strconv.AppendUint(b, uint64(e.OuterPort), 10)
	b = append(b, `,"age":"`...)
	b = appendDuration(b, (r.At - e.Created).Round(time.Millisecond))
	b = append(b, `","idle":"`...)
	b = appendDuration(b, (r.At - e.LastSeen).Round(time.Millisecond))
	b = append(b, `","orig_packets":`...)
	b = strconv.AppendUint(b, e.Packets[flow.Original], 10)
	b = append(b, `,"orig_bytes":`...)
	b = strconv.AppendUint(b, e.Bytes[flow.Original], 10)
	b = append(b, `,"reply_packets":`...)
	b = strconv.AppendUint(b, e.Packets[flow.Reply], 10)
	b = append(b, `,"reply_bytes":`...)
	b = strconv.AppendUint(b, e.Bytes[flow.Reply], 10)
	return append(b, '}')
}

func appendAddrPort(b []byte, a netip.Addr, port uint16, proto uint8) []byte {
	if proto == packet.ProtoTCP || proto == packet.ProtoUDP {
		return netip.AddrPortFrom(a, port).AppendTo(b)
	}
	return a.AppendTo(b)
}

// appendHex appends v as digits lowercase hex digits, zero-padded.
func appendHex(b []byte, v uint64, digits int) []byte {
	const hex = "0123456789abcdef"
	for i := digits - 1; i >= 0; i-- {
		b = append(b, hex[(v>>(4*uint(i)))&0xf])
	}
	return b
}

// appendString appends s as a JSON string.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		case c < utf8.RuneSelf:
			b = append(b, c)
		default:
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				b = append(b, `\ufffd`...)
			} else {
				b = append(b, s[i:i+size]...)
			}
			i += size
			continue
		}
		i++
	}
	return append(b, '"')
}

// appendDuration appends d as time.Duration's String does, for d of whole
// milliseconds (what a listing shows), without allocating.
func appendDuration(b []byte, d time.Duration) []byte {
	if d%time.Millisecond != 0 {
		return append(b, d.String()...) // not what listings show; allocates
	}
	if d < 0 {
		b = append(b, '-')
		d = -d
	}
	if d < time.Second {
		if d == 0 {
			return append(b, "0s"...)
		}
		b = strconv.AppendInt(b, int64(d/time.Millisecond), 10)
		return append(b, "ms"...)
	}
	if h := d / time.Hour; h > 0 {
		b = strconv.AppendInt(b, int64(h), 10)
		b = append(b, 'h')
	}
	if d >= time.Minute {
		b = strconv.AppendInt(b, int64(d/time.Minute%60), 10)
		b = append(b, 'm')
	}
	b = strconv.AppendInt(b, int64(d/time.Second%60), 10)
	if ms := int64(d / time.Millisecond % 1000); ms != 0 {
		digits := [3]byte{byte('0' + ms/100), byte('0' + ms/10%10), byte('0' + ms%10)}
		n := 3
		for digits[n-1] == '0' {
			n--
		}
		b = append(b, '.')
		b = append(b, digits[:n]...)
	}
	return append(b, 's')
}

// Flows lists the node's live flows, oldest first (in-process callers and
// tests; the control API streams with WalkFlows instead).
func (n *Node) Flows(now time.Time) []Flow {
	type aged struct {
		f       Flow
		created time.Duration
	}
	var all []aged
	n.WalkFlows(now, &FlowFilter{}, nil, func(r FlowRef) bool {
		all = append(all, aged{r.Flow(), r.Entry.Created})
		return true
	})
	slices.SortStableFunc(all, func(a, b aged) int { return cmp.Compare(a.created, b.created) })
	out := make([]Flow, len(all))
	for i, a := range all {
		out[i] = a.f
	}
	return out
}

// FlowLine is one line of the control API's flow listing (JSON lines): a
// flow, or, last, the summary.
type FlowLine struct {
	Flow
	Summary *FlowSummary `json:"summary,omitempty"`
}

// ErrNoSummary says a flow listing ended before its summary line: the
// emulator stopped, or the connection broke, part way.
var ErrNoSummary = errors.New("flow listing ended without its summary")

// ReadFlows reads a flow listing as the control API streams it, calling fn
// with each flow as it arrives, and returns the summary that ends it.
func ReadFlows(r io.Reader, fn func(Flow) error) (FlowSummary, error) {
	dec := json.NewDecoder(r)
	for {
		var line FlowLine
		if err := dec.Decode(&line); err != nil {
			if errors.Is(err, io.EOF) {
				return FlowSummary{}, ErrNoSummary
			}
			return FlowSummary{}, fmt.Errorf("flow listing: %w", err)
		}
		if line.Summary != nil {
			return *line.Summary, nil
		}
		if err := fn(line.Flow); err != nil {
			return FlowSummary{}, err
		}
	}
}

// ParseHost reads a host filter: an address (a /32 or /128) or a prefix.
func ParseHost(s string) (netip.Prefix, error) {
	if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("host %q is not an address or a prefix", s)
	}
	return p.Masked(), nil
}

// ParseProto reads a protocol filter: a name the listing shows, or a number.
func ParseProto(s string) (int, error) {
	switch strings.ToLower(s) {
	case "tcp":
		return packet.ProtoTCP, nil
	case "udp":
		return packet.ProtoUDP, nil
	case "icmp":
		return packet.ProtoICMP, nil
	case "icmpv6":
		return packet.ProtoICMPv6, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 255 {
		return 0, fmt.Errorf("proto %q is not tcp, udp, icmp, icmpv6 or a protocol number (1-255)", s)
	}
	return n, nil
}
