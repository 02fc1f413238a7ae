"""Through the real web process (`manage.py run_web`) and real sockets, not Django's test client.

`app_key` and `app-key` both become HTTP_APP_KEY: only portal.asgi's wrapper keeps the first from
being spoofed by the second; the test client would hide that, a real server does not. Northbound
paths run through a shorter middleware list than the portal's (portal.handlers): only a real server
shows which.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from portal.env import BASE_DIR
from portal.ports import free_port
from tests.applications.fixtures import create_app
from tests.conftest import database_url_for_tests


def start_web(*args: str) -> tuple[str, subprocess.Popen]:
    """`manage.py run_web` on a free port of 127.0.0.1, once it answers /livez."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url_for_tests(), "HTTP_PORT": str(port), "BIND_ADDRESS": "127.0.0.1"}
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run_web", "--log-level", "warning", *args],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its workers too can be stopped at once if it never answers
    )
    url = f"http://127.0.0.1:{port}"
    # Generous: two workers took 13 s to answer on the shared 2-core machine under others' test runs.
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(url + "/livez", timeout=1)
            return url, process
        except httpx.TransportError:
            if process.poll() is not None or time.monotonic() > deadline:
                # The whole group: killing only the supervisor left its workers holding stdout, and
                # the read below then waited for ever instead of failing.
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                raise RuntimeError(process.stdout.read().decode()) from None
            time.sleep(0.1)


@pytest.fixture
def web_process(transactional_db):
    url, process = start_web()
    yield url
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=15) == 0


def _workers(parent: subprocess.Popen) -> set[int]:
    found = subprocess.run(["pgrep", "-P", str(parent.pid)], capture_output=True, text=True).stdout.split()
    return {int(pid) for pid in found}


@pytest.mark.slow  # two web workers and a SIGKILL
def test_web_workers_share_the_port_and_a_killed_one_is_replaced(transactional_db):
    url, process = start_web("--workers", "2")
    try:
        workers = _workers(process)
        assert len(workers) == 2
        victim = min(workers)
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 20
        served = refused = 0
        while (len(_workers(process) - {victim}) < 2 or not served) and time.monotonic() < deadline:
            try:
                served += httpx.get(url + "/livez", timeout=5).status_code == 200  # the other one serves
            except httpx.ConnectError:
                # A connection the kernel had queued on the dying worker's socket is reset with it:
                # SO_REUSEPORT's nature (net.ipv4.tcp_migrate_req moves them, where enabled). Until the
                # killed process is torn down its socket still takes a share of new connections: 3-4 of
                # these tries at 50 ms intervals, with this many apps loaded.
                refused += 1
            time.sleep(0.05)
        assert len(_workers(process) - {victim}) == 2
        assert served >= 1 and refused <= 10  # the other worker served meanwhile: not every try was lost
        assert all(httpx.get(url + "/livez", timeout=5).status_code == 200 for _ in range(10))
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    assert b"exited with -9; starting another" in process.stdout.read()


def test_app_key_with_underscore_reaches_the_view(web_process):
    credentials = create_app(login=False)
    login = httpx.post(
        web_process + "/iocm/app/sec/v1.1.0/login", data={"appId": credentials.app_id, "secret": credentials.secret}
    )
    assert login.status_code == 200
    token = login.json()["accessToken"]

    response = httpx.get(
        f"{web_process}/iocm/app/am/v1.1.0/applications/{credentials.app_id}",
        headers={"app_key": credentials.app_id, "Authorization": f"bearer {token}"},
    )

    assert response.status_code == 200, response.text
    assert response.json()["appId"] == credentials.app_id


def test_a_spoofed_app_key_with_hyphen_does_not_override_the_underscore_one(web_process):
    victim = create_app("Victim")
    attacker = create_app("Attacker")
    response = httpx.get(
        f"{web_process}/iocm/app/am/v1.1.0/applications/{attacker.app_id}",
        headers=[
            ("app_key", attacker.app_id),
            ("app-key", victim.app_id),
            ("Authorization", f"Bearer {attacker.access_token}"),
        ],
    )
    assert response.status_code == 200
    assert response.json()["appId"] == attacker.app_id


def test_token_without_app_key_through_the_server_is_100220(web_process):
    credentials = create_app()
    response = httpx.get(
        f"{web_process}/iocm/app/am/v1.1.0/applications/{credentials.app_id}",
        headers={"Authorization": f"Bearer {credentials.access_token}"},
    )
    assert response.status_code == 400
    assert response.json()["error_code"] == "100220"


def test_healthz_static_files_and_api_docs_are_served(web_process):
    assert httpx.get(web_process + "/healthz").json() == {"status": "ok", "database": "ok", "redis": "ok"}
    assert httpx.get(web_process + "/static/portal/htmx.min.js").status_code == 200
    docs = httpx.get(web_process + "/api/docs/")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    bundle = httpx.get(web_process + "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
    assert bundle.status_code == 200
    assert len(bundle.content) == int(bundle.headers["content-length"]) > 1_000_000  # streamed whole
    schema = httpx.get(web_process + "/api/schema/?format=json").json()
    assert "/iocm/app/sec/v1.1.0/login" in schema["paths"]
    assert "/iocm/app/sec/v1.1.0/refreshToken" in schema["paths"]


def test_run_web_names_the_variable_when_its_port_is_taken(transactional_db):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = {**os.environ, "HTTP_PORT": str(port), "BIND_ADDRESS": "127.0.0.1"}
        result = subprocess.run(
            [sys.executable, "manage.py", "run_web"], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=30
        )
    assert result.returncode != 0
    assert f"Port {port} is already in use (set HTTP_PORT" in result.stderr
    assert "Traceback" not in result.stderr


def test_launcher_names_the_variable_when_its_port_is_taken():
    import socket

    with socket.socket() as busy:
        busy.bind(("0.0.0.0", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = {**os.environ, "HTTP_PORT": str(port)}
        result = subprocess.run(
            [sys.executable, "-m", "portal.launcher", "run"],
            cwd=BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        == f"Port {port} is already in use (set HTTP_PORT to a free port, e.g. HTTP_PORT={port + 1})."
    )


def test_the_shared_listening_socket_says_it_is_tcp_so_answers_are_not_held_by_nagle():
    """asyncio sets TCP_NODELAY only on sockets whose proto is IPPROTO_TCP; a proto 0 socket made every
    answer of `run_web --workers N` wait about 40 ms for the client's delayed ACK (160 instead of 460
    requests a second)."""
    from portal.management.commands.run_web import shared_socket

    sock = shared_socket("127.0.0.1", free_port())
    try:
        assert sock.proto == socket.IPPROTO_TCP
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 1
    finally:
        sock.close()


def test_northbound_calls_take_the_short_middleware_list_and_pages_the_whole_one(web_process):
    credentials = create_app()
    call = httpx.get(
        f"{web_process}/iocm/app/am/v1.1.0/applications/{credentials.app_id}",
        headers={"app_key": credentials.app_id, "Authorization": f"Bearer {credentials.access_token}"},
    )
    assert call.status_code == 200 and call.json()["appId"] == credentials.app_id
    assert "x-frame-options" not in call.headers  # no clickjacking middleware: JSON is never framed
    assert call.headers["x-content-type-options"] == "nosniff"  # the security middleware stays
    page = httpx.get(web_process + "/login/")
    assert page.status_code == 200
    assert page.headers["x-frame-options"] == "DENY"
    assert "csrftoken" in page.cookies  # sessions and CSRF for the portal's forms


def test_a_large_upload_streams_through_the_thread_pool(web_process):
    """A body of two megabytes (under DATA_UPLOAD_MAX_MEMORY_SIZE) reaches the view whole: above
    portal.bridge.SMALL_BODY it goes through a2wsgi, read in pieces as the view reads it."""
    credentials = create_app()
    response = httpx.post(
        f"{web_process}/iocm/app/cmd/v1.4.0/deviceCommands",
        headers={"app_key": credentials.app_id, "Authorization": f"Bearer {credentials.access_token}"},
        json={"deviceId": "x" * (2 * 1024 * 1024), "command": {}},
        timeout=30,
    )
    assert response.status_code == 200
    assert response.json()["error_code"] == "100418"  # parsed whole: the device is looked up, not found
