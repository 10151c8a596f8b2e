package appliance

import (
	"encoding/json"
	"io"
	"sync"
	"time"

	"github.com/gwlb-lab/gwlb-lab/emulator/flow"
)

// FlowRecord is one line of the flow log (JSON lines). The appliance writes
// one when it first sees a flow in a direction, and one when it first drops
// a packet of a flow in a direction.
type FlowRecord struct {
	Time     time.Time `json:"time"`
	Event    string    `json:"event"` // "flow" or "drop"
	Src      string    `json:"src"`
	Dst      string    `json:"dst"`
	Proto    uint8     `json:"proto"`
	SrcPort  uint16    `json:"sport,omitempty"`
	DstPort  uint16    `json:"dport,omitempty"`
	Dir      string    `json:"dir"` // original (from the first packet's sender) or reply
	GWLB     string    `json:"gwlb"`
	Endpoint string    `json:"endpoint"`
	Cookie   string    `json:"cookie"`
	Reason   string    `json:"reason,omitempty"`
}

// FlowLog writes FlowRecords. Safe for concurrent use.
type FlowLog struct {
	mu    sync.Mutex
	enc   *json.Encoder
	seen  map[flowDir]string // first event logged per flow and direction
	first map[flow.Key]bool  // whether the flow's initiator was the swapped side
}

type flowDir struct {
	k   flow.Key
	dir flow.Dir
	ev  string
}

// NewFlowLog writes to w.
func NewFlowLog(w io.Writer) *FlowLog {
	return &FlowLog{enc: json.NewEncoder(w), seen: map[flowDir]string{}, first: map[flow.Key]bool{}}
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
	initSwapped, ok := l.first[k]
	if !ok {
		initSwapped = swapped
		l.first[k] = swapped
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
	if _, done := l.seen[fd]; done {
		return
	}
	l.seen[fd] = ev
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
