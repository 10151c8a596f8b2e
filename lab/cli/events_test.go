package cli

import (
	"bytes"
	"testing"
	"time"

	"github.com/gwlb-lab/gwlb-lab/emulator/api"
)

func TestWriteEvent(t *testing.T) {
	var b bytes.Buffer
	at := time.Date(2026, 1, 2, 3, 4, 5, 600_000_000, time.Local)
	writeEvent(&b, api.Event{Time: at, LabSeconds: 41.23, Kind: api.EventTargetDeregister, GWLB: "gwlb-1", Target: "fw-3",
		IP: "10.20.1.13", State: "draining", Reason: "Target.DeregistrationInProgress", Detail: "deregistration delay 5m0s"})
	writeEvent(&b, api.Event{Time: at, Kind: api.EventEmulatorStart})
	want := "03:04:05.600  lab +41.230s    target_deregistered gwlb=gwlb-1 target=fw-3 ip=10.20.1.13 state=draining reason=Target.DeregistrationInProgress  (deregistration delay 5m0s)\n" +
		"03:04:05.600  lab +0.000s     emulator_start\n"
	if b.String() != want {
		t.Fatalf("got\n%q\nwant\n%q", b.String(), want)
	}
}
