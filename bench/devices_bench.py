"""Devices: bulk registration next to a plain COPY, the newest history page among millions of rows,
and the device lists' first page at a million devices.

What it measures, each next to a baseline of the same run:

1. bulk registration of `--devices` (100,000) devices from a CSV, through the code the portal and the
   API run: read and check the file (devices.bulk.check_table), store the job and its rows, then the
   job's batches (devices.bulk.run_job, the Celery task's body, in this process), with a deviceAdded
   subscription so every device also gets its notification and log line; in skip-bad-rows mode (a
   transaction per batch) and in all-or-nothing mode (one transaction). The baseline is a plain COPY of
   the same device rows (psks encrypted beforehand) into devices_device, run before and after;
2. the newest page (pageNo=0, pageSize=10) of one device's history among `--history-rows` (10,000,000)
   rows of `--history-devices` devices in the partitioned devices_datahistory (7 day partitions of
   the year 2000, generated with INSERT ... SELECT generate_series, then VACUUM ANALYZE): the ORM
   query, the count the API also returns, and the northbound call
   `GET /iocm/app/data/v1.2.0/deviceDataHistory` through Django's test client; baselines `SELECT 1`
   and the cheapest authenticated device call, `GET /iocm/app/dm/v1.4.0/devices/{deviceId}`;
3. the first page of the device lists at `--list-devices` (1,000,000) devices of one application, with
   a small application (100 devices, registered before the big one's) beside it: the portal list
   (as the big application's owner, the small one's owner and an operator) and the northbound list
   `GET /iocm/app/dm/v1.4.0/devices?pageNo=0&pageSize=10`, with the query plans.

Run it:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_devices REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/devices_bench.py [--devices 100000] [--history-rows 10000000] \\
        [--history-devices 1000] [--list-devices 1000000] [--repeat 30]

The database named in DATABASE_URL is a throwaway one: created when missing and migrated (a maintenance
database such as `postgres` is never written to: `bench_devices` on the same server is used instead).
Everything the bench writes is deleted at the end: its applications with their devices, jobs, logs and
pushes, and the history partitions of the year 2000.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import os
import re
import secrets as random
import statistics
import sys
import time
import uuid
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

BASE_DIR = Path(__file__).resolve().parent.parent
if str(BASE_DIR) not in sys.path:
    sys.path.insert(0, str(BASE_DIR))  # `python bench/devices_bench.py` puts bench/ first, not the project

MAINTENANCE_DBS = {"postgres", "template0", "template1"}
FALLBACK_DB = "bench_devices"
HISTORY_DAYS = [dt.date(2000, 1, 1) + dt.timedelta(days=day) for day in range(7)]
HISTORY_PAGE = 10
TARGET_RATE = 3000
TARGET_HISTORY_MS = 20
NODE_CELL = re.compile(r"<code>([LS]\d{9})</code>")


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# --- The database ---------------------------------------------------------------------------------


def bench_database_url(url: str) -> str:
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if name and name not in MAINTENANCE_DBS:
        return url
    return urlunsplit(parts._replace(path=f"/{FALLBACK_DB}"))


def ensure_database(url: str) -> bool:
    """Create the database named in `url` when missing; True if created."""
    import psycopg
    from psycopg import errors, sql

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as connection:
        if connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            return False
        try:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        except errors.DuplicateDatabase:
            return False
    return True


def setup_django(database_url: str, redis_prefix: str) -> bool:
    os.environ.update(DATABASE_URL=database_url, REDIS_KEY_PREFIX=redis_prefix)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    created = ensure_database(database_url)
    import django
    from django.core.management import call_command

    django.setup()
    warnings.filterwarnings("ignore", message="No directory at")  # WhiteNoise, for the test client
    call_command("migrate", interactive=False, verbosity=0)
    return created


def execute(statement: str, params: list[Any] | None = None) -> list[tuple]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(statement, params or [])
        return cursor.fetchall() if cursor.description else []


# --- Timing ---------------------------------------------------------------------------------------


def median_seconds(function: Callable[[], object], repeat: int, warmup: int = 3) -> float:
    for _ in range(warmup):
        function()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def queries_of(function: Callable[[], object]) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        function()
    return len(captured.captured_queries)


def explain(sql_text: str, params: list[Any]) -> str:
    rows = execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql_text, params)
    return "\n".join(row[0] for row in rows)


def sql_of(queryset: Any) -> tuple[str, list[Any]]:
    compiled, params = queryset.query.sql_with_params()
    return compiled, list(params)


# --- What the bench creates -----------------------------------------------------------------------


def profile_zip(model: str) -> tuple[str, bytes]:
    """A small valid profile: one service with two properties."""
    device = {
        "devices": [
            {
                "manufacturerId": "BenchCo",
                "manufacturerName": "Bench Co",
                "model": model,
                "protocolType": "CoAP",
                "deviceType": "BenchMeter",
                "serviceTypeCapabilities": [{"serviceId": "Meter", "serviceType": "Meter", "option": "Mandatory"}],
            }
        ]
    }
    properties = [
        {"propertyName": name, "dataType": "int", "required": True, "min": 0, "max": 100000, "step": 1,
         "maxLength": None, "method": "R", "unit": None, "enumList": None}
        for name in ("currentReading", "batteryLevel")
    ]  # fmt: skip
    service = {"services": [{"serviceType": "Meter", "description": "Meter", "commands": [], "properties": properties}]}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("profile/devicetype-capability.json", json.dumps(device))
        archive.writestr("service/Meter/profile/servicetype-capability.json", json.dumps(service))
    return f"BenchMeter_BenchCo_{model}.zip", buffer.getvalue()


class Bench:
    """The bench's applications, product and users, and how to delete all of it."""

    def __init__(self) -> None:
        from applications.actions import do_create_application, do_login
        from products.actions import do_import_profile
        from subscriptions.models import Subscription

        tag = uuid.uuid4().hex[:8]
        self.application, secret = do_create_application(
            f"devices bench {tag}", api_rate_limit=10_000_000, device_quota=10_000_000
        )
        self.token = do_login(self.application.app_id, secret).access_token
        self.small, _ = do_create_application(f"devices bench small {tag}", device_quota=10_000_000)
        self.product = do_import_profile(self.application, *profile_zip(f"b{tag}"))
        # Every registration is notified: the outbox row is part of what a registration costs.
        Subscription.objects.create(
            application=self.application, notify_type="deviceAdded", callback_url="http://127.0.0.1:9/added"
        )
        self.users: list[Any] = []

    def api(self):
        from django.test import Client

        return Client(headers={"app_key": self.application.app_id, "Authorization": f"Bearer {self.token}"})

    def user(self, role: str | None, application: Any = None):
        from django.contrib.auth import get_user_model

        from applications.actions import do_add_member

        user = get_user_model().objects.create_user(f"bench-{uuid.uuid4().hex[:8]}", is_staff=role is None)
        if role is not None:
            do_add_member(application, user, role)
        self.users.append(user)
        return user

    def delete_devices(self) -> None:
        """Set-based deletes by application (Django's cascade would load every row first)."""
        pks = [self.application.pk, self.small.pk]
        execute(
            "DELETE FROM devices_bulkregistrationrow WHERE job_id IN "
            "(SELECT id FROM devices_bulkregistration WHERE application_id = ANY(%s))",
            [pks],
        )
        execute("DELETE FROM devices_bulkregistration WHERE application_id = ANY(%s)", [pks])
        execute("DELETE FROM devices_devicelog WHERE application_id = ANY(%s)", [pks])
        execute("DELETE FROM subscriptions_pushmessage WHERE application_id = ANY(%s)", [pks])
        execute("DELETE FROM devices_device WHERE application_id = ANY(%s)", [pks])

    def delete(self) -> None:
        from applications.models import Application
        from applications.redis import get_redis
        from devices import history

        self.delete_devices()
        for name, day in history.partitions():
            if day in HISTORY_DAYS:
                execute(f"DROP TABLE IF EXISTS {name}")
        for user in self.users:
            user.delete()
        Application.objects.filter(pk__in=[self.application.pk, self.small.pk]).delete()
        redis = get_redis()
        for name in redis.scan_iter(match=f"{os.environ['REDIS_KEY_PREFIX']}*", count=1000):
            redis.delete(name)


# --- 1. Bulk registration -------------------------------------------------------------------------


def imei(prefix: str, serial: int) -> str:
    from devices.bulk import luhn_digit

    body = f"{prefix}{serial:06d}"
    return body + str(luhn_digit(body))


def devices_csv(bench: Bench, count: int, prefix: str) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["nodeId", "name", "product", "psk", "timeout"])
    product = str(bench.product.product_id)
    for serial in range(count):
        writer.writerow([imei(prefix, serial), f"meter {serial}", product, "", "0"])
    return buffer.getvalue().encode()


def plain_copy(bench: Bench, count: int, prefix: str) -> float:
    """COPY the rows a registration writes (the same columns and values, psks encrypted beforehand)."""
    from django.db import transaction
    from django.utils import timezone

    from devices import bulk, secrets
    from devices.models import Device

    product = bench.product
    default_columns, default_values = bulk._defaults(Device, bulk.DEVICE_COLUMNS)
    columns = [column for column in bulk.DEVICE_COLUMNS if column != "id"] + default_columns
    now = timezone.now()
    rows = [
        [str(uuid.uuid4()), bench.application.pk, imei(prefix, serial), imei(prefix, serial), f"meter {serial}",
         product.pk, product.manufacturer_id, product.manufacturer_name, product.device_type, product.model,
         product.protocol_type, secrets.encrypt(random.token_hex(16)), 0, None, now, now, *default_values]
        for serial in range(count)
    ]  # fmt: skip
    start = time.perf_counter()
    with transaction.atomic():
        bulk.copy_rows("devices_device", columns, rows)
    elapsed = time.perf_counter() - start
    execute("DELETE FROM devices_device WHERE application_id = %s", [bench.application.pk])
    return elapsed


def bulk_registration(bench: Bench, count: int, prefix: str, mode: str) -> dict[str, float]:
    from devices import bulk
    from devices.models import BulkRegistration, Device

    data = devices_csv(bench, count, prefix)
    start = time.perf_counter()
    rows = bulk.check_table(bench.application, bulk.read_table("devices.csv", data))
    checked = time.perf_counter()
    assert not any(row.problems for row in rows), [row.problems for row in rows if row.problems][:3]
    job = bulk.do_create_bulk_registration(bench.application, "devices.csv", data, mode=mode)
    stored = time.perf_counter()
    bulk.run_job(job.pk)
    done = time.perf_counter()
    job = BulkRegistration.objects.get(pk=job.pk)
    assert (job.state, job.registered_rows) == ("done", count), (job.state, job.registered_rows)
    assert Device.objects.filter(application=bench.application).count() == count
    pushes = execute(
        "SELECT count(*) FROM subscriptions_pushmessage WHERE application_id = %s AND notify_type = 'deviceAdded'",
        [bench.application.pk],
    )[0][0]
    logs = execute("SELECT count(*) FROM devices_devicelog WHERE application_id = %s", [bench.application.pk])[0][0]
    assert pushes == logs == count, (pushes, logs)
    # check_table runs again inside do_create_bulk_registration: count it once, in "stored".
    return {"check": checked - start, "store": stored - checked, "run": done - stored, "total": done - checked}


def bench_bulk(bench: Bench, count: int) -> list[str]:
    prefix = f"35{random.randbelow(10**6):06d}"
    log(f"bulk registration of {count:,} devices ...")
    copies = [plain_copy(bench, count, prefix)]
    results = {}
    for mode in ("skip-bad-rows", "all-or-nothing"):
        results[mode] = bulk_registration(bench, count, prefix, mode)
        log(f"  {mode}: {results[mode]}")
        bench.delete_devices()
    copies.append(plain_copy(bench, count, prefix))
    copy = statistics.mean(copies)
    lines = [
        f"{'':44}{'seconds':>9}{'devices/s':>11}{'x COPY time':>13}",
        f"{'plain COPY into devices_device (baseline)':44}{copy:9.2f}{count / copy:11,.0f}{1:13.1f}"
        f"   (runs: {', '.join(f'{c:.2f}' for c in copies)} s)",
    ]
    for mode, times in results.items():
        lines.append(
            f"{'bulk registration, ' + mode:44}{times['total']:9.2f}{count / times['total']:11,.0f}"
            f"{times['total'] / copy:13.1f}   (read, check and store the job {times['store']:.2f} s, of which "
            f"the check {times['check']:.2f} s; the job {times['run']:.2f} s)"
        )
    worst = min(count / times["total"] for times in results.values())
    lines.append(f"target >= {TARGET_RATE:,} devices/s: {'met' if worst >= TARGET_RATE else 'MISSED'} ({worst:,.0f})")
    return lines


# --- 2. History -----------------------------------------------------------------------------------


def generate_history(bench: Bench, rows: int, devices: int) -> tuple[Any, float]:
    """`rows` history rows of `devices` devices (one of them real), over 7 days of the year 2000."""
    from django.db import transaction

    from devices import actions, history

    device = actions.do_register_device(
        bench.application, node_id=f"H{uuid.uuid4().hex[:14]}", info={"name": "history bench"}
    ).device
    start = time.perf_counter()
    per_day = rows // len(HISTORY_DAYS)
    for index, day in enumerate(HISTORY_DAYS):
        with transaction.atomic():
            history.ensure_partition(day)
            first = index * per_day + 1
            last = rows if index == len(HISTORY_DAYS) - 1 else (index + 1) * per_day
            # Rows arrive in time order, the devices interleaved; fake devices have negative ids.
            execute(
                "INSERT INTO devices_datahistory (device_id, application_id, service_id, data, event_time, "
                "received_at) SELECT CASE WHEN g %% %s = 0 THEN %s ELSE -(g %% %s) END, %s, 'Meter', "
                "jsonb_build_object('currentReading', g %% 100000, 'batteryLevel', 80), t, t "
                "FROM generate_series(%s, %s) AS g, "
                "LATERAL (SELECT %s::timestamptz + make_interval(secs => (g - %s) * 86400.0 / %s) AS t) AS times",
                [devices, device.pk, devices, bench.application.pk, first, last,
                 dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC), first, max(1, last - first + 1)],
            )  # fmt: skip
        log(f"  history: {last:,} rows ({time.perf_counter() - start:.0f} s)")
    execute("VACUUM ANALYZE devices_datahistory")
    return device, time.perf_counter() - start


def bench_history(bench: Bench, rows: int, devices: int, repeat: int) -> list[str]:
    from django.db import connection

    from devices.models import DataHistory

    log(f"history: generating {rows:,} rows of {devices:,} devices ...")
    device, generated = generate_history(bench, rows, devices)
    api = bench.api()
    one_device = f"/iocm/app/dm/v1.4.0/devices/{device.device_id}"
    page_url = f"/iocm/app/data/v1.2.0/deviceDataHistory?deviceId={device.device_id}&pageNo=0&pageSize={HISTORY_PAGE}"
    body = api.get(page_url).json()
    assert len(body["deviceDataHistoryDTOs"]) == HISTORY_PAGE, body
    own = body["totalCount"]
    newest = DataHistory.objects.filter(device_id=device.pk).order_by("-event_time", "-id")

    def page() -> Any:  # a new queryset each time: an evaluated one would answer from its cache
        return newest.values("service_id", "data", "event_time")[:HISTORY_PAGE]

    def select_one() -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")

    select = median_seconds(select_one, repeat * 3)
    query = median_seconds(lambda: list(page()), repeat)
    count = median_seconds(lambda: newest.count(), repeat)
    baseline_api = median_seconds(lambda: api.get(one_device), repeat)
    call = median_seconds(lambda: api.get(page_url), repeat)
    lines = [
        f"{rows:,} history rows of {devices:,} devices in {len(HISTORY_DAYS)} day partitions, generated in "
        f"{generated:.0f} s; the device has {own:,} rows",
        f"{'':52}{'median ms':>10}{'x baseline':>12}{'SQL':>5}",
        f"{'SELECT 1 (baseline of the queries)':52}{select * 1000:10.2f}{1:12.1f}",
        f"{'newest page of 10, the ORM query':52}{query * 1000:10.2f}{query / select:12.1f}{1:5}",
        f"{'count of the device rows (the API returns it)':52}{count * 1000:10.2f}{count / select:12.1f}{1:5}",
        f"{'GET device (baseline of the API calls)':52}{baseline_api * 1000:10.2f}{1:12.1f}"
        f"{queries_of(lambda: api.get(one_device)):5}",
        f"{'GET deviceDataHistory pageNo=0 pageSize=10':52}{call * 1000:10.2f}{call / baseline_api:12.1f}"
        f"{queries_of(lambda: api.get(page_url)):5}",
        f"target page < {TARGET_HISTORY_MS} ms: {'met' if query * 1000 < TARGET_HISTORY_MS else 'MISSED'} "
        f"(query {query * 1000:.2f} ms, API call {call * 1000:.2f} ms)",
        "",
        "EXPLAIN ANALYZE of the page:",
        explain(*sql_of(page())),
    ]
    return lines


# --- 3. Device lists at a million devices -------------------------------------------------------


def generate_devices(application: Any, count: int, node_prefix: str, newest: dt.datetime) -> float:
    """`count` devices of one application with INSERT ... SELECT generate_series, one a second back in time."""
    from django.db import transaction

    from devices import bulk
    from devices.models import Device

    set_columns = ["device_id", "application_id", "node_id", "verify_code", "name", "created_at", "updated_at"]
    default_columns, default_values = bulk._defaults(Device, [*set_columns, "id"])
    start = time.perf_counter()
    with transaction.atomic():
        execute(
            f"INSERT INTO devices_device ({', '.join(set_columns + default_columns)}) "
            "SELECT gen_random_uuid()::text, %s, %s || lpad(g::text, 9, '0'), %s || lpad(g::text, 9, '0'), "
            "'meter ' || g, t, t "
            + "".join(", %s" for _ in default_values)
            + " FROM generate_series(1, %s) AS g, LATERAL (SELECT %s::timestamptz - g * interval '1 second' AS t) AS s",
            [application.pk, node_prefix, node_prefix, *default_values, count, newest],
        )
    execute("VACUUM ANALYZE devices_device")
    return time.perf_counter() - start


def bench_lists(bench: Bench, count: int, repeat: int) -> list[str]:
    from django.test import Client

    from applications.models import Application, Role
    from devices import views
    from devices.models import Device

    log(f"device lists: generating {count:,} devices ...")
    now = dt.datetime.now(dt.UTC)
    small = generate_devices(bench.small, 100, "S", now - dt.timedelta(seconds=count + 10))
    big = generate_devices(bench.application, count, "L", now)
    log(f"  generated in {small + big:.0f} s")
    owner, small_owner, operator = (
        bench.user(Role.OWNER, bench.application),
        bench.user(Role.OWNER, bench.small),
        bench.user(None),
    )
    api = bench.api()
    one = Device.objects.filter(application=bench.application).order_by("-created_at", "-id").first()
    one_device = f"/iocm/app/dm/v1.4.0/devices/{one.device_id}"
    baseline_api = median_seconds(lambda: api.get(one_device), repeat)
    lines = [
        f"{count:,} devices in one application, 100 older ones in another; generated in {small + big:.0f} s",
        f"{'':58}{'median ms':>10}{'x baseline':>12}{'SQL':>5}",
        f"{'GET device (baseline)':58}{baseline_api * 1000:10.2f}{1:12.1f}{queries_of(lambda: api.get(one_device)):5}",
    ]
    list_url = "/iocm/app/dm/v1.4.0/devices?pageNo=0&pageSize=10"
    body = api.get(list_url).json()
    assert body["totalCount"] == count and len(body["devices"]) == 10, {k: body[k] for k in ("totalCount", "pageNo")}
    call = median_seconds(lambda: api.get(list_url), repeat)
    lines.append(
        f"{'GET devices pageNo=0 pageSize=10 (with totalCount)':58}{call * 1000:10.2f}{call / baseline_api:12.1f}"
        f"{queries_of(lambda: api.get(list_url)):5}"
    )
    plans = []
    for who, user, expected in (
        ("its owner", owner, "L"),
        ("the small application's owner", small_owner, "S"),
        ("an operator (all applications)", operator, "L"),
    ):
        portal = Client()
        portal.force_login(user)
        shown = NODE_CELL.findall(portal.get("/devices/").content.decode())
        assert len(shown) == 50 and all(node_id.startswith(expected) for node_id in shown), shown[:3]
        seconds = median_seconds(lambda portal=portal: portal.get("/devices/"), repeat)
        lines.append(
            f"{'portal /devices/ first page of 50, as ' + who:58}{seconds * 1000:10.2f}"
            f"{seconds / baseline_api:12.1f}{queries_of(lambda portal=portal: portal.get('/devices/')):5}"
        )
        applications = list(Application.objects.visible_to(user))
        queryset = views.listed_devices(user, applications).order_by("-created_at", "-id")[:51]
        plans.append(f"-- portal list as {who}:\n{explain(*sql_of(queryset))}")
    api_page = Device.objects.for_app(bench.application).select_related("gateway").order_by("-created_at", "-id")[:10]
    plans.append(f"-- API page:\n{explain(*sql_of(api_page))}")
    count_sql = "SELECT COUNT(*) FROM devices_device WHERE application_id = %s"
    plans.append(f"-- API totalCount:\n{explain(count_sql, [bench.application.pk])}")
    return [*lines, "", "EXPLAIN ANALYZE:", *plans]


# --- The run --------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=100_000, help="devices to bulk-register")
    parser.add_argument("--history-rows", type=int, default=10_000_000, help="history rows in the table")
    parser.add_argument("--history-devices", type=int, default=1000, help="devices the history rows belong to")
    parser.add_argument("--list-devices", type=int, default=1_000_000, help="devices of the listed application")
    parser.add_argument("--repeat", type=int, default=30, help="timed runs per latency figure (medians)")
    parser.add_argument("--only", choices=["bulk", "history", "lists"], action="append", help="run only these parts")
    args = parser.parse_args(argv)
    if not os.environ.get("DATABASE_URL") or not os.environ.get("REDIS_URL"):
        log("DATABASE_URL and REDIS_URL must be set (see the docstring)")
        return 2
    database_url = bench_database_url(os.environ["DATABASE_URL"])
    redis_prefix = f"bench:{uuid.uuid4().hex[:8]}:"
    os.environ["BULK_REGISTRATION_MAX_ROWS"] = str(max(args.devices, 100_000))
    os.environ["BULK_REGISTRATION_MAX_BYTES"] = str(64 * 1024 * 1024)
    created = setup_django(database_url, redis_prefix)
    from django.conf import settings

    parts = args.only or ["bulk", "history", "lists"]
    print(f"database {urlsplit(database_url).path.lstrip('/')}: {'created' if created else 'reused'}, migrated")
    version = execute("SHOW server_version")[0][0]
    print(f"python {sys.version.split()[0]}, PostgreSQL {version}, {os.cpu_count()} CPUs, "
          f"batches of {settings.BULK_REGISTRATION_CHUNK}")  # fmt: skip
    bench = Bench()
    try:
        if "bulk" in parts:
            print("\n## Bulk registration\n" + "\n".join(bench_bulk(bench, args.devices)), flush=True)
            bench.delete_devices()
        if "history" in parts:
            print(
                "\n## History\n"
                + "\n".join(bench_history(bench, args.history_rows, args.history_devices, args.repeat)),
                flush=True,
            )
        if "lists" in parts:
            bench.delete_devices()
            print("\n## Device lists\n" + "\n".join(bench_lists(bench, args.list_devices, args.repeat)), flush=True)
    finally:
        log("cleaning up ...")
        bench.delete()
    return 0


if __name__ == "__main__":
    sys.exit(main())
