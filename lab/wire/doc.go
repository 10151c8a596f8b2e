// Package wire puts a lab port into a node: a persistent TAP interface
// (eth0) inside the node's network namespace, with its MAC, MTU, addresses,
// default routes and the few sysctls a VPC-like host needs. The emulator
// later opens the TAP from inside the namespace and plays the VPC router on
// the other side.
//
// Everything takes a namespace path, never a node: whichever backend made the
// node (netns, docker), wiring only needs the path. Netlink work goes through
// a handle bound to the namespace (its socket is opened on a cnins.Do thread,
// then used from any thread); beyond that a thread joins the namespace
// (cnins.Do, a fresh locked thread) only where the kernel API demands it:
// creating the TAP (/dev/net/tun attaches the device
// to the opener's namespace, and TUN/TAP devices can never be moved between
// namespaces afterwards) and writing per-namespace sysctls under /proc/sys/net
// (resolved against the writer's namespace).
//
// Decisions worth knowing:
//   - The TAP is IFF_TAP|IFF_NO_PI|IFF_MULTI_QUEUE, no vnet header, owned
//     by root, persistent: it outlives the process that created it and the
//     emulator's restarts. The emulator attaches several queues and reads
//     each on its own goroutine; the kernel keeps each flow on one queue.
//     AddTAP also accepts the single-queue TAPs of labs made before. Without a vnet header the kernel never hands the
//     reader partial checksums (no TX checksum offload is negotiated), so
//     there is nothing to turn off, unlike a veth.
//   - Until the emulator opens the TAP its carrier is down. The kernel still
//     accepts the addresses and the default routes via a gateway inside the
//     subnet (they show as "linkdown" and become usable when the carrier
//     comes up), so AddTAP adds everything at once and no onlink flag is
//     needed. The gateway must therefore lie in the port's subnet.
//   - AddTAP converges: run again on an eth0 it made, it corrects MAC, MTU,
//     addresses (global addresses of a family that differ from the spec are
//     removed) and routes. An existing eth0 that is not such a TAP is a
//     conflict (ErrConflict), never silently replaced.
//   - IPv6 noise is turned off on the port: no DAD, no router solicitations;
//     an IPv4-only port has IPv6 disabled entirely, so the emulator does not
//     see MLD and neighbour solicitations from a link-local address.
//   - A new namespace inherits net.ipv4.ip_forward (and other IPv4 settings)
//     from the host, not from kernel defaults. Nodes must not forward unless
//     the topology says so, so the caller sets it explicitly with
//     SetForwarding for every node.
package wire
