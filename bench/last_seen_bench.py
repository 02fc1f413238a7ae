"""Last seen (issue 20, item 3): the coalescing write that the platform keeps (the batch's shadow-only
UPDATE plus `devices.last_seen.note`, one Redis HSET, and the sweep's `last_seen.flush`) against writing
`last_seen_at` in the batch's shadow UPDATE (tried in issue 20, rejected), in the same run.

`devices_device` has an index on (status, last_seen_at) for the status sweep, so an UPDATE that changes
last_seen_at cannot be a HOT update (an update that writes no index entry); the shadow-only UPDATE can,
when the page has room. This measures both on `--devices` ONLINE devices, `--batches` batches of
`--batch` random devices each (the ingress's batch shape: one UPDATE ... FROM (VALUES ...) per batch),
in phases A (kept), B (shadow and last seen), A again (to show drift), each its own transactions, and
prints the median and p95 milliseconds per batch, the ratio B/A, and the HOT share of each phase
(pg_stat_user_tables). Each A phase ends with one flush of its pending times (as a sweep would), timed
and divided by the phase's reports: the coalescing's remaining cost per report. Print `uptime` next to
the figures: the machine is shared. Redis keys carry a prefix of their own (REDIS_KEY_PREFIX).

Run it: make bench BENCH=last_seen   (or with DATABASE_URL/REDIS_URL of a throwaway database)
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from psycopg.types.json import Jsonb  # noqa: E402

from applications.actions import do_create_application  # noqa: E402
from applications.redis import get_redis  # noqa: E402
from devices import last_seen  # noqa: E402
from devices.models import Device, Status, StatusDetail  # noqa: E402

SHADOW_ONLY = (
    "UPDATE devices_device AS d SET shadow = d.shadow || v.shadow FROM (VALUES {values}) AS v(id, shadow) "
    "WHERE d.id = v.id"
)
WITH_LAST_SEEN = (
    "UPDATE devices_device AS d SET shadow = d.shadow || v.shadow, last_seen_at = GREATEST(d.last_seen_at, %s) "
    "FROM (VALUES {values}) AS v(id, shadow) WHERE d.id = v.id"
)


def _hot() -> tuple[int, int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")
        cursor.execute("SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'devices_device'")
        return cursor.fetchone()


def _phase(name: str, pks: list[int], batches: int, size: int, with_last_seen: bool) -> dict:
    rng = random.Random(name)
    times = []
    before = _hot()
    for number in range(batches):
        chosen = rng.sample(pks, size)
        shadow = Jsonb({"WaterMeter": {"serviceType": "WaterMeter", "data": {"currentReading": str(number)}}})
        values = ", ".join(["(%s, %s::jsonb)"] * size)
        params = [value for pk in chosen for value in (pk, shadow)]
        now = dt.datetime.now(dt.UTC)
        started = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            if with_last_seen:
                cursor.execute(WITH_LAST_SEEN.format(values=values), [now, *params])
            else:
                cursor.execute(SHADOW_ONLY.format(values=values), params)
                last_seen.note(dict.fromkeys(chosen, now))  # as do_store_reports does for ONLINE devices
        times.append((time.perf_counter() - started) * 1000)
    after = _hot()
    updated, hot = after[0] - before[0], after[1] - before[1]
    flush_ms = flushed = 0
    if not with_last_seen:  # the sweep's flush of this phase's pending times, once (every 30 s in service)
        started = time.perf_counter()
        with transaction.atomic():
            flushed = last_seen.flush()
        flush_ms = (time.perf_counter() - started) * 1000
    times.sort()
    return {
        "phase": name,
        "median_ms": statistics.median(times),
        "p95_ms": times[int(len(times) * 0.95) - 1],
        "hot_share": hot / updated if updated else 0.0,
        "flush_ms": flush_ms,
        "flushed": flushed,
        "flush_per_report_ms": flush_ms / (batches * size),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=50_000)
    parser.add_argument("--batches", type=int, default=300)
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args()
    settings.REDIS_KEY_PREFIX = f"bench-last-seen:{time.time_ns()}:"  # keys of this run only
    call_command("migrate", verbosity=0)
    application, _ = do_create_application(f"last-seen-bench-{time.time_ns()}")
    now = dt.datetime.now(dt.UTC)
    try:
        Device.objects.bulk_create(
            [
                Device(
                    application=application,
                    node_id=f"bench-ls-{application.pk}-{n}",
                    verify_code="x",
                    activated=True,
                    status=Status.ONLINE,
                    status_detail=StatusDetail.NONE,
                    last_seen_at=now,
                    shadow={"WaterMeter": {"serviceType": "WaterMeter", "data": {"currentReading": "0"}}},
                )
                for n in range(args.devices)
            ],
            batch_size=5000,
        )
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE devices_device")
        pks = list(Device.objects.filter(application=application).values_list("pk", flat=True))
        results = [
            _phase("A shadow only + last_seen.note (kept)", pks, args.batches, args.batch, False),
            _phase("B shadow and last seen (rejected)", pks, args.batches, args.batch, True),
            _phase("A again", pks, args.batches, args.batch, False),
        ]
        load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
        print(f"{args.devices} ONLINE devices, {args.batches} batches of {args.batch} per phase; {load}")
        for row in results:
            print(f"  {row['phase']:<40} median {row['median_ms']:7.2f} ms  p95 {row['p95_ms']:7.2f} ms  "
                  f"HOT {row['hot_share']:.0%}")  # fmt: skip
            if row["flushed"]:
                print(f"    then one flush: {row['flushed']} rows in {row['flush_ms']:.1f} ms, "
                      f"{row['flush_per_report_ms'] * 1000:.1f} us per report")  # fmt: skip
        baseline = statistics.mean([results[0]["median_ms"], results[2]["median_ms"]])
        print(f"  ratio B / A (median per batch): {results[1]['median_ms'] / baseline:.2f}")
        flush = statistics.mean([results[0]["flush_per_report_ms"], results[2]["flush_per_report_ms"]])
        per_report = (results[1]["median_ms"] - baseline) / args.batch
        print(f"  per report: B costs {per_report:.3f} ms more than A; A's flush adds {flush:.3f} ms")
    finally:
        Device.objects.filter(application=application).delete()
        application.delete()
        get_redis().delete(last_seen.pending_key())


if __name__ == "__main__":
    main()
