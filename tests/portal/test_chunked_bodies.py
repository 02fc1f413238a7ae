"""Bodies sent with `Transfer-Encoding: chunked` (Node's `https.request` without a Content-Length, curl
with the header) reach the views whole, through the real server; a body over its bound is answered 413
as it is read, chunked or declared."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
from collections.abc import Iterator

import httpx
import pytest

from commands.models import Command
from devices import actions as device_actions
from subscriptions.models import Subscription
from tests.applications.fixtures import create_app
from tests.devices.fixtures import WATER_METER, register, water_meter


@pytest.fixture(autouse=True)
def _pushes_to_localhost(settings):
    settings.PUSH_ALLOW_PRIVATE = True


def pieces(data: bytes, size: int = 7) -> Iterator[bytes]:
    """An iterator body: httpx sends it chunked, without a Content-Length."""
    for start in range(0, len(data), size):
        yield data[start : start + size]


def test_login_with_a_chunked_form_body(live_server):
    credentials = create_app(login=False)
    form = f"appId={credentials.app_id}&secret={credentials.secret}".encode()
    response = httpx.post(
        f"{live_server.url}/iocm/app/sec/v1.1.0/login",
        content=pieces(form),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert "content-length" not in response.request.headers
    assert response.status_code == 200
    assert response.json()["tokenType"] == "bearer"


def test_command_and_subscription_with_chunked_json_bodies(live_server):
    credentials = create_app()
    water_meter(credentials)
    device = device_actions.do_bind_device(register(credentials, info=WATER_METER))
    headers = {**credentials.headers(), "Content-Type": "application/json"}
    command = {
        "deviceId": device.device_id,
        "command": {"serviceId": "WaterMeterAlarm", "method": "SET_HIGHFLOW_ALARM", "paras": {"highFlow": 30}},
    }
    response = httpx.post(
        f"{live_server.url}/iocm/app/cmd/v1.4.0/deviceCommands",
        content=pieces(json.dumps(command).encode()),
        headers=headers,
    )
    assert response.status_code == 201, response.text
    assert Command.objects.get(command_id=response.json()["commandId"]).device_id == device.pk

    subscription = {"notifyType": "deviceDataChanged", "callbackUrl": "http://127.0.0.1:9/push"}
    response = httpx.post(
        f"{live_server.url}/iocm/app/sub/v1.2.0/subscriptions",
        content=pieces(json.dumps(subscription).encode()),
        headers=headers,
    )
    assert response.status_code == 201, response.text
    assert Subscription.objects.filter(application=credentials.application, notify_type="deviceDataChanged").exists()


def test_a_large_chunked_body_is_read_whole(live_server):
    """Above portal.bridge.SMALL_BODY the body goes to a temporary file, then to the view whole."""
    credentials = create_app()
    body = json.dumps({"deviceId": "x" * (1024 * 1024), "command": {}}).encode()
    response = httpx.post(
        f"{live_server.url}/iocm/app/cmd/v1.4.0/deviceCommands",
        content=pieces(body, 64 * 1024),
        headers={**credentials.headers(), "Content-Type": "application/json"},
        timeout=30,
    )
    assert response.json()["error_code"] == "100418"  # parsed whole: the device is looked up, not found


def test_a_chunked_body_over_the_bound_is_413_and_read_no_further(live_server, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    credentials = create_app()
    sent = []

    def endless() -> Iterator[bytes]:
        for _ in range(100):
            sent.append(1)
            yield b" " * 500

    try:
        response = httpx.post(
            f"{live_server.url}/iocm/app/cmd/v1.4.0/deviceCommands",
            content=endless(),
            headers={**credentials.headers(), "Content-Type": "application/json"},
        )
    except httpx.TransportError:
        pass  # the server may close before the client has finished sending: then ask with a raw socket
    else:
        assert response.status_code == 413
        assert response.json() == {
            "error_code": "100007",
            "error_desc": "Bad request message: the request body is larger than 1000 bytes.",
        }
    assert not Command.objects.exists()

    # the same with a raw socket, to read the answer without racing the client's own sending
    with socket.create_connection(("127.0.0.1", live_server.port), timeout=10) as sock:
        head = (
            "POST /iocm/app/sub/v1.2.0/subscriptions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"app_key: {credentials.app_id}\r\nAuthorization: Bearer {credentials.access_token}\r\n"
            "Transfer-Encoding: chunked\r\n\r\n"
        )
        sock.sendall(head.encode() + b"3e8\r\n" + b" " * 1000 + b"\r\n" + b"1\r\n \r\n")
        answer = b""
        while b"}" not in answer:
            piece = sock.recv(4096)
            if not piece:
                break
            answer += piece
    assert answer.startswith(b"HTTP/1.1 413 ")
    desc = b"Bad request message: the request body is larger than 1000 bytes."
    assert answer.endswith(b'{"error_code":"100007","error_desc":"' + desc + b'"}')
    assert not Subscription.objects.exists()


def test_a_declared_body_over_the_bound_is_413_unread(live_server, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    credentials = create_app()
    response = httpx.post(
        f"{live_server.url}/iocm/app/sub/v1.2.0/subscriptions",
        content=b" " * 1001,
        headers={**credentials.headers(), "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["error_code"] == "100007"
    page = httpx.post(f"{live_server.url}/login/", content=b" " * 1001)
    assert page.status_code == 413
    assert page.headers["content-type"].startswith("text/plain")


def test_multipart_uploads_have_the_larger_bound(live_server, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    settings.REQUEST_MAX_UPLOAD_BYTES = 100_000
    credentials = create_app()
    files = {"file": ("p.zip", b"x" * 5000, "application/zip")}
    response = httpx.post(f"{live_server.url}/api/v1/profiles", files=files, headers=credentials.headers())
    assert response.status_code != 413  # read and judged by the view (not a valid zip)
    files = {"file": ("p.zip", b"x" * 100_001, "application/zip")}
    response = httpx.post(f"{live_server.url}/api/v1/profiles", files=files, headers=credentials.headers())
    assert response.status_code == 413


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_nodes_https_request_without_content_length(live_server, tmp_path):
    """What the public Node SDKs do: `http.request` with a body written without a Content-Length."""
    credentials = create_app()
    water_meter(credentials)
    device = device_actions.do_bind_device(register(credentials, node_id="863703030000002", info=WATER_METER))
    script = tmp_path / "send.js"
    script.write_text(
        """
const http = require("http");
const [port, appId, token, deviceId] = process.argv.slice(2);
const req = http.request({host: "127.0.0.1", port, method: "POST", path: "/iocm/app/cmd/v1.4.0/deviceCommands",
  headers: {"app_key": appId, "Authorization": "Bearer " + token, "Content-Type": "application/json"}}, (res) => {
  let body = ""; res.on("data", (d) => body += d); res.on("end", () => console.log(res.statusCode + " " + body));
});
req.write(JSON.stringify({deviceId, command: {serviceId: "WaterMeterAlarm", method: "SET_HIGHFLOW_ALARM",
  paras: {highFlow: 30}}}));
req.end();
"""
    )
    result = subprocess.run(
        ["node", str(script), str(live_server.port), credentials.app_id, credentials.access_token, device.device_id],
        capture_output=True,
        text=True,
        timeout=30,
    )
    status, _, body = result.stdout.strip().partition(" ")
    assert status == "201", result.stdout + result.stderr
    assert json.loads(body)["deviceId"] == device.device_id
