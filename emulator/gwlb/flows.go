package gwlb

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/gwlb-lab/gwlb-lab/emulator/api"
	"github.com/gwlb-lab/gwlb-lab/emulator/flow"
	"github.com/gwlb-lab/gwlb-lab/emulator/packet"
)

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
		all := n.lb.Targets()
		targets = make([]bool, len(all))
		for _, t := range all {
			targets[t.index] = t.Name == f.Target || t.IP.String() == f.Target
		}
	}
	at := n.lb.since(now)
	for _, ep := range slices.Sorted(maps.Keys(n.tables)) {
		if f.Endpoints != nil && !slices.Contains(f.Endpoints, ep) {
			continue
		}
		ok := n.tables[ep].Walk(at, buf, func(e *flow.Entry) bool {
			if targets != nil && (e.Target >= len(targets) || !targets[e.Target]) { // a target added since the walk began is not the one asked for
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
	for _, t := range lb.Targets() {
		if t.Name == nameOrIP || t.IP.String() == nameOrIP {
			return true
		}
	}
	return false
}

// Flow returns the flow as the listing shows it.
func (r FlowRef) Flow() api.Flow {
	var out api.Flow
	// One encoder, so the two forms cannot disagree; the listing's JSON is
	// always valid, so this cannot fail.
	if err := json.Unmarshal(r.AppendJSON(nil), &out); err != nil {
		panic(fmt.Sprintf("flow listing wrote invalid JSON: %v", err))
	}
	return out
}

// AppendJSON appends the flow as one JSON object, the encoding of api.Flow,
// without allocating once b has room: a listing of any length costs the
// emulator no garbage per flow.
func (r FlowRef) AppendJSON(b []byte) []byte {
	n, e := r.Node, r.Entry
	t := n.lb.targetAt(e.Target)
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
func (n *Node) Flows(now time.Time) []api.Flow {
	type aged struct {
		f       api.Flow
		created time.Duration
	}
	var all []aged
	n.WalkFlows(now, &FlowFilter{}, nil, func(r FlowRef) bool {
		all = append(all, aged{r.Flow(), r.Entry.Created})
		return true
	})
	slices.SortStableFunc(all, func(a, b aged) int { return cmp.Compare(a.created, b.created) })
	out := make([]api.Flow, len(all))
	for i, a := range all {
		out[i] = a.f
	}
	return out
}
