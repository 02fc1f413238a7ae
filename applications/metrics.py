"""Per-minute traffic counters of each application (uplinks, pushes), kept in Redis for the dashboard.

One hash per counter and minute (`metrics:<name>:<minute>`, a field per application pk), written by the
paths that already handle a whole batch (the uplink pipeline's `do_store_reports`, the push worker's
`record`), in one pipelined round trip per batch, after the batch's transaction commits: a rolled-back
batch counts nothing. The dashboard reads a window of minutes in one round trip, so its figures cost
the same at 10 uplinks a second as at 10,000: nothing is recomputed from raw rows.

The same calls keep this process's running totals of each counter (all applications together), which
its Prometheus /metrics exports (`collect`, applications.prometheus): one counting path for both.
"""

from __future__ import annotations

import collections
import datetime as dt
import threading
from collections.abc import Mapping

from django.utils import timezone

from applications.redis import get_redis, key

KEEP_SECONDS = 2 * 3600  # each minute's hash lives two hours: the dashboard reads the last hour

UPLINKS = "uplinks"
PUSHES_DELIVERED = "pushes.delivered"
PUSHES_FAILED = "pushes.failed"  # failed attempts (retried or given up)

_totals: collections.Counter = collections.Counter()  # counter name -> this process's total since it started
_totals_lock = threading.Lock()


def _minute(when: dt.datetime) -> int:
    return int(when.timestamp()) // 60


def add(name: str, counts: Mapping[int, int], *, now: dt.datetime | None = None) -> None:
    """Add `counts` (application pk -> how many) to this minute's counter `name`, in one round trip."""
    add_many({name: counts}, now=now)


def add_many(counters: Mapping[str, Mapping[int, int]], *, now: dt.datetime | None = None) -> None:
    """`add` for several counters at once (name -> application pk -> how many), in one round trip."""
    minute = _minute(now or timezone.now())
    with _totals_lock:
        for name, counts in counters.items():
            _totals[name] += sum(counts.values())
    pipe = get_redis().pipeline(transaction=False)
    for name, counts in counters.items():
        counts = {pk: count for pk, count in counts.items() if count}
        if not counts:
            continue
        minute_key = key("metrics", name, minute)
        for application_pk, count in counts.items():
            pipe.hincrby(minute_key, str(application_pk), count)
        pipe.expire(minute_key, KEEP_SECONDS)
    if len(pipe):
        pipe.execute()


def recent(names: list[str], application_pk: int, *, minutes: int = 60, now: dt.datetime | None = None) -> dict:
    """Per counter, the application's counts of the last `minutes` whole minutes, oldest first (the
    current, unfinished minute is not among them), read in one round trip."""
    last = _minute(now or timezone.now()) - 1
    pipe = get_redis().pipeline(transaction=False)
    for name in names:
        for minute in range(last - minutes + 1, last + 1):
            pipe.hget(key("metrics", name, minute), str(application_pk))
    values = [int(value or 0) for value in pipe.execute()]
    return {name: values[index * minutes : (index + 1) * minutes] for index, name in enumerate(names)}


def collect() -> list:
    """This process's totals as Prometheus families (read at scrape time): stored uplinks, pushes by outcome."""
    from applications.prometheus import Family

    with _totals_lock:
        totals = dict(_totals)
    uplinks = Family("uplinks_stored", "Uplinks stored (committed), all applications, since the process started")
    pushes = Family("pushes", "Push deliveries by outcome (failed: attempts retried or given up)", labels=("outcome",))
    uplinks.add(totals.get(UPLINKS, 0))
    pushes.add(totals.get(PUSHES_DELIVERED, 0), "delivered")
    pushes.add(totals.get(PUSHES_FAILED, 0), "failed")
    return [uplinks, pushes]
