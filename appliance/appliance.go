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
	"sync/atomic"
	"time"

	"github.com/gwlb-lab/gwlb-lab/emulator/packet"
	"github.com/gwlb-lab/gwlb-lab/internal/jsonfile"
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
	// GROTrains are the reads that brought several datagrams of one
	// sender at once (UDP GRO); their datagrams count in Received.
	GROTrains uint64 `json:"gro_trains,omitempty"`
}

// Appliance is a running reference appliance.
type Appliance struct {
	cfg     Config
	flowLog *FlowLog
	gwlbs   map[netip.Addr]bool
	// sendTo sends an IPv4 packet (header included); a raw socket in Run.
	// Tunnel mode returns through it, and so does the echo path when
	// sendBatch is nil (tests).
	sendTo func(ip []byte, to netip.Addr) error
	// sendBatch sends the echo path's returns; sendmmsg on the raw socket
	// in Run. Nil: each goes through sendTo.
	sendBatch batchSender
	ctr       counters
	// mu guards refusedFrom, the foreign senders already logged.
	mu          sync.Mutex
	refusedFrom map[netip.Addr]bool
	// echo is the state of handle, the single-packet entry point.
	echo *echoer
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

// counters are Stats as atomics: the receiving loop and tunnel mode's
// readers add to them without a lock.
type counters struct {
	received, returned, dropped, malformed, foreign, control, tunneled, noFlow, groTrains atomic.Uint64
}

// Stats returns the counters.
func (a *Appliance) Stats() Stats {
	c := &a.ctr
	return Stats{Received: c.received.Load(), Returned: c.returned.Load(), Dropped: c.dropped.Load(),
		Malformed: c.malformed.Load(), Foreign: c.foreign.Load(), Control: c.control.Load(),
		Tunneled: c.tunneled.Load(), NoFlow: c.noFlow.Load(), GROTrains: c.groTrains.Load()}
}

// Run serves until ctx ends.
func (a *Appliance) Run(ctx context.Context) error {
	pc, err := net.ListenPacket("udp4", a.cfg.Listen)
	if err != nil {
		return fmt.Errorf("geneve socket: %w", err)
	}
	defer pc.Close()
	rx, err := newReceiver(pc.(*net.UDPConn))
	if err != nil {
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
	rs := &returnSender{raw: newRawSender(raw), gso: newGSOSender(a.cfg.TTL)}
	if rs.gso != nil {
		defer rs.gso.close()
	}
	a.sendBatch = rs

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
	a.cfg.Log.Info("appliance listening", "geneve", pc.LocalAddr().String(), "health", a.cfg.HealthAddr, "tunnel", a.cfg.Tunnel, "udp_gro", rx.gro, "udp_gso", rs.gso != nil)

	e := a.newEchoer()
	for {
		n, err := rx.read()
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			wg.Wait()
			return fmt.Errorf("geneve socket: %w", err)
		}
		now := time.Now()
		for i := range n {
			payload, seg, from, local, ok := rx.message(i)
			if !ok {
				continue
			}
			// A GRO train is datagrams of seg bytes (the last one
			// shorter or equal) of one sender, read as one.
			if len(payload) > seg {
				a.ctr.groTrains.Add(1)
			}
			for len(payload) > seg {
				e.handle(payload[:seg], from, local, now)
				payload = payload[seg:]
			}
			e.handle(payload, from, local, now)
		}
		// The returns refer to rx's buffers: sent before the next read.
		e.flush()
	}
	wg.Wait()
	close(errc)
	return <-errc
}

// refuse counts GENEVE from gwlb, which is not a GWLB node of the
// appliance, and logs its first packet (of at most 64 such senders).
func (a *Appliance) refuse(gwlb netip.AddrPort) {
	a.ctr.foreign.Add(1)
	a.mu.Lock()
	first := !a.refusedFrom[gwlb.Addr()] && len(a.refusedFrom) < 64
	if first {
		a.refusedFrom[gwlb.Addr()] = true
	}
	a.mu.Unlock()
	if first {
		a.cfg.Log.Warn("refused GENEVE from an address that is not a GWLB node of this appliance", "from", gwlb.String())
	}
}

// handle processes one GENEVE payload (header, options, inner packet) that
// gwlb sent to local, and returns it at once if the handlers pass it: the
// single-packet form of the receiving loop, for tests.
func (a *Appliance) handle(payload, _ []byte, gwlb netip.AddrPort, local netip.Addr) {
	if a.echo == nil {
		a.echo = a.newEchoer()
	}
	a.echo.handle(payload, gwlb, local, time.Now())
	a.echo.flush()
}

// echoer is the receiving loop's state: the packet handed to the handler
// and the returns queued for one batched send, all reused, so that the
// echo path allocates nothing per packet.
type echoer struct {
	a   *Appliance
	pkt Packet
	q   returnQueue
	// one is a whole return, for sendTo when there is no batch sender.
	one []byte
}

func (a *Appliance) newEchoer() *echoer {
	return &echoer{a: a, q: newReturnQueue(returnBatch)}
}

// handle processes one GENEVE payload that gwlb sent to local at now, and
// queues its return if the handlers pass it. The queued return refers to
// payload until flush.
func (e *echoer) handle(payload []byte, gwlb netip.AddrPort, local netip.Addr, now time.Time) {
	a := e.a
	a.ctr.received.Add(1)
	if len(a.gwlbs) > 0 && !a.gwlbs[gwlb.Addr()] {
		// Returning it would send GENEVE to whoever sent it: another
		// appliance reflecting everything would send it straight back.
		a.refuse(gwlb)
		return
	}
	g := packet.Geneve(payload)
	if g.Validate() != nil {
		a.ctr.malformed.Add(1)
		return
	}
	if g.OAM() {
		// A control message is for this tunnel endpoint; its payload
		// must not be forwarded (RFC 8926 §3.4), so it is not returned.
		a.ctr.control.Add(1)
		return
	}
	opts, err := g.AWSOptions()
	if err != nil {
		a.ctr.malformed.Add(1)
		return
	}
	inner := g.Payload()
	key, info, err := packet.ParseFlow(inner)
	if err != nil {
		a.ctr.malformed.Add(1)
		return
	}
	e.pkt = Packet{Inner: inner, Key: key, Info: info, Options: opts, GWLB: gwlb}
	pkt := &e.pkt
	v, reason := a.cfg.Handler.Handle(pkt, now)
	a.flowLog.Record(pkt, v, reason, now)
	if v == Drop {
		a.ctr.dropped.Add(1)
		return
	}
	if a.tun != nil {
		if err := a.tun.deliver(context.Background(), pkt, g, local, now); err != nil {
			if !errors.Is(err, errRecentFailure) {
				a.cfg.Log.Warn("tunnel delivery failed", "endpoint", opts.EndpointName(), "error", err)
			}
			return
		}
		a.ctr.tunneled.Add(1)
		return
	}
	if e.q.full() {
		e.flush()
	}
	if err := e.q.add(g[:g.HeaderLen()], pkt.Inner, gwlb, local, a.cfg.TTL, a.cfg.Misbehave); err != nil {
		a.cfg.Log.Warn("return failed", "gwlb", gwlb.String(), "error", err)
	}
}

// flush sends the queued returns and counts those sent; one the kernel
// refuses is logged and skipped.
func (e *echoer) flush() {
	a := e.a
	msgs := e.q.msgs
	for len(msgs) > 0 {
		var n int
		var err error
		if a.sendBatch != nil {
			n, err = a.sendBatch.send(msgs)
		} else {
			n, err = e.sendEach(msgs)
		}
		a.ctr.returned.Add(uint64(n))
		msgs = msgs[n:]
		if err != nil {
			if len(msgs) > 0 {
				a.cfg.Log.Warn("return failed", "gwlb", msgs[0].to.String(), "error", err)
				msgs = msgs[1:]
			} else {
				a.cfg.Log.Warn("return failed", "error", err)
			}
		}
	}
	e.q.reset()
}

// sendEach sends msgs one by one through sendTo, as batchSender.send does.
func (e *echoer) sendEach(msgs []returnMsg) (int, error) {
	for i, m := range msgs {
		e.one = append(append(e.one[:0], m.hdr...), m.inner...)
		if err := e.a.sendTo(e.one, m.to); err != nil {
			return i, err
		}
	}
	return len(msgs), nil
}

// sendParts sends the GENEVE header hdr (with its options) and inner, in
// IPv4 and UDP from local and the GWLB's source port, to the GWLB node.
func (a *Appliance) sendParts(out, hdr, inner []byte, gwlb netip.AddrPort, local netip.Addr) error {
	n, err := putReturnHeaders(out, hdr, inner, gwlb, local, a.cfg.TTL, a.cfg.Misbehave)
	if err != nil {
		return err
	}
	if n+len(inner) > len(out) {
		return errors.New("packet too big")
	}
	copy(out[n:], inner)
	return a.sendTo(out[:n+len(inner)], gwlb.Addr())
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
