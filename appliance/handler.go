package appliance

import (
	"net/netip"
	"sync"
	"time"

	"github.com/gwlb-lab/gwlb-lab/emulator/flow"
	"github.com/gwlb-lab/gwlb-lab/emulator/packet"
)

// Packet is one inner packet on its way through the handler chain.
type Packet struct {
	Inner   []byte
	Key     packet.FlowKey
	Info    packet.FlowInfo
	Options packet.AWSOptions
	// GWLB is the outer source: the GWLB node and its per-flow port.
	GWLB netip.AddrPort
}

// Verdict is a handler's decision.
type Verdict uint8

// Verdicts.
const (
	Pass Verdict = iota
	Drop
)

func (v Verdict) String() string {
	if v == Pass {
		return "pass"
	}
	return "drop"
}

// Handler looks at a packet and passes or drops it; Reason says why it
// dropped one (for the flow log).
type Handler interface {
	Handle(p *Packet, now time.Time) (Verdict, string)
}

// Forward passes everything.
type Forward struct{}

// Handle passes p.
func (Forward) Handle(*Packet, time.Time) (Verdict, string) { return Pass, "" }

// Rule is one firewall rule; the zero CIDR, protocol 0 and port 0 match
// anything. CIDR and Port match the inner destination of a connection's
// first packet.
type Rule struct {
	Allow bool
	CIDR  netip.Prefix
	Proto uint8 // 0: any
	Port  uint16
}

func (r Rule) matches(k packet.FlowKey) bool {
	if r.CIDR.IsValid() && !r.CIDR.Contains(k.Dst) {
		return false
	}
	if r.Proto != 0 && r.Proto != k.Proto {
		return false
	}
	if r.Port != 0 && (k.Proto != packet.ProtoTCP && k.Proto != packet.ProtoUDP || r.Port != k.DstPort) {
		return false
	}
	return true
}

// Firewall is a stateful firewall on the inner 5-tuple. A connection starts
// with its first packet (for TCP only a SYN), which the rules judge; later
// packets of an allowed connection pass in both directions. A TCP packet of
// a connection the firewall never saw start is dropped: the symptom of
// asymmetric routing, where the other direction went through another
// appliance or around the GWLB.
type Firewall struct {
	Rules        []Rule
	DefaultAllow bool
	TCPTimeout   time.Duration // idle timeout of TCP connections
	OtherTimeout time.Duration // idle timeout of everything else
	mu           sync.Mutex
	conns        map[flow.Key]*conn
	lastSweep    time.Time
}

type conn struct {
	allowed  bool
	lastSeen time.Time
}

// Drop reasons the firewall gives.
const (
	ReasonDenied       = "denied by rule"
	ReasonNoConnection = "no connection: mid-flow packet of a connection never seen starting"
)

// Handle judges p.
func (f *Firewall) Handle(p *Packet, now time.Time) (Verdict, string) {
	k, _ := flow.Normalize(p.Key, flow.FiveTuple)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.conns == nil {
		f.conns = map[flow.Key]*conn{}
	}
	f.sweep(now)
	c, ok := f.conns[k]
	if ok && now.Sub(c.lastSeen) > f.timeout(p.Key.Proto) {
		delete(f.conns, k)
		ok = false
	}
	if !ok {
		if p.Key.Proto == packet.ProtoTCP && !(p.Info.TCPFlags&packet.TCPFlagSYN != 0 && p.Info.TCPFlags&packet.TCPFlagACK == 0) {
			return Drop, ReasonNoConnection
		}
		c = &conn{allowed: f.judge(p.Key)}
		f.conns[k] = c
	}
	c.lastSeen = now
	if p.Key.Proto == packet.ProtoTCP && p.Info.TCPFlags&packet.TCPFlagRST != 0 {
		delete(f.conns, k)
	}
	if !c.allowed {
		return Drop, ReasonDenied
	}
	return Pass, ""
}

func (f *Firewall) judge(k packet.FlowKey) bool {
	for _, r := range f.Rules {
		if r.matches(k) {
			return r.Allow
		}
	}
	return f.DefaultAllow
}

func (f *Firewall) timeout(proto uint8) time.Duration {
	if proto == packet.ProtoTCP {
		return f.TCPTimeout
	}
	return f.OtherTimeout
}

// sweep forgets idle connections, at most once a second.
func (f *Firewall) sweep(now time.Time) {
	if now.Sub(f.lastSweep) < time.Second {
		return
	}
	f.lastSweep = now
	for k, c := range f.conns {
		if now.Sub(c.lastSeen) > max(f.TCPTimeout, f.OtherTimeout) {
			delete(f.conns, k)
		}
	}
}
