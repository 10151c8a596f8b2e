package docker

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/gwlb-lab/gwlb-lab/appliance"
	"github.com/gwlb-lab/gwlb-lab/e2e/harness"
	"github.com/gwlb-lab/gwlb-lab/lab"
	"github.com/gwlb-lab/gwlb-lab/lab/backend"
	dockerbackend "github.com/gwlb-lab/gwlb-lab/lab/backend/docker"
	"github.com/gwlb-lab/gwlb-lab/lab/backend/netns"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// topo returns a testdata topology with IMAGE replaced by the suite's image.
func topo(name string) string {
	return harness.Variant("testdata/"+name, "IMAGE", `"`+image+`"`)
}

// docker runs the docker command and returns its trimmed output.
func docker(args ...string) string {
	GinkgoHelper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", args...).CombinedOutput()
	Expect(err).NotTo(HaveOccurred(), "docker %s: %s", strings.Join(args, " "), out)
	return strings.TrimSpace(string(out))
}

// labContainers lists every container, running or not, labelled with lab.
func labContainers(name string) []string {
	GinkgoHelper()
	out := docker("ps", "-a", "--filter", "label=org.gwlb-lab.lab="+name, "--format", "{{.Names}}")
	return strings.Fields(out)
}

// containerName is the Docker name of a lab node.
func containerName(l *harness.Lab, node string) string { return "gwlb-" + l.Name + "-" + node }

func nodeStatus(s *lab.Status, node string) lab.NodeStatus {
	GinkgoHelper()
	for _, n := range s.Nodes {
		if n.Name == node {
			return n
		}
	}
	Fail("no node " + node)
	return lab.NodeStatus{}
}

// flowsOf returns the flow records of an appliance with the given inner
// source and destination addresses.
func flowsOf(l *harness.Lab, node, src, dst string) []appliance.FlowRecord {
	var out []appliance.FlowRecord
	for _, f := range l.FlowLog(node) {
		if f.Event == "flow" && f.Dir == "original" && f.Src == src && f.Dst == dst {
			out = append(out, f)
		}
	}
	return out
}

// carries opens new connections from client to web's public address until
// one lands on node (its flow log grows), proving node carries traffic.
func carries(l *harness.Lab, node string) {
	GinkgoHelper()
	before := len(flowsOf(l, node, "198.51.100.10", "10.0.1.10"))
	Eventually(func() int {
		l.Curl("client", "http://203.0.113.10/")
		return len(flowsOf(l, node, "198.51.100.10", "10.0.1.10"))
	}, 60*time.Second, 50*time.Millisecond).Should(BeNumerically(">", before), "no new flow went through %s", node)
}

var _ = Describe("the gwlb-lab image", func() {
	It("is built once per binary: a second build only finds it", func() {
		id := docker("image", "inspect", "-f", "{{.Id}}", image)
		cmd := exec.Command("bash", "../../scripts/images.sh", harness.Binary(), "test")
		cmd.Env = append(os.Environ(), "IMAGES_CONTENT_ONLY=1")
		out, err := cmd.CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), string(out))
		Expect(string(out)).To(ContainSubstring(image + " is up to date"))
		Expect(string(out)).NotTo(ContainSubstring("Step 1"))
		Expect(docker("image", "inspect", "-f", "{{.Id}}", image)).To(Equal(id))
		// FROM scratch: one layer, the binary, which runs as the holder.
		Expect(docker("image", "inspect", "-f", "{{len .RootFS.Layers}}", image)).To(Equal("1"))
		Expect(docker("run", "--rm", "--network", "none", image, "/gwlb-lab", "version")).To(HavePrefix("gwlb-lab "))
	})
})

var _ = Describe("container nodes", func() {
	It("runs the default lab with fw-1 and fw-2 as containers: ingress and egress pass through them", func() {
		l := harness.Up(topo("containers.yaml"))
		s := l.Status()
		for _, fw := range []string{"fw-1", "fw-2"} {
			n := nodeStatus(s, fw)
			Expect(n.Backend).To(Equal(lab.BackendDocker))
			Expect(n.Container).To(Equal(containerName(l, fw)))
			Expect(n.Running).To(BeTrue(), "%s: %s", fw, n.ContainerState)
			Expect(n.ContainerState).To(Equal("running"))
		}
		Expect(nodeStatus(s, "web").Backend).To(Equal(lab.BackendNetns))
		Expect(docker("inspect", "-f", "{{.HostConfig.NetworkMode}}", containerName(l, "fw-1")+".hold")).To(Equal("none"))

		Expect(l.Curl("client", "http://203.0.113.10/")).To(ContainSubstring("node web"))
		Expect(l.Curl("web", "http://198.51.100.10/")).To(ContainSubstring("node client"))
		// The flow log, written by the appliance inside its container to
		// the lab's logs directory, holds the inner addresses.
		Eventually(func() int {
			return len(flowsOf(l, "fw-1", "198.51.100.10", "10.0.1.10")) + len(flowsOf(l, "fw-2", "198.51.100.10", "10.0.1.10"))
		}, 10*time.Second, 50*time.Millisecond).Should(BeNumerically(">", 0), "ingress went through no container appliance")
		Eventually(func() int {
			return len(flowsOf(l, "fw-1", "10.0.1.10", "198.51.100.10")) + len(flowsOf(l, "fw-2", "10.0.1.10", "198.51.100.10"))
		}, 10*time.Second, 50*time.Millisecond).Should(BeNumerically(">", 0), "egress went through no container appliance")
		carries(l, "fw-1")
		carries(l, "fw-2")

		// exec runs in the container (docker exec): it sees the image's
		// file system and the node's eth0.
		r := l.Exec("fw-1", "/gwlb-lab", "version")
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(r.Stdout).To(HavePrefix("gwlb-lab "))
		Expect(l.Exec("fw-1", "/no-such-program").Code).To(Equal(127), "a missing program, as a shell says")
		// logs prints what Docker kept of the container's output.
		Eventually(func() string {
			r := harness.Run(time.Minute, "logs", "--name", l.Name, "fw-1")
			return r.Stdout + r.Stderr
		}, 10*time.Second, 100*time.Millisecond).Should(ContainSubstring("appliance listening"))
	})

	It("runs a mixed lab: a container server behind a container and a namespace appliance", func() {
		l := harness.Up(topo("mixed.yaml"))
		s := l.Status()
		Expect(nodeStatus(s, "web").Backend).To(Equal(lab.BackendDocker))
		Expect(nodeStatus(s, "fw-1").Backend).To(Equal(lab.BackendDocker))
		Expect(nodeStatus(s, "fw-2").Backend).To(Equal(lab.BackendNetns))
		Expect(nodeStatus(s, "client").Backend).To(Equal(lab.BackendNetns))
		// The echo server in a container answers through both kinds of
		// appliance, and its answer comes from the container's eth0.
		Expect(l.Curl("client", "http://203.0.113.10/")).To(ContainSubstring("local 10.0.1.10:80"))
		carries(l, "fw-1")
		carries(l, "fw-2")
	})

	It("carries traffic again through an appliance container that was restarted, after its target recovers", func() {
		l := harness.Up(topo("containers.yaml"))
		l.WaitTarget("fw-1", "healthy")
		carries(l, "fw-1")
		fw1 := containerName(l, "fw-1")

		// A hung appliance (frozen by SIGSTOP): its health checks time
		// out and its target goes unhealthy.
		docker("kill", "--signal", "STOP", fw1)
		l.WaitTarget("fw-1", "unhealthy")
		// The operator restarts it: a new process, in the same (holder's)
		// namespace with eth0 still there; health checks pass again and
		// new flows go through it.
		pid := docker("inspect", "-f", "{{.State.Pid}}", fw1)
		docker("restart", "-t", "1", fw1)
		Expect(docker("inspect", "-f", "{{.State.Pid}}", fw1)).NotTo(Equal(pid))
		l.WaitTarget("fw-1", "healthy")
		carries(l, "fw-1")
		n := nodeStatus(l.Status(), "fw-1")
		Expect(n.Running).To(BeTrue(), n.ContainerState)
		Expect(n.ContainerState).To(Equal("running"))
	})

	It("stops and starts a container node through its backend, from another process, on the same link", func() {
		l := harness.Up(topo("containers.yaml"))
		l.WaitTarget("fw-1", "healthy")
		ctx := context.Background()
		b, err := dockerbackend.New(netns.New(""), image)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(b.Close)
		node, err := b.Open(ctx, containerName(l, "fw-1"))
		Expect(err).NotTo(HaveOccurred())
		Expect(node.NetNSPath()).To(Equal("/run/netns/" + containerName(l, "fw-1")))

		Expect(node.Stop(ctx, time.Second)).To(Succeed())
		alive, state, err := node.Alive(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(alive).To(BeFalse())
		Expect(state).To(HavePrefix("exited"))
		l.WaitTarget("fw-1", "unhealthy")

		// This process never made the container: Start finds it and
		// starts it as it was.
		_, err = node.Start(ctx, backend.ProcSpec{})
		Expect(err).NotTo(HaveOccurred())
		alive, state, err = node.Alive(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(alive).To(BeTrue(), state)
		l.WaitTarget("fw-1", "healthy")
		carries(l, "fw-1")
	})

	It("stops, starts, restarts, pauses and unpauses a container appliance with the node verbs, on the same link", func() {
		l := harness.Up(topo("containers.yaml"))
		l.WaitTarget("fw-1", "healthy")
		l.WaitTarget("fw-2", "healthy")
		fw1 := containerName(l, "fw-1")
		node := func(args ...string) harness.Result {
			return harness.Run(time.Minute, append(append([]string{"node"}, args...), "--name", l.Name)...)
		}
		verb := func(args ...string) {
			GinkgoHelper()
			r := node(args...)
			Expect(r.Code).To(Equal(0), "node %v: %s%s", args, r.Stdout, r.Stderr)
		}
		holderPID := docker("inspect", "-f", "{{.State.Pid}}", fw1+".hold")
		// The container knows the node's identity, the GWLB node that sends
		// it GENEVE above all, and keeps it across restarts.
		env := func() string { return docker("inspect", "-f", "{{range .Config.Env}}{{println .}}{{end}}", fw1) }
		Expect(strings.Fields(env())).To(ContainElements("GWLB_NODE=fw-1", "GWLB_ADDR=10.20.1.11", "GWLB_NODES=10.20.0.50"))
		toFW1 := func() int {
			n := 0
			for _, f := range l.Flows() {
				if f.Target == "fw-1" {
					n++
				}
			}
			return n
		}

		By("stop: the container exits, its target goes unhealthy, traffic goes through fw-2")
		verb("stop", "fw-1")
		n := nodeStatus(l.Status(), "fw-1")
		Expect(n.Running).To(BeFalse())
		Expect(n.ContainerState).To(HavePrefix("exited"))
		l.WaitTarget("fw-1", "unhealthy")
		before := toFW1()
		carries(l, "fw-2")
		Expect(toFW1()).To(Equal(before), "a new flow went to the stopped appliance")

		By("start: the same container runs again on its link and carries traffic")
		verb("start", "fw-1")
		n = nodeStatus(l.Status(), "fw-1")
		Expect(n.Running).To(BeTrue(), n.ContainerState)
		l.WaitTarget("fw-1", "healthy")
		carries(l, "fw-1")
		r := node("start", "fw-1")
		Expect(r.Code).NotTo(Equal(0))
		Expect(r.Stderr).To(ContainSubstring("use restart"))

		By("restart: a new process, healthy again and carrying traffic")
		pid := docker("inspect", "-f", "{{.State.Pid}}", fw1)
		verb("restart", "fw-1")
		Expect(docker("inspect", "-f", "{{.State.Pid}}", fw1)).NotTo(Equal(pid))
		l.WaitTarget("fw-1", "healthy")
		carries(l, "fw-1")

		By("pause: frozen, its target goes unhealthy; unpause: healthy and carrying traffic")
		verb("pause", "fw-1")
		n = nodeStatus(l.Status(), "fw-1")
		Expect(n.Paused).To(BeTrue())
		Expect(n.ContainerState).To(Equal("paused"))
		l.WaitTarget("fw-1", "unhealthy")
		carries(l, "fw-2")
		verb("unpause", "fw-1")
		Expect(nodeStatus(l.Status(), "fw-1").Paused).To(BeFalse())
		l.WaitTarget("fw-1", "healthy")
		carries(l, "fw-1")

		By("stop of a paused container thaws it first, and start brings it back")
		verb("pause", "fw-1")
		verb("stop", "fw-1")
		Expect(nodeStatus(l.Status(), "fw-1").ContainerState).To(HavePrefix("exited"))
		verb("start", "fw-1")
		l.WaitTarget("fw-1", "healthy")
		carries(l, "fw-1")

		Expect(strings.Fields(env())).To(ContainElement("GWLB_NODES=10.20.0.50"))

		By("start after the container was removed behind the lab's back: made again as up made it")
		docker("rm", "-f", fw1)
		l.WaitTarget("fw-1", "unhealthy")
		verb("start", "fw-1")
		l.WaitTarget("fw-1", "healthy")
		carries(l, "fw-1")
		Expect(strings.Fields(env())).To(ContainElement("GWLB_NODES=10.20.0.50"))
		Expect(docker("inspect", "-f", "{{.HostConfig.NetworkMode}}", fw1)).To(HavePrefix("container:"))

		// The holder, which owns the namespace and eth0, never moved.
		Expect(docker("inspect", "-f", "{{.State.Pid}}", fw1+".hold")).To(Equal(holderPID))
	})

	It("removes every container of the lab on down", func() {
		name := harness.RandomName()
		DeferCleanup(func() { harness.Run(2*time.Minute, "down", "--name", name) })
		r := harness.Run(3*time.Minute, "up", "-q", "-f", topo("containers.yaml"), "--name", name)
		Expect(r.Code).To(Equal(0), r.Stdout+r.Stderr)
		Expect(labContainers(name)).To(HaveLen(4), "two nodes, each with its holder")
		downClean(name)
	})

	It("removes every container of the lab on down after up was SIGKILLed with a container unrecorded", func() {
		name := harness.RandomName()
		DeferCleanup(func() { harness.Run(2*time.Minute, "down", "--name", name) })
		cmd := exec.Command(harness.Binary(), "up", "-q", "-f", topo("containers.yaml"), "--name", name)
		cmd.Env = append(os.Environ(), "GWLB_LAB_TEST_CRASH_AT="+lab.CrashContainerStarted)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		Expect(err).To(HaveOccurred())
		Expect(cmd.ProcessState.ExitCode()).To(Equal(-1), "up should have been killed at the crash point: %s", out.String())
		Expect(labContainers(name)).NotTo(BeEmpty())
		downClean(name)
	})

	It("never removes another lab's containers", func() {
		// Lab b's name starts with lab a's prefix: gwlb-a-... would match
		// both, the label does not.
		a := harness.RandomName()
		b := a + "-x"
		for _, name := range []string{a, b} {
			DeferCleanup(func() { harness.Run(2*time.Minute, "down", "--name", name) })
			r := harness.Run(3*time.Minute, "up", "-q", "-f", topo("containers.yaml"), "--name", name)
			Expect(r.Code).To(Equal(0), r.Stdout+r.Stderr)
		}
		downClean(a, b)
		Expect(labContainers(b)).To(HaveLen(4))
		n := nodeStatus((&harness.Lab{Name: b}).Status(), "fw-1")
		Expect(n.Running).To(BeTrue(), n.ContainerState)
		downClean(b)
	})
})

// downClean runs down and checks that nothing of the lab is left: no
// container labelled with it, no namespace, no state. Namespaces of the labs
// in others (whose names start with name's prefix) are theirs.
func downClean(name string, others ...string) {
	GinkgoHelper()
	r := harness.Run(2*time.Minute, "down", "--name", name)
	Expect(r.Code).To(Equal(0), r.Stdout+r.Stderr)
	Expect(labContainers(name)).To(BeEmpty())
	ents, err := os.ReadDir("/run/netns")
	Expect(err).NotTo(HaveOccurred())
next:
	for _, e := range ents {
		for _, o := range others {
			if strings.HasPrefix(e.Name(), "gwlb-"+o+"-") {
				continue next
			}
		}
		Expect(e.Name()).NotTo(HavePrefix("gwlb-"+name+"-"), "namespace left")
	}
	Expect("/run/gwlb-lab/" + name).NotTo(BeAnExistingFile())
}
