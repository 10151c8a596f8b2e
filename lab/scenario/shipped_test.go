package scenario_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gwlb-lab/gwlb-lab/lab/scenario"
)

// scenariosDir holds the shipped files: topology files at its top (the
// default lab, plain-vpc), scenario files in its subdirectories.
const scenariosDir = "../../scenarios"

// shipped returns every scenario file: the YAML files in scenarios/'s
// subdirectories, at any depth.
func shipped(t *testing.T) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(scenariosDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && filepath.Dir(path) != scenariosDir && strings.HasSuffix(path, ".yaml") {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no scenario file under %s", scenariosDir)
	}
	return files
}

// TestShippedScenariosValidate: every scenario file shipped validates.
func TestShippedScenariosValidate(t *testing.T) {
	for _, path := range shipped(t) {
		t.Run(strings.TrimPrefix(path, scenariosDir+"/"), func(t *testing.T) {
			_, diags, err := scenario.Check(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range diags {
				t.Logf("%s:%d: %s: %s", path, d.Line, d.Severity, d)
			}
		})
	}
}

var mistakeRE = regexp.MustCompile(`^(\d\d)-[a-z0-9-]+-(broken|fixed)\.yaml$`)

// TestMistakesComeInPairs: the mistake catalogue holds, for every row of
// spec §6.6 the lab reproduces, a broken file and its fix, and
// docs/scenarios.md lists every file.
func TestMistakesComeInPairs(t *testing.T) {
	entries, err := os.ReadDir(filepath.Join(scenariosDir, "mistakes"))
	if err != nil {
		t.Fatal(err)
	}
	docs, err := os.ReadFile("../../docs/scenarios.md")
	if err != nil {
		t.Fatal(err)
	}
	pairs := map[string]map[string]string{} // row -> kind -> file
	for _, e := range entries {
		m := mistakeRE.FindStringSubmatch(e.Name())
		if m == nil {
			if strings.HasSuffix(e.Name(), ".yaml") && !strings.HasPrefix(e.Name(), "x-") {
				t.Errorf("%s: a mistake file is named NN-name-broken.yaml or NN-name-fixed.yaml (x-name.yaml for one outside spec §6.6)", e.Name())
			}
		} else {
			if pairs[m[1]] == nil {
				pairs[m[1]] = map[string]string{}
			}
			if prev := pairs[m[1]][m[2]]; prev != "" {
				t.Errorf("row %s has two %s files: %s and %s", m[1], m[2], prev, e.Name())
			}
			pairs[m[1]][m[2]] = e.Name()
		}
		if strings.HasSuffix(e.Name(), ".yaml") && !strings.Contains(string(docs), "mistakes/"+e.Name()) {
			t.Errorf("docs/scenarios.md does not list mistakes/%s", e.Name())
		}
	}
	for _, row := range []string{"01", "02", "03", "04", "07", "08", "10", "11", "12", "13", "15", "17"} {
		if pairs[row]["broken"] == "" || pairs[row]["fixed"] == "" {
			t.Errorf("spec §6.6 #%s: want a broken and a fixed file, have %v", strings.TrimLeft(row, "0"), pairs[row])
		}
	}
}
