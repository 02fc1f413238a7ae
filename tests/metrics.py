"""Scraping a process's Prometheus /metrics in tests, and waiting for a figure to reach a value."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, frozenset], float]


def scrape(port: int, host: str = "127.0.0.1") -> Samples:
    """{(sample name, frozenset of label pairs): value} of the process's /metrics."""
    answer = httpx.get(f"http://{host}:{port}/metrics", timeout=5)
    answer.raise_for_status()
    samples: Samples = {}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sample `name` with exactly these labels (0 when absent)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of the samples `name` whose labels include these (over the other labels)."""
    wanted = set(labels.items())
    return sum(v for (sample, pairs), v in samples.items() if sample == name and wanted <= pairs)


def wait_for(read: Callable[[], object], check: Callable[[object], bool], *, within: float = 60) -> object:
    """Poll `read()` until `check` holds on its result (a cap, not a wait); returns the last result.
    A scrape that fails (the server not up yet) is retried."""
    deadline = time.monotonic() + within
    while True:
        try:
            result = read()
        except httpx.HTTPError:
            result = None
        if result is not None and check(result):
            return result
        assert time.monotonic() < deadline, f"not reached in {within} s: {result!r}"[:2000]
        time.sleep(0.05)
