"""The dashboard's traffic counters: what they add to the uplink and push batches, and what the
dashboard's read costs, next to a bare Redis round trip in the same run.

1. write: `applications.metrics.add` of one batch (the pipeline's batches carry up to 200 devices;
   `--apps` applications in it), the call `do_store_reports` makes after each committed batch;
   baseline: one PING (the least any extra round trip costs);
2. read: `applications.metrics.recent` of the dashboard's three counters over 60 minutes (180 HGETs in
   one pipeline); baseline: one PING.

Run it (REDIS_URL from the launcher's embedded Redis, or a server's):

    make bench BENCH=dashboard
    REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python bench/dashboard_bench.py [--repeat 2000] [--apps 3]

Its keys carry a throwaway prefix and are deleted at the end.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
if str(BASE_DIR) not in sys.path:
    sys.path.insert(0, str(BASE_DIR))


def timings(call: Callable[[], object], repeat: int) -> dict[str, float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return {
        "p50_ms": statistics.median(samples),
        "p95_ms": samples[int(len(samples) * 0.95) - 1],
        "p99_ms": samples[int(len(samples) * 0.99) - 1],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2000)
    parser.add_argument("--apps", type=int, default=3, help="applications in one batch")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django

    django.setup()
    from django.conf import settings

    settings.REDIS_KEY_PREFIX = f"bench:{uuid.uuid4().hex[:8]}:"
    from applications import metrics
    from applications.redis import get_redis

    redis = get_redis()
    batch = {pk: 200 // args.apps for pk in range(1, args.apps + 1)}
    names = [metrics.UPLINKS, metrics.PUSHES_DELIVERED, metrics.PUSHES_FAILED]
    for _ in range(50):  # warm the pool
        redis.ping()
    rows = [
        ("baseline PING", timings(redis.ping, args.repeat)),
        (
            f"write: metrics.add, a batch of {args.apps} applications",
            timings(lambda: metrics.add(metrics.UPLINKS, batch), args.repeat),
        ),
        ("baseline PING", timings(redis.ping, args.repeat)),
        ("read: metrics.recent, 3 counters x 60 min", timings(lambda: metrics.recent(names, 1), args.repeat)),
    ]
    print(f"{'':48} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}   (repeat {args.repeat})")
    for name, row in rows:
        print(f"{name:48} {row['p50_ms']:8.3f} {row['p95_ms']:8.3f} {row['p99_ms']:8.3f}")
    for found in redis.scan_iter(match=settings.REDIS_KEY_PREFIX + "*"):
        redis.delete(found)


if __name__ == "__main__":
    main()
