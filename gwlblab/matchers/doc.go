// Package matchers holds Gomega matchers over a running lab, for users'
// own Ginkgo/Gomega suites. Each one looks at the lab when it matches
// (it sends traffic, or reads flows, flow logs, counters or target
// health), so it works with Expect and with Eventually, and its failure
// message carries the evidence: the traces of the packets and the drop
// counters that moved, the flow log records and GWLB flows seen, the
// targets' states and reasons.
//
//	Expect(matchers.TCP(l, "client", "203.0.113.10", 80)).To(matchers.Reach())
//	Expect(matchers.UDP(l, "client", "10.0.1.10", 53)).To(matchers.BeBlocked())
//	Expect(matchers.Conn(l, "198.51.100.10", "10.0.1.10", "tcp")).To(matchers.Traverse("fw-1"))
//	Expect(matchers.Conn(l, "198.51.100.10", "10.0.1.10", "tcp")).To(matchers.BeSymmetric())
//	c := matchers.DropCounter(l, "no_route") // reads its value now
//	... // traffic
//	Expect(c).To(matchers.HaveRisen())
//	Eventually(matchers.Target(l, "fw-1")).Should(matchers.BeInState("healthy"))
//
// It is a separate package so that gwlblab itself needs no Gomega.
package matchers
