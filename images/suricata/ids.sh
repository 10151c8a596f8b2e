#!/bin/sh
# Suricata as an IDS behind the GWLB, in a lab node (container or namespace):
#  - the iptables hairpin sends each GENEVE packet back to the GWLB node it
#    came from (DNAT to that node's port 6081, then MASQUERADE so it leaves
#    from this appliance's address), options and inner packet untouched: the
#    way AWS's iptables sample returns traffic;
#  - once Suricata captures, a TCP listener on HEALTH_PORT (default 80)
#    answers the health checks;
#  - Suricata reads eth0, decodes GENEVE (UDP 6081) and writes eve.json with
#    the inner addresses to the node's log directory.
# Settings from the environment: GWLB_ADDR and GWLB_NODES (set by the lab),
# HEALTH_PORT, SURICATA_RULES (a rules file; default the lab's own sample
# rule), SURICATA_ARGS (more arguments).
set -eu
: "${GWLB_ADDR:?GWLB_ADDR is not set: run this in a gwlb-lab node}"
: "${GWLB_NODES:?GWLB_NODES is not set: no GWLB node targets this appliance}"
iface=${GWLB_IFACE:-eth0}
logdir=${GWLB_LOGDIR:-/var/log/suricata}
rules=${SURICATA_RULES:-/etc/suricata/rules/gwlb-lab.rules}
mkdir -p "$logdir"

for gw in $(echo "$GWLB_NODES" | tr ',' ' '); do
	case "$gw" in *:*) ipt=ip6tables ;; *) ipt=iptables ;; esac
	$ipt -t nat -A PREROUTING -i "$iface" -p udp -s "$gw" -d "$GWLB_ADDR" --dport 6081 \
		-j DNAT --to-destination "$( [ $ipt = ip6tables ] && echo "[$gw]" || echo "$gw"):6081"
	$ipt -t nat -A POSTROUTING -o "$iface" -p udp -d "$gw" --dport 6081 -j MASQUERADE
done
echo "gwlb-suricata-ids: hairpin for GWLB nodes $GWLB_NODES on $iface"

# shellcheck disable=SC2086
suricata -i "$iface" -k none -S "$rules" -l "$logdir" ${SURICATA_ARGS:-} &
pid=$!
trap 'kill -TERM "$pid" 2>/dev/null' TERM INT

# The health listener opens only once Suricata captures, so the target
# turns healthy (and gets flows) only then.
until grep -qs 'Engine started' "$logdir/suricata.log"; do
	kill -0 "$pid" 2>/dev/null || { wait "$pid"; exit $?; }
	sleep 0.2
done
echo "gwlb-suricata-ids: Suricata captures on $iface; health checks answered on TCP ${HEALTH_PORT:-80}"
nc -dkl "${HEALTH_PORT:-80}" >/dev/null 2>&1 &

# Until Suricata ends (a signal to this script stops it first).
status=0
wait "$pid" || status=$?
while kill -0 "$pid" 2>/dev/null; do wait "$pid" || status=$?; done
exit "$status"
