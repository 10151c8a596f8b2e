// Command reliability checks that `gwlb-lab down` leaves nothing behind after
// `up` is killed with SIGKILL at any moment (make reliability, as root).
//
// It measures how long `up` takes for the topology, then starts `up` again
// N times and kills it at N evenly spread moments of that duration, runs
// `down` after each, and checks that nothing of the lab is left: no
// namespace, no host link naming it, no state directory, no cgroup, and no
// process, found three ways (in one of the lab's network namespaces, in its
// cgroup, or carrying the run's environment mark, which everything the lab
// starts inherits). It prints "n/N clean".
//
// With -f naming a topology with container nodes, it also checks that no
// container labelled with the lab is left.
//
// It uses its own random lab name and looks at nothing else; it signals
// only the `up` processes it started itself.
package main

import (
	"bytes"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gwlb-lab/gwlb-lab/lab/cgroup"
)

const markVar = "GWLB_LAB_TEST_MARK"

func main() {
	bin := flag.String("bin", "bin/gwlb-lab", "the gwlb-lab binary")
	file := flag.String("f", "", "topology file (default: the embedded default lab)")
	n := flag.Int("n", 50, "number of kill moments")
	flag.Parse()
	if err := run(*bin, *file, *n); err != nil {
		fmt.Fprintf(os.Stderr, "reliability: %v\n", err)
		os.Exit(1)
	}
}

func run(bin, file string, n int) error {
	if os.Geteuid() != 0 {
		return errors.New("needs root: it brings labs up and down")
	}
	// Orphans of a killed up come to us, so we can reap them instead of
	// leaving zombies behind on machines whose PID 1 does not.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("become a subreaper: %w", err)
	}
	name := randomName()
	env := append(os.Environ(), markVar+"="+name)
	upArgs := []string{"up", "-q", "--name", name}
	if file != "" {
		upArgs = append(upArgs, "-f", file)
	}
	fmt.Printf("lab %s; measuring up\n", name)
	start := time.Now()
	if out, err := command(bin, env, upArgs...).CombinedOutput(); err != nil {
		command(bin, env, "down", "--name", name).Run()
		return fmt.Errorf("up: %v\n%s", err, out)
	}
	full := time.Since(start)
	if err := down(bin, env, name); err != nil {
		return err
	}
	if left := leftovers(name, nil); len(left) > 0 {
		return fmt.Errorf("left after a plain up and down: %s", strings.Join(left, "; "))
	}
	fmt.Printf("up takes %s; killing it at %d moments\n", full.Round(time.Millisecond), n)

	clean := 0
	for i := 0; i < n; i++ {
		at := time.Duration(float64(full) * (float64(i) + 0.5) / float64(n))
		left, err := killedUp(bin, env, name, upArgs, at)
		reap()
		switch {
		case err != nil:
			fmt.Printf("  %2d  kill at %-8s  ERROR %v\n", i+1, at.Round(time.Millisecond), err)
		case len(left) > 0:
			fmt.Printf("  %2d  kill at %-8s  LEFT %s\n", i+1, at.Round(time.Millisecond), strings.Join(left, "; "))
		default:
			clean++
			fmt.Printf("  %2d  kill at %-8s  clean\n", i+1, at.Round(time.Millisecond))
		}
	}
	fmt.Printf("%d/%d clean\n", clean, n)
	if clean != n {
		return fmt.Errorf("%d of %d runs left something", n-clean, n)
	}
	return nil
}

// killedUp starts up, kills it after at, runs down, and returns what is
// left of the lab.
func killedUp(bin string, env []string, name string, upArgs []string, at time.Duration) ([]string, error) {
	cmd := command(bin, env, upArgs...)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	time.Sleep(at) // the moment under test, not a wait for a condition
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	// What runs in the lab's namespaces must be found even once down has
	// unmounted them: note them now.
	nss := namespaces(name)
	if err := down(bin, env, name); err != nil {
		return leftovers(name, nss), err
	}
	return leftovers(name, nss), nil
}

func command(bin string, env []string, args ...string) *exec.Cmd {
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	return cmd
}

// exitNoLab is down's exit status for a lab that is not there.
const exitNoLab = 3

// down runs down; a lab that up never got to claim ("no such lab", exit
// status 3) counts as removed, and leftovers are looked for all the same.
func down(bin string, env []string, name string) error {
	out, err := command(bin, env, "down", "--name", name).CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == exitNoLab {
		return nil
	}
	if err != nil {
		return fmt.Errorf("down: %v: %s", err, bytes.TrimSpace(out))
	}
	return nil
}

type nsID struct{ dev, ino uint64 }

// namespaces returns the identities of the lab's mounted namespaces.
func namespaces(name string) map[nsID]string {
	out := map[nsID]string{}
	ents, _ := os.ReadDir("/run/netns")
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), "gwlb-"+name+"-") {
			continue
		}
		var st unix.Stat_t
		if unix.Stat(filepath.Join("/run/netns", e.Name()), &st) == nil {
			out[nsID{st.Dev, st.Ino}] = e.Name()
		}
	}
	return out
}

// leftovers lists what of lab name is still there.
func leftovers(name string, nss map[nsID]string) []string {
	var left []string
	for _, ns := range namespaces(name) {
		left = append(left, "namespace "+ns)
	}
	ents, _ := os.ReadDir("/run/netns")
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "gwlb-"+name+"-") {
			left = append(left, "namespace file "+e.Name())
		}
	}
	if out, err := exec.Command("ip", "-o", "link").Output(); err == nil && bytes.Contains(out, []byte(name)) {
		left = append(left, "a host link naming the lab")
	}
	if _, err := os.Stat(filepath.Join("/run/gwlb-lab", name)); err == nil {
		left = append(left, "state directory")
	}
	// Container nodes (a topology with container sections): every
	// container of the lab carries its label.
	if _, err := exec.LookPath("docker"); err == nil {
		out, err := exec.Command("docker", "ps", "-a", "-q", "--filter", "label=org.gwlb-lab.lab="+name).Output()
		if err == nil && len(bytes.TrimSpace(out)) > 0 {
			left = append(left, "containers "+strings.Join(strings.Fields(string(out)), " "))
		}
	}
	if mount, err := cgroup.Mount(); err == nil {
		if dir, err := cgroup.LabDir(mount, name); err == nil && cgroup.Exists(dir) {
			pids, _ := cgroup.Procs(dir)
			left = append(left, fmt.Sprintf("cgroup %s with processes %v", dir, pids))
		}
	}
	mark := []byte("\x00" + markVar + "=" + name + "\x00")
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil || pid == os.Getpid() || zombie(pid) {
			continue
		}
		var st unix.Stat_t
		if unix.Stat("/proc/"+p.Name()+"/ns/net", &st) == nil {
			if ns, ok := nss[nsID{st.Dev, st.Ino}]; ok {
				left = append(left, fmt.Sprintf("process %d in namespace %s", pid, ns))
				continue
			}
		}
		if env, err := os.ReadFile("/proc/" + p.Name() + "/environ"); err == nil && bytes.Contains(append([]byte{0}, env...), mark) {
			cmdline, _ := os.ReadFile("/proc/" + p.Name() + "/cmdline")
			left = append(left, fmt.Sprintf("process %d (%s)", pid, bytes.ReplaceAll(bytes.TrimRight(cmdline, "\x00"), []byte{0}, []byte{' '})))
		}
	}
	return left
}

func zombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	i := bytes.LastIndexByte(b, ')')
	return i < 0 || i+2 >= len(b) || b[i+2] == 'Z' || b[i+2] == 'X'
}

// reap collects every exited child (the orphans that came to us).
func reap() {
	for {
		pid, err := unix.Wait4(-1, nil, unix.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
	}
}

func randomName() string {
	const chars = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = chars[int(b[i])%len(chars)]
	}
	return "r" + string(b)
}
