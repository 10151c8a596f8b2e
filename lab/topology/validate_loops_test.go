package topology_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// loopVariant writes testdata/warn/endpoint-loop.yaml with the replacements
// made, and returns its path.
func loopVariant(t *testing.T, replace ...string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "warn", "endpoint-loop.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for i := 0; i+1 < len(replace); i += 2 {
		if !strings.Contains(s, replace[i]) {
			t.Fatalf("no %q in the file", replace[i])
		}
		s = strings.ReplaceAll(s, replace[i], replace[i+1])
	}
	p := filepath.Join(t.TempDir(), "loop.yaml")
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestEndpointLoopWarnings(t *testing.T) {
	cases := []struct {
		name    string
		replace []string
		want    string // "" : no loop warning
	}{
		{"routes that never meet", []string{
			"- {destination: 0.0.0.0/0, target: gwlbe-b}", "- {destination: 10.8.0.0/16, target: gwlbe-b}",
			"- {destination: 0.0.0.0/0, target: gwlbe-a}", "- {destination: 10.9.0.0/16, target: gwlbe-a}",
		}, ""},
		{"a more specific route on one side", []string{
			"- {destination: 0.0.0.0/0, target: gwlbe-a}", "- {destination: 198.51.100.0/24, target: gwlbe-a}",
		}, `traffic to 198.51.100.0/24 that leaves endpoint "gwlbe-a" loops through endpoints gwlbe-a → gwlbe-b → gwlbe-a`},
		{"one way only", []string{
			"- {destination: 0.0.0.0/0, target: gwlbe-a}", "- {destination: 0.0.0.0/0, target: igw-consumer}",
		}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			for _, w := range check(t, loopVariant(t, c.replace...)).Warnings() {
				if strings.Contains(w.Message, "loops through endpoints") {
					got = append(got, w.Message)
				}
			}
			switch {
			case c.want == "" && len(got) > 0:
				t.Fatalf("warned: %q", got)
			case c.want != "" && (len(got) != 1 || !strings.Contains(got[0], c.want)):
				t.Fatalf("warnings %q, want one with %q", got, c.want)
			}
		})
	}
}
