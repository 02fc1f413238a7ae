"""Each application's share of the codec's time in this ingress process (issue 19: one tenant never
slows another).

A token bucket per application: it fills at `CODEC_APP_CPU_SHARE` seconds of codec time per second
(a quarter of a worker by default) up to `CODEC_APP_CPU_SHARE * CODEC_APP_CPU_BURST_SECONDS`, and
every codec call of the application's uplinks takes the call's wall time from it (a JavaScript codec
runs in the sandbox's child process, so its CPU is that wall time; a codec that keeps timing out
spends its whole limit each time). While the bucket is empty the application's uplinks are not
decoded: they are stored raw, acknowledged and logged as not yet decoded (ingress.pipeline), so
nothing acknowledged is lost and the other applications' uplinks are not held behind them.

Per process and in memory: each ingress worker holds its own buckets (the load balancer spreads an
application's devices over the workers, so an application may use the share in each).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from django.conf import settings

from applications import prometheus

# Every codec call's time, as charged (docs/observability.md): the pipeline reports it here, once per batch.
DECODE_SECONDS = prometheus.histogram(
    "codec_decode_seconds", "Codec time of one batch of a product's uplinks, as charged to its application"
)


class CodecBudget:
    """Seconds of codec time each application may still spend; `clock` is monotonic seconds (tests)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[int, tuple[float, float]] = {}  # application pk -> (tokens, at)

    def _tokens(self, application_pk: int, now: float) -> float:
        share = settings.CODEC_APP_CPU_SHARE
        capacity = share * settings.CODEC_APP_CPU_BURST_SECONDS
        tokens, at = self._buckets.get(application_pk, (capacity, now))
        return min(capacity, tokens + (now - at) * share)

    def allows(self, application_pk: int) -> bool:
        """Whether the application's uplinks may be decoded now (its bucket is not empty)."""
        if settings.CODEC_APP_CPU_SHARE <= 0:
            return True  # 0 turns the budget off
        with self._lock:
            return self._tokens(application_pk, self.clock()) > 0

    def charge(self, application_pk: int, seconds: float) -> None:
        """Take a codec call's time from the application's bucket (it may go below zero: the
        application then waits until it has paid it back)."""
        if prometheus.serving():
            DECODE_SECONDS.observe(seconds)
        if settings.CODEC_APP_CPU_SHARE <= 0:
            return
        with self._lock:
            now = self.clock()
            self._buckets[application_pk] = (self._tokens(application_pk, now) - seconds, now)
            if len(self._buckets) > 100_000:  # applications that went quiet are forgotten
                self._buckets = {key: value for key, value in self._buckets.items() if value[0] < 0}


budget = CodecBudget()
