"""Backup and restore of PostgreSQL as docs/deployment.md tells it: `pg_dump -Fc`, then `pg_restore` into
a fresh database, and a web process pointed at that database serves what the platform had written.

The database is filled through the platform's own actions (an application, a product, a device, its
history over three days, so three history partitions, and a pending command); the restored copy is
then read and written through the northbound API of a real `manage.py run_web` on a real socket.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
import time_machine
from django.conf import settings
from django.db import connection

from commands.actions import do_create_command
from devices import actions as device_actions
from devices.history import TABLE as HISTORY_TABLE
from devices.models import Device
from portal.env import BASE_DIR
from portal.ports import free_port
from tests.applications.fixtures import create_app
from tests.conftest import database_url_for_tests
from tests.devices.fixtures import WATER_METER, register, report, water_meter
from tests.platform.running import wait_for

pytestmark = [pytest.mark.deployment, pytest.mark.django_db(transaction=True)]

ALARM = {"serviceId": "WaterMeterAlarm", "method": "SET_HIGHFLOW_ALARM", "paras": {"highFlow": 30}}
TOOL_SECONDS = 120  # each of pg_dump, pg_restore, createdb: a few seconds for this database


def server_major() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version_num")
        return int(cursor.fetchone()[0]) // 10000


def client_tool(name: str, major: int) -> str:
    """The PostgreSQL client program `name` of the server's major version: pg_dump refuses a newer
    server, and `make test` runs the embedded PostgreSQL 16 (pgserver's own programs) where CI and
    production use the machine's."""
    candidates = [shutil.which(name)]
    with contextlib.suppress(ImportError):
        import pgserver

        candidates.append(str(Path(pgserver.__file__).parent / "pginstall" / "bin" / name))
    candidates += sorted(str(path) for path in Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    for candidate in filter(None, candidates):
        if not os.access(candidate, os.X_OK):
            continue
        version = subprocess.run([candidate, "--version"], capture_output=True, text=True, timeout=10).stdout
        found = re.search(r"\) (\d+)", version)
        if found and int(found[1]) == major:
            return candidate
    pytest.fail(f"no {name} of PostgreSQL {major} on this machine (looked at {candidates})")


def run_tool(*argv: str) -> subprocess.CompletedProcess:
    done = subprocess.run(list(argv), capture_output=True, text=True, timeout=TOOL_SECONDS)
    assert done.returncode == 0, f"{argv[0]} failed: {done.stderr}"
    return done


def partitions_of(url: str, psql: str) -> list[str]:
    assert HISTORY_TABLE == "devices_datahistory"
    query = (
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'devices_datahistory' ORDER BY 1"
    )
    return run_tool(psql, "-XAtq", "-d", url, "-c", query).stdout.split()


def start_web(database_url: str) -> tuple[str, subprocess.Popen]:
    """`manage.py run_web` (one process) on the restored database, once it answers /livez."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        # Device secrets are encrypted with keys derived from it: a restore needs the same SECRET_KEY
        # (or DEVICE_SECRET_KEYS), which is why docs/deployment.md says to back it up beside the dump.
        "SECRET_KEY": settings.SECRET_KEY,
        "REDIS_KEY_PREFIX": settings.REDIS_KEY_PREFIX + "restored:",
        "HTTP_PORT": str(port),
        "BIND_ADDRESS": "127.0.0.1",
        "WEB_WORKERS": "1",
    }
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run_web", "--log-level", "warning"],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        assert process.poll() is None, process.stdout.read().decode()
        try:
            return httpx.get(url + "/livez", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_for(answers, 60, "run_web on the restored database to answer /livez")
    except BaseException:
        stop(process)
        raise
    return url, process


def stop(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


def test_a_dump_restored_into_a_fresh_database_is_served_by_the_platform(tmp_path):
    # given: what the platform's actions wrote, history on three days (three partitions)
    owner = create_app("Water utility", login=False)
    water_meter(owner)
    device = device_actions.do_bind_device(register(owner, info=WATER_METER))
    device = Device.objects.select_related("application", "product").get(pk=device.pk)
    today = dt.datetime.now(dt.UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    days = [today - dt.timedelta(days=2), today - dt.timedelta(days=1), today]
    for number, day in enumerate(days):
        with time_machine.travel(day, tick=False):
            report(device, "WaterMeter", day, currentReading=str(number))
    pending = do_create_command(owner.application, device, ALARM)
    assert pending.status == "PENDING"  # PSM (the default): it waits for the device's next uplink

    major = server_major()
    psql = client_tool("psql", major)
    source = database_url_for_tests()
    expected_partitions = [f"{HISTORY_TABLE}_p{day:%Y%m%d}" for day in days]
    assert set(expected_partitions) <= set(partitions_of(source, psql))

    # when: the documented procedure
    dump = tmp_path / "iot.dump"
    run_tool(client_tool("pg_dump", major), "-Fc", "-f", str(dump), "-d", source)
    restored_name = f"{connection.settings_dict['NAME']}_restored"
    restored = urlunsplit(urlsplit(source)._replace(path="/" + restored_name))
    maintenance = urlunsplit(urlsplit(source)._replace(path="/postgres"))
    run_tool(psql, "-XAtq", "-d", maintenance, "-c", f'DROP DATABASE IF EXISTS "{restored_name}"')
    run_tool(client_tool("createdb", major), f"--maintenance-db={maintenance}", restored_name)
    web = None
    try:
        run_tool(client_tool("pg_restore", major), "--exit-on-error", "--no-owner", "-d", restored, str(dump))

        # then: the partitions are there, and a web process on the copy serves it
        assert partitions_of(restored, psql) == partitions_of(source, psql)
        url, web = start_web(restored)
        login = httpx.post(
            url + "/iocm/app/sec/v1.1.0/login", data={"appId": owner.app_id, "secret": owner.secret}, timeout=10
        )
        assert login.status_code == 200, login.text  # the secret's hash came back with the application
        headers = {"app_key": owner.app_id, "Authorization": f"Bearer {login.json()['accessToken']}"}

        one = httpx.get(f"{url}/iocm/app/dm/v1.4.0/devices/{device.device_id}", headers=headers, timeout=10)
        assert one.status_code == 200, one.text
        assert (one.json()["deviceId"], one.json()["deviceInfo"]["nodeId"]) == (device.device_id, device.node_id)

        history = httpx.get(
            f"{url}/iocm/app/data/v1.2.0/deviceDataHistory?deviceId={device.device_id}&pageNo=0&pageSize=10",
            headers=headers,
            timeout=10,
        ).json()
        assert history["totalCount"] == 3
        assert [row["data"]["currentReading"] for row in history["deviceDataHistoryDTOs"]] == ["2", "1", "0"]

        commands = httpx.get(
            f"{url}/iocm/app/cmd/v1.4.0/deviceCommands?deviceId={device.device_id}", headers=headers, timeout=10
        ).json()
        assert [(row["commandId"], row["status"]) for row in commands["data"]] == [(pending.command_id, "PENDING")]

        # Writes too: sequences, the commands_create function and the device's row came back.
        created = httpx.post(
            url + "/iocm/app/cmd/v1.4.0/deviceCommands",
            content=json.dumps({"deviceId": device.device_id, "command": ALARM}),
            headers={**headers, "Content-Type": "application/json"},
            timeout=10,
        )
        assert created.status_code == 201, created.text
        registered = httpx.post(
            url + "/iocm/app/reg/v1.1.0/deviceCredentials",
            content=json.dumps({"nodeId": "863703030000099", "verifyCode": "863703030000099"}),
            headers={**headers, "Content-Type": "application/json"},
            timeout=10,
        )
        assert registered.status_code == 200, registered.text
    finally:
        if web is not None:
            stop(web)
        run_tool(psql, "-XAtq", "-d", maintenance, "-c", f'DROP DATABASE IF EXISTS "{restored_name}" WITH (FORCE)')
    # The copy was written, not the original.
    assert not Device.objects.filter(node_id="863703030000099").exists()
