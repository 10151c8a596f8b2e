package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// Flow is one GWLB flow: one line of the flow listing.
type Flow struct {
	GWLB     string `json:"gwlb"`
	Node     string `json:"node"`
	AZ       string `json:"az"`
	Endpoint string `json:"endpoint"`
	// Src and Dst are the initiator's side and the responder's
	// (address:port for TCP and UDP, the address alone otherwise).
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

// FlowSummary ends a flow listing: Matched counts every live flow the filter
// selected, Listed those sent (after Offset, at most Limit).
type FlowSummary struct {
	Matched int `json:"matched"`
	Listed  int `json:"listed"`
	Offset  int `json:"offset,omitempty"`
	Limit   int `json:"limit,omitempty"`
}

// FlowLine is one line of the flow listing (JSON lines): a flow, or, last,
// the summary ({"summary":{...}}).
type FlowLine struct {
	Flow
	Summary *FlowSummary `json:"summary,omitempty"`
}

// FlowFilter selects the flows of a listing. The zero value selects every
// flow; each field set narrows the selection.
type FlowFilter struct {
	GWLB     string // load balancer name
	Node     string // GWLB node name (<gwlb>-<az>)
	Endpoint string // endpoint name or vpce- id
	Target   string // target name or address
	// Hosts selects flows with either end in one of them: addresses or
	// prefixes.
	Hosts []string
	// Proto is tcp, udp, icmp, icmpv6 or a protocol number; "" for any.
	Proto string
	// Offset skips that many matching flows; Limit sends at most that
	// many (nil: all; 0: the summary alone).
	Offset int
	Limit  *int
}

// Query checks the filter and returns it as the listing's query.
func (f FlowFilter) Query() (url.Values, error) {
	q := url.Values{}
	for k, v := range map[string]string{"gwlb": f.GWLB, "node": f.Node, "endpoint": f.Endpoint, "target": f.Target} {
		if v != "" {
			q.Set(k, v)
		}
	}
	for _, h := range f.Hosts {
		if _, err := ParseHost(h); err != nil {
			return nil, err
		}
		q.Add("host", h)
	}
	if f.Proto != "" {
		if _, err := ParseProto(f.Proto); err != nil {
			return nil, err
		}
		q.Set("proto", f.Proto)
	}
	if f.Offset < 0 || (f.Limit != nil && *f.Limit < 0) {
		return nil, errors.New("a flow listing's offset and limit are counts (0 or more)")
	}
	if f.Offset > 0 {
		q.Set("offset", strconv.Itoa(f.Offset))
	}
	if f.Limit != nil {
		q.Set("limit", strconv.Itoa(*f.Limit))
	}
	return q, nil
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

// IP protocol numbers the listings name.
const (
	ProtoICMP   = 1
	ProtoTCP    = 6
	ProtoUDP    = 17
	ProtoICMPv6 = 58
)

// ParseProto reads a protocol filter: a name the listing shows, or a number.
func ParseProto(s string) (int, error) {
	switch strings.ToLower(s) {
	case "tcp":
		return ProtoTCP, nil
	case "udp":
		return ProtoUDP, nil
	case "icmp":
		return ProtoICMP, nil
	case "icmpv6":
		return ProtoICMPv6, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 255 {
		return 0, fmt.Errorf("proto %q is not tcp, udp, icmp, icmpv6 or a protocol number (1-255)", s)
	}
	return n, nil
}
