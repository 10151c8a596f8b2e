package netns

import (
	"os"
	"testing"
)

func TestParseStat(t *testing.T) {
	tests := []struct {
		name string
		line string
		want procStat
		bad  bool
	}{
		{
			name: "plain",
			line: "4242 (sleep) S 1 4242 4242 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 987654 2281472 130 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n",
			want: procStat{state: 'S', pgrp: 4242, session: 4242, startTime: 987654},
		},
		{
			name: "comm with spaces and parentheses",
			line: "77 (a) b (c)) Z 1 70 60 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 123 2281472 130\n",
			want: procStat{state: 'Z', pgrp: 70, session: 60, startTime: 123},
		},
		{name: "truncated", line: "77 (x) S 1 70 60 0", bad: true},
		{name: "no comm", line: "77 x S 1 2 3", bad: true},
		{name: "empty", line: "", bad: true},
		{name: "bad number", line: "77 (x) S 1 zz 60 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 123 2281472 130\n", bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStat([]byte(tt.line))
			if tt.bad {
				if err == nil {
					t.Fatalf("parseStat(%q) = %+v, want an error", tt.line, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseStat(%q): %v", tt.line, err)
			}
			if got != tt.want {
				t.Errorf("parseStat(%q) = %+v, want %+v", tt.line, got, tt.want)
			}
		})
	}
}

func TestReadStatSelf(t *testing.T) {
	st, err := readStat(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if !st.live() || st.startTime == 0 {
		t.Errorf("readStat(self) = %+v, want a live process with a start time", st)
	}
}
