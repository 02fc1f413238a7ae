#!/bin/sh
# Health check of the CoAP nodes for coap-balancer.sh: every INTERVAL seconds, a CoAP GET of /health (no
# such resource) to each node with libcoap's coap-client (Debian libcoap3-bin, whose exit status is 0 either
# way): an answer, 4.04 here, is printed and means alive; a dead node prints nothing (-v 0 keeps libcoap's
# own ICMP and timeout warnings out) within TIMEOUT seconds. When the live set changes, the balancer's map
# is changed (coap-balancer.sh).
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
		if [ -n "$(coap-client-notls -v 0 -m get -B "$timeout" "coap://$node/health" 2>&1)" ]; then
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
