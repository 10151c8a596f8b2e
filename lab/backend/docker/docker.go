package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/gwlb-lab/gwlb-lab/lab/backend"
	"github.com/gwlb-lab/gwlb-lab/lab/backend/netns"
)

// Labels every container of a lab carries.
const (
	LabelLab  = "org.gwlb-lab.lab"
	LabelNode = "org.gwlb-lab.node"
	// LabelRole is RoleHolder or RoleApp.
	LabelRole = "org.gwlb-lab.role"
)

// Container roles.
const (
	RoleHolder = "holder"
	RoleApp    = "app"
)

// DefaultHolderImage is the image whose binary runs the holders; `make
// images` builds it.
const DefaultHolderImage = "gwlb-lab:latest"

// holderBinary is where the gwlb-lab image keeps its binary.
const holderBinary = "/gwlb-lab"

// stopTimeout is how long Docker lets a container exit after SIGTERM on
// removal; a lab is being thrown away, so short.
const stopTimeout = 2 * time.Second

// Backend makes container nodes through the Docker Engine API.
type Backend struct {
	cli         *client.Client
	ns          *netns.Backend
	holderImage string

	// mu guards specs: what Create was asked for, which Start needs.
	mu    sync.Mutex
	specs map[string]*backend.Container
}

var _ backend.Backend = (*Backend)(nil)

// New connects to the Docker Engine named by the environment (DOCKER_HOST,
// or the local socket), negotiating the API version. ns names the holders'
// namespaces; holderImage "" means DefaultHolderImage. The connection is
// not tried here: Ping does.
func New(ns *netns.Backend, holderImage string) (*Backend, error) {
	if holderImage == "" {
		holderImage = DefaultHolderImage
	}
	cli, err := client.New(client.FromEnv)
	if err != nil {
		return nil, fmt.Errorf("docker client: %w", err)
	}
	return &Backend{cli: cli, ns: ns, holderImage: holderImage, specs: map[string]*backend.Container{}}, nil
}

// Close releases the client's connections.
func (b *Backend) Close() error { return b.cli.Close() }

// Ping reports whether a Docker Engine answers.
func (b *Backend) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := b.cli.Ping(ctx, client.PingOptions{}); err != nil {
		return fmt.Errorf("no docker engine answers: %w", err)
	}
	return nil
}

// HolderName is the name of a node's holder container.
func HolderName(name string) string { return name + ".hold" }

// ImageExists reports whether image is in the engine's local store.
func (b *Backend) ImageExists(ctx context.Context, image string) (bool, error) {
	_, err := b.cli.ImageInspect(ctx, image)
	if cerrdefs.IsNotFound(err) {
		return false, nil
	}
	return err == nil, err
}

// Create makes the node's holder container, starts it and mounts its
// network namespace as the node's; the node's own container is made by
// Start. The container settings are kept for Start.
func (b *Backend) Create(ctx context.Context, spec backend.NodeSpec) (backend.Node, error) {
	if spec.Container == nil {
		return nil, fmt.Errorf("create container node %q: no container settings", spec.Name)
	}
	if spec.Lab == "" {
		return nil, fmt.Errorf("create container node %q: no lab to label it with", spec.Name)
	}
	for _, img := range []string{b.holderImage, spec.Container.Image} {
		ok, err := b.ImageExists(ctx, img)
		if err != nil {
			return nil, fmt.Errorf("node %q: image %q: %w", spec.Name, img, err)
		}
		if !ok {
			return nil, fmt.Errorf("node %q: image %q is not here (nothing is pulled; `make images` builds gwlb-lab's)", spec.Name, img)
		}
	}
	holder := HolderName(spec.Name)
	res, err := b.cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name: holder,
		Config: &container.Config{
			Image:  b.holderImage,
			Cmd:    []string{holderBinary, "hold"},
			Labels: map[string]string{LabelLab: spec.Lab, LabelNode: spec.Name, LabelRole: RoleHolder},
		},
		HostConfig: &container.HostConfig{NetworkMode: "none"},
	})
	if cerrdefs.IsConflict(err) {
		return nil, fmt.Errorf("create container %q: %w", holder, backend.ErrExists)
	}
	if err != nil {
		return nil, fmt.Errorf("create container %q: %w", holder, err)
	}
	if _, err := b.cli.ContainerStart(ctx, res.ID, client.ContainerStartOptions{}); err != nil {
		return nil, fmt.Errorf("start container %q: %w", holder, err)
	}
	pid, err := b.pid(ctx, res.ID)
	if err != nil {
		return nil, fmt.Errorf("container %q: %w", holder, err)
	}
	nsNode, err := b.ns.Attach(ctx, spec.Name, fmt.Sprintf("/proc/%d/ns/net", pid))
	if err != nil {
		return nil, err
	}
	c := *spec.Container
	b.mu.Lock()
	b.specs[spec.Name] = &c
	b.mu.Unlock()
	return &Node{b: b, name: spec.Name, path: nsNode.NetNSPath()}, nil
}

// Adopt gives the backend the container settings of a node it did not
// create (another process did, and exited), so that Start can make the
// node's own container again when it has been removed. A node whose
// container exists is started as it is, settings aside.
func (b *Backend) Adopt(name string, c *backend.Container) {
	if c == nil {
		return
	}
	cc := *c
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.specs[name]; !ok {
		b.specs[name] = &cc
	}
}

// pid returns the host PID of a running container's first process.
func (b *Backend) pid(ctx context.Context, id string) (int, error) {
	in, err := b.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return 0, err
	}
	st := in.Container.State
	if st == nil || !st.Running || st.Pid == 0 {
		return 0, errors.New("not running")
	}
	return st.Pid, nil
}

// Open returns the node of an existing holder.
func (b *Backend) Open(ctx context.Context, name string) (backend.Node, error) {
	if _, err := b.cli.ContainerInspect(ctx, HolderName(name), client.ContainerInspectOptions{}); err != nil {
		if cerrdefs.IsNotFound(err) {
			return nil, fmt.Errorf("open container node %q: %w", name, backend.ErrNotFound)
		}
		return nil, fmt.Errorf("open container node %q: %w", name, err)
	}
	n, err := b.ns.Open(ctx, name)
	if err != nil {
		return nil, err
	}
	return &Node{b: b, name: name, path: n.NetNSPath()}, nil
}

// Remove removes the node's containers (its own first, then the holder)
// and unmounts its namespace. Missing pieces are not an error.
func (b *Backend) Remove(ctx context.Context, name string) error {
	var errs []error
	for _, c := range []string{name, HolderName(name)} {
		if err := b.removeContainer(ctx, c); err != nil {
			errs = append(errs, err)
		}
	}
	if err := b.ns.Remove(ctx, name); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (b *Backend) removeContainer(ctx context.Context, id string) error {
	// Stop first, with a short grace, so a program gets its SIGTERM;
	// removal with force alone is SIGKILL.
	timeout := int(stopTimeout.Seconds())
	if _, err := b.cli.ContainerStop(ctx, id, client.ContainerStopOptions{Timeout: &timeout}); err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("stop container %q: %w", id, err)
	}
	_, err := b.cli.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true})
	if err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("remove container %q: %w", id, err)
	}
	return nil
}

// List returns the names of the nodes (holders) whose name starts with
// prefix. A prefix can match another lab's nodes; LabContainers does not.
func (b *Backend) List(ctx context.Context, prefix string) ([]string, error) {
	res, err := b.cli.ContainerList(ctx, client.ContainerListOptions{All: true,
		Filters: make(client.Filters).Add("label", LabelRole+"="+RoleHolder)})
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	var out []string
	for _, c := range res.Items {
		if n := c.Labels[LabelNode]; strings.HasPrefix(n, prefix) {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out, nil
}

// LabContainers returns the names of every container labelled with lab,
// holders and nodes' own, running or not.
func (b *Backend) LabContainers(ctx context.Context, lab string) ([]string, error) {
	res, err := b.cli.ContainerList(ctx, client.ContainerListOptions{All: true,
		Filters: make(client.Filters).Add("label", LabelLab+"="+lab)})
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	var out []string
	for _, c := range res.Items {
		// The filter matches the exact value; checking again costs nothing
		// and guards against an engine that matched loosely.
		if c.Labels[LabelLab] != lab {
			continue
		}
		for _, n := range c.Names {
			out = append(out, strings.TrimPrefix(n, "/"))
		}
	}
	sort.Strings(out)
	return out, nil
}

// settlePasses and settlePause bound RemoveLab's second looks.
const (
	settlePasses = 5
	settlePause  = 300 * time.Millisecond
)

// RemoveLab removes every container labelled with lab (nodes' own before
// holders) and reports how many there were. Namespace mounts are not
// touched: the lab removes those by name.
//
// An `up` killed while a create request was on its way leaves the engine to
// finish it, possibly just after a first listing; so when a pass removed
// anything, RemoveLab looks again after a pause, until a pass finds nothing.
// A lab without containers costs one listing.
func (b *Backend) RemoveLab(ctx context.Context, lab string) (int, error) {
	total := 0
	for pass := 0; pass < settlePasses; pass++ {
		if pass > 0 {
			select {
			case <-ctx.Done():
				return total, ctx.Err()
			case <-time.After(settlePause):
			}
		}
		n, err := b.removeLabOnce(ctx, lab)
		total += n
		if err != nil || n == 0 {
			return total, err
		}
	}
	return total, nil
}

func (b *Backend) removeLabOnce(ctx context.Context, lab string) (int, error) {
	names, err := b.LabContainers(ctx, lab)
	if err != nil {
		return 0, err
	}
	sort.SliceStable(names, func(i, j int) bool {
		return !strings.HasSuffix(names[i], ".hold") && strings.HasSuffix(names[j], ".hold")
	})
	var errs []error
	for _, n := range names {
		if err := b.removeContainer(ctx, n); err != nil {
			errs = append(errs, err)
		}
	}
	return len(names), errors.Join(errs...)
}

// Node is a container node: a holder that owns the namespace and, once
// started, the node's own container in it.
type Node struct {
	b    *Backend
	name string
	path string
}

var _ backend.Node = (*Node)(nil)

// Name is the node's name, which is also its container's.
func (n *Node) Name() string { return n.name }

// NetNSPath is the holder's namespace as mounted under /run/netns.
func (n *Node) NetNSPath() string { return n.path }

// Start creates and starts the node's own container, in the holder's
// namespace, from the settings Create was given. A non-empty spec.Argv
// replaces the image's command; spec.Env is added to the container's;
// spec.Dir is the working directory when the settings name none. LogPath,
// ExtraFiles and Cgroup do not apply: Docker keeps the output (docker logs)
// and the container's cgroup. The process is the container's first.
func (n *Node) Start(ctx context.Context, spec backend.ProcSpec) (backend.Process, error) {
	// A node stopped by Stop (or by docker stop) is started as it was.
	if in, err := n.b.cli.ContainerInspect(ctx, n.name, client.ContainerInspectOptions{}); err == nil {
		return n.b.startContainer(ctx, in.Container.ID)
	} else if !cerrdefs.IsNotFound(err) {
		return nil, fmt.Errorf("container %q: %w", n.name, err)
	}
	n.b.mu.Lock()
	c := n.b.specs[n.name]
	n.b.mu.Unlock()
	if c == nil {
		return nil, fmt.Errorf("node %q: start: only the process that created it knows its container settings", n.name)
	}
	in, err := n.b.cli.ContainerInspect(ctx, HolderName(n.name), client.ContainerInspectOptions{})
	if err != nil {
		return nil, fmt.Errorf("node %q: holder: %w", n.name, err)
	}
	cfg := &container.Config{
		Image:      c.Image,
		Entrypoint: c.Entrypoint,
		Cmd:        c.Command,
		Env:        append(append([]string(nil), c.Env...), spec.Env...),
		WorkingDir: c.WorkingDir,
		User:       c.User,
		Labels:     map[string]string{LabelLab: in.Container.Config.Labels[LabelLab], LabelNode: n.name, LabelRole: RoleApp},
	}
	if len(spec.Argv) > 0 {
		cfg.Cmd = spec.Argv
	}
	if cfg.WorkingDir == "" {
		cfg.WorkingDir = spec.Dir
	}
	devices, err := parseDevices(c.Devices)
	if err != nil {
		return nil, fmt.Errorf("node %q: %w", n.name, err)
	}
	hc := &container.HostConfig{
		NetworkMode: container.NetworkMode("container:" + in.Container.ID),
		CapAdd:      c.CapAdd,
		Binds:       append(append([]string(nil), c.Volumes...), spec.Binds...),
		Resources:   container.Resources{Devices: devices},
	}
	res, err := n.b.cli.ContainerCreate(ctx, client.ContainerCreateOptions{Name: n.name, Config: cfg, HostConfig: hc})
	if err != nil {
		return nil, fmt.Errorf("create container %q: %w", n.name, err)
	}
	return n.b.startContainer(ctx, res.ID)
}

// startContainer starts a made container and returns its first process.
func (b *Backend) startContainer(ctx context.Context, id string) (backend.Process, error) {
	if _, err := b.cli.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
		return nil, fmt.Errorf("start container %q: %w", id, err)
	}
	pid, err := b.pid(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("container %q exited at once: %w", id, err)
	}
	st, err := netns.ProcessStartTime(pid)
	if err != nil {
		return nil, fmt.Errorf("container %q: %w", id, err)
	}
	return &process{b: b, id: id, pid: pid, start: st}, nil
}

// Stop stops the node's own container (docker stop); the holder, and with
// it the namespace and eth0, stays, so Start brings the node back on the
// same link. A paused container is thawed first, so that its program gets
// its SIGTERM and grace.
func (n *Node) Stop(ctx context.Context, grace time.Duration) error {
	if err := n.Unpause(ctx); err != nil {
		return err
	}
	secs := max(int(grace.Seconds()), 0)
	_, err := n.b.cli.ContainerStop(ctx, n.name, client.ContainerStopOptions{Timeout: &secs})
	if err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("stop container %q: %w", n.name, err)
	}
	return nil
}

// Pause freezes the node's own container (docker pause: the cgroup
// freezer); the holder keeps the namespace and eth0.
func (n *Node) Pause(ctx context.Context) error {
	st, err := n.state(ctx)
	if err != nil {
		return err
	}
	switch {
	case st.Paused:
		return nil
	case !st.Running:
		return fmt.Errorf("pause container %q: it is not running (%s); start it first", n.name, st.Status)
	}
	if _, err := n.b.cli.ContainerPause(ctx, n.name, client.ContainerPauseOptions{}); err != nil {
		return fmt.Errorf("pause container %q: %w", n.name, err)
	}
	return nil
}

// Unpause thaws the node's own container (docker unpause) if it is paused.
func (n *Node) Unpause(ctx context.Context) error {
	st, err := n.state(ctx)
	if err != nil {
		if errors.Is(err, backend.ErrNotFound) {
			return nil // nothing to thaw
		}
		return err
	}
	if !st.Paused {
		return nil
	}
	if _, err := n.b.cli.ContainerUnpause(ctx, n.name, client.ContainerUnpauseOptions{}); err != nil {
		return fmt.Errorf("unpause container %q: %w", n.name, err)
	}
	return nil
}

// state returns the state of the node's own container; an error wrapping
// backend.ErrNotFound when it has none.
func (n *Node) state(ctx context.Context) (*container.State, error) {
	in, err := n.b.cli.ContainerInspect(ctx, n.name, client.ContainerInspectOptions{})
	if cerrdefs.IsNotFound(err) {
		return nil, fmt.Errorf("container %q: %w", n.name, backend.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("container %q: %w", n.name, err)
	}
	if in.Container.State == nil {
		return nil, fmt.Errorf("container %q: the engine reports no state", n.name)
	}
	return in.Container.State, nil
}

// parseDevices reads docker's HOST[:CONTAINER[:PERMISSIONS]].
func parseDevices(specs []string) ([]container.DeviceMapping, error) {
	var out []container.DeviceMapping
	for _, s := range specs {
		parts := strings.Split(s, ":")
		if len(parts) > 3 || parts[0] == "" {
			return nil, fmt.Errorf("device %q: want HOST[:CONTAINER[:PERMISSIONS]]", s)
		}
		d := container.DeviceMapping{PathOnHost: parts[0], PathInContainer: parts[0], CgroupPermissions: "rwm"}
		if len(parts) > 1 && parts[1] != "" {
			d.PathInContainer = parts[1]
		}
		if len(parts) > 2 {
			d.CgroupPermissions = parts[2]
		}
		out = append(out, d)
	}
	return out, nil
}

// Alive reports the state of the node's own container (or the holder's
// when the node has none yet): alive while it runs.
func (n *Node) Alive(ctx context.Context) (bool, string, error) {
	for _, id := range []string{n.name, HolderName(n.name)} {
		in, err := n.b.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
		if cerrdefs.IsNotFound(err) {
			continue
		}
		if err != nil {
			return false, "", err
		}
		st := in.Container.State
		if st == nil {
			return false, "unknown", nil
		}
		word := string(st.Status)
		if st.Status == container.StateExited {
			word = fmt.Sprintf("exited (%d)", st.ExitCode)
		}
		if id != n.name {
			word = "holder " + word
		}
		return st.Running && !st.Paused, word, nil
	}
	return false, "gone", nil
}

// Exec runs argv in the node's own container (docker exec), with the
// streams attached, and returns its exit code.
func (n *Node) Exec(ctx context.Context, argv []string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	ex, err := n.b.cli.ExecCreate(ctx, n.name, client.ExecCreateOptions{
		Cmd: argv, AttachStdin: stdin != nil, AttachStdout: true, AttachStderr: true,
	})
	if err != nil {
		return 0, fmt.Errorf("exec in container %q: %w", n.name, err)
	}
	att, err := n.b.cli.ExecAttach(ctx, ex.ID, client.ExecAttachOptions{})
	if err != nil {
		return 0, fmt.Errorf("exec in container %q: %w", n.name, err)
	}
	defer att.Close()
	if stdin != nil {
		go func() {
			_, _ = io.Copy(att.Conn, stdin)
			_ = att.CloseWrite()
		}()
	}
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil {
		stderr = io.Discard
	}
	// The runtime reports a missing program on the output stream, with
	// status 126 for every failure to start; keep the start of it to tell
	// "not there" (127, as a shell says) from "cannot run it".
	var head headBuffer
	if _, err := stdcopy.StdCopy(io.MultiWriter(stdout, &head), io.MultiWriter(stderr, &head), att.Reader); err != nil && !errors.Is(err, io.EOF) {
		return 0, fmt.Errorf("exec in container %q: %w", n.name, err)
	}
	res, err := n.b.cli.ExecInspect(ctx, ex.ID, client.ExecInspectOptions{})
	if err != nil {
		return 0, fmt.Errorf("exec in container %q: %w", n.name, err)
	}
	if res.ExitCode == 126 && notFound(head.String()) {
		return 127, nil
	}
	return res.ExitCode, nil
}

// notFound reports whether a container runtime's start error says the
// program is not there.
func notFound(msg string) bool {
	return strings.Contains(msg, "OCI runtime exec failed") &&
		(strings.Contains(msg, "executable file not found") || strings.Contains(msg, "no such file or directory"))
}

// headBuffer keeps the first bytes written to it.
type headBuffer struct{ b []byte }

const headMax = 1024

func (h *headBuffer) Write(p []byte) (int, error) {
	if room := headMax - len(h.b); room > 0 {
		h.b = append(h.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (h *headBuffer) String() string { return string(h.b) }

// process is a node's container as a backend.Process.
type process struct {
	b     *Backend
	id    string
	pid   int
	start uint64
}

func (p *process) PID() int          { return p.pid }
func (p *process) StartTime() uint64 { return p.start }

// Wait waits until the container is no longer running.
func (p *process) Wait() error {
	w := p.b.cli.ContainerWait(context.Background(), p.id, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	select {
	case <-w.Result:
		return nil
	case err := <-w.Error:
		return err
	}
}

// Logs copies what the node's own container wrote (Docker keeps it),
// stdout and stderr apart; with follow, until the container stops or ctx
// ends.
func (b *Backend) Logs(ctx context.Context, name string, follow bool, stdout, stderr io.Writer) error {
	rc, err := b.cli.ContainerLogs(ctx, name, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Follow: follow})
	if err != nil {
		return fmt.Errorf("logs of container %q: %w", name, err)
	}
	defer rc.Close()
	if _, err := stdcopy.StdCopy(stdout, stderr, rc); err != nil && ctx.Err() == nil {
		return fmt.Errorf("logs of container %q: %w", name, err)
	}
	return nil
}
