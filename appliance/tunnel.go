package appliance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/gwlb-lab/gwlb-lab/emulator/flow"
	"github.com/gwlb-lab/gwlb-lab/emulator/packet"
)

// Tunnel mode hands the inner packets to the node's kernel instead of
// returning them at once, as AWS's tunnel handler (gwlbtun) does. For each
// GWLB endpoint (value of AWS option 1) it first hears from, it makes two
// TUN devices: gwi-<X>, into which it writes the decapsulated packets of
// that endpoint, and gwo-<X>, from which it reads what the kernel routes
// into it. <X> is the endpoint id in base 60 (a device name has at most 15
// characters). It then runs the hook with CREATE, the two device names and
// the endpoint id in hex, and the hook decides what the kernel does: its
// routes, rules and sysctls. A packet read from either device is sent back
// to the GWLB node with the GENEVE header last received for its flow (the
// inner 5-tuple, either direction); one of a flow the appliance never
// received is discarded (counted as no_flow): an appliance cannot start
// flows through a GWLB.

const (
	// tunnelFlowIdle is how long a flow's header is kept after its last
	// packet: GWLB's TCP idle timeout (spec §3.3), the longest of its flows.
	tunnelFlowIdle = 350 * time.Second
	// tunnelMaxFlows bounds the headers kept; a flow beyond it is still
	// delivered, but what comes back for it is discarded.
	tunnelMaxFlows = 1 << 16
	// hookTimeout bounds one run of the hook.
	hookTimeout = 30 * time.Second
	// tunnelRetry is how long after a failed attempt to make an endpoint's
	// devices the next one is made.
	tunnelRetry = time.Second
)

// errRecentFailure: the endpoint's devices could not be made less than
// tunnelRetry ago (logged then, not again for every packet).
var errRecentFailure = errors.New("tunnel devices not made (failed less than a second ago)")

// HookCreate and HookDestroy are the hook's first argument.
const (
	HookCreate  = "CREATE"
	HookDestroy = "DESTROY"
)

// TunnelDevices returns the names of the inbound and outbound devices of
// the GWLB endpoint eni, as gwlbtun names them.
func TunnelDevices(eni uint64) (in, out string) {
	x := base60(eni)
	return "gwi-" + x, "gwo-" + x
}

// base60 writes v with the digits 0-9, a-z and A-X, most significant first:
// at most 11 of them for 64 bits.
func base60(v uint64) string {
	const digits = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWX"
	var b [11]byte
	i := len(b)
	for {
		i--
		b[i] = digits[v%60]
		v /= 60
		if v == 0 {
			return string(b[i:])
		}
	}
}

// HookArgs returns the hook's arguments for action on endpoint eni.
func HookArgs(action string, eni uint64) []string {
	in, out := TunnelDevices(eni)
	return []string{action, in, out, fmt.Sprintf("%017x", eni)}
}

// tunnels is the state of tunnel mode: each endpoint's devices and the
// GENEVE header of each flow.
type tunnels struct {
	a *Appliance
	// open makes a TUN device; runHook runs the hook with its arguments.
	open    func(name string) (io.ReadWriteCloser, error)
	runHook func(ctx context.Context, args []string) error

	mu        sync.Mutex
	pairs     map[uint64]*tunPair
	failed    map[uint64]time.Time // endpoints whose devices could not be made, and when
	flows     map[flow.Key]*tunFlow
	lastSweep time.Time
	closed    bool
	wg        sync.WaitGroup
}

type tunPair struct {
	eni     uint64
	in, out io.ReadWriteCloser
}

// tunFlow is what a flow's returns are sent with.
type tunFlow struct {
	hdr      []byte // GENEVE header and options, as last received
	gwlb     netip.AddrPort
	local    netip.Addr
	lastSeen time.Time
}

func newTunnels(a *Appliance) *tunnels {
	t := &tunnels{a: a, open: openTUN, pairs: map[uint64]*tunPair{}, failed: map[uint64]time.Time{}, flows: map[flow.Key]*tunFlow{}}
	t.runHook = t.shellHook
	return t
}

// shellHook runs the configured hook command through sh with args
// appended, as gwlbtun runs its -c command, and logs what it printed.
func (t *tunnels) shellHook(ctx context.Context, args []string) error {
	hook := t.a.cfg.Hook
	if hook == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, hookTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", append([]string{"-c", hook + ` "$@"`, "hook"}, args...)...)
	out, err := cmd.CombinedOutput()
	if s := strings.TrimSpace(string(out)); s != "" {
		t.a.cfg.Log.Info("hook output", "args", strings.Join(args, " "), "output", s)
	}
	if err != nil {
		return fmt.Errorf("hook %q %s: %w", hook, strings.Join(args, " "), err)
	}
	return nil
}

// deliver writes the inner packet of p, received in GENEVE header g from
// p.GWLB at local, into its endpoint's inbound device, first making the
// devices if this is the endpoint's first packet, and keeps the header
// for the flow's returns.
func (t *tunnels) deliver(ctx context.Context, p *Packet, g packet.Geneve, local netip.Addr, now time.Time) error {
	pair, err := t.pair(ctx, p.Options.EndpointID, now)
	if err != nil {
		return err
	}
	t.remember(p.Key, g[:g.HeaderLen()], p.GWLB, local, now)
	if _, err := pair.in.Write(p.Inner); err != nil {
		in, _ := TunnelDevices(pair.eni)
		return fmt.Errorf("write to %s: %w", in, err)
	}
	return nil
}

// pair returns endpoint eni's devices, making them (and running the hook)
// on its first packet.
func (t *tunnels) pair(ctx context.Context, eni uint64, now time.Time) (*tunPair, error) {
	t.mu.Lock()
	p, ok := t.pairs[eni]
	last, failed := t.failed[eni]
	closed := t.closed
	t.mu.Unlock()
	switch {
	case ok:
		return p, nil
	case closed:
		return nil, errors.New("shutting down")
	case failed && now.Sub(last) < tunnelRetry:
		return nil, errRecentFailure
	}
	p, err := t.makePair(ctx, eni)
	t.mu.Lock()
	defer t.mu.Unlock()
	if err != nil {
		t.failed[eni] = now
		return nil, err
	}
	delete(t.failed, eni)
	t.pairs[eni] = p
	return p, nil
}

// makePair makes eni's two devices, runs the hook and starts reading them.
// Only the receiving goroutine calls it.
func (t *tunnels) makePair(ctx context.Context, eni uint64) (*tunPair, error) {
	inName, outName := TunnelDevices(eni)
	in, err := t.open(inName)
	if err != nil {
		return nil, err
	}
	out, err := t.open(outName)
	if err != nil {
		in.Close()
		return nil, err
	}
	p := &tunPair{eni: eni, in: in, out: out}
	t.a.cfg.Log.Info("tunnel devices made", "endpoint", fmt.Sprintf("vpce-%017x", eni), "in", inName, "out", outName)
	if err := t.runHook(ctx, HookArgs(HookCreate, eni)); err != nil {
		// gwlbtun goes on whatever its hook did; so does the lab, so that
		// a broken hook shows as broken forwarding, not as a dead target.
		t.a.cfg.Log.Warn("create hook failed", "error", err)
	}
	t.wg.Add(2)
	go t.read(p, in, inName)
	go t.read(p, out, outName)
	return p, nil
}

// remember keeps hdr as the header of k's flow.
func (t *tunnels) remember(k packet.FlowKey, hdr []byte, gwlb netip.AddrPort, local netip.Addr, now time.Time) {
	fk, _ := flow.Normalize(k, flow.FiveTuple)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sweep(now)
	f := t.flows[fk]
	if f == nil {
		if len(t.flows) >= tunnelMaxFlows {
			return
		}
		f = &tunFlow{}
		t.flows[fk] = f
	}
	f.hdr = append(f.hdr[:0], hdr...)
	f.gwlb, f.local, f.lastSeen = gwlb, local, now
}

// sweep forgets idle flows, at most once a second. t.mu is held.
func (t *tunnels) sweep(now time.Time) {
	if now.Sub(t.lastSweep) < time.Second {
		return
	}
	t.lastSweep = now
	for k, f := range t.flows {
		if now.Sub(f.lastSeen) > tunnelFlowIdle {
			delete(t.flows, k)
		}
	}
}

// lookup copies the header of ip's flow into hdr and returns it with where
// to send it.
func (t *tunnels) lookup(ip []byte, hdr []byte, now time.Time) ([]byte, netip.AddrPort, netip.Addr, bool) {
	k, _, err := packet.ParseFlow(ip)
	if err != nil {
		return nil, netip.AddrPort{}, netip.Addr{}, false
	}
	fk, _ := flow.Normalize(k, flow.FiveTuple)
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.flows[fk]
	if f == nil || now.Sub(f.lastSeen) > tunnelFlowIdle {
		return nil, netip.AddrPort{}, netip.Addr{}, false
	}
	f.lastSeen = now
	return append(hdr[:0], f.hdr...), f.gwlb, f.local, true
}

// read returns what the kernel sends into dev until dev is closed.
func (t *tunnels) read(p *tunPair, dev io.Reader, name string) {
	defer t.wg.Done()
	buf := make([]byte, 65535)
	out := make([]byte, 65535+packet.IPv4Len+packet.UDPLen+packet.GeneveLen+252)
	hdr := make([]byte, 0, packet.GeneveLen+252)
	for {
		n, err := dev.Read(buf)
		if err != nil {
			t.mu.Lock()
			closed := t.closed
			t.mu.Unlock()
			if !closed && !errors.Is(err, os.ErrClosed) {
				t.a.cfg.Log.Warn("tunnel device read failed; no more returns from it", "device", name, "error", err)
			}
			return
		}
		t.returnPacket(buf[:n], out, hdr, name)
	}
}

// returnPacket sends inner, read from device name, back to the GWLB node
// of its flow.
func (t *tunnels) returnPacket(inner, out, hdr []byte, name string) {
	h, gwlb, local, ok := t.lookup(inner, hdr, time.Now())
	if !ok {
		t.a.ctr.noFlow.Add(1)
		return
	}
	if err := t.a.sendParts(out, h, inner, gwlb, local); err != nil {
		t.a.cfg.Log.Warn("return failed", "device", name, "gwlb", gwlb.String(), "error", err)
		return
	}
	t.a.ctr.returned.Add(1)
}

// close runs the hook with DESTROY for every endpoint, then removes the
// devices (closing a TUN device removes it) and waits for the readers.
func (t *tunnels) close() {
	t.mu.Lock()
	t.closed = true
	pairs := make([]*tunPair, 0, len(t.pairs))
	for _, p := range t.pairs {
		pairs = append(pairs, p)
	}
	clear(t.pairs)
	t.mu.Unlock()
	for _, p := range pairs {
		if err := t.runHook(context.Background(), HookArgs(HookDestroy, p.eni)); err != nil {
			t.a.cfg.Log.Warn("destroy hook failed", "error", err)
		}
		p.in.Close()
		p.out.Close()
	}
	t.wg.Wait()
}
