package scenario_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/gwlb-lab/gwlb-lab/lab/scenario"
	"github.com/gwlb-lab/gwlb-lab/lab/topology"
)

// FuzzScenario runs arbitrary bytes through Parse and Validate: nothing
// may panic or hang, parse findings are errors with a message (a YAML
// syntax error may have no line), and every finding of Validate has a
// line. The seeds are the shipped
// scenario files and the broken ones of TestErrors' kind.
func FuzzScenario(f *testing.F) {
	for _, path := range shipped(&testing.T{}) {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(head + "  - {}\n"))
	f.Add([]byte(twoVPCs + "  - route: {table: main, action: add, destination: 0.0.0.0/0, target: blackhole}\n"))
	f.Add([]byte(head + "  - expect: [{traverses: {traffic: a, directions: [both, forward]}}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		hang := time.AfterFunc(10*time.Second, func() { panic("parse and validate took over 10s") })
		defer hang.Stop()
		sf, err := scenario.Parse(context.Background(), data, "fuzz.yaml")
		if err != nil {
			if perr, ok := err.(*scenario.Error); ok {
				for _, d := range perr.Diagnostics {
					if d.Severity != topology.SeverityError || d.Message == "" {
						t.Fatalf("parse finding %+v is not an error with a message", d)
					}
				}
			}
			return
		}
		// topology_file is read relative to fuzz.yaml: keep the fuzzer
		// off the file system.
		if sf.Scenario.TopologyFile != "" {
			return
		}
		for _, d := range scenario.Validate(context.Background(), sf) {
			if d.Line == 0 {
				t.Fatalf("finding without a line: %v", d)
			}
		}
	})
}
