#!/bin/sh
# Load the CoAP/CoAPS balancer (coap-balancer.nft) with the nodes that are alive, or change them.
#
#   coap-balancer.sh SERVICE_ADDRESS DEVICE_INTERFACE NODES LIVE_NODES
#
# NODES: every ingress node, comma-separated, always in the same order (bucket i belongs to node i mod N);
# LIVE_NODES: those that answer. A dead node's buckets go to the live nodes, the others keep theirs. The
# conntrack entries of the devices on a dead node are deleted so their next datagram is hashed again.
# Needs nft (nftables) and conntrack (conntrack) from Debian; docs/multi-node.md.
set -eu
here=$(dirname "$0")
service=$1 interface=$2 nodes=$3 live=$4
buckets=16

tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
old=$(nft list table ip coap_balancer 2>/dev/null || true)
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

# The entries that tie devices to a node that is not live are deleted (those it answered, and those it
# started), so the devices' next datagrams are hashed again, to live nodes. Nothing else is flushed: a
# node that comes back takes the devices whose next flow hashes to it (a new source port: NAT rebinding,
# a module's new registration, an entry's idle timeout), while the others stay where they are; flushing
# them would race the node that holds them, whose next downlink would pin them again anyway.
for node in $(echo "$nodes" | tr , ' '); do
	case ",$live," in
	*",$node,"*) ;;
	*)
		conntrack -D -p udp --reply-src "$node" >/dev/null 2>&1 || true
		conntrack -D -p udp --orig-src "$node" >/dev/null 2>&1 || true
		;;
	esac
done
