package cli

import (
	"errors"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// A descriptor inherited from the emulator (its hold file) is closed; one
// elsewhere stays.
func TestDropInherited(t *testing.T) {
	root, other := t.TempDir(), t.TempDir()
	// Raw descriptors: an *os.File's finalizer would close a reused number.
	in, err := unix.Open(filepath.Join(root, "emulator.hold"), unix.O_CREAT|unix.O_RDONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	out, err := unix.Open(filepath.Join(other, "keep"), unix.O_CREAT|unix.O_RDONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(out)
	dropInherited(root)
	if _, err := unix.FcntlInt(uintptr(in), unix.F_GETFD, 0); !errors.Is(err, unix.EBADF) {
		unix.Close(in)
		t.Fatalf("descriptor of a file under the state root still open (%v)", err)
	}
	if _, err := unix.FcntlInt(uintptr(out), unix.F_GETFD, 0); err != nil {
		t.Fatalf("descriptor of another file closed: %v", err)
	}
}
