package appliance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/gwlb-lab/gwlb-lab/emulator/packet"
	"github.com/gwlb-lab/gwlb-lab/internal/jsonfile"
	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

// Config configures an appliance.
type Config struct {
	// Listen is the GENEVE address; the port is 6081 unless given.
	Listen string
	// HealthAddr is the health responder's address (":80"); empty: none.
	HealthAddr string
	// Handler judges inner packets; nil passes everything.
	Handler Handler
	// FlowLog, when set, receives a record per new flow and direction.
	FlowLog io.Writer
	// TTL of returned outer packets (default 64).
	TTL uint8
	// Misbehave makes the appliance break the protocol on purpose.
	Misbehave Misbehave
	// GWLBNodes are the addresses of the GWLB nodes that send to this
	// appliance. GENEVE from any other address is refused and counted
	// (Stats.Foreign) instead of being returned: reflecting any sender
	// lets one crafted packet ping-pong between two appliances for ever.
	// Empty: any sender is taken for a GWLB node (outside a lab, where
	// nothing says which nodes there are).
	GWLBNodes []netip.Addr
	// StatsFile, when set, is where the counters are written as JSON (the
	// whole file replaced) about once a second while they change.
	StatsFile string
	// Tunnel hands inner packets to the node's kernel through a TUN pair
	// per GWLB endpoint and returns what the kernel routes back into them
	// (tunnel.go), instead of returning each packet at once.
	Tunnel bool
	// Hook, in tunnel mode, is a shell command run with CREATE (or
	// DESTROY), the inbound and outbound device names and the endpoint id
	// appended, when an endpoint's devices are made (or removed); empty:
	// none.
	Hook string
	// Log receives start-up and error messages; nil discards them.
	Log *slog.Logger
}

// Stats counts what the appliance did. Received counts every datagram on
// UDP 6081; each ends Returned (in tunnel mode: Tunneled, written to the
// kernel), Dropped (by a handler), Malformed, Foreign (not from a GWLB
// node of the appliance) or Control (the GENEVE O bit is set: a control
// message, whose payload must not be forwarded, RFC 8926 §3.4), or failed
// to send (logged). In tunnel mode Returned counts the packets read from
// the tunnel devices and sent back, NoFlow those read for a flow the
// appliance has no GENEVE header of (never received, or idled out).
type Stats struct {
	Received  uint64 `json:"received"`
	Returned  uint64 `json:"returned"`
	Dropped   uint64 `json:"dropped"`
	Malformed uint64 `json:"malformed"`
	Foreign   uint64 `json:"foreign"`
	Control   uint64 `json:"control"`
	Tunneled  uint64 `json:"tunneled,omitempty"`
	NoFlow    uint64 `json:"no_flow,omitempty"`
}

// Appliance is a running reference appliance.
type Appliance struct {
	cfg     Config
	flowLog *FlowLog
	gwlbs   map[netip.Addr]bool
	// sendTo sends an IPv4 packet (header included); a raw socket in Run.
	sendTo func(ip []byte, to netip.Addr) error
	mu     sync.Mutex
	stats  Stats
	// refusedFrom remembers the foreign senders already logged.
	refusedFrom map[netip.Addr]bool
	// tun is tunnel mode's state; nil in the other modes.
	tun *tunnels
}

// New returns an appliance for cfg.
func New(cfg Config) *Appliance {
	if cfg.Listen == "" {
		cfg.Listen = fmt.Sprintf(":%d", packet.GenevePort)
	}
	if cfg.Handler == nil {
		cfg.Handler = Forward{}
	}
	if cfg.TTL == 0 {
		cfg.TTL = 64
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	a := &Appliance{cfg: cfg, gwlbs: map[netip.Addr]bool{}, refusedFrom: map[netip.Addr]bool{}}
	for _, n := range cfg.GWLBNodes {
		a.gwlbs[n.Unmap()] = true
	}
	if cfg.FlowLog != nil {
		a.flowLog = NewFlowLog(cfg.FlowLog)
	}
	if cfg.Tunnel {
		a.tun = newTunnels(a)
	}
	return a
}

// Stats returns the counters.
func (a *Appliance) Stats() Stats {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.stats
}

// Run serves until ctx ends.
func (a *Appliance) Run(ctx context.Context) error {
	pc, err := net.ListenPacket("udp4", a.cfg.Listen)
	if err != nil {
		return fmt.Errorf("geneve socket: %w", err)
	}
	defer pc.Close()
	p := ipv4.NewPacketConn(pc)
	if err := p.SetControlMessage(ipv4.FlagDst, true); err != nil {
		return fmt.Errorf("geneve socket: %w", err)
	}
	raw, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_RAW)
	if err != nil {
		return fmt.Errorf("raw socket for returns: %w", err)
	}
	defer unix.Close(raw)
	a.sendTo = func(ip []byte, to netip.Addr) error {
		return unix.Sendto(raw, ip, 0, &unix.SockaddrInet4{Addr: to.As4()})
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	if a.cfg.StatsFile != "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.writeStats(ctx)
		}()
	}
	errc := make(chan error, 2)
	if a.cfg.HealthAddr != "" {
		ln, err := net.Listen("tcp", a.cfg.HealthAddr)
		if err != nil {
			return fmt.Errorf("health responder: %w", err)
		}
		delay := a.cfg.Misbehave.HealthDelay
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if delay > 0 {
				select {
				case <-time.After(delay):
				case <-r.Context().Done():
				}
			}
			_, _ = io.WriteString(w, "healthy\n")
		}), ReadHeaderTimeout: 5 * time.Second}
		wg.Add(2)
		go func() {
			defer wg.Done()
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("health responder: %w", err)
				cancel()
			}
		}()
		go func() {
			defer wg.Done()
			<-ctx.Done()
			_ = srv.Close()
		}()
	}
	if a.cfg.Misbehave.ReflectTCP {
		if err := reflectTCP(ctx, &wg); err != nil {
			cancel()
			wg.Wait()
			return err
		}
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		<-ctx.Done()
		_ = pc.Close()
	}()
	if a.tun != nil {
		// Returns come from the tunnel devices' readers until the
		// devices are removed, after the receiving loop below.
		defer a.tun.close()
	}
	a.cfg.Log.Info("appliance listening", "geneve", pc.LocalAddr().String(), "health", a.cfg.HealthAddr, "tunnel", a.cfg.Tunnel)

	buf := make([]byte, 65535)
	out := make([]byte, 65535)
	for {
		n, cm, from, err := p.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			wg.Wait()
			return fmt.Errorf("geneve socket: %w", err)
		}
		ua, ok := from.(*net.UDPAddr)
		if !ok || cm == nil {
			continue
		}
		src, _ := netip.AddrFromSlice(ua.IP.To4())
		dst, _ := netip.AddrFromSlice(cm.Dst.To4())
		a.handle(buf[:n], out, netip.AddrPortFrom(src, uint16(ua.Port)), dst)
	}
	wg.Wait()
	close(errc)
	return <-errc
}

// handle processes one GENEVE payload (header, options, inner packet) that
// gwlb sent to local, and returns it if the handlers pass it.
func (a *Appliance) handle(payload, out []byte, gwlb netip.AddrPort, local netip.Addr) {
	now := time.Now()
	a.count(func(s *Stats) { s.Received++ })
	if len(a.gwlbs) > 0 && !a.gwlbs[gwlb.Addr()] {
		// Returning it would send GENEVE to whoever sent it: another
		// appliance reflecting everything would send it straight back.
		a.mu.Lock()
		a.stats.Foreign++
		first := !a.refusedFrom[gwlb.Addr()] && len(a.refusedFrom) < 64
		if first {
			a.refusedFrom[gwlb.Addr()] = true
		}
		a.mu.Unlock()
		if first {
			a.cfg.Log.Warn("refused GENEVE from an address that is not a GWLB node of this appliance", "from", gwlb.String())
		}
		return
	}
	g := packet.Geneve(payload)
	if g.Validate() != nil {
		a.count(func(s *Stats) { s.Malformed++ })
		return
	}
	if g.OAM() {
		// A control message is for this tunnel endpoint; its payload
		// must not be forwarded (RFC 8926 §3.4), so it is not returned.
		a.count(func(s *Stats) { s.Control++ })
		return
	}
	opts, err := g.AWSOptions()
	if err != nil {
		a.count(func(s *Stats) { s.Malformed++ })
		return
	}
	inner := g.Payload()
	key, info, err := packet.ParseFlow(inner)
	if err != nil {
		a.count(func(s *Stats) { s.Malformed++ })
		return
	}
	pkt := &Packet{Inner: inner, Key: key, Info: info, Options: opts, GWLB: gwlb}
	v, reason := a.cfg.Handler.Handle(pkt, now)
	a.flowLog.Record(pkt, v, reason, now)
	if v == Drop {
		a.count(func(s *Stats) { s.Dropped++ })
		return
	}
	if a.tun != nil {
		if err := a.tun.deliver(context.Background(), pkt, g, local, now); err != nil {
			if !errors.Is(err, errRecentFailure) {
				a.cfg.Log.Warn("tunnel delivery failed", "endpoint", opts.EndpointName(), "error", err)
			}
			return
		}
		a.count(func(s *Stats) { s.Tunneled++ })
		return
	}
	if err := a.send(out, g, gwlb, local); err != nil {
		a.cfg.Log.Warn("return failed", "gwlb", gwlb.String(), "error", err)
		return
	}
	a.count(func(s *Stats) { s.Returned++ })
}

// send builds IPv4 + UDP + the echoed GENEVE header + the inner packet and
// sends it to the GWLB node on UDP 6081 from the GWLB's own source port.
func (a *Appliance) send(out []byte, g packet.Geneve, gwlb netip.AddrPort, local netip.Addr) error {
	return a.sendParts(out, g[:g.HeaderLen()], g.Payload(), gwlb, local)
}

// sendParts sends the GENEVE header hdr (with its options) and inner, in
// IPv4 and UDP from local and the GWLB's source port, to the GWLB node.
func (a *Appliance) sendParts(out, hdr, inner []byte, gwlb netip.AddrPort, local netip.Addr) error {
	hl := len(hdr)
	const hdrs = packet.IPv4Len + packet.UDPLen
	if hdrs+hl+len(inner) > len(out) {
		return errors.New("packet too big")
	}
	copy(out[hdrs:], hdr)
	hl = a.cfg.Misbehave.apply(out[hdrs : hdrs+hl])
	copy(out[hdrs+hl:], inner)
	total := hdrs + hl + len(inner)

	ip := packet.IPv4(out[:total])
	ip.SetHeaderLen(packet.IPv4Len)
	ip.SetTOS(0)
	ip.SetTotalLen(uint16(total))
	ip.SetID(0)
	ip.SetFlags(packet.IPv4FlagDF)
	ip.SetFragOffset(0)
	ip.SetTTL(a.cfg.TTL)
	ip.SetProtocol(packet.ProtoUDP)
	ip.SetSrc(local)
	ip.SetDst(gwlb.Addr())
	ip.ComputeChecksum()
	u := packet.UDP(out[packet.IPv4Len:total])
	sport := gwlb.Port()
	if a.cfg.Misbehave.ReplyFromPort != 0 {
		sport = a.cfg.Misbehave.ReplyFromPort
	}
	u.SetSrcPort(sport)
	u.SetDstPort(packet.GenevePort)
	u.SetLength(uint16(total - packet.IPv4Len))
	u.ComputeChecksum(local, gwlb.Addr())

	return a.sendTo(out[:total], gwlb.Addr())
}

// writeStats keeps the stats file up to date until ctx ends, then writes it
// a last time.
func (a *Appliance) writeStats(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var last Stats
	written := false
	for {
		s := a.Stats()
		if s != last || !written {
			if err := jsonfile.Write(a.cfg.StatsFile, s, 0o644, false); err != nil {
				a.cfg.Log.Warn("stats not written", "file", a.cfg.StatsFile, "error", err)
			} else {
				last, written = s, true
			}
		}
		select {
		case <-ctx.Done():
			if s := a.Stats(); s != last {
				_ = jsonfile.Write(a.cfg.StatsFile, s, 0o644, false)
			}
			return
		case <-t.C:
		}
	}
}

func (a *Appliance) count(f func(*Stats)) {
	a.mu.Lock()
	f(&a.stats)
	a.mu.Unlock()
}
