package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gwlb-lab/gwlb-lab/emulator/api"
	"github.com/gwlb-lab/gwlb-lab/emulator/control"
	"github.com/gwlb-lab/gwlb-lab/lab/topology"
)

func TestFlowsFlagsQuery(t *testing.T) {
	tests := []struct {
		opts flowsOpts
		want string
	}{
		{flowsOpts{}, ""},
		{flowsOpts{target: "fw-1", hosts: []string{"10.0.1.10", "198.51.100.0/24"}, limit: 10}, "host=10.0.1.10&host=198.51.100.0%2F24&limit=10&target=fw-1"},
		{flowsOpts{gwlb: "g", node: "g-az1", endpoint: "gwlbe-1", proto: "tcp", offset: 20, limit: 10}, "endpoint=gwlbe-1&gwlb=g&limit=10&node=g-az1&offset=20&proto=tcp"},
		{flowsOpts{count: true, limit: 5}, "limit=0"},
	}
	for _, tt := range tests {
		q, err := tt.opts.query()
		if err != nil || q.Encode() != tt.want {
			t.Errorf("%+v: query %q, %v; want %q", tt.opts, q.Encode(), err, tt.want)
		}
	}
	for _, bad := range []flowsOpts{{hosts: []string{"10.0.1"}}, {proto: "tcpx"}, {limit: -1}, {offset: -2}} {
		if _, err := bad.query(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

// syncBuffer is a bytes.Buffer safe to read while a command writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// fakeEmulator serves a flow listing on a real control socket: flows flows,
// the first of them at once and the rest after release is closed.
func fakeEmulator(t *testing.T, flows int, release <-chan struct{}) (*control.Client, *[]url.Values) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "control.sock")
	srv := control.NewServer(sock)
	var (
		mu      sync.Mutex
		queries []url.Values
	)
	srv.HandleStream("GET /v1/flows", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		queries = append(queries, r.URL.Query())
		mu.Unlock()
		if r.URL.Query().Get("target") == "fw-9" {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprintln(w, `{"error":"target \"fw-9\": not found in any target group"}`)
			return
		}
		enc := json.NewEncoder(w)
		listed := flows
		if r.URL.Query().Get("limit") == "0" {
			listed = 0
		}
		for i := range listed {
			_ = enc.Encode(api.Flow{GWLB: "g", Node: "g-az1", Src: fmt.Sprintf("10.0.1.10:%d", 1000+i), Dst: "198.51.100.10:53", Proto: 17, Target: "fw-1", Cookie: "0000beef"})
			if i == 0 {
				w.(http.Flusher).Flush()
				if release != nil {
					<-release
				}
			}
		}
		_ = enc.Encode(api.FlowLine{Summary: &api.FlowSummary{Matched: flows + 1, Listed: listed}})
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	c := control.NewClient(sock)
	deadline := time.Now().Add(5 * time.Second)
	for {
		body, err := c.Stream(ctx, "/v1/flows?limit=0")
		if err == nil {
			body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("fake emulator never answered: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	queries = nil
	mu.Unlock()
	return c, &queries
}

// TestFlowsStreams: `flows --json` prints each flow as it arrives, before the
// listing ends, and closes a valid array.
func TestFlowsStreams(t *testing.T) {
	release := make(chan struct{})
	c, _ := fakeEmulator(t, 3, release)
	var out, errb syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- listFlows(context.Background(), c, url.Values{}, &flowsOpts{asJSON: true}, &out, &errb)
	}()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), "10.0.1.10:1000") {
		if time.Now().After(deadline) {
			close(release)
			t.Fatalf("the first flow was not printed while the listing went on: %q", out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var flows []api.Flow
	if err := json.Unmarshal([]byte(out.String()), &flows); err != nil || len(flows) != 3 {
		t.Fatalf("output %q: %v", out.String(), err)
	}
	if !strings.Contains(errb.String(), "3 of 4 matching flows listed") {
		t.Fatalf("stderr %q", errb.String())
	}
}

func TestFlowsOutputs(t *testing.T) {
	c, queries := fakeEmulator(t, 300, nil)
	run := func(o flowsOpts) (string, string, error) {
		var out, errb bytes.Buffer
		q, err := o.query()
		if err != nil {
			t.Fatal(err)
		}
		err = listFlows(context.Background(), c, q, &o, &out, &errb)
		return out.String(), errb.String(), err
	}

	out, errOut, err := run(flowsOpts{})
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if err != nil || len(lines) != 301 || !strings.HasPrefix(lines[0], "NODE ") {
		t.Fatalf("text: %d lines, %v\n%s", len(lines), err, out)
	}
	// Aligned: every row's SRC column starts where the header's does.
	col := strings.Index(lines[0], "SRC")
	for _, l := range lines[1:] {
		if !strings.HasPrefix(l[col:], "10.0.1.10:") {
			t.Fatalf("misaligned row %q (SRC at %d)", l, col)
		}
	}
	if !strings.Contains(errOut, "300 of 301 matching flows") {
		t.Fatalf("stderr %q", errOut)
	}

	out, _, err = run(flowsOpts{count: true})
	if err != nil || out != "301\n" {
		t.Fatalf("--count: %q %v", out, err)
	}
	out, _, err = run(flowsOpts{count: true, asJSON: true})
	var n map[string]int
	if err != nil || json.Unmarshal([]byte(out), &n) != nil || n["matched"] != 301 {
		t.Fatalf("--count --json: %q %v", out, err)
	}
	if got := (*queries)[len(*queries)-1].Get("limit"); got != "0" {
		t.Fatalf("--count asked limit=%q", got)
	}

	if _, _, err := run(flowsOpts{target: "fw-9"}); !errors.Is(err, control.ErrNotFound) || !strings.Contains(err.Error(), `target "fw-9": not found in any target group`) {
		t.Fatalf("unknown target: %v", err)
	}
}

// TestApplianceFlowLogCap: the flow log's cap comes from the lab's
// appliance config unless the command line sets it.
func TestApplianceFlowLogCap(t *testing.T) {
	for _, tt := range []struct {
		args []string
		file int
		want int
	}{
		{nil, 0, topology.DefaultFlowLogMaxBytes},
		{nil, 8192, 8192},
		{[]string{"--flow-log-max-bytes", "5000"}, 8192, 5000},
	} {
		cmd := newApplianceCmd(Env{})
		if err := cmd.Flags().Parse(tt.args); err != nil {
			t.Fatal(err)
		}
		spec := topology.Appliance{FlowLogMaxBytes: topology.DefaultFlowLogMaxBytes}
		if v, err := cmd.Flags().GetInt("flow-log-max-bytes"); err == nil {
			spec.FlowLogMaxBytes = v
		}
		mergeAppliance(cmd, &spec, topology.Appliance{FlowLog: true, FlowLogMaxBytes: tt.file})
		if spec.FlowLogMaxBytes != tt.want {
			t.Errorf("args %v, file %d: cap %d, want %d", tt.args, tt.file, spec.FlowLogMaxBytes, tt.want)
		}
	}
}
