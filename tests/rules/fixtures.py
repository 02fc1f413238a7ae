"""Plain helpers for rule tests: a meter product with its codec, devices, rule bodies, reports."""

from __future__ import annotations

import asyncio
import json
import struct
import threading
from typing import Any

from django.test import Client

from devices import actions as device_actions
from devices.models import Device
from ingress.simulator import connect
from tests.applications.fixtures import AppCredentials
from tests.products.codecs.fixtures import deploy, meter


def meter_product(credentials: AppCredentials):
    """The Acme m1 WaterMeter product (Meter: reading, temperature...; SET_PERIOD) with its codec."""
    product = meter(credentials)
    deploy(product)
    return product


def meter_device(credentials: AppCredentials, node_id: str = "867724030023557", *, bind: bool = False) -> Device:
    from products.models import Product

    product = Product.objects.get(application=credentials.application, model="m1")
    registered = device_actions.do_register_device(credentials.application, node_id=node_id, verify_code=node_id)
    device = registered.device
    Device.objects.filter(pk=device.pk).update(
        product=product, manufacturer_id="Acme", device_type="WaterMeter", model="m1", protocol_type="LWM2M"
    )
    if bind:
        device_actions.do_bind_device(Device.objects.get(pk=device.pk))
    return Device.objects.select_related("application", "product").get(pk=device.pk)


def report_bytes(reading: int = 100, temperature: int = 21) -> bytes:
    """The meter codec's data report: messageId 1, reading (uint32), temperature (int16)."""
    return b"\x01" + struct.pack(">Ih", reading, temperature)


def data_condition(
    device: Device | None = None, path: str = "Meter/temperature", operator: str = ">", value: Any = "80", **extra: Any
) -> dict[str, Any]:
    if device is not None:
        return {
            "type": "DEVICE_DATA",
            "deviceInfo": {"deviceId": device.device_id, "path": path},
            "operator": operator,
            "value": value,
            **extra,
        }
    return {
        "type": "DEVICE_TYPE_DATA",
        "deviceTypeInfo": {"manufacturerId": "Acme", "model": "m1", "path": path},
        "operator": operator,
        "value": value,
        **extra,
    }


def alarm_action(name: str = "Overheat", severity: str = "critical", **extra: Any) -> dict[str, Any]:
    return {"type": "DEVICE_ALARM", "name": name, "severity": severity, "status": "fault", **extra}


def command_action(period: int = 30, **extra: Any) -> dict[str, Any]:
    return {
        "type": "DEVICE_CMD",
        "cmd": {"serviceId": "Meter", "messageType": "SET_PERIOD", "messageBody": {"period": period}},
        "cmdMetaData": {"expireTime": 0},
        **extra,
    }


def rule_body(conditions: list[dict], actions: list[dict], **extra: Any) -> dict[str, Any]:
    return {"name": "Overheat", "author": "ops", "conditions": conditions, "actions": actions, **extra}


def create_rule(client: Client, credentials: AppCredentials, body: dict[str, Any]) -> str:
    response = client.post(
        "/iocm/app/rule/v1.2.0/rules", json.dumps(body), content_type="application/json", headers=credentials.headers()
    )
    assert response.status_code == 200, response.content
    return response.json()["ruleId"]


class ReportingDevice:
    """A simulated LwM2M device in its own thread: a cool report, then, when told, a hot one."""

    def __init__(self, node_id: str, port: int) -> None:
        self.node_id, self.port = node_id, port
        self.ready, self.hot, self.sent = threading.Event(), threading.Event(), threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self.main, daemon=True)

    def main(self) -> None:
        try:
            asyncio.run(self.run())
        except BaseException as error:  # reported by the test, which waits on `ready`
            self.error = error
            self.ready.set()

    async def run(self) -> None:
        device = await connect(self.node_id, self.port)
        await device.notify(report_bytes(100, 21))
        self.ready.set()
        while not self.hot.is_set():
            await asyncio.sleep(0.05)
        await device.notify(report_bytes(101, 92))
        self.sent.set()
        device.close()
