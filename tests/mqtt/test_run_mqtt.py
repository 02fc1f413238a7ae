"""`manage.py run_mqtt` as a real process: a taken port named by its variable; uplinks stored."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from devices.models import DataHistory
from portal.env import BASE_DIR
from portal.ports import free_port
from tests.conftest import database_url_for_tests
from tests.mqtt.fixtures import DeviceClient, mqtt_device

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_taken_mqtt_port_is_named_by_its_variable():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "manage.py", "run_mqtt"],
            cwd=BASE_DIR,
            env={**os.environ, "MQTT_PORT": str(port)},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode != 0
    assert f"Port {port} is already in use (set MQTT_PORT to a free port, e.g. MQTT_PORT={port + 1})." in result.stderr


@pytest.mark.parametrize("workers", [1, pytest.param(2, marks=pytest.mark.slow)])  # 2: several workers
def test_run_mqtt_stores_uplinks(owner_app, settings, workers):
    devices = [mqtt_device(owner_app, f"86400000000000{number}") for number in range(4)]
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url_for_tests(),
        "REDIS_KEY_PREFIX": settings.REDIS_KEY_PREFIX,
        "INGRESS_CODEC_MODULE": "products.codecs",
        "LOG_LEVEL": "WARNING",
    }
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run_mqtt", "--port", str(port), "--workers", str(workers)],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        for _ in range(workers):
            assert "listening on MQTT port" in process.stdout.readline()
        for device in devices:
            client = DeviceClient(device, port)
            assert not client.connect().is_failure
            data = {"currentReading": "55"}
            client.publish(client.topic("data", "json"), json.dumps({"msgType": "deviceReq", "data": [
                {"serviceId": "WaterMeter", "serviceData": data}]}))  # fmt: skip
            client.close()
        # Acknowledged means stored, whichever worker the kernel gave the connection to.
        assert DataHistory.objects.filter(device_id__in=[device.pk for device in devices]).count() == 4
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        while process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def test_the_launcher_names_mqtt_port_when_it_is_taken():
    with socket.socket() as busy:
        busy.bind(("0.0.0.0", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = {**os.environ, "HTTP_PORT": str(free_port()), "MQTT_PORT": str(port)}
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
        == f"Port {port} is already in use (set MQTT_PORT to a free port, e.g. MQTT_PORT={port + 1})."
    )
