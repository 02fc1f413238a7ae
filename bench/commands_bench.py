"""Commands: creations per second through the API, and how soon a PSM device gets its cached command.

What it measures, in one run on 127.0.0.1:

1. creations: `POST /iocm/app/cmd/v1.4.0/deviceCommands` (authentication, flow control, profile
   checks, the 20-pending count, the ledger row, the device log) through Django's test client, next to
   the same number of authenticated `GET /iocm/app/am/v1.1.0/applications/{appId}` calls (the bare cost
   of an authenticated call) in the same process;
   and, with wrk installed, the same two calls through the real server on a socket (`run_web --workers
   1`, then `--workers 2`, wrk with 8 connections cycling over 400 online devices), each creation
   checked stored, with the CPU each creation cost the web processes and PostgreSQL's backends;
   the creations run in rounds with and without their audit row (ABBA; `--audit-rounds` each), then
   the action alone, with and without alternating at every call (medians of single calls), so the
   row's cost is measured in the same run;
2. PSM delivery: simulated LwM2M devices, each with one cached command, send an uplink through a real
   ingress worker (codec engine, pipeline, commands hook, downlink over the channel layer); for each it
   prints the time to the uplink's ACK and the time to the command's arrival on the device, p50/p95,
   and the command's lag behind the ACK.

    make bench BENCH=commands
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_commands REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/commands_bench.py [--creations 900 --devices 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

BASE_DIR = Path(__file__).resolve().parent.parent
if str(BASE_DIR) not in sys.path:
    sys.path.insert(0, str(BASE_DIR))

MAINTENANCE_DBS = {"", "postgres", "template0", "template1", "root", "test"}


def setup_django(database_url: str) -> None:
    import psycopg
    from psycopg import sql

    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    if name in MAINTENANCE_DBS:
        name = "bench_commands"
        database_url = urlunsplit(parts._replace(path=f"/{name}"))
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as connection:
        if not connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    os.environ.update(
        DATABASE_URL=database_url,
        PUSH_ALLOW_PRIVATE="true",
        REDIS_KEY_PREFIX=f"bench-cmd-{uuid.uuid4().hex[:6]}:",
        DJANGO_ALLOW_ASYNC_UNSAFE="true",
        INGRESS_CODEC_MODULE="products.codecs",
    )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", interactive=False, verbosity=0)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--creations", type=int, default=900)
    parser.add_argument("--devices", type=int, default=20)
    parser.add_argument("--server-seconds", type=int, default=5, help="wrk's duration per scenario; 0 skips")
    parser.add_argument("--server-devices", type=int, default=400, help="devices the server scenario cycles over")
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--action-rounds", type=int, default=25, help="rounds of the action alone, a call per device")
    parser.add_argument(
        "--audit-rounds", type=int, default=2, help="creation rounds with the audit row, and as many without"
    )
    args = parser.parse_args()
    setup_django(os.environ.get("DATABASE_URL", ""))

    from django.test import Client

    from applications.models import Application
    from devices.actions import do_bind_device, do_register_device
    from tests.applications.fixtures import create_app
    from tests.products.codecs.fixtures import deploy, meter

    credentials = create_app(f"bench commands {uuid.uuid4().hex[:6]}", api_rate_limit=10_000_000)
    application = credentials.application
    try:
        product = meter(credentials, model=f"b{uuid.uuid4().hex[:8]}")
        deploy(product)
        info = {"manufacturerId": "Acme", "deviceType": "WaterMeter", "model": product.model}
        per_device = 15
        fleet = max(args.devices, -(-args.creations // per_device))
        devices = []
        for _ in range(fleet):
            node = f"99{uuid.uuid4().int % 10**13:013d}"
            device = do_register_device(application, node_id=node, timeout=0, info=info).device
            devices.append(do_bind_device(device))
        client, headers = Client(), credentials.headers()
        command = {"serviceId": "Meter", "method": "SET_PERIOD", "paras": {"period": 60}}

        def create(device) -> None:
            body = json.dumps({"deviceId": device.device_id, "command": command})
            response = client.post(
                "/iocm/app/cmd/v1.4.0/deviceCommands", body, content_type="application/json", headers=headers
            )
            assert response.status_code == 201, response.content

        from applications.models import AuditEvent
        from commands import actions as command_actions
        from commands.models import Command

        vacuum()
        create(devices[0])  # warm up
        # With and without the creation's audit row (commands_create writes it in the same statement),
        # alternately (ABBA...) in this run; the commands are cancelled and vacuumed between rounds.
        audited: dict[bool, list[float]] = {True: [], False: []}
        for round_index in range(2 * args.audit_rounds):
            with_audit = round_index % 4 in (0, 3)
            command_actions.AUDIT_CREATION = "command.created" if with_audit else None
            events_before = AuditEvent.objects.filter(application=application, action="command.created").count()
            started = time.perf_counter()
            for index in range(args.creations):
                create(devices[index % len(devices)])
            audited[with_audit].append(args.creations / (time.perf_counter() - started))
            written = AuditEvent.objects.filter(application=application, action="command.created").count()
            assert written - events_before == (args.creations if with_audit else 0)
            Command.objects.filter(application=application).update(status="CANCELED")
            vacuum()
        # The same, the action alone (checks and the one statement, no HTTP), alternating with and
        # without at every call and timing each: the medians of single calls shrug off the load's
        # spikes, which swamp whole rounds on a shared machine.
        targets = [command_actions.device_for_command(application, device.device_id) for device in devices]
        per_action: dict[bool, list[float]] = {True: [], False: []}
        for round_index in range(args.action_rounds):
            for index, target in enumerate(targets):
                with_audit = (index + round_index) % 2 == 0
                command_actions.AUDIT_CREATION = "command.created" if with_audit else None
                started = time.perf_counter()
                command_actions.do_create_command(application, target, command)
                per_action[with_audit].append((time.perf_counter() - started) * 1e6)
            Command.objects.filter(application=application).update(status="CANCELED")
        vacuum()
        command_actions.AUDIT_CREATION = "command.created"
        creations = statistics.median(audited[True])
        url = f"/iocm/app/am/v1.1.0/applications/{application.app_id}"
        started = time.perf_counter()
        for _ in range(args.creations):
            assert client.get(url, headers=headers).status_code == 200
        baseline = args.creations / (time.perf_counter() - started)

        served = []
        if args.server_seconds and shutil.which("wrk"):
            more = [
                do_bind_device(
                    do_register_device(
                        application, node_id=f"98{uuid.uuid4().int % 10**13:013d}", timeout=0, info=info
                    ).device
                )
                for _ in range(args.server_devices)
            ]
            for workers in sorted({1, args.web_workers}):
                served.append((workers, through_server(credentials, more, command, workers, args)))
                Command.objects.filter(application=application).update(status="CANCELED")
                vacuum()
        ack, wire = asyncio.run(psm_delivery(devices[: args.devices], command, application))
    finally:
        from devices.models import Device

        Device.objects.filter(application=application).delete()  # products are protected while devices use them
        Application.objects.filter(pk=application.pk).delete()

    lag = [w - a for a, w in zip(ack, wire, strict=True)]
    print(f"commands, {args.creations} creations over {fleet} online devices; PSM delivery to {len(ack)} devices")
    print(f"{'scenario':<58} {'figure':>12} {'vs baseline':>12}")
    print(f"{'authenticated GET application (baseline), calls/s':<58} {baseline:>12,.0f} {1:>12.2f}")
    print(f"{'command creations through the API, /s':<58} {creations:>12,.0f} {creations / baseline:>12.2f}")
    without = statistics.median(audited[False])
    rounds = ", ".join(f"{rate:,.0f}" for rate in audited[True])
    label = f"  with the audit row (median of {args.audit_rounds})"
    print(f"{label:<58} {creations:>12,.0f}   rounds: {rounds}")
    rounds = ", ".join(f"{rate:,.0f}" for rate in audited[False])
    print(f"{'  without the audit row':<58} {without:>12,.0f}   rounds: {rounds}")
    print(f"{'  with / without':<58} {creations / without:>12.3f}")
    action_with, action_without = statistics.median(per_action[True]), statistics.median(per_action[False])
    print(f"{'do_create_command alone, us a creation, with the audit row':<58} {action_with:>12,.0f}")
    print(f"{'  without the audit row (medians of single calls)':<58} {action_without:>12,.0f}")
    print(f"{'  with / without':<58} {action_with / action_without:>12.3f}")
    for workers, (get_rate, create_rate, cpu) in served:
        label = f"run_web --workers {workers}, wrk -c{args.connections}"
        print(f"{label + ': authenticated GET, calls/s':<58} {get_rate:>12,.0f} {1:>12.2f}")
        print(f"{label + ': creations/s':<58} {create_rate:>12,.0f} {create_rate / get_rate:>12.2f}")
        spent = ", ".join(f"{name} {ms:.2f}" for name, ms in cpu.items())
        print(f"{'  CPU ms per creation':<58} {spent}")
    for name, values in (("uplink ACK", ack), ("cached command on the device", wire), ("command after the ACK", lag)):
        p50, p95 = percentile(values, 0.5) * 1000, percentile(values, 0.95) * 1000
        print(f"{name + ', ms p50 / p95':<58} {p50:>6.1f} / {p95:<5.1f}")
    print(f"{'mean command lag':<58} {statistics.mean(lag) * 1000:>10.1f}ms")
    return 0


def vacuum() -> None:
    """Clear the dead rows the bench itself leaves (cancelled commands; earlier runs' deleted
    applications), so a figure does not depend on how many runs came before it: a machine whose
    PostgreSQL runs without autovacuum (ours: autovacuum off) would otherwise slow down run after run."""
    from django.db import connection

    with connection.cursor() as cursor:
        for table in ("commands_command", "commands_commandevent", "devices_devicelog", "devices_device"):
            cursor.execute(f"VACUUM ANALYZE {table}")


CREATE_SCRIPT = """
local ids = {%s}
local threads = 0
function setup(thread)  -- each wrk thread starts at its own place in the list: no two threads
  thread:set("first", threads)  -- take turns at the same devices' row locks
  threads = threads + 1
end
function init(args)
  n = first * 97
end
wrk.headers["Content-Type"] = "application/json"  -- with the -H headers (app_key, Authorization)
request = function()
  n = n + 1
  local body = '{"deviceId":"' .. ids[(n %% #ids) + 1] .. '","command":%s}'
  return wrk.format("POST", "/iocm/app/cmd/v1.4.0/deviceCommands", nil, body)
end
"""


def through_server(credentials, devices, command, workers: int, args) -> tuple[float, float]:
    """Authenticated GETs, then creations, through `run_web --workers N` on a real socket with wrk;
    requests per second of each. Any answer other than 2xx fails the bench."""
    import tempfile

    from bench.auth_bench import run_wrk, wait_until_serving
    from commands.models import Command
    from portal.ports import free_port

    port = free_port()
    env = {**os.environ, "HTTP_PORT": str(port), "BIND_ADDRESS": "127.0.0.1"}
    web = subprocess.Popen(
        [sys.executable, "manage.py", "run_web", "--workers", str(workers), "--log-level", "warning"],
        cwd=BASE_DIR,
        env=env,
    )
    wrk, headers = shutil.which("wrk"), credentials.headers()
    try:
        wait_until_serving(web, port)
        time.sleep(1)  # every worker listening
        base = f"http://127.0.0.1:{port}"
        got = run_wrk(wrk, f"{base}/iocm/app/am/v1.1.0/applications/{credentials.app_id}", headers,
                      args.connections, args.server_seconds)  # fmt: skip
        before = Command.objects.filter(application=credentials.application).count()
        ids = ", ".join(f'"{device.device_id}"' for device in devices)
        with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
            script.write(CREATE_SCRIPT % (ids, json.dumps(command).replace("'", "\\'")))
            script.flush()
            cpu_before = cpu_ticks(web)
            made = run_wrk_script(wrk, base + "/", headers, args.connections, args.server_seconds, script.name)
            cpu_after = cpu_ticks(web)
        created = Command.objects.filter(application=credentials.application).count() - before
    finally:
        web.send_signal(signal.SIGTERM)
        web.wait(timeout=30)
    if got.non_2xx or made.non_2xx or got.socket_errors or made.socket_errors:
        raise SystemExit(f"answers other than 2xx: GET {got}, creations {made}")
    if created < made.requests:
        raise SystemExit(f"{made.requests} creations answered but {created} stored")
    per_creation = {
        name: (cpu_after[name] - cpu_before[name]) * 1000 / os.sysconf("SC_CLK_TCK") / made.requests
        for name in cpu_after
    }
    return got.rps, made.rps, per_creation


def cpu_ticks(web: subprocess.Popen) -> dict[str, int]:
    """CPU ticks (user + system) so far of the web processes and of PostgreSQL's backends serving this
    database (when it runs on this machine: /proc shows them)."""
    from django.db import connection

    children = subprocess.run(["pgrep", "-P", str(web.pid)], capture_output=True, text=True).stdout.split()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        backends = [str(row[0]) for row in cursor.fetchall()]
    return {"web": _ticks([str(web.pid), *children]), "PostgreSQL": _ticks(backends)}


def _ticks(pids: list[str]) -> int:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total


def run_wrk_script(wrk: str, url: str, headers: dict[str, str], connections: int, seconds: int, script: str):
    from bench.auth_bench import BenchError, parse_wrk

    command = [wrk, "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "5s", "-s", script]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    done = subprocess.run([*command, url], capture_output=True, text=True, timeout=seconds + 30)
    if done.returncode != 0:
        raise BenchError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    return parse_wrk(done.stdout)


async def psm_delivery(devices, command, application) -> tuple[list[float], list[float]]:
    """Each device: one cached command, then an uplink; seconds to its ACK and to the command."""
    from commands.actions import do_create_command
    from devices.models import Device
    from ingress.simulator import connect
    from tests.ingress.fixtures import WorkerThread, off_loop

    worker = await asyncio.to_thread(lambda: WorkerThread().start())
    ack, wire = [], []
    try:
        for device in devices:
            simulated = await connect(device.node_id, worker.port)
            await simulated.notify(b"\x01" + struct.pack(">Ih", 1, 20))  # the device is awake: ACK arrives
            fresh = await off_loop(
                lambda pk=device.pk: Device.objects.select_related("product", "application").get(pk=pk)
            )
            await off_loop(do_create_command, application, fresh, command)
            before = len(simulated.received)
            started = time.monotonic()
            ack.append(await simulated.notify(b"\x01" + struct.pack(">Ih", 2, 20)))
            while not any(d.payload[:1] == b"\x02" for d in simulated.received[before:]):
                await simulated.wait_downlink(len(simulated.received) + 1, timeout=10)
            arrived = next(d.at for d in simulated.received[before:] if d.payload[:1] == b"\x02")
            wire.append(arrived - started)
            simulated.close()
    finally:
        await asyncio.to_thread(worker.stop)
    return ack, wire


if __name__ == "__main__":
    sys.exit(main())
