package daemon

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gwlb-lab/gwlb-lab/emulator/api"
	"github.com/gwlb-lab/gwlb-lab/emulator/health"
)

// EventRingSize is how many events the emulator keeps; older ones are
// overwritten.
const EventRingSize = 4096

// events is a bounded ring of events. Writers are the control handlers and
// the health checkers' reports, never the forwarding path. Followers wait
// on wake, a channel closed (and replaced) by every append.
type events struct {
	mu    sync.Mutex
	ring  []api.Event // len EventRingSize once full
	next  uint64      // the Seq of the next event
	wake  chan struct{}
	now   func() time.Time // lab time
	start time.Time        // lab time when the ring was made
}

func newEvents(size int, labNow func() time.Time) *events {
	return &events{ring: make([]api.Event, 0, size), next: 1, wake: make(chan struct{}), now: labNow, start: labNow()}
}

// add records e with both timestamps and the next sequence number.
func (r *events) add(e api.Event) {
	e.Time, e.LabTime = time.Now(), r.now()
	e.LabSeconds = e.LabTime.Sub(r.start).Seconds()
	r.mu.Lock()
	e.Seq = r.next
	r.next++
	if len(r.ring) < cap(r.ring) {
		r.ring = append(r.ring, e)
	} else {
		r.ring[int((e.Seq-1)%uint64(cap(r.ring)))] = e
	}
	close(r.wake)
	r.wake = make(chan struct{})
	r.mu.Unlock()
}

// after returns the events with Seq > seq that the ring still holds, oldest
// first, and a channel closed when the next event is added.
func (r *events) after(seq uint64) ([]api.Event, <-chan struct{}) {
	r.mu.Lock()
	defer r.mu.Unlock()
	oldest := r.next - uint64(len(r.ring))
	if seq+1 > oldest {
		oldest = seq + 1
	}
	var out []api.Event
	for s := oldest; s < r.next; s++ {
		out = append(out, r.ring[int((s-1)%uint64(cap(r.ring)))])
	}
	return out, r.wake
}

// serveEvents streams events as JSON lines: ?after=SEQ, ?since=RFC3339
// (wall clock), ?follow=1 to wait for new ones until the client goes away.
func (d *Daemon) serveEvents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var after uint64
	var since time.Time
	var err error
	if s := q.Get("after"); s != "" {
		if after, err = strconv.ParseUint(s, 10, 64); err != nil {
			err = fmt.Errorf("after %q is not an event number", s)
		}
	}
	if s := q.Get("since"); s != "" && err == nil {
		if since, err = time.Parse(time.RFC3339Nano, s); err != nil {
			err = fmt.Errorf("since %q is not an RFC 3339 time", s)
		}
	}
	if err != nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(api.Error{Error: err.Error()})
		return
	}
	follow := q.Get("follow") == "1" || q.Get("follow") == "true"
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	enc := json.NewEncoder(w)
	for {
		evs, wake := d.events.after(after)
		for _, e := range evs {
			after = e.Seq
			if e.Time.Before(since) {
				continue
			}
			if enc.Encode(e) != nil {
				return
			}
		}
		if flusher != nil {
			flusher.Flush()
		}
		if !follow {
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-wake:
		}
	}
}

// Events returns the events the emulator holds, oldest first (in-process
// callers and tests).
func (d *Daemon) Events() []api.Event {
	evs, _ := d.events.after(0)
	return evs
}

// healthReason is the AWS reason code of a health verdict (spec §4).
func healthReason(st health.Status) string {
	switch st.State {
	case health.Initial:
		return health.ReasonInitial
	case health.Healthy:
		return ""
	}
	switch e := st.LastError; {
	case strings.HasPrefix(e, "http status "):
		return "Target.ResponseCodeMismatch"
	case strings.Contains(e, "deadline exceeded"), strings.Contains(e, "timeout"):
		return "Target.Timeout"
	}
	return health.ReasonFailed
}
