package cgroup

import (
	"errors"
	"strings"
	"testing"
)

func TestParseMountinfo(t *testing.T) {
	tests := []struct {
		name, in, want string
		err            error
	}{
		{
			name: "hybrid layout",
			in: `30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`,
			want: "/sys/fs/cgroup/unified",
		},
		{
			name: "unified with optional fields",
			in:   "35 24 0:30 / /sys/fs/cgroup rw,nosuid shared:9 master:2 - cgroup2 cgroup2 rw,nsdelegate\n",
			want: "/sys/fs/cgroup",
		},
		{
			name: "escaped path",
			in:   `35 24 0:30 / /mnt/my\040cg rw shared:9 - cgroup2 none rw` + "\n",
			want: "/mnt/my cg",
		},
		{
			name: "a v1 hierarchy only",
			in:   "31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n",
			err:  ErrUnavailable,
		},
		{
			name: "type field that looks like cgroup2 in the optional part",
			in:   "31 30 0:28 / /x rw cgroup2 - tmpfs tmpfs rw\n",
			err:  ErrUnavailable,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseMountinfo(strings.NewReader(tc.in))
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestLabDir(t *testing.T) {
	got, err := LabDir("/sys/fs/cgroup", "a9")
	if err != nil || got != "/sys/fs/cgroup/gwlb-lab/a9" {
		t.Fatalf("LabDir = %q, %v", got, err)
	}
	for _, bad := range []string{"", ".", "..", "a/b", "../x"} {
		if _, err := LabDir("/sys/fs/cgroup", bad); err == nil {
			t.Errorf("LabDir(%q) accepted", bad)
		}
	}
}
