"""Prometheus metrics of every long-running process: the one module that imports `prometheus_client`.

Each process serves its own /metrics on `METRICS_ADDRESS` (loopback by default) and a port of its own:
the process's base port setting (`INGRESS_METRICS_PORT`, `MQTT_METRICS_PORT`, `WEB_METRICS_PORT`,
`WORKER_METRICS_PORT`, `BEAT_METRICS_PORT`; 0, the default, serves nothing) plus the index of the worker
among its supervisor's workers (`WORKER_INDEX`, set by applications.supervisor). One port per process
rather than prometheus_client's multi-process mode: the figures already counted in each process (the
ingress worker's `stats`, the refusals, the dashboard's counters) are read at scrape time by collectors
(`register`), which that mode cannot do (it only adds up values written to shared files), so the hot
path pays nothing and nothing is counted twice; a worker that restarts keeps its port and starts its
counters from zero, which Prometheus's rate() and increase() expect (docs/observability.md).

The rest of the code uses small functions:

- `register(collect)`: `collect()` returns `Family`s, read when /metrics is scraped;
- `histogram(name, documentation, buckets)`: a histogram observed on the path it measures (label-free
  by design: no device or application ever becomes a label);
- `serve(port_setting)`: start this process's /metrics server (a daemon thread) when the setting is on;
- `serving()`: whether it does: the hot paths observe their timings only then, so metrics off cost nothing.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
from collections.abc import Callable, Iterable, Sequence

from django.conf import settings
from prometheus_client import REGISTRY, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

log = logging.getLogger("metrics")

PREFIX = "platform_"
# Seconds, from a quick ACK on loopback to CoAP's own ACK_TIMEOUT (2 s) and the 4 s Huawei modules allow.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
# Seconds of a periodic sweep or a batch job.
SWEEP_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0)


@dataclasses.dataclass
class Family:
    """One metric family read at scrape time: `samples` maps label values (in `labels` order) to a value."""

    name: str  # without the platform_ prefix; a counter's without its _total suffix
    documentation: str
    kind: str = "counter"  # "counter" or "gauge"
    labels: Sequence[str] = ()
    samples: dict[tuple[str, ...], float] = dataclasses.field(default_factory=dict)

    def add(self, value: float, *label_values: str) -> None:
        self.samples[label_values] = self.samples.get(label_values, 0) + value


class _Collector(Collector):
    def __init__(self, collect: Callable[[], Iterable[Family]]) -> None:
        self._collect = collect

    def collect(self):
        try:
            families = list(self._collect())
        except Exception:  # a scrape must never take the process down, nor show a traceback to the scraper
            log.exception("collecting metrics failed")
            return
        for family in families:
            kind = CounterMetricFamily if family.kind == "counter" else GaugeMetricFamily
            metric = kind(PREFIX + family.name, family.documentation, labels=list(family.labels))
            for label_values, value in sorted(family.samples.items()):
                metric.add_metric(list(label_values), value)
            yield metric

    def describe(self):
        return []  # described by collecting: the families depend on what was counted


_registered: dict[str, _Collector] = {}
_lock = threading.Lock()


def register(name: str, collect: Callable[[], Iterable[Family]]) -> None:
    """Read `collect()` at every scrape of this process's /metrics. A second registration under the same
    `name` replaces the first (a test or a restarted worker object must not double the figures)."""
    with _lock:
        previous = _registered.pop(name, None)
        if previous is not None:
            REGISTRY.unregister(previous)
        collector = _Collector(collect)
        REGISTRY.register(collector)
        _registered[name] = collector


def unregister(name: str) -> None:
    """Stop reading the collector registered under `name` (a worker object that is gone)."""
    with _lock:
        previous = _registered.pop(name, None)
        if previous is not None:
            REGISTRY.unregister(previous)


_histograms: dict[str, Histogram] = {}


def histogram(
    name: str, documentation: str, buckets: Sequence[float] = LATENCY_BUCKETS, labels: Sequence[str] = ()
) -> Histogram:
    """The process's histogram `platform_<name>` (created once): `.observe(seconds)`, or with `labels`,
    `.labels(value, ...).observe(seconds)`; label values must come from a short fixed set (task names)."""
    with _lock:
        existing = _histograms.get(name)
        if existing is None:
            existing = _histograms[name] = Histogram(
                PREFIX + name, documentation, labelnames=tuple(labels), buckets=tuple(buckets)
            )
        return existing


def worker_index() -> int:
    """This process's index among its supervisor's workers (0 when it runs alone)."""
    try:
        return max(0, int(os.environ.get("WORKER_INDEX", "0")))
    except ValueError:
        return 0


def port_for(port_setting: str) -> int:
    """The /metrics port of this process: its base setting plus its worker index, or 0 when off."""
    base = int(getattr(settings, port_setting, 0) or 0)
    return base + worker_index() if base > 0 else 0


_served: dict[int, object] = {}


def serving() -> bool:
    """Whether this process serves /metrics (timings are worth observing only then)."""
    return bool(_served)


def serve(port_setting: str) -> int:
    """Serve this process's /metrics on METRICS_ADDRESS and its port (`port_for`); returns the port, or 0
    when the setting is off. A port that is taken is one clear log line, and the process runs on
    without metrics: losing them must not take the device traffic down."""
    port = port_for(port_setting)
    if not port or port in _served:
        return port
    address = settings.METRICS_ADDRESS
    try:
        _served[port] = start_http_server(port, addr=address)
    except OSError as problem:
        log.error(
            "metrics not served: %s:%s cannot be bound (%s); set %s to a free base port",
            address,
            port,
            problem.strerror or problem,
            port_setting,
        )
        return 0
    log.info("metrics on http://%s:%s/metrics", address, port)
    return port
