package docker

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/moby/moby/api/types/container"

	"github.com/gwlb-lab/gwlb-lab/lab/backend"
)

func TestParseDevices(t *testing.T) {
	got, err := parseDevices([]string{"/dev/net/tun", "/dev/a:/dev/b", "/dev/c:/dev/d:r", "/dev/e::rw"})
	if err != nil {
		t.Fatal(err)
	}
	want := []container.DeviceMapping{
		{PathOnHost: "/dev/net/tun", PathInContainer: "/dev/net/tun", CgroupPermissions: "rwm"},
		{PathOnHost: "/dev/a", PathInContainer: "/dev/b", CgroupPermissions: "rwm"},
		{PathOnHost: "/dev/c", PathInContainer: "/dev/d", CgroupPermissions: "r"},
		{PathOnHost: "/dev/e", PathInContainer: "/dev/e", CgroupPermissions: "rw"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("parseDevices (-want +got):\n%s", d)
	}
	for _, bad := range []string{"", ":/dev/x", "/a:/b:r:x"} {
		if _, err := parseDevices([]string{bad}); err == nil {
			t.Errorf("parseDevices(%q): no error", bad)
		}
	}
}

func TestHolderName(t *testing.T) {
	// The holder's name must differ from every node's: node names have no
	// dots, so a suffix with one cannot collide.
	if got := HolderName("gwlb-a-fw-1"); got != "gwlb-a-fw-1.hold" {
		t.Errorf("HolderName = %q", got)
	}
}

func TestNotFound(t *testing.T) {
	for msg, want := range map[string]bool{
		`OCI runtime exec failed: exec failed: unable to start container process: exec: "/nope": stat /nope: no such file or directory: unknown`: true,
		`OCI runtime exec failed: exec failed: unable to start container process: exec: "nope": executable file not found in $PATH: unknown`:     true,
		`OCI runtime exec failed: exec failed: unable to start container process: exec: "/etc": permission denied: unknown`:                      false,
		`cat: /x: no such file or directory`: false,
	} {
		if got := notFound(msg); got != want {
			t.Errorf("notFound(%q) = %v, want %v", msg, got, want)
		}
	}
}

func TestAdopt(t *testing.T) {
	b := &Backend{specs: map[string]*backend.Container{}}
	b.Adopt("n", nil)
	if _, ok := b.specs["n"]; ok {
		t.Error("nil settings adopted")
	}
	c := &backend.Container{Image: "a"}
	b.Adopt("n", c)
	c.Image = "changed"
	if got := b.specs["n"].Image; got != "a" {
		t.Errorf("adopted settings follow the caller's later changes: %q", got)
	}
	// What Create was given wins over a later Adopt.
	b.Adopt("n", &backend.Container{Image: "b"})
	if got := b.specs["n"].Image; got != "a" {
		t.Errorf("Adopt replaced known settings: %q", got)
	}
}
