package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/gwlb-lab/gwlb-lab/lab/echo"
	"github.com/gwlb-lab/gwlb-lab/lab/topology"
)

// fakeLab plays the default lab: client's flows to web's public address
// come back as the GWLB saw them (web's private address), pinned to
// target, with the packets in each direction the fields say.
type fakeLab struct {
	mu sync.Mutex
	// answer says whether the traffic client's flows are answered.
	answer bool
	// orig and reply are the GWLB flows' packet counts; 0 and 0 lists no
	// GWLB flow at all.
	orig, reply uint64
	target      string
	// drops is added to tcp_no_flow by each traffic run.
	drops uint64
	// state is every target's state.
	state string

	counters map[string]uint64
	sent     []echo.FlowResult
	sentTo   []string // the target of each flow sent
	downs    []string
	// desired is group fleet's desired capacity; its instances are
	// InService from the second listing after it was set (asgReads).
	desired  int
	asgReads int
}

func newFake() *fakeLab {
	return &fakeLab{answer: true, orig: 3, reply: 3, target: "fw-1", state: "healthy",
		counters: map[string]uint64{"tcp_no_flow": 0, "routing_loop": 0}}
}

func (f *fakeLab) Check(*topology.Lab) error { return nil }

func (f *fakeLab) Up(context.Context, *topology.Lab, string) (Lab, error) { return f, nil }

func (f *fakeLab) Down(_ context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.downs = append(f.downs, name)
	return nil
}

func argOf(argv []string, flag, def string) string {
	if i := slices.Index(argv, flag); i >= 0 && i+1 < len(argv) {
		return argv[i+1]
	}
	return def
}

func (f *fakeLab) Exec(_ context.Context, node string, argv []string, stdout, _ io.Writer) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, _ := strconv.Atoi(argOf(argv, "--flows", "1"))
	dest := argv[2]
	enc := json.NewEncoder(stdout)
	for i := range n {
		r := echo.FlowResult{Flow: i, Protocol: argOf(argv, "--protocol", "http"),
			Local: fmt.Sprintf("198.51.100.10:%d", 40000+len(f.sent)), Remote: dest + ":80",
			OK: f.answer, Exchanges: 1}
		if f.answer {
			r.Answered = 1
		} else {
			r.Error, r.Detail = "timeout", "dial tcp: i/o timeout"
		}
		f.sent = append(f.sent, r)
		f.sentTo = append(f.sentTo, f.target)
		_ = enc.Encode(r)
	}
	f.counters["tcp_no_flow"] += f.drops
	if !f.answer {
		return 1, nil
	}
	return 0, nil
}

func (f *fakeLab) Flows(context.Context) ([]Flow, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.orig == 0 && f.reply == 0 {
		return nil, nil
	}
	var out []Flow
	for i, r := range f.sent {
		out = append(out, Flow{GWLB: "gwlb-1", Node: "gwlb-1-az1", AZ: "az1", Endpoint: "gwlbe-1",
			Src: r.Local, Dst: "10.0.1.10:80", Proto: 6, Target: f.sentTo[i], Cookie: "0000abcd",
			OrigPackets: f.orig, ReplyPackets: f.reply})
	}
	return out, nil
}

func (f *fakeLab) Targets(context.Context) ([]TargetState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return []TargetState{
		{GWLB: "gwlb-1", Node: "gwlb-1-az1", Target: "fw-1", IP: "10.20.1.11", State: f.state},
		{GWLB: "gwlb-1", Node: "gwlb-1-az1", Target: "fw-2", IP: "10.20.1.12", State: f.state},
	}, nil
}

func (f *fakeLab) Drops(context.Context) (map[string]uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]uint64{}
	for k, v := range f.counters {
		out[k] = v
	}
	return out, nil
}

// Trace reports, for a client that is not answered, its SYN through the
// edge route, the endpoint and the GWLB node to fw-1, and the answer
// dropped for want of a flow.
func (f *fakeLab) Trace(ctx context.Context, _ []netip.Addr, fn func(Trace)) (<-chan struct{}, error) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-ctx.Done()
		f.mu.Lock()
		sent := slices.Clone(f.sent)
		f.mu.Unlock()
		for _, r := range sent {
			// The SYN and its retransmission.
			for range 2 {
				fn(Trace{From: "client", Packet: "tcp " + r.Local + " -> 203.0.113.10:80 [S], 60 bytes",
					Hops:   []string{"internet gateway igw-consumer: edge route table edge: 10.0.1.0/24 -> gwlbe-1", "gwlb endpoint gwlbe-1 (vpce-1, az az1): to gwlb node gwlb-1-az1"},
					Result: "dropped: tcp_no_flow"})
			}
		}
	}()
	return done, nil
}

func (f *fakeLab) FlowLog(context.Context, string) ([]FlowLogRecord, error) {
	return []FlowLogRecord{{Event: "flow", Dir: "original", Src: "198.51.100.10", Dst: "10.0.1.10", Cookie: "0000abcd"}}, nil
}

func (f *fakeLab) Node(context.Context, string, string) error { return nil }

func (f *fakeLab) Target(context.Context, string, string, string) error { return nil }

func (f *fakeLab) Health(context.Context, string, string, bool) error {
	return fmt.Errorf("health faults: %w", ErrUnsupported)
}

func (f *fakeLab) Link(context.Context, string, LinkEdit) error {
	return fmt.Errorf("link faults: %w", ErrUnsupported)
}

func (f *fakeLab) Route(context.Context, string, string, string, netip.Prefix, string) error {
	return fmt.Errorf("route edits: %w", ErrUnsupported)
}

// SetDesired scales fleet; new flows go to fleet-1 from then on.
func (f *fakeLab) SetDesired(_ context.Context, group string, n int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if group != "fleet" {
		return fmt.Errorf("no group %q", group)
	}
	f.desired, f.asgReads, f.target = n, 0, "fleet-1"
	return nil
}

func (f *fakeLab) ASGs(context.Context) ([]ASGState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asgReads++
	g := ASGState{Name: "fleet", Desired: f.desired}
	for i := range f.desired {
		in := ASGInstanceState{Name: fmt.Sprintf("fleet-%d", i+1), IP: fmt.Sprintf("10.20.1.%d", 100+i), State: "Pending"}
		if f.asgReads >= 2 {
			in.State, in.Targets = "InService", map[string]string{"fw-targets": "healthy"}
		}
		g.Instances = append(g.Instances, in)
	}
	return []ASGState{g}, nil
}

func writeScenario(t *testing.T, steps string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "s.yaml")
	body := "name: test scenario\ntopology_builtin: default\nsteps:\n" + steps
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func runOne(t *testing.T, f *fakeLab, steps string) (*Report, *FileResult) {
	t.Helper()
	r := &Runner{Launcher: f, LabName: "t1", Binary: "/bin/gwlb-lab"}
	rep := r.Run(context.Background(), []string{writeScenario(t, steps)})
	if len(rep.Files) != 1 {
		t.Fatalf("%d files in the report", len(rep.Files))
	}
	return rep, rep.Files[0]
}

func expectations(fr *FileResult) []*ExpectResult {
	var out []*ExpectResult
	for _, s := range fr.Steps {
		out = append(out, s.Expectations...)
	}
	return out
}

const ingressSteps = `  - wait: {target: fw-1, state: healthy, timeout: 5s}
  - traffic: {name: in, from: client, to: web, flows: 3}
  - expect:
      - reaches: {traffic: in}
      - traverses: {traffic: in, appliance: fw-1, directions: [both]}
      - symmetric: {traffic: in}
      - one_target: {traffic: in}
      - drop: {reason: tcp_no_flow, rose: false}
      - target: {name: fw-2, state: healthy}
`

func TestAllHold(t *testing.T) {
	f := newFake()
	rep, fr := runOne(t, f, ingressSteps)
	if rep.ExitCode != 0 || fr.Status != StatusPass {
		t.Fatalf("exit %d status %s error %q", rep.ExitCode, fr.Status, fr.Error)
	}
	es := expectations(fr)
	if len(es) != 6 {
		t.Fatalf("%d expectations", len(es))
	}
	for _, e := range es {
		if e.Status != StatusPass {
			t.Errorf("%s %s: %s; expected %q observed %q", e.Path, e.Kind, e.Status, e.Expected, e.Observed)
		}
	}
	if !slices.Equal(f.downs, []string{"t1"}) {
		t.Errorf("downs %v, want [t1]", f.downs)
	}
	if len(f.sent) != 3 {
		t.Errorf("%d flows sent, want 3", len(f.sent))
	}
}

func TestMismatchHasEvidence(t *testing.T) {
	f := newFake()
	f.answer, f.orig, f.reply, f.drops = false, 0, 0, 2
	rep, fr := runOne(t, f, ingressSteps)
	if rep.ExitCode != 1 || fr.Status != StatusFail {
		t.Fatalf("exit %d status %s", rep.ExitCode, fr.Status)
	}
	es := expectations(fr)
	reaches := es[0]
	if reaches.Status != StatusFail || reaches.Observed != "0 of 3 flows answered (3 timeout)" {
		t.Fatalf("reaches: %s, observed %q", reaches.Status, reaches.Observed)
	}
	ev := strings.Join(reaches.Evidence, "\n")
	for _, want := range []string{"198.51.100.10:40000", "gwlb node gwlb-1-az1", "az az1", "=> dropped: tcp_no_flow", "tcp_no_flow +2"} {
		if !strings.Contains(ev, want) {
			t.Errorf("evidence lacks %q:\n%s", want, ev)
		}
	}
	// Flows that failed alike are shown once, a retransmission once with
	// its count.
	if n := strings.Count(ev, "trace: from client"); n != 1 {
		t.Errorf("evidence shows %d traces, want the first flow's SYN once:\n%s", n, ev)
	}
	for _, want := range []string{"(seen 2 times)", "(2 more flows like these)"} {
		if !strings.Contains(ev, want) {
			t.Errorf("evidence lacks %q:\n%s", want, ev)
		}
	}
	if es[1].Status != StatusFail || !strings.Contains(strings.Join(es[1].Evidence, "\n"), "no GWLB flow") {
		t.Errorf("traverses: %s %v", es[1].Status, es[1].Evidence)
	}
	if es[4].Status != StatusFail || es[4].Observed != "tcp_no_flow 0 -> 2 (+2)" {
		t.Errorf("drop rose:false: %s %q", es[4].Status, es[4].Observed)
	}

	// The text report marks the mismatch and shows its evidence.
	var text bytes.Buffer
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"FAIL  reaches {traffic: in}", "=> dropped: tcp_no_flow", "FAIL, 1 of 6 expectations held"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, text.String())
		}
	}
}

func TestDirections(t *testing.T) {
	f := newFake()
	f.reply = 0 // the appliance saw the forward direction only
	_, fr := runOne(t, f, `  - traffic: {name: in, from: client, to: web, flows: 2}
  - expect:
      - traverses: {traffic: in, directions: [forward]}
      - traverses: {traffic: in}
      - traverses: {traffic: in, appliance: fw-2, directions: [forward]}
      - symmetric: {traffic: in}
      - bypasses: {traffic: in}
`)
	want := []string{StatusPass, StatusFail, StatusFail, StatusFail, StatusFail}
	for i, e := range expectations(fr) {
		if e.Status != want[i] {
			t.Errorf("%s %s %s: %s, want %s (observed %q)", e.Path, e.Kind, e.Spec, e.Status, want[i], e.Observed)
		}
	}
	e := expectations(fr)[1]
	ev := strings.Join(e.Evidence, "\n")
	for _, w := range []string{"flows table: node gwlb-1-az1 (az az1)", "target fw-1", "packets 3 forward / 0 return", "flow log of fw-1: flow original"} {
		if !strings.Contains(ev, w) {
			t.Errorf("evidence lacks %q:\n%s", w, ev)
		}
	}
}

func TestUnsupportedStepIsAnError(t *testing.T) {
	f := newFake()
	rep, fr := runOne(t, f, `  - fault: {health_fail: fw-1}
  - expect:
      - target: {name: fw-1, state: unhealthy}
`)
	if rep.ExitCode != 1 || fr.Status != StatusError {
		t.Fatalf("exit %d status %s", rep.ExitCode, fr.Status)
	}
	if !strings.Contains(fr.Unsupported, "not supported by this build") || !strings.HasPrefix(fr.Unsupported, "steps[0]") {
		t.Errorf("unsupported %q", fr.Unsupported)
	}
	if fr.Steps[0].Status != StatusError || fr.Steps[1].Status != StatusSkipped {
		t.Errorf("steps %s, %s; want error, skipped", fr.Steps[0].Status, fr.Steps[1].Status)
	}
	if len(f.downs) != 1 {
		t.Errorf("lab removed %d times, want once", len(f.downs))
	}
}

func TestInvalidFile(t *testing.T) {
	f := newFake()
	rep, fr := runOne(t, f, "  - traffic: {from: nobody, to: web}\n")
	if rep.ExitCode != 2 || fr.Status != StatusInvalid {
		t.Fatalf("exit %d status %s", rep.ExitCode, fr.Status)
	}
	if len(fr.Diagnostics) == 0 || !strings.Contains(strings.Join(fr.Diagnostics, "\n"), "nobody") {
		t.Errorf("diagnostics %v", fr.Diagnostics)
	}
	if len(f.downs) != 0 {
		t.Errorf("an invalid file brought nothing up, yet down ran: %v", f.downs)
	}
}

type failingUp struct{ *fakeLab }

func (f failingUp) Up(context.Context, *topology.Lab, string) (Lab, error) {
	return nil, fmt.Errorf("lab already exists")
}

func TestLabNotUp(t *testing.T) {
	f := newFake()
	r := &Runner{Launcher: failingUp{f}, LabName: "t1"}
	rep := r.Run(context.Background(), []string{writeScenario(t, ingressSteps)})
	if rep.ExitCode != 2 || rep.Files[0].Status != StatusNotUp {
		t.Fatalf("exit %d status %s", rep.ExitCode, rep.Files[0].Status)
	}
	if len(f.downs) != 0 {
		t.Errorf("a lab that did not come up (maybe another's) was removed: %v", f.downs)
	}
}

func TestKeep(t *testing.T) {
	f := newFake()
	r := &Runner{Launcher: f, LabName: "t1", Keep: true}
	rep := r.Run(context.Background(), []string{writeScenario(t, "  - expect:\n      - target: {name: fw-1, state: healthy}\n")})
	if !rep.Files[0].Kept || len(f.downs) != 0 {
		t.Errorf("kept %v, downs %v", rep.Files[0].Kept, f.downs)
	}
}

func TestJUnitParsesBack(t *testing.T) {
	f := newFake()
	f.answer, f.orig, f.reply = false, 0, 0
	r := &Runner{Launcher: f, LabName: "t1"}
	good := writeScenario(t, "  - expect:\n      - target: {name: fw-1, state: healthy}\n")
	bad := writeScenario(t, ingressSteps)
	rep := r.Run(context.Background(), []string{good, bad})
	var buf bytes.Buffer
	if err := rep.WriteJUnit(&buf); err != nil {
		t.Fatal(err)
	}
	var got struct {
		XMLName xml.Name `xml:"testsuites"`
		Tests   int      `xml:"tests,attr"`
		Fails   int      `xml:"failures,attr"`
		Suites  []struct {
			Name  string `xml:"name,attr"`
			File  string `xml:"file,attr"`
			Tests int    `xml:"tests,attr"`
			Cases []struct {
				Name    string `xml:"name,attr"`
				Failure *struct {
					Message string `xml:"message,attr"`
					Text    string `xml:",chardata"`
				} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("JUnit does not parse: %v\n%s", err, buf.String())
	}
	if len(got.Suites) != 2 || got.Suites[0].Tests != 1 || got.Suites[1].Tests != 6 {
		t.Fatalf("suites: %+v", got.Suites)
	}
	if got.Suites[1].File != bad || got.Suites[0].Cases[0].Failure != nil {
		t.Errorf("suite files or first suite's failure wrong: %+v", got.Suites)
	}
	c := got.Suites[1].Cases[0]
	if !strings.Contains(c.Name, "steps[2].expect[0] reaches") || c.Failure == nil {
		t.Fatalf("first case of the failing file: %+v", c)
	}
	if !strings.Contains(c.Failure.Message, "0 of 3 flows answered") || !strings.Contains(c.Failure.Text, "gwlb node gwlb-1-az1") {
		t.Errorf("failure lacks the observation or the evidence: %+v", c.Failure)
	}
	if got.Tests != 7 || got.Fails != 4 {
		t.Errorf("tests %d failures %d, want 7 and 4", got.Tests, got.Fails)
	}
}

func TestJSONReport(t *testing.T) {
	f := newFake()
	rep, _ := runOne(t, f, ingressSteps)
	var buf bytes.Buffer
	if err := rep.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	st := back.Files[0].Steps[1]
	if st.Traffic == nil || len(st.Traffic.Flows) != 3 || st.Traffic.Dest != "203.0.113.10" {
		t.Fatalf("traffic step in JSON: %+v", st.Traffic)
	}
	if e := back.Files[0].Steps[2].Expectations[0]; e.Path != "steps[2].expect[0]" || e.Line != 7 || e.Expected == "" || e.Observed == "" {
		t.Errorf("expectation in JSON: %+v", e)
	}
}

func TestFromTo(t *testing.T) {
	f := newFake()
	_, fr := runOne(t, f, `  - expect:
      - reaches: {from: client, to: web}
      - traverses: {from: client, to: web, directions: [both]}
      - bypasses: {from: client, to: web}
      - traverses: {from: client, to: web, port: 443}
`)
	want := []string{StatusPass, StatusPass, StatusFail, StatusFail}
	for i, e := range expectations(fr) {
		if e.Status != want[i] {
			t.Errorf("%s %s %s: %s, want %s (observed %q)", e.Path, e.Kind, e.Spec, e.Status, want[i], e.Observed)
		}
	}
	if len(f.sent) != 1 {
		t.Errorf("reaches with from and to sent %d flows, want one probe", len(f.sent))
	}
}

// TestASGSteps: an asg step scales the group, a wait for it ends once its
// instances are InService and healthy, and asg expectations judge its
// capacity and where flows went before and after.
func TestASGSteps(t *testing.T) {
	f := newFake()
	_, fr := runOne(t, f, `  - traffic: {name: before, from: client, to: web, flows: 2}
  - asg: {name: fleet, desired: 2}
  - wait: {asg: fleet, in_service: 2, healthy: true, timeout: 5s}
  - traffic: {name: after, from: client, to: web, flows: 2}
  - expect:
      - asg: {name: fleet, desired: 2, in_service: 2}
      - asg: {name: fleet, traffic: before, flows: none}
      - asg: {name: fleet, traffic: after, flows: all}
      - asg: {name: fleet, traffic: before}
      - asg: {name: fleet, in_service: 1}
`)
	got := []string{}
	for _, e := range expectations(fr) {
		got = append(got, e.Status)
	}
	want := []string{StatusPass, StatusPass, StatusPass, StatusFail, StatusFail}
	if !slices.Equal(got, want) {
		for _, e := range expectations(fr) {
			t.Logf("%s: %s / %s", e.Status, e.Expected, e.Observed)
		}
		t.Fatalf("statuses %v, want %v (file %s: %s)", got, want, fr.Status, fr.Error)
	}
	if e := expectations(fr)[3]; !strings.Contains(e.Observed, "0 of 2 flows of before") {
		t.Fatalf("observed %q", e.Observed)
	}
	if e := expectations(fr)[4]; !strings.Contains(e.Observed, "fleet-2 InService (fw-targets: healthy)") {
		t.Fatalf("observed %q", e.Observed)
	}
	if f.asgReads < 2 {
		t.Fatalf("the wait read the group %d times: it did not wait", f.asgReads)
	}
}

// TestASGWaitTimeout: a wait for a group that never gets there fails the
// scenario with what the group last held.
func TestASGWaitTimeout(t *testing.T) {
	f := newFake()
	_, fr := runOne(t, f, `  - asg: {name: fleet, desired: 1}
  - wait: {asg: fleet, in_service: 2, timeout: 1s}
  - expect:
      - asg: {name: fleet, desired: 1}
`)
	if fr.Status == StatusPass || !strings.Contains(fr.Error+stepErrors(fr), "fleet-1 InService") {
		t.Fatalf("file %s: %q %q", fr.Status, fr.Error, stepErrors(fr))
	}
}

func stepErrors(fr *FileResult) string {
	var out []string
	for _, s := range fr.Steps {
		out = append(out, s.Error)
	}
	return strings.Join(out, "; ")
}
