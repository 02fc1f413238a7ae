"""Real peers: libcoap's coap-client (Debian libcoap3-bin) and lwm2m-node-lib (npm, tests/peers)."""

from __future__ import annotations

import json
import shutil
import subprocess
import time

import pytest

from devices.models import DataHistory, DeviceLog
from ingress.models import DeviceSession
from portal.env import BASE_DIR
from tests.ingress.fixtures import WorkerThread, water_device
from tests.ingress.water_codec import report

pytestmark = pytest.mark.django_db(transaction=True)
PEERS = BASE_DIR / "tests" / "peers"


@pytest.fixture
def worker():
    thread = WorkerThread().start()
    yield thread
    thread.stop()


def wait_for(condition, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def coap_client(*args: str) -> subprocess.CompletedProcess:
    assert shutil.which("coap-client-notls"), "libcoap3-bin is not installed (apt-get install libcoap3-bin)"
    return subprocess.run(["coap-client-notls", "-B", "5", *args], capture_output=True, text=True, timeout=20)


def test_coap_client_registers_a_known_endpoint_and_is_refused_an_unknown_one(owner_app, worker):
    device = water_device(owner_app)
    base = f"coap://127.0.0.1:{worker.port}"

    known = coap_client("-m", "post", "-t", "40", "-e", "</19/0>,</19/1>", f"{base}/rd?ep={device.node_id}&lt=120")
    unknown = coap_client("-m", "post", "-t", "40", "-e", "</19/0>", f"{base}/rd?ep=123456789012345")
    missing = coap_client("-m", "get", f"{base}/nothing/here")

    assert "4.03" in unknown.stdout + unknown.stderr
    assert "unknown endpoint" in unknown.stdout + unknown.stderr
    assert "4.04" in missing.stdout + missing.stderr
    session = DeviceSession.objects.get(device=device)
    assert session.lifetime == 120
    assert session.object_links == [{"path": "/19/0"}, {"path": "/19/1"}]
    assert "4.0" not in known.stdout + known.stderr


def test_lwm2m_node_lib_registers_is_observed_and_its_notifications_are_stored(owner_app, worker):
    assert (PEERS / "node_modules" / "lwm2m-node-lib").exists(), "run: npm ci --prefix tests/peers"
    device = water_device(owner_app)
    client = subprocess.Popen(
        ["node", str(PEERS / "lwm2m_client.js"), "127.0.0.1", str(worker.port), device.node_id],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )

    def event() -> dict:
        while True:  # the library logs too: skip its lines
            line = client.stdout.readline()
            assert line, "the client exited"
            if line.startswith('{"event"'):
                return json.loads(line)

    def send(line: str) -> None:
        client.stdin.write(line + "\n")
        client.stdin.flush()

    def readings() -> list[str]:
        return [row.data["currentReading"] for row in DataHistory.objects.filter(device_id=device.pk).order_by("id")]

    try:
        assert event()["event"] == "registered"
        wait_for(lambda: DeviceSession.objects.filter(device=device, observed=True).exists())
        send(f"set {report(signal=20, reading=0x1234, flow=7).hex()}")
        wait_for(lambda: readings() == [str(0x1234)])
        # lwm2m-node-lib updates its registration from a new UDP port.
        send("update")
        assert event()["event"] == "set"
        assert event()["event"] == "updated"
        send(f"set {report(signal=20, reading=0x2345, flow=7).hex()}")
        wait_for(lambda: readings() == [str(0x1234), str(0x2345)])
    finally:
        send("quit")
        client.wait(timeout=10)
    assert DeviceLog.objects.filter(device=device, summary__startswith="LwM2M uplink").count() == 2
