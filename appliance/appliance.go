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
	// Log receives start-up and error messages; nil discards them.
	Log *slog.Logger
}

// Stats counts what the appliance did.
type Stats struct {
	Received, Returned, Dropped, Malformed uint64
}

// Appliance is a running reference appliance.
type Appliance struct {
	cfg     Config
	flowLog *FlowLog
	mu      sync.Mutex
	stats   Stats
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
	a := &Appliance{cfg: cfg}
	if cfg.FlowLog != nil {
		a.flowLog = NewFlowLog(cfg.FlowLog)
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

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
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
	a.cfg.Log.Info("appliance listening", "geneve", pc.LocalAddr().String(), "health", a.cfg.HealthAddr)

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
		a.handle(raw, buf[:n], out, netip.AddrPortFrom(src, uint16(ua.Port)), dst)
	}
	wg.Wait()
	close(errc)
	return <-errc
}

// handle processes one GENEVE payload (header, options, inner packet) that
// gwlb sent to local, and returns it if the handlers pass it.
func (a *Appliance) handle(raw int, payload, out []byte, gwlb netip.AddrPort, local netip.Addr) {
	now := time.Now()
	a.count(func(s *Stats) { s.Received++ })
	g := packet.Geneve(payload)
	if g.Validate() != nil {
		a.count(func(s *Stats) { s.Malformed++ })
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
	if err := a.send(raw, out, g, gwlb, local); err != nil {
		a.cfg.Log.Warn("return failed", "gwlb", gwlb.String(), "error", err)
		return
	}
	a.count(func(s *Stats) { s.Returned++ })
}

// send builds IPv4 + UDP + the echoed GENEVE header + the inner packet and
// sends it to the GWLB node on UDP 6081 from the GWLB's own source port.
func (a *Appliance) send(raw int, out []byte, g packet.Geneve, gwlb netip.AddrPort, local netip.Addr) error {
	hl := g.HeaderLen()
	inner := g.Payload()
	const hdrs = packet.IPv4Len + packet.UDPLen
	if hdrs+len(g) > len(out) {
		return errors.New("packet too big")
	}
	copy(out[hdrs:], g[:hl])
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

	to := &unix.SockaddrInet4{Addr: gwlb.Addr().As4()}
	return unix.Sendto(raw, out[:total], 0, to)
}

func (a *Appliance) count(f func(*Stats)) {
	a.mu.Lock()
	f(&a.stats)
	a.mu.Unlock()
}
