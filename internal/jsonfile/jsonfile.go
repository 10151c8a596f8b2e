// Package jsonfile replaces files with JSON atomically: the lab's state, a
// node program's exit status, an appliance's counters. Readers (status, a
// later down, a test) never see half a file, whatever moment a crash or a
// concurrent read picks.
package jsonfile

import (
	"encoding/json"
	"fmt"
	"os"
)

// Write replaces path with v as JSON and a newline, by writing path+".tmp"
// with perm and renaming it over path. indent makes it readable by people.
func Write(path string, v any, perm os.FileMode, indent bool) error {
	var b []byte
	var err error
	if indent {
		b, err = json.MarshalIndent(v, "", "  ")
	} else {
		b, err = json.Marshal(v)
	}
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), perm); err != nil {
		return fmt.Errorf("write %q: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %q: %w", path, err)
	}
	return nil
}
