#!/bin/sh
# Tunnel handler hook (gwlbtun, or the lab's appliance in mode tunnel):
# arguments are CREATE or DESTROY, the ingress tunnel (gwi-X), the egress
# tunnel (gwo-X) and the endpoint id. Whatever arrives on the ingress tunnel
# is routed out of the egress one by a table of its own, so it goes back to
# the GWLB in GENEVE instead of out of eth0.
[ "$1" = CREATE ] || exit 0
sysctl -qw net.ipv4.ip_forward=1
# The kernel takes the stricter of "all" and the device's own setting.
sysctl -qw net.ipv4.conf.all.rp_filter=0
sysctl -qw "net.ipv4.conf.$2.rp_filter=0"
ip link set "$2" up
ip link set "$3" up
# One table per tunnel pair, numbered from the tunnel's interface index
# (from ip: a node's /sys shows the host's interfaces, not its own).
table=$((1000 + $(ip -o link show dev "$2" | cut -d: -f1)))
ip route replace default dev "$3" table "$table"
ip rule add iif "$2" table "$table"
