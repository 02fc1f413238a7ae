#!/bin/sh
# Health check of the CoAP nodes for coap-balancer.sh: every INTERVAL seconds, a CoAP GET of
# /.well-known/core to each node (libcoap's coap-client, Debian libcoap3-bin); any answer, even 4.04, is
# alive, none within TIMEOUT seconds is dead. When the live set changes, the balancer is reloaded.
#
#   coap-healthcheck.sh SERVICE_ADDRESS DEVICE_INTERFACE NODES [INTERVAL [TIMEOUT]]
#
# Run it as a service on the balancer host (docs/multi-node.md); it logs each change to stdout.
set -eu
here=$(dirname "$0")
service=$1 interface=$2 nodes=$3 interval=${4:-2} timeout=${5:-1}
current=""
while :; do
	live=""
	for node in $(echo "$nodes" | tr , ' '); do
		if coap-client-notls -m get -B "$timeout" "coap://$node/.well-known/core" 2>/dev/null | grep -q .; then
			live="$live${live:+,}$node"
		elif coap-client-notls -m get -v 0 -B "$timeout" "coap://$node/.well-known/core" >/dev/null 2>&1; then
			live="$live${live:+,}$node"
		fi
	done
	if [ -n "$live" ] && [ "$live" != "$current" ]; then
		"$here/coap-balancer.sh" "$service" "$interface" "$nodes" "$live"
		echo "coap-healthcheck: live nodes $live" 
		current=$live
	fi
	sleep "$interval"
done
