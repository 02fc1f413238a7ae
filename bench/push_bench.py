"""Push delivery throughput: outbox to a local receiver, next to a bare HTTP client in the same run.

What it measures, all on 127.0.0.1 against one receiver process (a minimal asyncio HTTP/1.1 server
that answers 200 with keep-alive, so it is not the bottleneck):

1. bare client: aiohttp POSTing the same bodies with the same concurrency (PUSH_CONCURRENCY) and
   keep-alive, nothing else: the ceiling for Python on this machine;
2. delivery: `subscriptions.delivery.deliver_target()` draining an outbox of N pushes to that
   receiver, as one worker thread does: claim with a lease, POST, record attempts and states;
3. delivery beside a dead endpoint: the same, while another thread delivers to a host that accepts
   connections and never answers (what a hung application server looks like);
4. notify(): outbox rows written per second by the call every app makes (one per transaction).

Each delivery figure is printed with its ratio to the bare client of the same run.

Run it:

    make bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_push REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/push_bench.py [--pushes 6000]

The database named in DATABASE_URL is created when missing and migrated (a maintenance database
such as `postgres` is replaced by `bench_push` on the same server); the bench's applications are
deleted at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

BASE_DIR = Path(__file__).resolve().parent.parent
if str(BASE_DIR) not in sys.path:
    sys.path.insert(0, str(BASE_DIR))

MAINTENANCE_DBS = {"", "postgres", "template0", "template1", "root", "test"}


# --- the receiver ---------------------------------------------------------------------------------


async def _serve(port: int) -> None:
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                if length:
                    await reader.readexactly(length)
                writer.write(ok)
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


def start_receiver() -> tuple[subprocess.Popen, int]:
    port = _free_port()
    process = subprocess.Popen([sys.executable, __file__, "--serve", str(port)])
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process, port
        except OSError:
            if time.monotonic() > deadline:
                process.kill()
                raise RuntimeError("the receiver did not start") from None
            time.sleep(0.05)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- the bare client ------------------------------------------------------------------------------


async def _bare_client(url: str, bodies: list[bytes], concurrency: int) -> float:
    import aiohttp

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        gate = asyncio.Semaphore(concurrency)

        async def one(body: bytes) -> None:
            async with gate, session.post(url, data=body, headers={"Content-Type": "application/json"}) as response:
                await response.read()
                assert response.status == 200

        await asyncio.gather(*(one(body) for body in bodies[:concurrency]))  # warm the connections
        started = time.perf_counter()
        await asyncio.gather(*(one(body) for body in bodies))
        return len(bodies) / (time.perf_counter() - started)


# --- the platform side ----------------------------------------------------------------------------


def setup_django(database_url: str) -> None:
    import psycopg
    from psycopg import sql

    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    if name in MAINTENANCE_DBS:
        name = "bench_push"
        database_url = urlunsplit(parts._replace(path=f"/{name}"))
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as connection:
        if not connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    os.environ.update(
        DATABASE_URL=database_url, PUSH_ALLOW_PRIVATE="true", REDIS_KEY_PREFIX=f"bench-push-{uuid.uuid4().hex[:6]}:"
    )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", interactive=False, verbosity=0)


def fill_outbox(application, url: str, count: int) -> int:
    """Write `count` pushes for one application in bulk; return their target's id."""
    from django.utils import timezone

    from subscriptions import payloads
    from subscriptions.callbacks import parse_callback_url
    from subscriptions.models import PushMessage, PushTarget

    callback = parse_callback_url(url)
    target, _ = PushTarget.objects.get_or_create(application=application, host=callback.host, port=callback.port)
    now = timezone.now()
    PushMessage.objects.bulk_create(
        (
            PushMessage(
                application=application,
                target=target,
                notify_type="deviceDataChanged",
                url=url,
                body=payloads.encode(_body(number)),
                next_attempt_at=now,
                created_at=now,
            )
            for number in range(count)
        ),
        batch_size=2000,
    )
    return target.pk


def _body(number: int) -> dict:
    from subscriptions import payloads

    return payloads.device_data_changed(
        "d5d4b2a8-0000-4000-8000-000000000000",
        "d5d4b2a8-0000-4000-8000-000000000000",
        payloads.service(
            "WaterMeter", "WaterMeter", {"currentReading": number, "signalStrength": -83}, "20260101T000000Z"
        ),
    )


def drain(target_id: int) -> tuple[int, float]:
    from subscriptions.delivery import deliver_target

    started = time.perf_counter()
    delivered = deliver_target(target_id, budget_seconds=600)
    return delivered, time.perf_counter() - started


def notify_rate(application, url: str, count: int) -> float:
    from django.db import transaction

    from subscriptions import actions
    from subscriptions.models import Subscription

    Subscription.objects.get_or_create(
        application=application, notify_type="deviceDataChanged", defaults={"callback_url": url}
    )
    actions.wake = lambda target_id: None  # measure the write, not the wake-up
    started = time.perf_counter()
    for number in range(count):
        with transaction.atomic():
            actions.notify(application, "deviceDataChanged", _body(number))
    return count / (time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pushes", type=int, default=6000)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(_serve(args.serve))
        return 0

    setup_django(os.environ.get("DATABASE_URL", ""))
    from django.conf import settings

    from applications.actions import do_create_application
    from applications.models import Application

    receiver, port = start_receiver()
    blackhole = socket.socket()
    blackhole.bind(("127.0.0.1", 0))
    blackhole.listen(1024)
    url = f"http://127.0.0.1:{port}/push"
    dead_url = f"http://127.0.0.1:{blackhole.getsockname()[1]}/push"
    applications = []
    try:
        healthy, _ = do_create_application(f"bench push {uuid.uuid4().hex[:6]}")
        dead, _ = do_create_application(f"bench dead {uuid.uuid4().hex[:6]}")
        applications += [healthy.pk, dead.pk]
        bodies = [_encode(number) for number in range(args.pushes)]

        bare = asyncio.run(_bare_client(url, bodies, settings.PUSH_CONCURRENCY))

        drain(fill_outbox(healthy, url, settings.PUSH_CONCURRENCY))  # warm the sender's connections
        alone_count, alone_seconds = drain(fill_outbox(healthy, url, args.pushes))
        alone = alone_count / alone_seconds

        dead_target = fill_outbox(dead, dead_url, settings.PUSH_CONCURRENCY * 4)
        dead_thread = threading.Thread(target=_drain_closing, args=(dead_target,), daemon=True)
        dead_thread.start()
        time.sleep(0.5)  # the dead host's requests are in flight, waiting on their read timeout
        beside_count, beside_seconds = drain(fill_outbox(healthy, url, args.pushes))
        beside = beside_count / beside_seconds

        notified = notify_rate(healthy, url, 1000)
    finally:
        blackhole.close()
        receiver.terminate()
        Application.objects.filter(pk__in=applications).delete()

    print(f"push delivery, {args.pushes} pushes of {len(bodies[0])} bytes, concurrency {settings.PUSH_CONCURRENCY}, "
          f"batch {settings.PUSH_BATCH_SIZE}")  # fmt: skip
    print(f"{'scenario':<48} {'pushes/s':>10} {'vs bare':>8}")
    rows = [
        ("bare aiohttp client, same POSTs (baseline)", bare),
        ("outbox -> receiver (deliver_target, 1 thread)", alone),
        ("same, beside a dead endpoint", beside),
    ]
    for name, rate in rows:
        print(f"{name:<48} {rate:>10,.0f} {rate / bare:>8.2f}")
    print(f"{'dead endpoint cost to the healthy one':<48} {1 - beside / alone:>10.1%}")
    print(f"{'notify(): outbox rows written/s (1 per txn)':<48} {notified:>10,.0f}")
    if alone_count != args.pushes or beside_count != args.pushes:
        print(f"ERROR: delivered {alone_count} and {beside_count} of {args.pushes}", file=sys.stderr)
        return 1
    return 0


def _encode(number: int) -> bytes:
    from subscriptions import payloads

    return payloads.encode(_body(number))


def _drain_closing(target_id: int) -> None:
    from django.db import connection

    try:
        drain(target_id)
    finally:
        connection.close()


if __name__ == "__main__":
    sys.exit(main())
