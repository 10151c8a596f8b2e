package appliance

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gwlb-lab/gwlb-lab/emulator/packet"
)

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// TestRotatingFile: the log never grows past its cap, rotates on record
// boundaries into one previous generation, and a reader of both files sees
// the newest records in order.
func TestRotatingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fw.flows.jsonl")
	const max = 1000
	r, err := OpenRotating(path, max)
	if err != nil {
		t.Fatal(err)
	}
	line := func(i int) string { return fmt.Sprintf("record %04d %s\n", i, strings.Repeat("x", 80)) } // 93 bytes
	for i := range 100 {
		if _, err := r.Write([]byte(line(i))); err != nil {
			t.Fatal(err)
		}
		if s := fileSize(t, path); s > max {
			t.Fatalf("after record %d the log is %d bytes, over its cap of %d", i, s, max)
		}
	}
	cur, _ := os.ReadFile(path)
	old, _ := os.ReadFile(path + RotatedSuffix)
	if len(old) > max || len(old) == 0 {
		t.Fatalf("rotated file is %d bytes", len(old))
	}
	both := string(old) + string(cur)
	lines := strings.SplitAfter(both, "\n")
	lines = lines[:len(lines)-1]
	// The files hold the latest records, whole and in order, ending at 99.
	first := 100 - len(lines)
	for i, l := range lines {
		if l != line(first+i) {
			t.Fatalf("line %d is %q, want %q", i, l, line(first+i))
		}
	}
	if len(lines) < max/93 {
		t.Fatalf("only %d records kept", len(lines))
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 2 {
		t.Fatalf("%d files, want the log and one rotated generation", len(entries))
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Write([]byte("late\n")); err == nil {
		t.Fatal("write after Close succeeded")
	}

	// Reopened, the log continues from its size.
	r, err = OpenRotating(path, max)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	before := fileSize(t, path)
	r.Write([]byte(line(100)))
	if after := fileSize(t, path); after != before+93 && after != 93 {
		t.Fatalf("reopened log went from %d to %d bytes", before, after)
	}
	// A record over the cap gets a file of its own.
	big := strings.Repeat("y", 2*max) + "\n"
	r.Write([]byte(big))
	if b, _ := os.ReadFile(path); string(b) != big {
		t.Fatalf("big record not alone in the log (%d bytes)", len(b))
	}
}

// TestFlowLogAcrossRotation: the appliance's flow log, capped small, keeps
// rotating while many flows are logged, and ReadFlowLog returns the latest
// records whole, with none twice, while writes go on.
func TestFlowLogAcrossRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fw.flows.jsonl")
	rf, err := OpenRotating(path, 4096)
	if err != nil {
		t.Fatal(err)
	}
	defer rf.Close()
	fl := NewFlowLog(rf)
	now := time.Unix(1_700_000_000, 0)
	record := func(i int) {
		p := &Packet{Key: packet.FlowKey{Src: netip.MustParseAddr("10.0.1.10"), Dst: netip.MustParseAddr("198.51.100.10"), SrcPort: uint16(1000 + i), DstPort: 53, Proto: 17}}
		fl.Record(p, Pass, "", now)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() { // a reader polling as the e2e harness does
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			recs, err := ReadFlowLog(path)
			if err != nil {
				t.Errorf("read during writes: %v", err)
				return
			}
			seen := map[string]bool{}
			for _, r := range recs {
				k := fmt.Sprint(r.SrcPort)
				if seen[k] {
					t.Errorf("record for port %s read twice", k)
					return
				}
				seen[k] = true
			}
		}
	}()
	for i := range 2000 {
		record(i)
	}
	close(stop)
	wg.Wait()
	if s := fileSize(t, path); s > 4096 {
		t.Fatalf("flow log is %d bytes, over its cap", s)
	}
	recs, err := ReadFlowLog(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) < 20 || recs[len(recs)-1].SrcPort != 1000+1999 {
		t.Fatalf("%d records, last %+v", len(recs), recs[len(recs)-1])
	}
	for i := 1; i < len(recs); i++ {
		if recs[i].SrcPort != recs[i-1].SrcPort+1 {
			t.Fatalf("records out of order or missing at %d: %d after %d", i, recs[i].SrcPort, recs[i-1].SrcPort)
		}
	}
	// A record still being written is not an error, and not a record.
	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString(`{"time":"2026-`)
	f.Close()
	if again, err := ReadFlowLog(path); err != nil || len(again) != len(recs) {
		t.Fatalf("with a partial last line: %d records, %v", len(again), err)
	}
	if none, err := ReadFlowLog(filepath.Join(t.TempDir(), "missing")); err != nil || none != nil {
		t.Fatalf("missing log: %v %v", none, err)
	}
}

// TestFlowLogMemoryBounded: the flow log remembers at most two generations
// of flows; a flow met again moves to the current one and keeps its
// direction, a flow silent for two generations is logged afresh.
func TestFlowLogMemoryBounded(t *testing.T) {
	var buf strings.Builder
	l := NewFlowLog(&buf)
	l.generation = 4
	now := time.Unix(0, 0)
	req := func(i int) *Packet { return pkt("198.51.100.10", "10.0.1.10", uint16(40000+i), 80, 17, 0) }
	rep := func(i int) *Packet { return pkt("10.0.1.10", "198.51.100.10", 80, uint16(40000+i), 17, 0) }
	logged := func() []string {
		var out []string
		for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
			var r FlowRecord
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				t.Fatal(err)
			}
			out = append(out, fmt.Sprintf("%d %s", r.SrcPort+r.DstPort-80, r.Dir))
		}
		buf.Reset()
		return out
	}
	for i := range 4 { // flows 0-3 fill a generation
		l.Record(req(i), Pass, "", now)
	}
	l.Record(req(0), Pass, "", now)
	l.Record(req(4), Pass, "", now) // a new generation begins
	l.Record(rep(0), Pass, "", now) // flow 0 moves to it: its reply is a reply
	l.Record(req(0), Pass, "", now)
	if diff := cmp.Diff([]string{"40000 original", "40001 original", "40002 original", "40003 original", "40004 original", "40000 reply"}, logged()); diff != "" {
		t.Fatalf("records (-want +got):\n%s", diff)
	}
	for i := 5; i < 100; i++ {
		l.Record(req(i), Pass, "", now)
		if n := len(l.cur.first) + len(l.prev.first); n > 2*l.generation {
			t.Fatalf("after %d flows the log remembers %d", i+1, n)
		}
		if n := len(l.cur.seen) + len(l.prev.seen); n > 4*2*l.generation {
			t.Fatalf("after %d flows the log remembers %d events", i+1, n)
		}
	}
	logged()
	l.Record(rep(1), Pass, "", now) // forgotten: logged again, its sender now the initiator
	if diff := cmp.Diff([]string{"40001 original"}, logged()); diff != "" {
		t.Fatalf("records (-want +got):\n%s", diff)
	}
}
