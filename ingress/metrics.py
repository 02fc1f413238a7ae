"""Prometheus metrics of the device-access processes (`run_ingress` workers, `run_mqtt`), docs/observability.md.

What the processes already count is read when /metrics is scraped, not counted a second time: the
`stats` counter of a worker or MQTT server (pipeline results, refusals by kind, downlink outcomes...),
its queue and the DTLS sessions it holds. Only timings are observed where they happen, once per batch
(`batch_done`): the pipeline's time for a batch and, per acknowledged confirmable uplink, the time from
its receipt to its ACK. The codec's time per product batch is observed by `ingress.budget`, where
the pipeline charges it (`platform_codec_decode_seconds`).

No label names a device, an application or an address: `transport` is coap or mqtt, `result` one of the
pipeline's results, `kind` one of the refusal kinds (ingress.refusals) or registration refusal codes.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from applications import metrics as dashboard_metrics
from applications import prometheus
from applications.prometheus import Family
from commands.actions import transition_families
from ingress import pipeline

if TYPE_CHECKING:
    from ingress.mqtt.server import MqttServer
    from ingress.worker import IngressWorker

# The pipeline's results: exported as uplinks by result, always present (0 until one happens) so that
# rate() and alerts see every series from the process's first scrape.
RESULTS = (
    pipeline.STORED,
    pipeline.RESPONSE,
    pipeline.PCP,
    pipeline.DUPLICATE,
    pipeline.IN_PROGRESS,
    pipeline.LIMITED,
    pipeline.REFUSED,
    pipeline.DECODE_ERROR,
    pipeline.NOT_DECODED,
    pipeline.INVALID,
    pipeline.UNKNOWN_DEVICE,
    pipeline.FAILED,
)

ACK_SECONDS = prometheus.histogram(
    "ingress_ack_seconds",
    "Receipt of an uplink to its acknowledgement, sent once it is stored (CoAP: a confirmable one's ACK; MQTT: PUBACK)",
    labels=("transport",),
)
COAP_ACK_SECONDS, MQTT_ACK_SECONDS = ACK_SECONDS.labels("coap"), ACK_SECONDS.labels("mqtt")
BATCH_SECONDS = prometheus.histogram(
    "ingress_batch_seconds", "Time the uplink pipeline took for one batch (decode, validate, store), per batch"
)


def stats_families(stats: collections.Counter, transport: str) -> list[Family]:
    """A process's `stats` counter as three families: uplinks by result, refusals by kind, other events."""
    uplinks = Family(
        "ingress_uplinks", "Uplinks through the pipeline by result (received = the sum)", labels=("transport", "result")
    )
    refusals = Family("ingress_refusals", "Traffic refused, by kind or CoAP code", labels=("transport", "kind"))
    events = Family(
        "ingress_events", "Other events the process counts (downlink outcomes...)", labels=("transport", "event")
    )
    for result in RESULTS:
        uplinks.add(0, transport, result)
    for name, value in list(stats.items()):
        if name in RESULTS:
            uplinks.add(value, transport, name)
        elif name.startswith("refused_"):
            refusals.add(value, transport, name[len("refused_") :])
        else:
            events.add(value, transport, name)
    return [uplinks, refusals, events]


def gauge(name: str, documentation: str, value: float) -> Family:
    family = Family(name, documentation, kind="gauge")
    family.add(value)
    return family


def worker_families(worker: IngressWorker) -> Iterable[Family]:
    yield from stats_families(worker.stats, "coap")
    yield gauge("ingress_queued_uplinks", "Uplinks received and waiting for the pipeline", worker.queued)
    yield gauge(
        "ingress_devices_held",
        "Devices whose session this worker took since it started (one that moved on stays counted)",
        len(worker.owned),
    )
    yield gauge("ingress_resolving_tokens", "Notifications waiting for their token's lookup", len(worker.resolving))
    dtls = getattr(worker, "dtls", None)
    if dtls is not None:
        yield gauge("dtls_sessions", "Established DTLS sessions", len(dtls.peers))
        yield gauge("dtls_handshakes_in_progress", "DTLS handshakes under way (cookie checked)", len(dtls.handshaking))
        handshakes = Family("dtls_handshakes", "DTLS handshakes completed, by outcome", labels=("outcome",))
        handshakes.add(dtls.handshakes, "ok")
        handshakes.add(dtls.failures, "failed")
        yield handshakes
    yield from dashboard_metrics.collect()
    yield from transition_families()


def mqtt_families(server: MqttServer) -> Iterable[Family]:
    yield from stats_families(server.stats, "mqtt")
    yield gauge("mqtt_device_connections", "Devices connected over MQTT to this process", len(server.sessions))
    yield gauge(
        "mqtt_application_connections", "Applications subscribed over MQTTS to this process", len(server.applications)
    )
    yield gauge(
        "mqtt_sockets", "Open MQTT sockets (connected or waiting for CONNECT)", sum(server.limits.open.values())
    )
    yield gauge(
        "ingress_queued_uplinks", "Uplinks received and waiting for the pipeline", sum(q.qsize() for q in server.queues)
    )
    yield from dashboard_metrics.collect()
    yield from transition_families()


def export_worker(worker: IngressWorker) -> int:
    """Serve this ingress worker's /metrics (INGRESS_METRICS_PORT + its index); returns the port or 0."""
    prometheus.register("ingress", lambda: worker_families(worker))
    return prometheus.serve("INGRESS_METRICS_PORT")


def export_mqtt(server: MqttServer) -> int:
    """Serve this MQTT process's /metrics (MQTT_METRICS_PORT + its index); returns the port or 0."""
    prometheus.register("mqtt", lambda: mqtt_families(server))
    return prometheus.serve("MQTT_METRICS_PORT")


def batch_done(batch: Sequence[Any], outcomes: Sequence[pipeline.Outcome], started: float, confirmable: Any) -> None:
    """After a batch: its pipeline time, and receipt-to-ACK of each confirmable uplink acknowledged."""
    if not prometheus.serving():
        return
    BATCH_SECONDS.observe(time.perf_counter() - started)
    now = timezone.now()
    for pending, outcome in zip(batch, outcomes, strict=True):
        if pending.mtype is confirmable and outcome.acknowledge:
            COAP_ACK_SECONDS.observe((now - pending.uplink.received_at).total_seconds())


def mqtt_batch_done(batch: Sequence[Any], outcomes: Sequence[pipeline.Outcome], started: float) -> None:
    """The MQTT server's batch: its pipeline time, and receipt-to-PUBACK of each uplink acknowledged (QoS 1;
    QoS 0 has no PUBACK but is timed the same: the time to stored)."""
    if not prometheus.serving():
        return
    BATCH_SECONDS.observe(time.perf_counter() - started)
    now = timezone.now()
    for (uplink, *_), outcome in zip(batch, outcomes, strict=True):
        if outcome.acknowledge:
            MQTT_ACK_SECONDS.observe((now - uplink.received_at).total_seconds())
