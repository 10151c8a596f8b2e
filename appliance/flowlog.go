package appliance

import (
	"encoding/json"
	"io"
	"sync"
	"time"

	"github.com/gwlb-lab/gwlb-lab/emulator/flow"
	"github.com/gwlb-lab/gwlb-lab/lab/labapi"
)

// FlowRecord is one line of the flow log; it lives in lab/labapi so that
// programs can read flow logs without the appliance.
type FlowRecord = labapi.FlowRecord

// FlowLog writes FlowRecords. Safe for concurrent use.
//
// It remembers which flows and directions it has logged so that each is
// logged once. That memory is bounded: it is kept in two generations of at
// most generation flows each; when the current one is full it becomes the
// previous one and the oldest is forgotten, and a flow met again in the
// previous generation moves to the current one. A flow silent while
// two generations of other flows pass is logged again as new (its next
// packet's sender then counts as its initiator).
type FlowLog struct {
	mu         sync.Mutex
	enc        *json.Encoder
	generation int
	cur, prev  flowMemory
}

// flowLogGeneration is how many flows a generation of a FlowLog's memory
// holds: about 10 MB for the two at the most.
const flowLogGeneration = 1 << 16

// flowMemory is one generation of a FlowLog's memory.
type flowMemory struct {
	seen  map[flowDir]struct{} // events logged per flow and direction
	first map[flow.Key]bool    // whether the flow's initiator was the swapped side
}

func newFlowMemory() flowMemory {
	return flowMemory{seen: map[flowDir]struct{}{}, first: map[flow.Key]bool{}}
}

type flowDir struct {
	k   flow.Key
	dir flow.Dir
	ev  string
}

// NewFlowLog writes to w.
func NewFlowLog(w io.Writer) *FlowLog {
	return &FlowLog{enc: json.NewEncoder(w), generation: flowLogGeneration, cur: newFlowMemory(), prev: newFlowMemory()}
}

// initiator returns whether k's initiator was the swapped side, moving what
// the previous generation knows of k into the current one.
func (l *FlowLog) initiator(k flow.Key) (swapped, ok bool) {
	if swapped, ok = l.cur.first[k]; ok {
		return swapped, true
	}
	if swapped, ok = l.prev.first[k]; ok {
		l.cur.first[k] = swapped
		for _, d := range []flowDir{{k, flow.Original, "flow"}, {k, flow.Reply, "flow"}, {k, flow.Original, "drop"}, {k, flow.Reply, "drop"}} {
			if _, seen := l.prev.seen[d]; seen {
				l.cur.seen[d] = struct{}{}
			}
		}
	}
	return swapped, ok
}

// Record logs p's flow and direction the first time they are seen, and the
// first drop of each.
func (l *FlowLog) Record(p *Packet, v Verdict, reason string, now time.Time) {
	if l == nil {
		return
	}
	k, swapped := flow.Normalize(p.Key, flow.FiveTuple)
	l.mu.Lock()
	defer l.mu.Unlock()
	initSwapped, ok := l.initiator(k)
	if !ok {
		if len(l.cur.first) >= l.generation {
			l.prev, l.cur = l.cur, newFlowMemory()
		}
		initSwapped = swapped
		l.cur.first[k] = swapped
	}
	dir := flow.Original
	if swapped != initSwapped {
		dir = flow.Reply
	}
	ev := "flow"
	if v == Drop {
		ev = "drop"
	}
	fd := flowDir{k, dir, ev}
	if _, done := l.cur.seen[fd]; done {
		return
	}
	l.cur.seen[fd] = struct{}{}
	r := FlowRecord{
		Time: now.UTC(), Event: ev, Src: p.Key.Src.String(), Dst: p.Key.Dst.String(), Proto: p.Key.Proto,
		SrcPort: p.Key.SrcPort, DstPort: p.Key.DstPort, Dir: dir.String(), GWLB: p.GWLB.String(),
		Endpoint: p.Options.EndpointName(), Cookie: cookieHex(p.Options.Cookie), Reason: reason,
	}
	_ = l.enc.Encode(r)
}

func cookieHex(c uint32) string {
	const digits = "0123456789abcdef"
	var b [8]byte
	for i := 7; i >= 0; i-- {
		b[i] = digits[c&0xf]
		c >>= 4
	}
	return string(b[:])
}
