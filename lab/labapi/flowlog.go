package labapi

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// RotatedSuffix names the previous generation of a rotated flow log: a log
// "x.flows.jsonl" keeps at most "x.flows.jsonl.1" besides itself.
const RotatedSuffix = ".1"

// ReadFlowLog reads a flow log written through the appliance's rotating
// file (at most one previous generation, path+RotatedSuffix): the rotated
// generation, then the current one, oldest record first. A log that does
// not exist is empty. It may run while the appliance writes: a rotation
// between its two reads is recognised (the rotated file then starts with
// what the current one held) and the records are not doubled; the few
// written after such a rotation are left for the next read. A last line
// still being written is skipped.
func ReadFlowLog(path string) ([]FlowRecord, error) {
	cur, err := readIfExists(path)
	if err != nil {
		return nil, err
	}
	old, err := readIfExists(path + RotatedSuffix)
	if err != nil {
		return nil, err
	}
	all := append(old, cur...)
	if len(cur) > 0 && bytes.HasPrefix(old, cur) {
		all = old // rotated between the two reads
	}
	all = all[:bytes.LastIndexByte(all, '\n')+1] // a last line being written waits
	var out []FlowRecord
	sc := bufio.NewScanner(bytes.NewReader(all))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var rec FlowRecord
		if err := json.Unmarshal(line, &rec); err != nil {
			return nil, fmt.Errorf("flow log %q: %w", path, err)
		}
		out = append(out, rec)
	}
	return out, sc.Err()
}

func readIfExists(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return b, err
}
