package fabric

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gwlb-lab/gwlb-lab/emulator/api"
	"github.com/gwlb-lab/gwlb-lab/emulator/packet"
)

// tracer is one subscriber to traces of packets to or from its hosts.
type tracer struct {
	hosts   []netip.Addr // empty: every packet
	ch      chan api.Trace
	dropped atomic.Uint64
}

func (t *tracer) matches(src, dst netip.Addr) bool {
	if len(t.hosts) == 0 {
		return true
	}
	for _, h := range t.hosts {
		if h == src || h == dst {
			return true
		}
	}
	return false
}

// Trace delivers, until ctx ends, the trace of every IP packet whose
// source or destination is one of hosts (every packet when hosts is
// empty), including the inner packets that appliances return in GENEVE.
// Traces are built only while someone traces; a reader more than buffer
// traces behind loses traces, never slows the lab.
func (f *Fabric) Trace(ctx context.Context, hosts []netip.Addr, buffer int) <-chan api.Trace {
	t := &tracer{hosts: hosts, ch: make(chan api.Trace, max(buffer, 1))}
	f.tracers.add(t)
	context.AfterFunc(ctx, func() { f.tracers.remove(t) })
	return t.ch
}

// startTrace begins a trace of p, which came in from node, if a tracer
// wants it. how says how it arrived ("" for a frame from the node itself).
func (w *worker) startTrace(node string, p *pkt, how string) {
	list := w.f.tracers.load()
	if list == nil {
		return
	}
	src, dst := p.src(), p.dst()
	w.trTo = w.trTo[:0]
	for _, t := range list {
		if t.matches(src, dst) {
			w.trTo = append(w.trTo, t)
		}
	}
	if len(w.trTo) == 0 {
		return
	}
	w.tr = &api.Trace{Time: time.Now(), From: node, Packet: describe(p.buf[p.off:p.off+p.n]) + how}
}

// note adds a hop to the current trace. Callers check w.tr first, so that
// building the arguments costs nothing when nobody traces.
func (w *worker) note(format string, args ...any) {
	w.tr.Hops = append(w.tr.Hops, fmt.Sprintf(format, args...))
}

// outcome records how the traced packet ended, if nothing did before.
func (w *worker) outcome(format string, args ...any) {
	if w.tr != nil && w.tr.Result == "" {
		w.tr.Result = fmt.Sprintf(format, args...)
	}
}

// drop counts a drop and ends the trace with it.
func (w *worker) drop(r Reason) {
	w.f.drop(r)
	if w.tr != nil {
		w.outcome("dropped: %s", r)
	}
}

// publish hands the finished trace to its tracers.
func (w *worker) publish() {
	if w.tr == nil {
		return
	}
	if w.tr.Result == "" {
		w.tr.Result = "consumed"
	}
	for _, t := range w.trTo {
		select {
		case t.ch <- *w.tr:
		default:
			t.dropped.Add(1)
		}
	}
	w.tr = nil
}

// describe renders an IP packet in one line: "tcp 198.51.100.10:40000 ->
// 203.0.113.10:80 [S]".
func describe(ip []byte) string {
	fk, info, err := packet.ParseFlow(ip)
	if err != nil {
		return fmt.Sprintf("malformed IP packet (%v)", err)
	}
	var b strings.Builder
	switch fk.Proto {
	case packet.ProtoTCP, packet.ProtoUDP:
		name := "udp"
		if fk.Proto == packet.ProtoTCP {
			name = "tcp"
		}
		fmt.Fprintf(&b, "%s %s -> %s", name, netip.AddrPortFrom(fk.Src, fk.SrcPort), netip.AddrPortFrom(fk.Dst, fk.DstPort))
		if fk.Proto == packet.ProtoTCP {
			b.WriteString(" [" + flagString(info.TCPFlags) + "]")
		}
	case packet.ProtoICMP:
		fmt.Fprintf(&b, "icmp %s -> %s", fk.Src, fk.Dst)
	case packet.ProtoICMPv6:
		fmt.Fprintf(&b, "icmpv6 %s -> %s", fk.Src, fk.Dst)
	default:
		fmt.Fprintf(&b, "proto %d %s -> %s", fk.Proto, fk.Src, fk.Dst)
	}
	fmt.Fprintf(&b, ", %d bytes", len(ip))
	return b.String()
}

func flagString(f uint8) string {
	var b strings.Builder
	for _, x := range []struct {
		bit  uint8
		name byte
	}{{packet.TCPFlagSYN, 'S'}, {packet.TCPFlagFIN, 'F'}, {packet.TCPFlagRST, 'R'}, {packet.TCPFlagPSH, 'P'}, {packet.TCPFlagACK, '.'}} {
		if f&x.bit != 0 {
			b.WriteByte(x.name)
		}
	}
	return b.String()
}
