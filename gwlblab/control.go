package gwlblab

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/gwlb-lab/gwlb-lab/emulator/api"
	"github.com/gwlb-lab/gwlb-lab/emulator/control"
)

// client talks to an emulator's control socket through emulator/control's
// client, adding what a program using this package can do about an error.
type client struct {
	path string
	c    *control.Client
}

func newClient(path string) *client { return &client{path: path, c: control.NewClient(path)} }

// NewControlClient is for a lab that some other program brought up: the
// control socket at path (/run/gwlb-lab/<lab>/control.sock), without the
// binary. Only the Lab methods that talk to the emulator work on it.
func NewControlClient(path string) *Lab {
	return &Lab{name: "", stateDir: strings.TrimSuffix(path, "/control.sock"), ctl: newClient(path), progress: io.Discard}
}

// explain turns an error of the control socket into one that says what
// to do about it: a lab that is not up, or a Lab without a socket.
func (c *client) explain(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if _, serr := os.Stat(c.path); serr != nil {
		return fmt.Errorf("emulator control socket %s: %w (is the lab up? gwlb-lab status tells)", c.path, serr)
	}
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrBadRequest) {
		// The emulator's own words: say whose.
		return fmt.Errorf("emulator: %w", err)
	}
	return err
}

var errNoSocket = errors.New("gwlblab: this Lab has no control socket (use Up or Open)")

// call sends a request without a body and decodes the answer into out.
func (c *client) call(ctx context.Context, method, path string, out any) error {
	return c.callJSON(ctx, method, path, nil, out)
}

// callJSON sends in (nil: no body) as the request's JSON body and decodes
// the answer into out.
func (c *client) callJSON(ctx context.Context, method, path string, in, out any) error {
	if c == nil {
		return errNoSocket
	}
	var err error
	switch method {
	case http.MethodGet:
		err = c.c.Get(ctx, path, out)
	case http.MethodPost:
		err = c.c.Post(ctx, path, in, out)
	case http.MethodPut:
		err = c.c.Put(ctx, path, in, out)
	case http.MethodPatch:
		err = c.c.Patch(ctx, path, in, out)
	case http.MethodDelete:
		err = c.c.Delete(ctx, path, out)
	default:
		return fmt.Errorf("gwlblab: no request method %q", method)
	}
	return c.explain(ctx, err)
}

// stream GETs path and returns the answer's body as it arrives; the caller
// closes it.
func (c *client) stream(ctx context.Context, path string) (io.ReadCloser, error) {
	if c == nil {
		return nil, errNoSocket
	}
	body, err := c.c.Stream(ctx, path)
	return body, c.explain(ctx, err)
}

// Emulator returns the emulator's own status (pid, uptime, time scale,
// ports).
func (l *Lab) Emulator(ctx context.Context) (api.Status, error) {
	var s api.Status
	err := l.ctl.call(ctx, http.MethodGet, api.PathStatus, &s)
	return s, err
}

// Counters returns the emulator's counters: per port, drops by reason, NAT
// connections, GWLB node metrics.
func (l *Lab) Counters(ctx context.Context) (api.Counters, error) {
	var c api.Counters
	err := l.ctl.call(ctx, http.MethodGet, api.PathCounters, &c)
	return c, err
}

// Drops returns the emulator's drop counters by reason (every reason, zero
// or not).
func (l *Lab) Drops(ctx context.Context) (map[string]uint64, error) {
	c, err := l.Counters(ctx)
	return c.Drops, err
}

// GWLBDrops returns the drop counters of every GWLB node, summed by reason.
func (l *Lab) GWLBDrops(ctx context.Context) (map[string]uint64, error) {
	c, err := l.Counters(ctx)
	if err != nil {
		return nil, err
	}
	return c.GWLBDrops(), nil
}

// Targets returns every target's health as each GWLB node sees it.
func (l *Lab) Targets(ctx context.Context) ([]api.TargetHealth, error) {
	var ts []api.TargetHealth
	err := l.ctl.call(ctx, http.MethodGet, api.PathTargets, &ts)
	return ts, err
}

// Endpoints returns the GWLB endpoints and their states.
func (l *Lab) Endpoints(ctx context.Context) ([]api.Endpoint, error) {
	var eps []api.Endpoint
	err := l.ctl.call(ctx, http.MethodGet, api.PathEndpoints, &eps)
	return eps, err
}

// Register registers a target (name or address) again in every target
// group that has it, or, in a lab with one GWLB, any instance of its VPC
// (RegisterIn names the GWLB); it starts initial. An unknown instance is
// ErrNotFound.
func (l *Lab) Register(ctx context.Context, target string) (api.TargetChange, error) {
	var c api.TargetChange
	err := l.ctl.call(ctx, http.MethodPost, api.TargetPath(target, "register"), &c)
	return c, err
}

// Deregister deregisters a target from every target group that has it; it
// drains, then is unused.
func (l *Lab) Deregister(ctx context.Context, target string) (api.TargetChange, error) {
	var c api.TargetChange
	err := l.ctl.call(ctx, http.MethodPost, api.TargetPath(target, "deregister"), &c)
	return c, err
}

// AcceptEndpoint accepts a GWLB endpoint's pending connection.
func (l *Lab) AcceptEndpoint(ctx context.Context, endpoint string) (api.EndpointChange, error) {
	var c api.EndpointChange
	err := l.ctl.call(ctx, http.MethodPost, api.EndpointPath(endpoint, "accept"), &c)
	return c, err
}

// EachFlow streams the flows that f selects, calling fn with each as it
// arrives (the listing is never held whole), and returns the summary.
func (l *Lab) EachFlow(ctx context.Context, f api.FlowFilter, fn func(api.Flow) error) (api.FlowSummary, error) {
	q, err := f.Query()
	if err != nil {
		return api.FlowSummary{}, err
	}
	body, err := l.ctl.stream(ctx, api.PathFlows+"?"+q.Encode())
	if err != nil {
		return api.FlowSummary{}, err
	}
	defer body.Close()
	return api.ReadFlows(body, fn)
}

// Flows returns the flows that f selects (the zero filter: every flow).
func (l *Lab) Flows(ctx context.Context, f api.FlowFilter) ([]api.Flow, error) {
	out := []api.Flow{}
	_, err := l.EachFlow(ctx, f, func(fl api.Flow) error { out = append(out, fl); return nil })
	if err != nil {
		return nil, err
	}
	return out, nil
}

// TraceFilter selects the packets a trace follows.
type TraceFilter struct {
	// Hosts are addresses; a packet to or from any of them is traced.
	// None traces every packet.
	Hosts []string
	// Settle is how long Trace keeps reading after fn returns and no
	// trace arrives (default 300 ms): traces of the last packets are
	// still on their way.
	Settle time.Duration
}

// traceStream subscribes to traces; it returns once the emulator traces.
func (l *Lab) traceStream(ctx context.Context, f TraceFilter, limits api.Limits) (io.ReadCloser, error) {
	body, err := l.ctl.stream(ctx, api.PathTrace+"?"+api.TraceQuery(f.Hosts, limits).Encode())
	if err != nil {
		return nil, err
	}
	return body, nil
}

// Trace collects the traces of the packets f selects while fn runs (the
// emulator traces before fn is called), and for a short while after, until
// no trace has come for f.Settle. It returns the traces, and fn's error. A
// trace is the packet's story through the lab: where it came in, each hop
// and decision, delivered or dropped and why.
func (l *Lab) Trace(ctx context.Context, f TraceFilter, fn func() error) ([]api.Trace, error) {
	settle := f.Settle
	if settle <= 0 {
		settle = 300 * time.Millisecond
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	body, err := l.traceStream(sctx, f, api.Limits{})
	if err != nil {
		return nil, err
	}
	defer body.Close()
	lines := make(chan api.Trace, 64)
	readErr := make(chan error, 1)
	go func() {
		defer close(lines)
		dec := json.NewDecoder(body)
		for {
			var t api.Trace
			if err := dec.Decode(&t); err != nil {
				readErr <- err
				return
			}
			select {
			case lines <- t:
			case <-sctx.Done():
				return
			}
		}
	}()
	var (
		mu  sync.Mutex
		out []api.Trace
	)
	collect := make(chan struct{})
	go func() {
		defer close(collect)
		for t := range lines {
			mu.Lock()
			out = append(out, t)
			mu.Unlock()
		}
	}()
	fnErr := fn()
	// Keep reading while traces still come.
	last := -1
	timer := time.NewTimer(settle)
	defer timer.Stop()
wait:
	for {
		select {
		case <-ctx.Done():
			break wait
		case <-collect:
			break wait
		case <-timer.C:
			mu.Lock()
			n := len(out)
			mu.Unlock()
			if n == last {
				break wait
			}
			last = n
			timer.Reset(settle)
		}
	}
	cancel()
	body.Close()
	<-collect
	var rerr error
	select {
	case rerr = <-readErr:
	default:
	}
	if ctx.Err() != nil {
		return out, errors.Join(fnErr, ctx.Err())
	}
	if rerr != nil && !errors.Is(rerr, io.EOF) && !errors.Is(rerr, context.Canceled) && !isClosedBody(rerr) {
		return out, errors.Join(fnErr, fmt.Errorf("trace stream: %w", rerr))
	}
	return out, fnErr
}

func isClosedBody(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "closed") || strings.Contains(err.Error(), "canceled"))
}

// TraceFirst returns the first n traces of packets f selects that match
// (nil matches every trace), waiting for them until ctx ends; with fewer
// it returns those it has and ctx's error.
func (l *Lab) TraceFirst(ctx context.Context, f TraceFilter, n int, match func(api.Trace) bool) ([]api.Trace, error) {
	body, err := l.traceStream(ctx, f, api.Limits{})
	if err != nil {
		return nil, err
	}
	defer body.Close()
	dec := json.NewDecoder(body)
	var out []api.Trace
	for len(out) < n {
		var t api.Trace
		if err := dec.Decode(&t); err != nil {
			if ctx.Err() != nil {
				return out, ctx.Err()
			}
			return out, fmt.Errorf("trace stream: %w", err)
		}
		if match == nil || match(t) {
			out = append(out, t)
		}
	}
	return out, nil
}

// Capture writes what crosses node's port (both ways, as the emulator sees
// it) to a pcap file at path, until limits are reached (Count frames,
// Seconds of wall time) or ctx ends, and returns how many frames it wrote.
// Without limits it runs until ctx ends, which is then not an error.
func (l *Lab) Capture(ctx context.Context, node, path string, limits api.Limits) (int, error) {
	return l.capture(ctx, node, path, limits, nil)
}

// CaptureWhile writes what crosses node's port to a pcap file at path
// while fn runs (capturing before fn is called), and returns how many
// frames it wrote, and fn's error.
func (l *Lab) CaptureWhile(ctx context.Context, node, path string, fn func() error) (int, error) {
	return l.capture(ctx, node, path, api.Limits{}, fn)
}

func (l *Lab) capture(ctx context.Context, node, path string, limits api.Limits, fn func() error) (int, error) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	body, err := l.ctl.stream(sctx, api.PathCapture+"?"+api.CaptureQuery(node, limits).Encode())
	if err != nil {
		return 0, err
	}
	defer body.Close()
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	w := bufio.NewWriter(f)
	copied := make(chan error, 1)
	var frames int
	go func() {
		var err error
		frames, err = copyPcap(w, body)
		copied <- err
	}()
	var fnErr, cerr error
	if fn != nil {
		// The capture is subscribed once the pcap header arrives;
		// copyPcap has it before the first frame. Give fn the stage now:
		// the emulator subscribed before it answered.
		fnErr = fn()
		// Frames of fn's last packets may still be on their way.
		select {
		case cerr = <-copied:
		case <-time.After(300 * time.Millisecond):
			cancel()
			cerr = <-copied
		}
	} else {
		cerr = <-copied
	}
	if errors.Is(cerr, context.Canceled) || (cerr != nil && isClosedBody(cerr)) || errors.Is(cerr, context.DeadlineExceeded) {
		cerr = nil
	}
	if ctx.Err() != nil && fn != nil {
		cerr = errors.Join(cerr, ctx.Err())
	}
	werr := errors.Join(w.Flush(), f.Close())
	return frames, errors.Join(fnErr, cerr, werr)
}

// copyPcap copies a pcap stream record by record, so that what it writes
// ends on a whole record whenever the stream is cut, and counts them.
func copyPcap(w io.Writer, r io.Reader) (int, error) {
	hdr := make([]byte, 24)
	if _, err := io.ReadFull(r, hdr); err != nil {
		if errors.Is(err, io.EOF) {
			return 0, errors.New("capture: the emulator sent no pcap header")
		}
		return 0, err
	}
	if _, err := w.Write(hdr); err != nil {
		return 0, err
	}
	le := bytes.Equal(hdr[:4], []byte{0xd4, 0xc3, 0xb2, 0xa1}) || bytes.Equal(hdr[:4], []byte{0x4d, 0x3c, 0xb2, 0xa1})
	n := 0
	rec := make([]byte, 16)
	buf := make([]byte, 0, 65536)
	for {
		if _, err := io.ReadFull(r, rec); err != nil {
			if errors.Is(err, io.EOF) {
				return n, nil
			}
			return n, err
		}
		size := uint32(rec[8])<<24 | uint32(rec[9])<<16 | uint32(rec[10])<<8 | uint32(rec[11])
		if le {
			size = uint32(rec[8]) | uint32(rec[9])<<8 | uint32(rec[10])<<16 | uint32(rec[11])<<24
		}
		if size > 1<<20 {
			return n, fmt.Errorf("capture: a record of %d bytes: not a pcap stream", size)
		}
		buf = buf[:size]
		if _, err := io.ReadFull(r, buf); err != nil {
			return n, err
		}
		if _, err := w.Write(rec); err != nil {
			return n, err
		}
		if _, err := w.Write(buf); err != nil {
			return n, err
		}
		n++
	}
}

// WaitTarget waits until target (a name or an address) is in state on
// every GWLB node that checks it (nodes that do not use it, across zones,
// are left out), and returns the last views on failure. Without a
// deadline on ctx it waits at most 30 s.
func (l *Lab) WaitTarget(ctx context.Context, target, state string) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
	}
	var last []string
	var lastErr error
	for {
		ts, err := l.Targets(ctx)
		lastErr = err
		if err == nil {
			last = last[:0]
			ok, seen := true, false
			for _, t := range ts {
				if (t.Target != target && t.IP != target) || t.Reason == "Target.NotInUse" {
					continue
				}
				seen = true
				last = append(last, fmt.Sprintf("%s: %s", t.Node, t.State))
				if t.State != state {
					ok = false
				}
			}
			if !seen {
				return fmt.Errorf("target %q: %w on any GWLB node", target, ErrNotFound)
			}
			if ok {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			if lastErr != nil {
				return fmt.Errorf("target %s never reached %s: %w (last error: %v)", target, state, ctx.Err(), lastErr)
			}
			return fmt.Errorf("target %s never reached %s (%s): %w", target, state, strings.Join(last, ", "), ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
