#!/bin/sh
# Tunnel handler hook (gwlbtun, or the lab's appliance in mode tunnel),
# broken on purpose: arguments are CREATE or DESTROY, the ingress tunnel
# (gwi-X), the egress tunnel (gwo-X) and the endpoint id.
# It lets the kernel forward what arrives on the ingress tunnel, but says
# nothing of where it goes: the main table's default route sends it out of
# eth0, where the VPC drops it (source/destination check).
[ "$1" = CREATE ] || exit 0
sysctl -qw net.ipv4.ip_forward=1
# The kernel takes the stricter of "all" and the device's own setting.
sysctl -qw net.ipv4.conf.all.rp_filter=0
sysctl -qw "net.ipv4.conf.$2.rp_filter=0"
ip link set "$2" up
ip link set "$3" up
