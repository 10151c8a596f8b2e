package scenarios

import (
	"io/fs"
	"os"
	"slices"
	"testing"
)

func TestFSHoldsTheLabFiles(t *testing.T) {
	names, err := fs.Glob(FS, "*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"default.yaml", "plain-vpc.yaml"} {
		if !slices.Contains(names, want) {
			t.Errorf("FS holds %v, want %s among them", names, want)
		}
	}
}

func TestDefaultIsTheFile(t *testing.T) {
	onDisk, err := os.ReadFile(DefaultName)
	if err != nil {
		t.Fatal(err)
	}
	if got := Default(); string(got) != string(onDisk) {
		t.Fatalf("Default() differs from %s on disk", DefaultName)
	}
}
