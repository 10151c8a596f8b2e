package supervise

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// childEnd returns a descriptor number for the read end of a new pipe, as
// a started child would have it, and the write end.
func childEnd(t *testing.T) (int, *os.File) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Dup(int(r.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	t.Cleanup(func() { w.Close() })
	return fd, w
}

func TestAwaitRecordedGoesOnAfterTheByte(t *testing.T) {
	fd, w := childEnd(t)
	if _, err := w.Write([]byte{1}); err != nil {
		t.Fatal(err)
	}
	if err := AwaitRecorded(fd); err != nil {
		t.Fatalf("AwaitRecorded = %v, want nil", err)
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); !errors.Is(err, unix.EBADF) {
		t.Errorf("descriptor %d still open after the handshake: a program would inherit it", fd)
	}
}

func TestAwaitRecordedStopsWhenTheStarterIsGone(t *testing.T) {
	fd, w := childEnd(t)
	w.Close() // what the kernel does when up is killed
	if err := AwaitRecorded(fd); !errors.Is(err, ErrNotRecorded) {
		t.Fatalf("AwaitRecorded = %v, want ErrNotRecorded", err)
	}
}

func TestRunRecordsHowTheProgramEnded(t *testing.T) {
	tests := []struct {
		name   string
		argv   []string
		code   int
		signal string
	}{
		{"exit status", []string{"sh", "-c", "exit 3"}, 3, ""},
		{"success", []string{"true"}, 0, ""},
		{"killed by a signal", []string{"sh", "-c", "kill -KILL $$"}, 128 + 9, "SIGKILL"},
		{"missing program", []string{"/nonexistent/gwlb-lab-test"}, 127, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			exit := filepath.Join(t.TempDir(), "node.exit")
			code, err := Run(context.Background(), Options{Argv: tc.argv, ExitFile: exit})
			if tc.code == 127 {
				if err == nil {
					t.Fatal("Run of a missing program: no error")
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.code {
				t.Errorf("Run = %d, want %d", code, tc.code)
			}
			e, err := ReadExit(exit)
			if err != nil || e == nil {
				t.Fatalf("ReadExit = %+v, %v", e, err)
			}
			if e.Code != tc.code || e.Signal != tc.signal {
				t.Errorf("exit file = %+v, want code %d signal %q", e, tc.code, tc.signal)
			}
		})
	}
}

func TestReadExitOfARunningProgram(t *testing.T) {
	e, err := ReadExit(filepath.Join(t.TempDir(), "none.exit"))
	if e != nil || err != nil {
		t.Fatalf("ReadExit of a missing file = %+v, %v; want nil, nil", e, err)
	}
}
