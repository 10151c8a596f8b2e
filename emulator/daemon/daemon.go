package daemon

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/gwlb-lab/gwlb-lab/emulator/api"
	"github.com/gwlb-lab/gwlb-lab/emulator/asg"
	"github.com/gwlb-lab/gwlb-lab/emulator/clock"
	"github.com/gwlb-lab/gwlb-lab/emulator/config"
	"github.com/gwlb-lab/gwlb-lab/emulator/control"
	"github.com/gwlb-lab/gwlb-lab/emulator/fabric"
	"github.com/gwlb-lab/gwlb-lab/emulator/gwlb"
	"github.com/gwlb-lab/gwlb-lab/emulator/health"
	"github.com/gwlb-lab/gwlb-lab/emulator/pcap"
)

// Opener opens the port of one node interface; port.OpenTAP in production,
// in-memory ports in tests.
type Opener func(e config.ENI) (fabric.Port, error)

// Daemon is a running emulator.
type Daemon struct {
	snap    *config.Snapshot
	clock   *clock.Scaled
	fabric  *fabric.Fabric
	started time.Time
	// open opens the ports of nodes, those added at run time too.
	open    Opener
	portsMu sync.Mutex // guards ports: nodes join and leave at run time
	ports   []api.Port
	// checkers are the health checkers of each GWLB node.
	checkers map[*gwlb.Node]*health.Checker
	// editsPath keeps the runtime edits for the next emulator (edits.go).
	editsMu   sync.Mutex
	editsPath string
	// events is the ring of the emulator's events (events.go).
	events *events
	// asg runs the Auto Scaling groups (asg.go); nil when there are none.
	asg      *asg.Controller
	actuator *swapActuator
	log      *slog.Logger
}

// New opens every port of the snapshot and builds the fabric. On error,
// ports opened so far are closed.
func New(snap *config.Snapshot, open Opener) (*Daemon, error) {
	d := &Daemon{snap: snap, clock: clock.NewScaled(snap.TimeScale), started: time.Now(), open: open}
	d.events = newEvents(EventRingSize, d.clock.Now)
	ports := map[string]fabric.Port{}
	closeAll := func() {
		for _, p := range ports {
			_ = p.Close()
		}
	}
	for _, e := range snap.AllENIs() {
		p, err := open(e)
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("open port of node %q: %w", e.Node, err)
		}
		ports[e.Node] = p
		d.ports = append(d.ports, portOut(e))
	}
	f, err := fabric.New(snap, fabric.Options{Clock: d.clock, Ports: ports})
	if err != nil {
		closeAll()
		return nil, err
	}
	d.fabric = f
	d.checkers = d.healthCheckers()
	d.newASG()
	d.events.add(api.Event{Kind: api.EventEmulatorStart, Detail: fmt.Sprintf("lab %s, pid %d, time scale %g", snap.Lab, os.Getpid(), d.clock.Scale())})
	return d, nil
}

// healthCheckers makes a checker per GWLB node that has a namespace: probes
// leave from the node's own address, inside the lab (spec §4.1). A node
// without one is not checked (its targets keep their state), so no probe
// ever leaves from the host's namespace.
func (d *Daemon) healthCheckers() map[*gwlb.Node]*health.Checker {
	netns := map[string]string{}
	for _, e := range d.snap.AllENIs() {
		netns[e.Node] = e.NetNS
	}
	out := map[*gwlb.Node]*health.Checker{}
	for _, lb := range d.fabric.LBs() {
		var hc config.HealthCheck
		for _, g := range d.snap.GWLBs {
			if g.Name == lb.Name {
				hc = g.TargetGroup.HealthCheck
			}
		}
		for _, n := range lb.Nodes() {
			path, ok := netns[n.Name]
			if !ok {
				continue
			}
			var targets []health.Target
			for _, t := range n.Candidates() {
				targets = append(targets, health.Target{Index: t.Index(), IP: t.IP})
			}
			c := health.NewChecker(hc, health.NetnsProber{NetNS: path}, targets, health.Initial,
				d.clock.Now, d.clock.Wall, d.reporter(lb, n))
			c.SetOverride(n.Forced) // gwlb-lab targets fail-health
			out[n] = c
		}
	}
	return out
}

// SetLog sets where the emulator reports what its counters cannot say
// alone (a port that fails, once per port); call it before Run.
func (d *Daemon) SetLog(l *slog.Logger) {
	d.log = l
	d.fabric.SetLog(l)
}

// Fabric returns the data plane (for tests and in-process use).
func (d *Daemon) Fabric() *fabric.Fabric { return d.fabric }

// Status reports the daemon's state.
func (d *Daemon) Status() api.Status {
	d.portsMu.Lock()
	ports := slices.Clone(d.ports)
	d.portsMu.Unlock()
	return api.Status{
		Lab: d.snap.Lab, PID: os.Getpid(), Started: d.started,
		Uptime:    time.Since(d.started).Round(time.Second).String(),
		TimeScale: d.clock.Scale(), Threads: runtime.GOMAXPROCS(0), LabTime: d.clock.Now(), Ports: ports,
	}
}

// Handlers registers the control API on s.
func (d *Daemon) Handlers(s *control.Server) {
	s.Handle("GET "+api.PathStatus, func(*http.Request) (any, error) { return d.Status(), nil })
	s.Handle("GET "+api.PathCounters, func(*http.Request) (any, error) { return d.fabric.Counters(), nil })
	s.HandleStream("GET "+api.PathFlows, d.serveFlows)
	s.Handle("GET "+api.PathEndpoints, func(*http.Request) (any, error) { return d.fabric.Endpoints(), nil })
	s.HandleStream("GET "+api.PathCapture, d.serveCapture)
	s.HandleStream("GET "+api.PathTrace, d.serveTrace)
	s.Handle("GET "+api.PathTargets, func(*http.Request) (any, error) { return d.fabric.Targets(), nil })
	s.Handle("GET /v1/tgws", func(*http.Request) (any, error) { return d.fabric.TGWs(), nil })
	d.targetHandlers(s)
	s.Handle("POST /v1/endpoints/{name}/accept", func(r *http.Request) (any, error) {
		name := r.PathValue("name")
		if err := d.fabric.AcceptEndpoint(name); err != nil {
			return nil, notFound(err)
		}
		d.events.add(api.Event{Kind: api.EventEndpointAccept, Detail: name})
		return api.EndpointChange{Endpoint: name, State: api.EndpointAvailable}, nil
	})
	d.faultHandlers(s)
	d.nodeHandlers(s)
	d.asgHandlers(s)
}

// Run forwards and serves the control socket (when the snapshot names one)
// until ctx ends.
func (d *Daemon) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var ferr, cerr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		ferr = d.fabric.Run(ctx)
		cancel()
	}()
	for _, c := range d.checkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.Run(ctx)
		}()
	}
	if d.asg != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.asg.Run(ctx, d.asgInterval())
		}()
	}
	if d.snap.ControlSocket != "" {
		srv := control.NewServer(d.snap.ControlSocket)
		d.Handlers(srv)
		wg.Add(1)
		go func() {
			defer wg.Done()
			cerr = srv.Run(ctx)
			cancel()
		}()
	}
	wg.Wait()
	return errors.Join(ferr, cerr)
}

// notFound maps the fabric's ErrNotFound to the control socket's.
func notFound(err error) error {
	if errors.Is(err, fabric.ErrNotFound) {
		return control.NotFound(err)
	}
	return err
}

// serveCapture streams a node port's frames as pcap: ?node=NAME, optional
// count (stop after so many frames) and seconds (stop after so long, wall
// time). The stream also ends when the client goes away.
func (d *Daemon) serveCapture(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	ctx, count, cancel := streamLimits(r)
	defer cancel()
	frames, _, err := d.fabric.Capture(ctx, q.Get("node"), 4096)
	if err != nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
		return
	}
	w.Header().Set("Content-Type", "application/vnd.tcpdump.pcap")
	pw, err := pcap.NewWriter(w)
	if err != nil {
		return
	}
	flush := func() {
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
	}
	flush()
	for n := 0; count == 0 || n < count; n++ {
		select {
		case <-ctx.Done():
			return
		case f := <-frames:
			if pw.WritePacket(f.Time, f.Data) != nil {
				return
			}
			flush()
		}
	}
}

// serveTrace streams packet traces as JSON lines: ?host=ADDR (repeatable;
// none traces every packet), optional count and seconds as for captures.
func (d *Daemon) serveTrace(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var hosts []netip.Addr
	for _, h := range q["host"] {
		a, err := netip.ParseAddr(h)
		if err != nil {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": fmt.Sprintf("host %q is not an address", h)})
			return
		}
		hosts = append(hosts, a)
	}
	ctx, count, cancel := streamLimits(r)
	defer cancel()
	traces := d.fabric.Trace(ctx, hosts, 1024)
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	if flusher != nil {
		flusher.Flush()
	}
	enc := json.NewEncoder(w)
	for n := 0; count == 0 || n < count; n++ {
		select {
		case <-ctx.Done():
			return
		case t := <-traces:
			if enc.Encode(t) != nil {
				return
			}
			if flusher != nil {
				flusher.Flush()
			}
		}
	}
}

// streamLimits reads a stream's limits from the query: count (items, 0 for
// no limit) and seconds (wall time); the context ends with the request or
// after seconds.
func streamLimits(r *http.Request) (context.Context, int, context.CancelFunc) {
	q := r.URL.Query()
	count, _ := strconv.Atoi(q.Get("count"))
	if seconds, _ := strconv.ParseFloat(q.Get("seconds"), 64); seconds > 0 {
		ctx, cancel := context.WithTimeout(r.Context(), time.Duration(seconds*float64(time.Second)))
		return ctx, count, cancel
	}
	ctx, cancel := context.WithCancel(r.Context())
	return ctx, count, cancel
}

// serveFlows streams the GWLB nodes' flows as JSON lines, each written as
// the flow tables are walked, and ends with a summary line
// ({"summary":{...}}, api.FlowLine). Query: gwlb, node, endpoint (name or
// id), target (name or address), host (repeatable; an address or a prefix,
// matching either end of a flow), proto (a number, or tcp, udp, icmp,
// icmpv6), offset (matching flows to skip) and limit (most flows to send;
// absent: all; 0: the summary alone). The listing is not a snapshot: see
// fabric.WalkFlows.
func (d *Daemon) serveFlows(w http.ResponseWriter, r *http.Request) {
	fail := func(code int, err error) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
	}
	q, page, err := parseFlowQuery(r.URL.Query())
	if err != nil {
		fail(http.StatusBadRequest, err)
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	if _, err := d.writeFlows(r.Context(), w, q, page); err != nil {
		if errors.Is(err, fabric.ErrNotFound) {
			fail(http.StatusNotFound, err) // nothing was written yet
		}
		return
	}
}

// flowPage is a listing's offset and limit (-1 for no limit).
type flowPage struct{ offset, limit int }

// writeFlows writes the listing to w, one line per flow and the summary
// last, and returns the summary. Its memory does not grow with the number
// of flows: one chunk of copied entries, one line buffer, one write buffer.
// Nothing is written when the query names something the lab lacks.
func (d *Daemon) writeFlows(ctx context.Context, w io.Writer, q fabric.FlowQuery, page flowPage) (api.FlowSummary, error) {
	sum := api.FlowSummary{Offset: page.offset, Limit: max(page.limit, 0)}
	bw := bufio.NewWriterSize(w, 32<<10)
	line := make([]byte, 0, 1024)
	var werr error
	_, err := d.fabric.WalkFlows(q, func(f gwlb.FlowRef) bool {
		sum.Matched++
		if sum.Matched <= page.offset || (page.limit >= 0 && sum.Listed >= page.limit) {
			return true // counted, not sent
		}
		if sum.Listed%256 == 0 && ctx.Err() != nil {
			werr = ctx.Err()
			return false
		}
		line = append(f.AppendJSON(line[:0]), '\n')
		if _, werr = bw.Write(line); werr != nil {
			return false // the reader went away
		}
		sum.Listed++
		return true
	})
	if err != nil {
		return sum, err
	}
	if werr != nil {
		return sum, werr
	}
	b, err := json.Marshal(api.FlowLine{Summary: &sum})
	if err != nil {
		return sum, err
	}
	if _, err := bw.Write(append(b, '\n')); err != nil {
		return sum, err
	}
	return sum, bw.Flush()
}

// parseFlowQuery reads a flow listing's query parameters.
func parseFlowQuery(v url.Values) (fabric.FlowQuery, flowPage, error) {
	q := fabric.FlowQuery{GWLB: v.Get("gwlb"), Node: v.Get("node"), Endpoint: v.Get("endpoint"), Target: v.Get("target")}
	page := flowPage{limit: -1}
	for _, h := range v["host"] {
		p, err := api.ParseHost(h)
		if err != nil {
			return q, page, err
		}
		q.Hosts = append(q.Hosts, p)
	}
	if p := v.Get("proto"); p != "" {
		n, err := api.ParseProto(p)
		if err != nil {
			return q, page, err
		}
		q.Proto = n
	}
	for _, f := range []struct {
		name string
		dst  *int
	}{{"offset", &page.offset}, {"limit", &page.limit}} {
		if s := v.Get(f.name); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 {
				return q, page, fmt.Errorf("%s %q is not a count", f.name, s)
			}
			*f.dst = n
		}
	}
	return q, page, nil
}
