package fabric

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gwlb-lab/gwlb-lab/emulator/api"
	"github.com/gwlb-lab/gwlb-lab/emulator/clock"
	"github.com/gwlb-lab/gwlb-lab/emulator/config"
	"github.com/gwlb-lab/gwlb-lab/emulator/port"
)

// Port is what the fabric needs of a node's interface (emulator/port.Port
// satisfies it). Reads leave offset bytes of headroom in front of each frame.
type Port interface {
	Read(bufs [][]byte, sizes []int, offset int) (int, error)
	Write(bufs [][]byte, offset int) (int, error)
	BatchSize() int
	MTU() int
	Name() string
	Close() error
}

// queueDropper is a Port whose kernel queue can drop frames and says how
// many it dropped (emulator/port.TAP): the node's eth0 counts tx_dropped
// when the emulator reads too slowly and rx_dropped for what it refused.
type queueDropper interface {
	QueueDrops() (port.QueueDrops, error)
}

// multiQueue is a Port with several receive queues (emulator/port.TAP on a
// multi-queue TAP): the fabric reads each on its own goroutine with its
// own worker. The node's kernel keeps each flow on one queue, so a flow's
// packets are forwarded in order; Close interrupts every queue's Read.
type multiQueue interface {
	Queues() []port.Reader
}

// offloader is a Port with segmentation offloads (emulator/port.TAP).
type offloader interface {
	OffloadStats() port.OffloadStats
}

// DropTAPQueue is the drops entry that sums what the TAP queues of all
// ports dropped on the way from the nodes (tx_dropped on their eth0):
// frames the emulator did not read in time. The kernel counts them, not
// the fabric, so it is not a Reason.
const DropTAPQueue = "tap_queue_full"

// Headroom is the space the fabric reserves in front of every frame it reads,
// enough to prepend Ethernet, IPv4, UDP, GENEVE and the AWS options in place.
const Headroom = 128

// maxHops bounds how many times one packet may pass a router, gateway or
// endpoint inside the lab; the VPC router does not decrement TTL, so without
// it a routing loop would spin forever.
const maxHops = 32

// Options configure a Fabric.
type Options struct {
	// Clock tells lab time; nil means real time.
	Clock clock.Clock
	// Ports maps node names to their ports. The fabric owns them from New on
	// and closes them when Run returns.
	Ports map[string]Port
	// Seed seeds the generators that decide link loss and jitter (one per
	// port); 0 picks a random seed.
	Seed uint64
	// Log receives what the fabric has to say outside its counters: a
	// port whose writes fail or whose reading stopped, once per port. Nil
	// discards it.
	Log *slog.Logger
}

// Fabric forwards frames between the ports of one lab.
type Fabric struct {
	clock clock.Clock
	lab   atomic.Pointer[lab]
	// ports maps node names to ports; the map is replaced, never changed,
	// when a node joins or leaves at run time (nodes.go). The data path
	// does not read it: each compiled ENI holds its port.
	ports atomic.Pointer[map[string]*portState]
	drops [numReasons]atomic.Uint64
	rt    *runtime
	// loops spots packets that keep entering GWLB endpoints (loop.go).
	loops *loopGuard
	// tracers want the story of some packets (gwlb-lab trace).
	tracers subs[tracer]
	// seed seeds each port's generator for link impairments (impair.go).
	seed uint64
	// edits serializes runtime configuration changes (routes.go).
	edits sync.Mutex
	// log is where port failures are reported (Options.Log).
	log *slog.Logger
	// run holds what Run started, so that nodes added while it runs get a
	// reader too (nodes.go).
	run struct {
		mu      sync.Mutex
		running bool // Run started its readers and has not begun to stop
		stopped bool // Run is stopping or returned: no reader may start
		wg      sync.WaitGroup
		writers sync.WaitGroup // the ports' writers, stopped after the readers
		errs    []error
	}
	// added are the nodes added at run time, in the order they came
	// (guarded by edits).
	added []AddedNode
}

type portState struct {
	node    string
	p       Port
	rxPkts  atomic.Uint64
	rxBytes atomic.Uint64
	txPkts  atomic.Uint64
	txBytes atomic.Uint64
	caps    captures
	// imp is the link's impairment, nil when there is none: the only cost
	// of the feature on an unimpaired port (impair.go).
	imp    atomic.Pointer[impairment]
	impMu  sync.Mutex // serializes SetLink; guards impCfg and dq
	impCfg LinkImpairment
	dq     *delayQueue // made with the first delay, kept for frames in flight
	link   linkCounters
	// fail records what went wrong with the port itself (failure.go).
	fail portFailure
	// done is closed when the port's readers (one per queue) have all
	// returned; nil until they start.
	done chan struct{}
	// txq feeds the port's writer (txq.go); nil until the writer starts,
	// and then frames are written at once by whoever sends them.
	txq atomic.Pointer[txQueue]
	// wdone is closed when the port's writer returns; nil until it starts.
	wdone chan struct{}
	// removed is set when the node leaves the lab: writes that still
	// reach its closed port are dropped without a log line.
	removed atomic.Bool
}

// New compiles the snapshot and takes ownership of the ports. Every ENI of
// the snapshot needs a port.
func New(snap *config.Snapshot, opts Options) (*Fabric, error) {
	if err := snap.Validate(); err != nil {
		return nil, err
	}
	c := opts.Clock
	if c == nil {
		c = clock.NewScaled(snap.TimeScale)
	}
	f := &Fabric{clock: c, loops: newLoopGuard(c), seed: opts.Seed, log: opts.Log}
	if f.log == nil {
		f.log = slog.New(slog.DiscardHandler)
	}
	if f.seed == 0 {
		f.seed = rand.Uint64()
	}
	ports := map[string]*portState{}
	for _, e := range snap.AllENIs() {
		p, ok := opts.Ports[e.Node]
		if !ok {
			return nil, fmt.Errorf("node %q has no port", e.Node)
		}
		ports[e.Node] = &portState{node: e.Node, p: p}
	}
	f.ports.Store(&ports)
	rt, err := newRuntime(snap, c.Now(), defaultNATTimeouts)
	if err != nil {
		return nil, err
	}
	f.rt = rt
	l, err := compile(snap, rt, ports)
	if err != nil {
		return nil, err
	}
	f.lab.Store(l)
	return f, nil
}

// portMap returns the current ports by node name. The caller must not
// change it.
func (f *Fabric) portMap() map[string]*portState { return *f.ports.Load() }

// port returns a node's port, nil when the lab has no such node.
func (f *Fabric) port(node string) *portState { return f.portMap()[node] }

// Run forwards until ctx ends, then closes every port and returns once all of
// its goroutines have exited.
func (f *Fabric) Run(ctx context.Context) error {
	f.run.mu.Lock()
	if f.run.running || f.run.stopped {
		f.run.mu.Unlock()
		return errors.New("fabric: Run called twice")
	}
	f.run.running = true
	for _, ps := range f.portMap() {
		f.startReader(ps)
	}
	f.run.wg.Add(1)
	go func() {
		defer f.run.wg.Done()
		f.sweep(ctx)
	}()
	f.run.mu.Unlock()
	<-ctx.Done()
	f.run.mu.Lock()
	f.run.running, f.run.stopped = false, true
	f.run.mu.Unlock()
	// No reader starts from here on; a node added now is closed by
	// AddNode itself.
	for _, ps := range f.portMap() {
		_ = ps.p.Close()
	}
	f.run.wg.Wait()
	// The readers are gone; a delay queue's timer may still send, into a
	// closed queue, which drops.
	for _, ps := range f.portMap() {
		ps.stopWriter()
	}
	f.run.writers.Wait()
	f.run.mu.Lock()
	defer f.run.mu.Unlock()
	return errors.Join(f.run.errs...)
}

// startReader starts ps's writer and reader; f.run.mu must be held and
// Run running.
func (f *Fabric) startReader(ps *portState) {
	q := newTxQueue(ps.p.MTU())
	ps.wdone = make(chan struct{})
	ps.txq.Store(q)
	f.run.writers.Add(1)
	go func() {
		defer f.run.writers.Done()
		defer close(ps.wdone)
		f.writeLoop(ps, q)
	}()
	ps.done = make(chan struct{})
	queues := []port.Reader{ps.p}
	if mq, ok := ps.p.(multiQueue); ok {
		queues = mq.Queues()
	}
	var readers sync.WaitGroup
	for i, r := range queues {
		readers.Add(1)
		f.run.wg.Add(1)
		go func() {
			defer f.run.wg.Done()
			defer readers.Done()
			if err := f.readLoop(ps, r, i); err != nil && !ps.removed.Load() {
				f.run.mu.Lock()
				f.run.errs = append(f.run.errs, fmt.Errorf("port %q: %w", ps.node, err))
				f.run.mu.Unlock()
			}
		}()
	}
	f.run.wg.Add(1)
	go func() {
		defer f.run.wg.Done()
		readers.Wait()
		close(ps.done)
	}()
}

// sweep expires idle NAT entries once a second of wall time.
func (f *Fabric) sweep(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			now := f.clock.Now()
			for _, lb := range f.rt.lbs {
				for _, n := range lb.Nodes() {
					n.Expire(now)
					n.Sample(now)
				}
			}
			for _, v := range f.lab.Load().vpcs {
				for _, o := range v.owners {
					if o.kind == ownerNAT {
						o.nat.table.expire(now)
					}
				}
			}
		}
	}
}

// readLoop reads queue (of ps.p; the port itself if it has one queue)
// until the port is closed, with a worker of its own.
func (f *Fabric) readLoop(ps *portState, queue port.Reader, index int) error {
	batch := max(queue.BatchSize(), 1)
	bufs := make([][]byte, batch)
	for i := range bufs {
		bufs[i] = make([]byte, Headroom+ps.p.MTU()+64)
	}
	sizes := make([]int, batch)
	w := newWorker(f)
	if index == 0 {
		w.seedRand(ps.node)
	} else {
		w.seedRand(fmt.Sprintf("%s/queue%d", ps.node, index))
	}
	w.batching = true
	for {
		n, err := queue.Read(bufs, sizes, Headroom)
		w.nowOK = false // a new batch: the clock is read again
		for i := range n {
			ps.rxPkts.Add(1)
			ps.caps.tap(bufs[i][Headroom:Headroom+sizes[i]], false)
			ps.rxBytes.Add(uint64(sizes[i]))
			if imp := ps.imp.Load(); imp != nil && imp.cfg.Down {
				// A link that is down carries nothing from the node either.
				ps.link.down.Add(1)
				f.drop(DropLinkDown)
				continue
			}
			w.receive(ps.node, bufs[i], Headroom, sizes[i])
		}
		// Each destination's frames of this batch, in one push.
		w.flush()
		if err != nil {
			if isClosed(err) {
				return nil
			}
			f.readFailed(ps, err)
			return err
		}
	}
}

// ErrNotFound is returned for a name the lab does not have.
var ErrNotFound = errors.New("not found")

// Counters returns the current counters. Drop reasons are all listed, zero
// or not, so scripts can rely on the keys.
func (f *Fabric) Counters() api.Counters {
	c := api.Counters{Drops: map[string]uint64{}, NATConnections: map[string]int{}}
	for r := range numReasons {
		c.Drops[r.String()] = f.drops[r].Load()
	}
	c.Drops[DropTAPQueue] = 0
	for _, ps := range f.portMap() {
		pc := api.PortCounters{
			Node: ps.node, RxPkts: ps.rxPkts.Load(), RxBytes: ps.rxBytes.Load(),
			TxPkts: ps.txPkts.Load(), TxBytes: ps.txBytes.Load(),
		}
		ps.fail.report(&pc)
		if q := ps.txq.Load(); q != nil {
			pc.QueueFull = q.full.Load()
		}
		if imp := ps.imp.Load(); imp != nil {
			pc.Link = &api.PortLink{Down: imp.cfg.Down, LossPercent: imp.cfg.LossPercent}
			if imp.cfg.Delay > 0 {
				pc.Link.Delay = imp.cfg.Delay.String()
			}
			if imp.cfg.Jitter > 0 {
				pc.Link.Jitter = imp.cfg.Jitter.String()
			}
		}
		if q, ok := ps.p.(queueDropper); ok {
			if d, err := q.QueueDrops(); err != nil {
				pc.TAPError = err.Error()
			} else {
				pc.TAP = &api.QueueDrops{TxDropped: d.TxDropped, RxDropped: d.RxDropped}
				c.Drops[DropTAPQueue] += d.TxDropped
			}
		}
		if o, ok := ps.p.(offloader); ok {
			s := o.OffloadStats()
			pc.Offload = &api.PortOffload{
				Negotiated: s.Negotiated, SuperFrames: s.SuperFrames, Segments: s.Segments,
				Dropped: s.Dropped, Coalesced: s.Coalesced, CoalesceOff: s.CoalesceOff,
				CoalescedUDP: s.CoalescedUDP, CoalesceUDPOff: s.CoalesceUDPOff,
			}
		}
		c.Ports = append(c.Ports, pc)
	}
	sort.Slice(c.Ports, func(i, j int) bool { return c.Ports[i].Node < c.Ports[j].Node })
	c.GWLB = f.GWLBMetrics()
	for _, v := range f.lab.Load().vpcs {
		for _, o := range v.owners {
			if o.kind == ownerNAT {
				c.NATConnections[o.nat.cfg.Name] = o.nat.table.len()
			}
		}
	}
	return c
}

// Drops returns the count for one reason.
func (f *Fabric) Drops(r Reason) uint64 { return f.drops[r].Load() }

func (f *Fabric) drop(r Reason) { f.drops[r].Add(1) }
