package archtest

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/gwlb-lab/gwlb-lab"

// imports maps each package of the module (by import path) to what its
// non-test files import.
func imports(t *testing.T) map[string][]string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	fset := token.NewFileSet()
	err = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "bin") {
				return filepath.SkipDir
			}
			if path != root && nestedModule(path) {
				return filepath.SkipDir // examples/: modules of their own
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		pkg := module
		if rel != "." {
			pkg = module + "/" + filepath.ToSlash(rel)
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			out[pkg] = append(out[pkg], p)
		}
		if _, ok := out[pkg]; !ok {
			out[pkg] = nil
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// nestedModule reports whether dir holds a go.mod: a module of its own,
// not a package of this one.
func nestedModule(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "go.mod"))
	return err == nil
}

// deps returns the transitive imports of pkg; packages outside the module are
// leaves (their own imports are not followed).
func deps(all map[string][]string, pkg string) []string {
	seen := map[string]bool{}
	var walk func(string)
	walk = func(p string) {
		for _, d := range all[p] {
			if !seen[d] {
				seen[d] = true
				walk(d)
			}
		}
	}
	walk(pkg)
	var list []string
	for d := range seen {
		list = append(list, d)
	}
	sort.Strings(list)
	return list
}

func TestImportBoundaries(t *testing.T) {
	all := imports(t)
	if len(all) < 3 {
		t.Fatalf("found only %d packages; is the module root right?", len(all))
	}
	for pkg := range all {
		rel := strings.TrimPrefix(strings.TrimPrefix(pkg, module), "/")
		for _, d := range deps(all, pkg) {
			switch {
			case rel == "emulator/packet" || rel == "emulator/api" || rel == "emulator/control":
				// Standard library only: no dot in the first path element.
				if !stdlib(d) {
					t.Errorf("%s imports %s: %s must use the standard library only", pkg, d, rel)
				}
			case rel == "lab/labapi":
				if !stdlib(d) && d != module+"/emulator/api" {
					t.Errorf("%s imports %s: lab/labapi may use the standard library and emulator/api only", pkg, d)
				}
			case rel == "gwlblab" || strings.HasPrefix(rel, "gwlblab/"):
				// What users' modules import: it must stay light.
				light := stdlib(d) || d == module+"/emulator/api" || d == module+"/emulator/control" || d == module+"/lab/labapi" ||
					strings.HasPrefix(d, module+"/gwlblab") ||
					(strings.HasPrefix(rel, "gwlblab/matchers") && (strings.HasPrefix(d, "github.com/onsi/gomega")))
				if !light {
					t.Errorf("%s imports %s: gwlblab may use the standard library, emulator/api, emulator/control and lab/labapi only", pkg, d)
				}
			case strings.HasPrefix(rel, "emulator"):
				for _, banned := range []string{module + "/lab", "github.com/vishvananda/netlink", "github.com/docker", "github.com/moby", "yaml", "github.com/spf13/cobra"} {
					if strings.HasPrefix(d, banned) || (banned == "yaml" && strings.Contains(d, "yaml")) {
						t.Errorf("%s imports %s: the data plane must not know how it was wired", pkg, d)
					}
				}
			case strings.HasPrefix(rel, "cmd/"):
				// cmd is thin: it may import one package of the module.
				n := 0
				for _, direct := range all[pkg] {
					if strings.HasPrefix(direct, module) {
						n++
					}
				}
				if n > 1 {
					t.Errorf("%s imports %d packages of the module; cmd/ must stay thin", pkg, n)
				}
			}
		}
	}
}

// stdlib reports whether an import path is the standard library's: no dot
// in its first element.
func stdlib(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".")
}

// TestLabDecodesAPITypes: the lab and its commands read the emulator's
// answers as emulator/api types, never through the data plane's own
// packages. Only the command that runs the emulator (lab/cli/emulator.go)
// imports emulator/daemon, to run it.
func TestLabDecodesAPITypes(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	allowed := map[string]string{"lab/cli/emulator.go": module + "/emulator/daemon"}
	banned := []string{"emulator/fabric", "emulator/gwlb", "emulator/daemon", "emulator/health", "emulator/flow", "emulator/port"}
	fset := token.NewFileSet()
	checked := 0
	err = filepath.WalkDir(filepath.Join(root, "lab"), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		checked++
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			for _, b := range banned {
				if p == module+"/"+b && allowed[rel] != p {
					t.Errorf("%s imports %s: decode the emulator's answers into emulator/api types", rel, p)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 10 {
		t.Fatalf("checked only %d files under lab/", checked)
	}
}

func TestDepsFollowsTransitively(t *testing.T) {
	all := map[string][]string{"a": {"b"}, "b": {"c"}, "c": nil}
	got := deps(all, "a")
	if strings.Join(got, ",") != "b,c" {
		t.Fatalf("deps(a) = %v, want [b c]", got)
	}
}

// TestExamplesUseThePublicAPI: the example suites are written as a user's
// own repository would write them, with gwlblab, its matchers, Ginkgo and
// Gomega, and nothing else of this module (test files included).
func TestExamplesUseThePublicAPI(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	allowed := map[string]bool{module + "/gwlblab": true, module + "/gwlblab/matchers": true}
	fset := token.NewFileSet()
	checked := 0
	err = filepath.WalkDir(filepath.Join(root, "examples"), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") {
			return err
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		checked++
		rel, _ := filepath.Rel(root, path)
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			ok := stdlib(p) || allowed[p] || strings.HasPrefix(p, "github.com/onsi/ginkgo/v2") || strings.HasPrefix(p, "github.com/onsi/gomega")
			if !ok {
				t.Errorf("%s imports %s: an example uses gwlblab, gwlblab/matchers, Ginkgo and Gomega only", filepath.ToSlash(rel), p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked == 0 {
		t.Fatal("found no Go file under examples/")
	}
}
