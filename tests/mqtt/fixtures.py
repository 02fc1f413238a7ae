"""Plain helpers for MQTT tests: the server on a free port in a thread, a WaterMeter device in password
mode, and a paho-mqtt device that connects the way OceanConnect's device SDKs do."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import queue
import threading
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from django.db import close_old_connections

from devices import actions
from devices.models import Device
from ingress.mqtt import auth
from ingress.mqtt.server import MqttServer
from portal.ports import free_port
from products.models import Product
from tests.applications.fixtures import AppCredentials
from tests.devices.fixtures import WATER_METER, water_meter
from tests.ingress.fixtures import water_product


class ServerThread:
    """The MQTT server with its own event loop in a thread of the test process."""

    def __init__(self, **kwargs: Any) -> None:
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self.server = MqttServer(host="127.0.0.1", port=self.port, **{"tls_port": None, **kwargs})
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def start(self) -> ServerThread:
        self.thread.start()
        self.call(self.server.start())
        return self

    def call(self, coroutine: Any, timeout: float = 20) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def stop(self) -> None:
        self.call(self.server.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


def mqtt_device(credentials: AppCredentials, node_id: str = "864000000000001", *, codec: bool = True) -> Device:
    """A WaterMeter device registered in password mode (it has an MQTT secret); its product has the
    WaterMeter JavaScript codec, or with `codec=False` none (the device speaks JSON both ways)."""
    if codec:
        water_product(credentials)
    elif not Product.objects.filter(application=credentials.application, model="v1001").exists():
        water_meter(credentials)
    info = {**WATER_METER, "protocolType": "MQTT"}
    return actions.do_register_device(credentials.application, node_id=node_id, password_mode=True, info=info).device


def hour_now() -> str:
    return auth.hour_string(dt.datetime.now(dt.UTC))


class MqttClient:
    """A paho-mqtt 3.1.1 client, clean session, that queues its CONNACKs, messages and SUBACKs."""

    def __init__(
        self,
        client_id: str,
        username: str,
        password: str,
        port: int,
        *,
        tls: dict | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311, clean_session=True
        )
        self.client.username_pw_set(username, password)
        if tls is not None:
            self.client.tls_set(**tls)
        self.host, self.port = host, port
        self.connected: queue.Queue = queue.Queue()
        self.messages: queue.Queue = queue.Queue()
        self.subscribed: queue.Queue = queue.Queue()
        self.client.on_connect = lambda client, userdata, flags, reason, props: self.connected.put(reason)
        self.client.on_message = lambda client, userdata, message: self.messages.put(message)
        self.client.on_subscribe = lambda client, userdata, mid, reasons, props: self.subscribed.put(reasons)

    def connect(self, timeout: float = 10) -> Any:
        """Connect and return the CONNACK's reason code (paho maps 3.1.1 codes to ReasonCode)."""
        self.client.connect(self.host, self.port, keepalive=30)
        self.client.loop_start()
        return self.connected.get(timeout=timeout)

    def publish(self, topic: str, payload: bytes | str, qos: int = 1, timeout: float = 10) -> None:
        info = self.client.publish(topic, payload, qos=qos)
        info.wait_for_publish(timeout)
        assert info.is_published()

    def subscribe(self, topic: str, timeout: float = 10) -> list:
        self.client.subscribe(topic, qos=1)
        return self.subscribed.get(timeout=timeout)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class DeviceClient(MqttClient):
    """A device with the static connection's client id and password."""

    def __init__(
        self,
        device: Device,
        port: int,
        *,
        check_time: int = 1,
        hour: str | None = None,
        password: str | None = None,
        device_id: str | None = None,
        tls: dict | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        self.hour = hour or hour_now()
        self.device_id = device_id or device.device_id
        secret = password or auth.password(device.secret, self.hour)
        client_id = f"{self.device_id}_0_{check_time}_{self.hour}"
        super().__init__(client_id, self.device_id, secret, port, tls=tls, host=host)

    def topic(self, direction: str, kind: str, device_id: str | None = None) -> str:
        return f"/huawei/v1/devices/{device_id or self.device_id}/{direction}/{kind}"


def wait_for(condition: Callable[[], Any], timeout: float = 10) -> Any:
    """Poll a database condition (from the test thread) until it holds."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        try:
            value = condition()
        finally:
            close_old_connections()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def mqtt_gateway(credentials: AppCredentials, node_id: str = "gw-0001") -> Device:
    """A gateway: a device in password mode (WaterMeter product too) that adds sub-devices over MQTT."""
    return mqtt_device(credentials, node_id=node_id)


class GatewayClient(DeviceClient):
    """A gateway: a device client that also publishes topo requests and reads their responses."""

    def connect(self, timeout: float = 10) -> Any:
        reason = super().connect(timeout)
        if not reason.is_failure:
            self.subscribe(f"/huawei/v1/devices/{self.device_id}/topo/+")
            self.subscribe(self.topic("command", "json"))
        return reason

    def request(self, kind: str, body: dict | bytes, timeout: float = 20) -> dict:
        """Publish a topo request (topo/add, topo/delete, topo/update) and return its response."""
        payload = body if isinstance(body, bytes) else json.dumps(body)
        self.publish(f"/huawei/v1/devices/{self.device_id}/{kind}", payload)
        wanted = f"/huawei/v1/devices/{self.device_id}/{kind}Response"
        while True:
            message = self.messages.get(timeout=timeout)
            if message.topic == wanted:
                return json.loads(message.payload)

    def add(self, node_ids: list[str], mid: int = 1, **product: str) -> dict:
        product = product or {"manufacturerId": "Huawei", "model": "v1001"}
        return self.request("topo/add", {"mid": mid, "deviceInfos": [{"nodeId": n, **product} for n in node_ids]})

    def report(self, readings: dict[str, str], qos: int = 1) -> None:
        """One datas message: each sub-device (deviceId -> reading) reports its WaterMeter service."""
        devices = [
            {
                "deviceId": device_id,
                "services": [
                    {
                        "serviceId": "WaterMeter",
                        "data": {"signalStrength": "20", "currentReading": reading, "flowRateReading": "3"},
                        "eventTime": "20261126T080000Z",
                    }
                ],
            }
            for device_id, reading in readings.items()
        ]
        self.publish(f"/huawei/v1/devices/{self.device_id}/datas", json.dumps({"devices": devices}), qos=qos)
