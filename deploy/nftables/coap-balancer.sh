#!/bin/sh
# Load the CoAP/CoAPS balancer (coap-balancer.nft) with the nodes that are alive, or change them.
#
#   coap-balancer.sh SERVICE_ADDRESS DEVICE_INTERFACE NODES LIVE_NODES
#
# NODES: every ingress node, comma-separated, always in the same order (bucket i belongs to node i mod N);
# LIVE_NODES: those that answer. A dead node's buckets go to the live nodes, the others keep theirs. The
# conntrack entries of the devices that move are deleted so their next datagram is hashed again: those
# that reached a dead node, and, when a node comes back, those of the buckets it takes back.
# Needs nft (nftables) and conntrack (conntrack) from Debian; docs/multi-node.md.
set -eu
here=$(dirname "$0")
service=$1 interface=$2 nodes=$3 live=$4
buckets=16

tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
old=$(nft list map ip coap_balancer nodes 2>/dev/null || true)
{
	echo "define SERVICE_ADDRESS = $service"
	echo "define DEVICE_INTERFACE = \"$interface\""
	echo "define NODES = { $nodes }"
	if [ -z "$old" ]; then echo "include \"$here/coap-balancer.nft\""; else echo "flush map ip coap_balancer nodes"; fi
} >"$tmp"
set -f
IFS=,
set -- $nodes
count=$#
set -- $live
alive=$#
IFS=' '
[ "$alive" -gt 0 ] || { echo "coap-balancer: no live node, the map is left as it was" >&2; exit 1; }
elements=""
i=0
while [ $i -lt $buckets ]; do
	owner=$(echo "$nodes" | cut -d, -f$((i % count + 1)))
	case ",$live," in
	*",$owner,"*) target=$owner ;;
	*) target=$(echo "$live" | cut -d, -f$((i % alive + 1))) ;;
	esac
	elements="$elements${elements:+, }$i : $target"
	i=$((i + 1))
done
echo "add element ip coap_balancer nodes { $elements }" >>"$tmp"
nft -f "$tmp"

# Entries are flushed only when the map changed: an unchanged map keeps every device where it is.
new=$(nft list map ip coap_balancer nodes)
if [ -n "$old" ] && [ "$old" != "$new" ]; then
	conntrack -D -p udp --orig-dst "$service" >/dev/null 2>&1 || true
	for node in $(echo "$nodes" | tr , ' '); do
		conntrack -D -p udp --orig-src "$node" >/dev/null 2>&1 || true
	done
fi
