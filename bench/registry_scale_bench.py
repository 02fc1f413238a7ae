"""The registry and history at scale (issue 23): 1,000,000 devices and 100,000,000 history rows, against
a baseline of 10,000 devices and 1,000,000 rows built and measured in the same run.

For each of the two scales, in a database of its own (DATABASE_URL; `scale23` by default, never a
maintenance database), the bench builds an application with D devices (INSERT ... SELECT
generate_series, devices_bench's generator) and R history rows of those devices spread over `--days`
day partitions (generate_series, a statement per partition), VACUUM ANALYZE, then times (medians of
`--repeat` calls):

- the northbound device list `GET /iocm/app/dm/v1.4.0/devices?pageNo=0&pageSize=10` (its totalCount
  counts every device) and the portal's `/devices/` first page as the application's owner, through
  Django's test client (the views, querysets and templates they run);
- one device's newest history page `GET /iocm/app/data/v1.2.0/deviceDataHistory?pageNo=0&pageSize=10`,
  and the same with a one-day startTime/endTime window;
- partition maintenance as devices.tasks.maintain_history does it (devices.history): creating the next
  day's partition, the retention of an application with a shorter retention than the longest (its
  oldest day's rows deleted in batches, `delete_in_batches`), and dropping whole partitions past the
  longest retention (`drop_partitions_before`), per partition.

Each figure is printed for both scales with the ratio large / baseline. The baseline lives in the
partitions of the year 2000, the large scale in 2001's, so each scale's maintenance touches its own.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/scale23 REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/registry_scale_bench.py --devices 20000 --rows 400000 \\
        --base-devices 2000 --base-rows 40000          # a small run that proves the script
    # the issue's figure (about 100 GB of disk and an hour or more to build):
    .venv/bin/python bench/registry_scale_bench.py --devices 1000000 --rows 100000000 --days 30
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent
if str(BASE_DIR) not in sys.path:
    sys.path.insert(0, str(BASE_DIR))

from bench.devices_bench import (  # noqa: E402  (after the path is set)
    Bench,
    execute,
    generate_devices,
    log,
    median_seconds,
    queries_of,
    setup_django,
)

FALLBACK_DB = "scale23"
MAINTENANCE_DBS = {"", "postgres", "template0", "template1"}


def database_url(url: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.path.lstrip("/") in MAINTENANCE_DBS:
        return urlunsplit(parts._replace(path=f"/{FALLBACK_DB}"))
    return url


def generate_history(application: Any, rows: int, first_day: dt.date, days: int) -> float:
    """`rows` rows of the application's devices, in time order over `days` day partitions from `first_day`,
    every device reporting in turn (device = the g-th modulo the devices, by id)."""
    from django.db import transaction

    from devices import history

    low, high = execute("SELECT min(id), max(id) FROM devices_device WHERE application_id = %s", [application.pk])[0]
    count = high - low + 1  # generate_devices inserts them in one statement: consecutive ids
    per_day = rows // days
    start = time.perf_counter()
    for index in range(days):
        day = first_day + dt.timedelta(days=index)
        first = index * per_day + 1
        last = rows if index == days - 1 else (index + 1) * per_day
        with transaction.atomic():
            history.ensure_partition(day)
            execute(
                "INSERT INTO devices_datahistory (device_id, application_id, service_id, data, event_time, "
                "received_at) SELECT %s + g %% %s, %s, 'Meter', "
                "jsonb_build_object('currentReading', g %% 100000, 'batteryLevel', 80), t, t "
                "FROM generate_series(%s, %s) AS g, "
                "LATERAL (SELECT %s::timestamptz + make_interval(secs => (g - %s) * 86400.0 / %s) AS t) AS times",
                [low, count, application.pk, first, last,
                 dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC), first, max(1, last - first + 1)],
            )  # fmt: skip
        log(f"  history: {last:,} rows ({time.perf_counter() - start:.0f} s)")
    execute("VACUUM ANALYZE devices_datahistory")
    return time.perf_counter() - start


def measure(label: str, devices: int, rows: int, first_day: dt.date, args: argparse.Namespace) -> dict[str, Any]:
    """Build one scale and time its figures: {name: (seconds, SQL queries or None)}."""
    from django.test import Client

    from applications.models import Role
    from devices import history
    from devices.models import Device

    log(f"{label}: {devices:,} devices, {rows:,} history rows over {args.days} days from {first_day} ...")
    bench = Bench()
    figures: dict[str, Any] = {}
    try:
        built = generate_devices(bench.application, devices, "R", dt.datetime.now(dt.UTC))
        built_history = generate_history(bench.application, rows, first_day, args.days)
        figures["build"] = (built, built_history)
        api = bench.api()
        owner = bench.user(Role.OWNER, bench.application)
        portal = Client()
        portal.force_login(owner)
        device = Device.objects.filter(application=bench.application).order_by("id").first()
        base = "/iocm/app/data/v1.2.0/deviceDataHistory"
        window = (
            f"&startTime={first_day + dt.timedelta(days=1):%Y%m%d}T000000Z"
            f"&endTime={first_day + dt.timedelta(days=2):%Y%m%d}T000000Z"
        )
        calls = {
            "GET devices pageNo=0 pageSize=10 (API)": (api, "/iocm/app/dm/v1.4.0/devices?pageNo=0&pageSize=10"),
            "portal /devices/ first page, as the owner": (portal, "/devices/"),
            "GET deviceDataHistory newest 10 (API)": (api, f"{base}?deviceId={device.device_id}&pageNo=0&pageSize=10"),
            "GET deviceDataHistory one day's 10 (API)": (
                api,
                f"{base}?deviceId={device.device_id}&pageNo=0&pageSize=10{window}",
            ),
        }
        for name, (client, url) in calls.items():
            answer = client.get(url)
            assert answer.status_code == 200, (url, answer.status_code, answer.content[:300])
            figures[name] = (
                median_seconds(lambda client=client, url=url: client.get(url), args.repeat),
                queries_of(lambda client=client, url=url: client.get(url)),
            )
        if "totalCount" in (body := api.get(calls["GET devices pageNo=0 pageSize=10 (API)"][1]).json()):
            assert body["totalCount"] == devices, body["totalCount"]

        # Maintenance, as devices.tasks.maintain_history runs it.
        ahead = first_day + dt.timedelta(days=args.days)
        started = time.perf_counter()
        history.ensure_partitions_ahead(0, today=ahead)
        figures["create the next day's partition"] = (time.perf_counter() - started, None)
        cutoff = dt.datetime.combine(first_day + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
        started = time.perf_counter()
        deleted = history.delete_in_batches(
            "application_id = %s AND received_at < %s", [bench.application.pk, cutoff], by_received=True
        )
        figures[f"retention: delete one day's rows in batches ({deleted:,})"] = (time.perf_counter() - started, None)
        figures["deleted"] = deleted
        mine = [name for name, day in history.partitions() if first_day <= day <= ahead]
        started = time.perf_counter()
        dropped = history.drop_partitions_before(ahead + dt.timedelta(days=1))
        seconds = time.perf_counter() - started
        figures["retention: drop a whole partition (each)"] = (seconds / max(1, len(dropped)), None)
        assert set(mine) <= set(dropped), (mine, dropped)
    finally:
        for name, day in history.partitions():
            if first_day <= day <= first_day + dt.timedelta(days=args.days):
                execute(f"DROP TABLE IF EXISTS {name}")
        bench.delete()
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=1_000_000)
    parser.add_argument("--rows", type=int, default=100_000_000)
    parser.add_argument("--base-devices", type=int, default=10_000)
    parser.add_argument("--base-rows", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30, help="day partitions the rows are spread over")
    parser.add_argument("--repeat", type=int, default=15, help="timed calls per figure (medians)")
    args = parser.parse_args()
    if not os.environ.get("REDIS_URL"):
        log("REDIS_URL must be set (see the docstring)")
        return 2
    url = database_url(os.environ.get("DATABASE_URL", f"postgres://postgres@127.0.0.1:5432/{FALLBACK_DB}"))
    setup_django(url, f"bench-scale:{uuid.uuid4().hex[:8]}:")
    version = execute("SHOW server_version")[0][0]
    base = measure("baseline", args.base_devices, args.base_rows, dt.date(2000, 1, 1), args)
    large = measure("large", args.devices, args.rows, dt.date(2001, 1, 1), args)
    load = os.getloadavg()
    print(
        f"registry scale bench: PostgreSQL {version}, {os.cpu_count()} CPUs, load average {load[0]:.2f} "
        f"{load[1]:.2f} {load[2]:.2f}; {args.days} day partitions; medians of {args.repeat} calls"
    )
    print(
        f"built: baseline {args.base_devices:,} devices in {base['build'][0]:.1f} s, {args.base_rows:,} rows in "
        f"{base['build'][1]:.1f} s; large {args.devices:,} devices in {large['build'][0]:.1f} s, {args.rows:,} rows "
        f"in {large['build'][1]:.1f} s"
    )
    print(f"{'':58}{'baseline ms':>12}{'large ms':>12}{'x baseline':>11}{'SQL':>8}")
    for (name, value), (_, large_value) in zip(base.items(), large.items(), strict=True):
        if name in ("build", "deleted"):
            continue
        label = name.split(" (")[0] if name.startswith("retention: delete") else name
        queries = "" if value[1] is None else f"{value[1]}/{large_value[1]}"
        print(
            f"{label:58}{value[0] * 1000:12.2f}{large_value[0] * 1000:12.2f}"
            f"{large_value[0] / value[0] if value[0] else float('nan'):11.2f}{queries:>8}"
        )
    print(f"retention's deleted rows: baseline {base['deleted']:,}, large {large['deleted']:,} "
          f"({large['deleted'] / max(1, base['deleted']):.1f}x as many)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
