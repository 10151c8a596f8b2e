package fabric

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gwlb-lab/gwlb-lab/emulator/config"
	"github.com/gwlb-lab/gwlb-lab/emulator/packet"
	"github.com/gwlb-lab/gwlb-lab/emulator/port"
)

// pipeLab is a fabric over in-memory pipes: the fabric owns one end of
// each node's pipe, the test the other (peers). Nodes in stuck get a
// stuckPort instead.
type pipeLab struct {
	f     *Fabric
	peers map[string]port.Port
	ends  map[string]*port.Pipe // the fabric's ends, for their drop counts
}

func newPipeLab(t *testing.T, s *config.Snapshot, stuck map[string]*stuckPort) *pipeLab {
	t.Helper()
	l := &pipeLab{peers: map[string]port.Port{}, ends: map[string]*port.Pipe{}}
	ports := map[string]Port{}
	for _, e := range s.AllENIs() {
		if sp, ok := stuck[e.Node]; ok {
			ports[e.Node] = sp
			continue
		}
		a, b := port.NewPipe(e.Node, e.MTU)
		ports[e.Node], l.peers[e.Node], l.ends[e.Node] = a, b, a.(*port.Pipe)
	}
	f, err := New(s, Options{Ports: ports, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	markHealthy(f)
	l.f = f
	return l
}

// run runs the fabric until the test ends.
func (l *pipeLab) run(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.f.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("Run did not return")
		}
	})
}

// stuckPort is a node whose port never takes a frame: Write blocks until
// Close, as a TAP whose node does not keep up would. It sends nothing.
type stuckPort struct {
	name    string
	closed  chan struct{}
	once    sync.Once
	writing chan struct{} // closed once a Write has started
	wonce   sync.Once
}

func newStuckPort(name string) *stuckPort {
	return &stuckPort{name: name, closed: make(chan struct{}), writing: make(chan struct{})}
}

func (p *stuckPort) Read([][]byte, []int, int) (int, error) {
	<-p.closed
	return 0, os.ErrClosed
}

func (p *stuckPort) Write([][]byte, int) (int, error) {
	p.wonce.Do(func() { close(p.writing) })
	<-p.closed
	return 0, os.ErrClosed
}

func (p *stuckPort) BatchSize() int { return 1 }
func (p *stuckPort) MTU() int       { return 9001 }
func (p *stuckPort) Name() string   { return p.name }
func (p *stuckPort) Close() error {
	p.once.Do(func() { close(p.closed) })
	return nil
}

// seqFrame is a UDP frame whose payload is seq, for order checks.
func seqFrame(dstMAC, srcMAC config.MAC, src, dst string, sport uint16, seq uint32) []byte {
	var pl [4]byte
	binary.BigEndian.PutUint32(pl[:], seq)
	ip := packet.AppendUDP(nil, packet.IPHeader{Src: a(src), Dst: a(dst)}, sport, 7, pl[:])
	return packet.AppendFrame(nil, packet.MAC(dstMAC), packet.MAC(srcMAC), ip)
}

// frameSeq returns a received seqFrame's flow (source address and port)
// and sequence number.
func frameSeq(f []byte) (string, uint32, bool) {
	if len(f) < packet.EthernetLen {
		return "", 0, false
	}
	ip := packet.IPv4(f[packet.EthernetLen:])
	if ip.Validate() != nil || ip.Protocol() != packet.ProtoUDP {
		return "", 0, false
	}
	u := packet.UDP(ip.Payload())
	if !u.ChecksumValid(ip.Src(), ip.Dst()) || len(u.Payload()) != 4 {
		return "", 0, false
	}
	return fmt.Sprintf("%s:%d", ip.Src(), u.SrcPort()), binary.BigEndian.Uint32(u.Payload()), true
}

// until waits for cond, at most 20 s, and reports whether it held.
func until(cond func() bool) bool {
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(time.Millisecond)
	}
	return true
}

// rx is how many frames the fabric read from node.
func (l *pipeLab) rx(node string) uint64 { return l.f.port(node).rxPkts.Load() }

// Two readers carry many flows each into one port, in batches: every flow
// arrives in the order it was sent, and every frame is either delivered
// or counted where it was dropped.
func TestBatchingKeepsEachFlowInOrder(t *testing.T) {
	l := newPipeLab(t, plainVPC(), nil)
	l.run(t)
	const flows, perFlow = 50, 200
	senders := []struct {
		node     string
		dst, src config.MAC
		from, to string
	}{
		{"web2", macRouterApp, macWeb2, "10.0.1.11", "10.0.1.10"},             // routed in the subnet
		{"client", macRouterInet, macClient, "198.51.100.10", "203.0.113.10"}, // through the IGW
	}
	// The receiver drains web while the senders send.
	last := map[string]uint32{}
	var got atomic.Uint64
	recvDone := make(chan struct{})
	go func() {
		defer close(recvDone)
		bufs, sizes := [][]byte{make([]byte, 9100), make([]byte, 9100)}, make([]int, 2)
		for {
			n, err := l.peers["web"].Read(bufs, sizes, 0)
			if err != nil {
				return
			}
			for i := range n {
				flow, seq, ok := frameSeq(bufs[i][:sizes[i]])
				if !ok {
					t.Errorf("web received a frame that is not one sent: % x", bufs[i][:sizes[i]])
					continue
				}
				if prev, seen := last[flow]; seen && seq <= prev {
					t.Errorf("flow %s: frame %d after %d", flow, seq, prev)
				}
				last[flow] = seq
				got.Add(1)
			}
		}
	}()
	var wg sync.WaitGroup
	for _, s := range senders {
		wg.Go(func() {
			sent := 0
			batch := make([][]byte, 0, 32)
			for seq := range uint32(perFlow) {
				for fl := range flows {
					batch = append(batch, seqFrame(s.dst, s.src, s.from, s.to, uint16(10000+fl), seq))
					if len(batch) < cap(batch) && !(seq == perFlow-1 && fl == flows-1) {
						continue
					}
					if _, err := l.peers[s.node].Write(batch, 0); err != nil {
						t.Error(err)
						return
					}
					sent += len(batch)
					batch = batch[:0]
					// Stay within the pipe's queue towards the fabric.
					if !until(func() bool { return l.rx(s.node)+port.PipeQueueLen/2 >= uint64(sent) }) {
						t.Errorf("the fabric read %d of %d frames from %s", l.rx(s.node), sent, s.node)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	total := uint64(len(senders) * flows * perFlow)
	web := l.f.port("web")
	webPeer := l.peers["web"].(*port.Pipe)
	// Everything sent was read, then delivered to web's pipe or dropped
	// by web's write queue; what was delivered was received or dropped by
	// the pipe (the receiver fell behind).
	if !until(func() bool {
		return l.rx("web2")+l.rx("client") == total &&
			web.txPkts.Load()+l.f.Drops(DropPortQueueFull) == total &&
			got.Load()+webPeer.Drops() == web.txPkts.Load()
	}) {
		t.Fatalf("of %d frames sent %d were read, %d delivered, %d dropped by the queue, %d received, %d lost in the pipe; drops %v",
			total, l.rx("web2")+l.rx("client"), web.txPkts.Load(), l.f.Drops(DropPortQueueFull), got.Load(), webPeer.Drops(), nonZeroDrops(l.f))
	}
	for r, n := range nonZeroDrops(l.f) {
		if r != "port_queue_full" {
			t.Errorf("%d frames dropped as %s", n, r)
		}
	}
	_ = webPeer.Close()
	<-recvDone
	if len(last) != 2*flows || got.Load() < total/10 {
		t.Fatalf("web received %d frames of %d flows, want a good share of %d frames and all %d flows", got.Load(), len(last), total, 2*flows)
	}
	t.Logf("%d frames delivered in order, %d dropped by web's write queue, %d by its pipe", got.Load(), l.f.Drops(DropPortQueueFull), webPeer.Drops())
}

// A node whose port takes nothing (its Write never returns) holds up only
// the frames for it: the same reader still carries frames between two
// other nodes, and what the stuck node's full queue cannot hold is dropped
// and counted, for the lab and for its port.
func TestStuckPortDoesNotStallOthers(t *testing.T) {
	stuck := newStuckPort("web2")
	l := newPipeLab(t, plainVPC(), map[string]*stuckPort{"web2": stuck})
	l.run(t)
	const toStuck = TxQueueLen + 300
	bufs, sizes := [][]byte{make([]byte, 9100)}, make([]int, 1)
	sent, toClient := 0, 0
	for i := range toStuck {
		// web sends to web2, which never takes a frame ...
		l.peers["web"].Write([][]byte{seqFrame(macRouterApp, macWeb, "10.0.1.10", "10.0.1.11", 5000, uint32(i))}, 0)
		sent++
		if i%50 != 49 {
			continue
		}
		// ... and now and then to the client on the internet, which
		// gets each frame while web2's queue fills and overflows.
		l.peers["web"].Write([][]byte{seqFrame(macRouterApp, macWeb, "10.0.1.10", "198.51.100.10", 6000, uint32(toClient))}, 0)
		sent++
		got := make(chan error, 1)
		go func() {
			n, err := l.peers["client"].Read(bufs, sizes, 0)
			if err == nil && n != 1 {
				err = fmt.Errorf("read %d frames", n)
			}
			got <- err
		}()
		select {
		case err := <-got:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("frame %d from web to client did not arrive while web2 is stuck; drops %v", toClient, nonZeroDrops(l.f))
		}
		flow, seq, ok := frameSeq(bufs[0][:sizes[0]])
		if !ok || seq != uint32(toClient) {
			t.Fatalf("client got frame %d of %q, want %d", seq, flow, toClient)
		}
		toClient++
		if !until(func() bool { return l.rx("web") == uint64(sent) }) {
			t.Fatalf("the fabric read %d of %d frames from web", l.rx("web"), sent)
		}
	}
	select {
	case <-stuck.writing:
	case <-time.After(20 * time.Second):
		t.Fatal("web2's writer never tried to write")
	}
	// web2's queue holds TxQueueLen frames (the one its writer is stuck
	// on included); the rest were dropped.
	want := uint64(toStuck - TxQueueLen)
	if !until(func() bool { return l.f.Drops(DropPortQueueFull) == want }) {
		t.Fatalf("%d frames dropped as port_queue_full, want %d; drops %v", l.f.Drops(DropPortQueueFull), want, nonZeroDrops(l.f))
	}
	for _, pc := range l.f.Counters().Ports {
		switch {
		case pc.Node == "web2" && (pc.QueueFull != want || pc.TxPkts != 0):
			t.Errorf("web2's counters %+v, want %d queue_full and nothing written", pc, want)
		case pc.Node != "web2" && pc.QueueFull != 0:
			t.Errorf("%s's counters %+v: nothing for it was dropped", pc.Node, pc)
		}
	}
	if c := l.f.Counters(); c.Drops["port_queue_full"] != want {
		t.Errorf("counters' port_queue_full %d, want %d", c.Drops["port_queue_full"], want)
	}
}

// drainTx writes what ps's queue holds, as its writer would.
func drainTx(f *Fabric, ps *portState) {
	q := ps.txq.Load()
	for q.len() > 0 {
		out, _ := q.next()
		f.write(ps, out, Headroom)
		q.done(len(out))
	}
}

// reflectInPlace turns GENEVE that fw-1 received into its answer, as
// reflect does, in f itself.
func reflectInPlace(f []byte) []byte {
	e := packet.Ethernet(f)
	e.SetDst(packet.MAC(macRouterAppl))
	e.SetSrc(packet.MAC(macFW1))
	ip := packet.IPv4(f[packet.EthernetLen:])
	src, dst := ip.Src(), ip.Dst()
	ip.SetSrc(dst)
	ip.SetDst(src)
	ip.ComputeChecksum()
	return f
}

// Forwarding as a running fabric does, read batch to batched push to the
// writer's Write and the node's pipe, allocates nothing per packet: on the
// way in through the internet gateway, an endpoint and the GWLB to the
// appliance, and back from it to web.
func TestBatchedForwardingDoesNotAllocate(t *testing.T) {
	l := newPipeLab(t, gwlbLab(false, true), nil)
	for _, ps := range l.f.portMap() {
		ps.txq.Store(newTxQueue(ps.p.MTU()))
	}
	w := newWorker(l.f)
	w.seedRand("client")
	w.batching = true
	syn := tcpFlags(macRouterInet, macClient, "198.51.100.10", "203.0.113.10", 40000, 80, packet.TCPFlagSYN, 1460)
	ack := tcpFlags(macRouterInet, macClient, "198.51.100.10", "203.0.113.10", 40000, 80, packet.TCPFlagACK, 0)
	const batch = 2
	rbufs := [][]byte{make([]byte, Headroom+9100), make([]byte, Headroom+9100)}
	got := [][]byte{make([]byte, 9100), make([]byte, 9100)}
	sizes := make([]int, 1)
	var id uint16
	// carry hands frames to the worker as one read batch from node, then
	// lets every port's writer write.
	carry := func(node string, frames ...[]byte) {
		for i, f := range frames {
			copy(rbufs[i][Headroom:], f)
			if node == "client" {
				// Each a new packet, or the loop guard would see one
				// packet entering the endpoint again and again.
				id++
				ip := packet.IPv4(rbufs[i][Headroom+packet.EthernetLen:])
				ip.SetID(id)
				ip.ComputeChecksum()
			}
			w.receive(node, rbufs[i], Headroom, len(f))
		}
		w.flush()
		for _, ps := range l.f.portMap() {
			drainTx(l.f, ps)
		}
	}
	// recv returns what node received, its i-th frame of a round.
	read := map[string]uint64{}
	recv := func(node string, i int) []byte {
		if l.f.port(node).txPkts.Load() <= read[node] { // Read would wait
			t.Fatalf("nothing for %s; drops %v", node, nonZeroDrops(l.f))
		}
		read[node]++
		n, err := l.peers[node].Read(got[i:i+1], sizes, 0)
		if err != nil || n != 1 {
			t.Fatalf("%s: %d frames, %v", node, n, err)
		}
		return got[i][:sizes[0]]
	}
	carry("client", syn)
	carry("fw-1", reflectInPlace(recv("fw-1", 0)))
	recv("web", 0)
	allocs := testing.AllocsPerRun(200, func() {
		carry("client", ack, ack)
		a, b := recv("fw-1", 0), recv("fw-1", 1)
		carry("fw-1", reflectInPlace(a), reflectInPlace(b))
		recv("web", 0)
		recv("web", 0)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per round of %d packets", allocs, 2*batch)
	}
	if d := nonZeroDrops(l.f); len(d) != 0 {
		t.Fatalf("drops %v", d)
	}
}

// BenchmarkBatchedForwarding carries read batches of 32 frames from the
// client through the internet gateway to web, as a running fabric does:
// batched push into web's write queue, the writer's Write into web's pipe,
// and the pipe read. An op is one batch; ns/frame is per frame.
func BenchmarkBatchedForwarding(b *testing.B) {
	for _, size := range []int{64, 1400} {
		b.Run(fmt.Sprintf("payload=%d", size), func(b *testing.B) {
			s := plainVPC()
			ports := map[string]Port{}
			var web port.Port
			for _, e := range s.AllENIs() {
				x, y := port.NewPipe(e.Node, e.MTU)
				ports[e.Node] = x
				if e.Node == "web" {
					web = y
				}
			}
			f, err := New(s, Options{Ports: ports, Seed: 1})
			if err != nil {
				b.Fatal(err)
			}
			ps := f.port("web")
			ps.txq.Store(newTxQueue(ps.p.MTU()))
			w := newWorker(f)
			w.batching = true
			ip := packet.AppendUDP(nil, packet.IPHeader{Src: a("198.51.100.10"), Dst: a("203.0.113.10")}, 4000, 7, make([]byte, size))
			frame := packet.AppendFrame(nil, packet.MAC(macRouterInet), packet.MAC(macClient), ip)
			const batch = 32
			rbufs := make([][]byte, batch)
			got := make([][]byte, batch)
			for i := range rbufs {
				rbufs[i], got[i] = make([]byte, Headroom+9100), make([]byte, 9100)
			}
			sizes := make([]int, batch)
			b.SetBytes(int64(batch * len(frame)))
			b.ReportAllocs()
			for b.Loop() {
				for j := range batch {
					copy(rbufs[j][Headroom:], frame)
					w.receive("client", rbufs[j], Headroom, len(frame))
				}
				w.flush()
				drainTx(f, ps)
				for n := 0; n < batch; {
					k, err := web.Read(got[n:], sizes[n:], 0)
					if err != nil {
						b.Fatal(err)
					}
					n += k
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/frame")
		})
	}
}
