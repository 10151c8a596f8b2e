package docscheck

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// document is the behaviour document, from the repository root.
const document = "docs/gwlb-behaviour.md"

// scanned are the kinds of files whose citations must resolve.
var scanned = map[string]bool{"go": true, "md": true, "yaml": true, "yml": true, "json": true}

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// trackedFiles lists the repository's tracked files (relative paths). Out
// of a git checkout (a source archive) it walks the tree instead.
func trackedFiles(t *testing.T, root string) []string {
	t.Helper()
	cmd := exec.Command("git", "ls-files", "-z")
	cmd.Dir = root
	if out, err := cmd.Output(); err == nil {
		return strings.Split(strings.TrimRight(string(out), "\x00"), "\x00")
	}
	var files []string
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "bin") {
				return filepath.SkipDir
			}
			return nil
		}
		rel, err := filepath.Rel(root, path)
		files = append(files, rel)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func anchors(t *testing.T, root string) Anchors {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, document))
	if err != nil {
		t.Fatalf("the behaviour document the code cites is missing: %v", err)
	}
	return ParseAnchors(string(b))
}

// TestCitationsResolve: every "spec §N" in the repository names a section
// (or row, or question) of the behaviour document.
func TestCitationsResolve(t *testing.T) {
	root := repoRoot(t)
	a := anchors(t, root)
	files, n := 0, 0
	for _, f := range trackedFiles(t, root) {
		kind := strings.TrimPrefix(filepath.Ext(f), ".")
		if !scanned[kind] {
			continue
		}
		b, err := os.ReadFile(filepath.Join(root, f))
		if os.IsNotExist(err) {
			continue // deleted in the working tree, not yet in the index
		}
		if err != nil {
			t.Fatal(err)
		}
		files++
		for _, c := range Find(string(b), kind) {
			n++
			if !a.Resolves(c) {
				what := "a heading"
				if c.Item != 0 {
					what = "a row or item of spec §" + c.Section
				}
				t.Errorf("%s:%d: spec %s is not %s of %s", f, c.Line, c, what, document)
			}
		}
	}
	// A scan that finds nothing proves nothing: the repository cites the
	// document in dozens of places.
	if n < 100 {
		t.Errorf("found only %d citations in %d files; the scan is broken", n, files)
	}
}

// TestNumbering: the document keeps the numbering that code, docs and users'
// notes rely on: every section and subsection, the 17 rows of §6.6, the 10
// requirements of §10 and the 18 open questions of §11.
func TestNumbering(t *testing.T) {
	a := anchors(t, repoRoot(t))
	var want []Citation
	for _, s := range strings.Fields(`0 1 2 2.1 2.2 2.3 2.4 2.5 2.6 3 3.1 3.2 3.3 3.4 4 4.1 4.2 4.3 4.4 4.5 4.6
		5 6 6.1 6.2 6.3 6.4 6.5 6.6 7 7.1 7.2 7.3 8 9 9.1 9.2 9.3 10 11 12`) {
		want = append(want, Citation{Section: s})
	}
	for s, n := range map[string]int{"6.6": 17, "10": 10, "11": 18} {
		for k := 1; k <= n; k++ {
			want = append(want, Citation{Section: s, Item: k})
		}
	}
	for _, c := range want {
		if !a.Resolves(c) {
			t.Errorf("%s has no %s", document, c)
		}
	}
}
