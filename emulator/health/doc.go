// Package health runs the target group's health checks (spec §4.1–4.2):
// real TCP, HTTP or HTTPS connections to each target's health-check port,
// made from the GWLB node's own address, judged against the healthy and
// unhealthy thresholds.
//
// A Checker probes through a Prober, so tests drive it with a fake and
// call Round themselves instead of waiting for intervals; the production
// prober dials from inside the GWLB node's network namespace, so probes
// cross the lab like any other traffic and appliance firewall rules treat
// them as on AWS. Decisions are per node: zones judge their targets
// independently (spec §4.6).
package health
