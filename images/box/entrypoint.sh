#!/bin/sh
# The entrypoint of the gwlb-lab-box image: makes /proc/sys writable in the
# container, then runs the command (by default `gwlb-lab up --foreground`).
#
# Docker mounts /proc/sys read-only in every container that is not
# privileged, and the lab writes network sysctls (forwarding, IPv6 settings)
# in each node's network namespace. Those settings are per namespace, but the
# mount is not: remounting it read-write needs CAP_SYS_ADMIN (and, on hosts
# with AppArmor, a profile that allows mount: apparmor:unconfined), which the
# lab needs anyway to create namespaces. It changes this container's mount of
# /proc/sys only, never the host's.
set -e
if [ ! -w /proc/sys/net/ipv4/ip_forward ]; then
	if ! mount -o remount,rw /proc/sys 2>/dev/null; then
		echo "gwlb-lab-box: /proc/sys is read-only and cannot be remounted, so no lab can come up here" \
			"(other commands work): run the container with --cap-add NET_ADMIN --cap-add SYS_ADMIN" \
			"--device /dev/net/tun --security-opt apparmor=unconfined, as docker-compose.yml does" >&2
	fi
fi
exec "$@"
