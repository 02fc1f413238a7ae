"""The real `run_mqtt` and `run_web` processes export Prometheus metrics on their own loopback ports, and
the web's never on its public port."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from portal.env import BASE_DIR
from portal.ports import free_port
from tests.conftest import database_url_for_tests
from tests.metrics import scrape, value, wait_for
from tests.mqtt.fixtures import DeviceClient, mqtt_device

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def process(settings) -> Iterator:
    started: list[subprocess.Popen] = []

    def start(args: list[str], **overrides: str) -> subprocess.Popen:
        env = {
            **os.environ,
            "DATABASE_URL": database_url_for_tests(),
            "REDIS_KEY_PREFIX": settings.REDIS_KEY_PREFIX,
            "INGRESS_CODEC_MODULE": "tests.ingress.water_codec",
            "LOG_LEVEL": "WARNING",
            **overrides,
        }
        child = subprocess.Popen([sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, start_new_session=True)
        started.append(child)
        return child

    yield start
    for child in started:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGTERM)
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()


def test_run_mqtt_exports_connections_and_stored_uplinks(owner_app, process):
    devices = [mqtt_device(owner_app, f"86400000000100{number}") for number in range(3)]
    port, metrics_port = free_port(), free_port()
    child = process(["run_mqtt", "--port", str(port), "--workers", "1"], MQTT_METRICS_PORT=str(metrics_port))
    before = wait_for(lambda: scrape(metrics_port), lambda samples: True)
    assert child.poll() is None
    assert value(before, "platform_mqtt_device_connections") == 0
    assert value(before, "platform_ingress_uplinks_total", transport="mqtt", result="stored") == 0

    clients = []
    for device in devices:
        client = DeviceClient(device, port)
        assert not client.connect().is_failure
        data = {"msgType": "deviceReq", "data": [{"serviceId": "WaterMeter", "serviceData": {"currentReading": "7"}}]}
        client.publish(client.topic("data", "json"), json.dumps(data))  # QoS 1: PUBACK once stored
        clients.append(client)
    connected = wait_for(
        lambda: scrape(metrics_port), lambda samples: value(samples, "platform_mqtt_device_connections") == 3
    )
    assert value(connected, "platform_ingress_uplinks_total", transport="mqtt", result="stored") == 3
    assert value(connected, "platform_uplinks_stored_total") == 3
    assert value(connected, "platform_mqtt_sockets") == 3
    assert value(connected, "platform_ingress_ack_seconds_count", transport="mqtt") == 3  # receipt to PUBACK
    assert value(connected, "platform_ingress_batch_seconds_count") >= 1

    clients.pop().close()
    after = wait_for(
        lambda: scrape(metrics_port), lambda samples: value(samples, "platform_mqtt_device_connections") == 2
    )
    assert value(after, "platform_mqtt_sockets") == 2
    # A wrong password: refused, and counted by kind (not as a refused uplink).
    intruder = DeviceClient(devices[0], port, password="0" * 64)
    assert intruder.connect().is_failure
    intruder.close()
    refused = wait_for(
        lambda: scrape(metrics_port),
        lambda samples: value(samples, "platform_ingress_refusals_total", transport="mqtt", kind="mqtt_auth") >= 1,
    )
    assert value(refused, "platform_ingress_refusals_total", transport="mqtt", kind="mqtt_auth") == 1
    assert value(refused, "platform_ingress_uplinks_total", transport="mqtt", result="refused") == 0
    for client in clients:
        client.close()


def test_run_web_serves_metrics_on_its_loopback_port_only(process):
    http_port, metrics_port = free_port(), free_port()
    process(["run_web", "--workers", "1"], HTTP_PORT=str(http_port), WEB_METRICS_PORT=str(metrics_port))
    samples = wait_for(lambda: scrape(metrics_port), lambda samples: True)
    assert value(samples, "process_resident_memory_bytes") > 0

    def public() -> httpx.Response:
        return httpx.get(f"http://127.0.0.1:{http_port}/metrics", timeout=5)

    deadline = time.monotonic() + 60
    while True:
        try:
            answer = public()
            break
        except httpx.TransportError:
            assert time.monotonic() < deadline, "run_web did not answer"
            time.sleep(0.05)
    assert answer.status_code == 404  # the public port has no /metrics: the figures are the operator's
    assert "platform_" not in answer.text and "process_resident" not in answer.text
