package jsonfile

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "x.json")
	if err := os.WriteFile(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Write(p, map[string]int{"a": 1}, 0o600, false); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil || string(b) != "{\"a\":1}\n" {
		t.Fatalf("compact: %q, %v", b, err)
	}
	if err := Write(p, map[string]int{"a": 1}, 0o600, true); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "{\n  \"a\": 1\n}\n" {
		t.Fatalf("indented: %q", b)
	}
	if _, err := os.Stat(p + ".tmp"); !os.IsNotExist(err) {
		t.Fatalf("the temporary file is left: %v", err)
	}
	if err := Write(filepath.Join(dir, "no", "such", "dir.json"), 1, 0o600, false); err == nil {
		t.Fatal("a write into a missing directory succeeded")
	}
}
