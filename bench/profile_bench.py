"""Profiles: validating and importing a large profile, and listing 10,000 products, next to json.loads.

What it measures, in one process, each as the median of several runs:

1. the baseline: `json.loads` of the profile's JSON files alone (a device file and 50 service files
   of 20 properties and 2 commands each, about 0.4 MB of JSON), what any reader of the zip must do;
2. `validate_archive`: reading that profile's zip in memory within the limits, parsing, every rule,
   normalising: what the portal, the API and `import_profile` all run first;
3. `do_import_profile`: the same plus the uniqueness check and the insert, in one transaction;
4. with 10,000 products in one application: a page of `GET /api/v1/profiles` (100 products, through
   DRF, the token check and flow control in Redis), a page of the portal's product list (50 rows,
   rendered), and a portal search over all 10,000; each also next to `json.loads` of its own
   response body where it has one, and with the number of SQL queries, which must not grow.

Every figure is printed with its ratio to the baseline of the same run, since absolute times move
with the machine.

Run it:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_products REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/profile_bench.py [--products 10000] [--repeat 15]

The database named in DATABASE_URL is created when missing and migrated (a maintenance database
such as `postgres` is never written to: `bench_products` on the same server is used instead). The
bench's application, its products and its Redis keys are deleted at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import sys
import time
import uuid
import warnings
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

BASE_DIR = Path(__file__).resolve().parent.parent
if str(BASE_DIR) not in sys.path:
    sys.path.insert(0, str(BASE_DIR))  # `python bench/profile_bench.py` puts bench/ first, not the project

MAINTENANCE_DBS = {"postgres", "template0", "template1"}
FALLBACK_DB = "bench_products"
SERVICES = 50
PROPERTIES = 20
COMMANDS = 2


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


# --- The profile ----------------------------------------------------------------------------------


def big_profile_files(model: str = "big1") -> dict[str, str]:
    """{path in the zip: JSON text}: 50 services of 20 properties and 2 commands, pretty-printed."""
    capabilities = [
        {"serviceId": f"Service{number:02d}", "serviceType": f"Service{number:02d}", "option": "Optional"}
        for number in range(SERVICES)
    ]
    device = {
        "devices": [
            {
                "manufacturerId": "Bench",
                "manufacturerName": "Bench Ltd",
                "model": model,
                "protocolType": "LWM2M",
                "deviceType": "BigMeter",
                "serviceTypeCapabilities": capabilities,
            }
        ]
    }
    files = {"profile/devicetype-capability.json": json.dumps(device, indent=4)}
    for capability in capabilities:
        properties = [
            {
                "propertyName": f"reading{number:02d}",
                "dataType": ("int", "decimal", "string", "double")[number % 4],
                "required": number % 2 == 0,
                "min": 0,
                "max": 100000,
                "step": 1,
                "maxLength": 64,
                "method": "RE",
                "unit": "L",
                "enumList": None,
            }
            for number in range(PROPERTIES)
        ]
        commands = [
            {
                "commandName": f"SET_PARAMETER_{number}",
                "paras": [{"paraName": "value", "dataType": "int", "required": True, "min": 0, "max": 3600}],
                "responses": [{"responseName": f"SET_PARAMETER_{number}_RSP", "paras": None}],
            }
            for number in range(COMMANDS)
        ]
        service = {
            "services": [
                {
                    "serviceType": capability["serviceType"],
                    "description": capability["serviceType"],
                    "commands": commands,
                    "properties": properties,
                }
            ]
        }
        path = f"service/{capability['serviceType']}/profile/servicetype-capability.json"
        files[path] = json.dumps(service, indent=4)
    return files


def zip_of(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


# --- Timing ---------------------------------------------------------------------------------------


def median_seconds(function: Callable[[], object], repeat: int, warmup: int = 2) -> float:
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


# --- The run --------------------------------------------------------------------------------------


@contextlib.contextmanager
def bench_application(redis_prefix: str) -> Iterator[Any]:
    from applications.actions import do_create_application
    from applications.models import Application
    from applications.redis import get_redis

    application, secret = do_create_application(f"profile bench {uuid.uuid4().hex[:8]}", api_rate_limit=10_000_000)
    application.bench_secret = secret
    try:
        yield application
    finally:
        Application.objects.filter(pk=application.pk).delete()
        redis = get_redis()
        for name in redis.scan_iter(match=f"{redis_prefix}*", count=1000):
            redis.delete(name)


def create_products(application: Any, count: int) -> None:
    """`count` small products in one application, written in batches (as an import would leave them)."""
    from products import actions, documents
    from products.models import Origin, Product
    from products.validation import validate_archive

    template = big_profile_files()
    small = {
        "profile/devicetype-capability.json": template["profile/devicetype-capability.json"],
        "service/Service00/profile/servicetype-capability.json": template[
            "service/Service00/profile/servicetype-capability.json"
        ],
    }
    device = json.loads(small["profile/devicetype-capability.json"])
    device["devices"][0]["serviceTypeCapabilities"] = device["devices"][0]["serviceTypeCapabilities"][:1]
    small["profile/devicetype-capability.json"] = json.dumps(device)
    profile = validate_archive(None, zip_of(small)).profile
    archive = documents.build_archive(profile)
    batch = []
    for number in range(count):
        model = f"m{number:05d}"
        this = {**profile, "device": {**profile["device"], "model": model, "deviceType": f"Meter{number % 97}"}}
        fields = actions._fields(this)  # the columns an import fills, from the profile
        batch.append(Product(application=application, profile=this, archive=archive, origin=Origin.UPLOAD, **fields))
        if len(batch) == 1000:
            Product.objects.bulk_create(batch)
            batch = []
    if batch:
        Product.objects.bulk_create(batch)


def run(products: int, repeat: int) -> list[tuple[str, float, float | None, int | None, str]]:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    from applications.actions import do_login
    from products import actions
    from products.models import Product
    from products.validation import validate_archive

    rows: list[tuple[str, float, float | None, int | None, str]] = []
    files = big_profile_files()
    data = zip_of(files)
    texts = list(files.values())
    json_bytes = sum(len(text.encode()) for text in texts)

    baseline = median_seconds(lambda: [json.loads(text) for text in texts], repeat * 10)
    rows.append(("json.loads of the profile's 51 files (baseline)", baseline, None, None, f"{json_bytes:,} B JSON"))

    validate = median_seconds(lambda: validate_archive("BigMeter_Bench_big1.zip", data), repeat)
    rows.append(("validate_archive: 50 services x 20 properties", validate, None, None, f"{len(data):,} B zip"))

    redis_prefix = os.environ["REDIS_KEY_PREFIX"]
    with bench_application(redis_prefix) as application:
        names = iter(range(10**6))

        def import_once() -> None:
            model = f"big{next(names)}"
            zipped = zip_of(big_profile_files(model))
            start = time.perf_counter()
            product = actions.do_import_profile(application, f"BigMeter_Bench_{model}.zip", zipped)
            import_times.append(time.perf_counter() - start)
            Product.objects.filter(pk=product.pk).delete()

        import_times: list[float] = []
        for _ in range(repeat + 2):
            import_once()
        imported = statistics.median(import_times[2:])
        rows.append(("do_import_profile: validate, check F-2.7, insert", imported, None, None, "one transaction"))

        started = time.perf_counter()
        create_products(application, products)
        with connection.cursor() as cursor:  # as autovacuum would leave the table after a while
            cursor.execute("VACUUM ANALYZE products_product")
        print(f"created {products:,} products in {time.perf_counter() - started:.1f} s", file=sys.stderr)

        pair = do_login(application.app_id, application.bench_secret)
        api = Client(headers={"app_key": application.app_id, "Authorization": f"Bearer {pair.access_token}"})
        for page_no, where in ((0, "first"), (products // 200, "middle")):
            api_url = f"/api/v1/profiles?pageSize=100&pageNo={page_no}"
            body = api.get(api_url).content
            assert len(json.loads(body)["profiles"]) == 100, body[:200]
            rows.append(
                (
                    f"GET /api/v1/profiles, {where} page of 100 of {products:,}",
                    median_seconds(lambda url=api_url: api.get(url), repeat),
                    median_seconds(lambda body=body: json.loads(body), repeat * 10),
                    queries_of(lambda url=api_url: api.get(url)),
                    f"{len(body):,} B body",
                )
            )

        user = get_user_model().objects.create_user(f"bench-{uuid.uuid4().hex[:8]}", is_staff=True)
        try:
            portal = Client()
            portal.force_login(user)
            for page, where in ((1, "first"), (products // 100, "middle")):
                portal_url = f"/products/?page={page}"
                assert portal.get(portal_url).status_code == 200
                rows.append(
                    (
                        f"portal list, {where} page of 50 of {products:,}",
                        median_seconds(lambda url=portal_url: portal.get(url), repeat),
                        None,
                        queries_of(lambda url=portal_url: portal.get(url)),
                        "HTML rendered",
                    )
                )
            last = f"m{products - 1:05d}"
            search_url = f"/products/?q={last[:-1]}"  # ten models or fewer match
            assert last in portal.get(search_url).content.decode()
            rows.append(
                (
                    f"portal search over {products:,}",
                    median_seconds(lambda: portal.get(search_url), repeat),
                    None,
                    queries_of(lambda: portal.get(search_url)),
                    "substring of search_text",
                )
            )
        finally:
            user.delete()
    return rows


def report(rows: list[tuple[str, float, float | None, int | None, str]]) -> str:
    baseline = rows[0][1]
    header = ("operation", "median", "x json.loads", "x own body", "SQL", "note")
    lines = [header]
    for name, seconds, own, queries, note in rows:
        lines.append(
            (
                name,
                f"{seconds * 1000:.2f} ms",
                f"{seconds / baseline:.1f}",
                f"{seconds / own:.0f}" if own else "",
                str(queries) if queries is not None else "",
                note,
            )
        )
    widths = [max(len(row[column]) for row in lines) for column in range(len(header))]
    text = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in lines]
    text.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--products", type=int, default=10_000, help="products in the listed application")
    parser.add_argument("--repeat", type=int, default=15, help="timed runs per figure (medians are printed)")
    args = parser.parse_args(argv)
    if not os.environ.get("DATABASE_URL") or not os.environ.get("REDIS_URL"):
        print("DATABASE_URL and REDIS_URL must be set (see the docstring)", file=sys.stderr)
        return 2
    database_url = bench_database_url(os.environ["DATABASE_URL"])
    redis_prefix = f"bench:{uuid.uuid4().hex[:8]}:"
    created = setup_django(database_url, redis_prefix)
    print(f"database {urlsplit(database_url).path.lstrip('/')}: {'created' if created else 'reused'}, migrated")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    print(report(run(args.products, args.repeat)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
