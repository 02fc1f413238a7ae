"""LwM2M gateways (OMA LwM2M Gateway object 25) through the real run_ingress process: a simulated
gateway lists its end devices in /25, reports their data on /{prefix}/19/0/0 and takes their commands
on /{prefix}/19/1/0; it can act for nothing else (ingress.lwm2m_gateway, docs/gateways.md)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import struct
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connections
from django.test import Client
from django.utils import timezone

from applications.models import Application
from commands.models import Command, CommandEvent
from devices.models import DataHistory, Device, DeviceLog, NodeType, Status, StatusDetail
from ingress import sessions
from ingress.models import DeviceSession
from ingress.simulator import DeviceError, SimulatedDevice, SubDevice
from products.models import Product
from subscriptions.models import PushMessage
from tests.applications.fixtures import create_app
from tests.devices.fixtures import register
from tests.products.codecs.fixtures import deploy, meter
from tests.subscriptions.fixtures import subscribe

pytestmark = pytest.mark.django_db(transaction=True)

METER = {"manufacturerId": "Acme", "deviceType": "WaterMeter", "model": "m1", "protocolType": "LWM2M"}
SET_PERIOD = {"serviceId": "Meter", "method": "SET_PERIOD", "paras": {"period": 60}}


class Nowhere:
    """A callback receiver nobody delivers to: the tests look at the push outbox."""

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:9{path}"


@pytest.fixture(autouse=True)
def _real_codecs(settings, monkeypatch):
    settings.INGRESS_CODEC_MODULE = "products.codecs"
    settings.CODEC_VERSION_CACHE_SECONDS = 0
    monkeypatch.setattr("subscriptions.actions.wake", lambda target_id: None)
    # This process's channel layer under the test's Redis key prefix, as run_ingress has it: commands
    # created here reach its worker (as in tests/firmware/conftest.py).
    layer = settings.CHANNEL_LAYERS["default"]
    config = {**layer["CONFIG"], "prefix": f"{settings.REDIS_KEY_PREFIX}asgi"}
    settings.CHANNEL_LAYERS = {"default": {**layer, "CONFIG": config}}


@pytest.fixture
def port(ingress) -> int:
    _, port = ingress(workers=1, INGRESS_CODEC_MODULE="products.codecs")
    return port


def gateway_product(credentials, *, gateway: bool = True) -> Product:
    product = Product.objects.filter(application=credentials.application, model="m1").first()
    if product is None:
        product = meter(credentials)
        deploy(product)
    Product.objects.filter(pk=product.pk).update(lwm2m_gateway=gateway)
    return product


def lwm2m_gateway(credentials, node_id: str = "gw-0000001", *, gateway: bool = True) -> Device:
    gateway_product(credentials, gateway=gateway)
    return register(credentials, node_id, info=METER, timeout=0)


def subs(gateway: Device, count: int) -> list[SubDevice]:
    return [SubDevice(f"{gateway.node_id}-{n:03d}", f"ep{n}", manufacturer="Acme", model="m1") for n in range(count)]


def report(reading: int) -> bytes:
    return b"\x01" + struct.pack(">Ih", reading, 21)


def threaded(function: Callable, *args: Any) -> Any:
    try:
        return function(*args)
    finally:
        connections.close_all()


async def db(function: Callable, *args: Any) -> Any:
    return await asyncio.to_thread(threaded, function, *args)


def wait_for(predicate: Callable[[], Any], seconds: float = 10) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


async def online(gateway: Device, port: int, sub_devices: list[SubDevice], **options) -> SimulatedDevice:
    simulated = SimulatedDevice(gateway.node_id, ("127.0.0.1", port), sub_devices=sub_devices, **options)
    await simulated.open()
    await simulated.register()
    await simulated.wait_observed()
    await simulated.wait_sub_devices_observed()
    return simulated


def pushed(notify_type: str) -> list[dict]:
    return [json.loads(bytes(m.body)) for m in PushMessage.objects.filter(notify_type=notify_type).order_by("pk")]


def logs_of(device: Device) -> list[str]:
    return list(DeviceLog.objects.filter(device=device).order_by("pk").values_list("summary", flat=True))


def children(gateway: Device) -> dict[str, Device]:
    return {device.node_id: device for device in Device.objects.filter(gateway=gateway).order_by("node_id")}


def test_registration_adds_the_listed_sub_devices_and_their_data_is_stored_with_the_gateway_id(owner_app, port, client):
    subscribe(owner_app, Nowhere(), "deviceAdded")
    subscribe(owner_app, Nowhere(), "deviceDataChanged", path="/data")
    Application.objects.filter(pk=owner_app.application.pk).update(uplink_rate_limit=10000)
    gateway = lwm2m_gateway(owner_app)
    # 150: the registration's links and the answer to /25 do not fit one datagram (Block1, Block2).
    listed = subs(gateway, 150)

    async def scenario():
        simulated = await online(gateway, port, listed)
        for number, sub in enumerate(listed):
            await simulated.notify_sub(sub, report(1000 + number))
        await simulated.wait_downlink(len(listed))  # the codec's ACK of each report, to its prefix
        simulated.close()
        return simulated

    simulated = asyncio.run(scenario())

    found = children(gateway)
    assert list(found) == [sub.node_id for sub in listed]
    one = found[listed[0].node_id]
    assert (one.node_type, one.product.model, one.activated, one.status) == ("ENDPOINT", "m1", True, "ONLINE")
    assert Device.objects.get(pk=gateway.pk).node_type == NodeType.GATEWAY
    added = [body for body in pushed("deviceAdded") if body["deviceId"] != gateway.device_id]
    assert sorted(body["deviceId"] for body in added) == sorted(device.device_id for device in found.values())
    assert {(body["gatewayId"], body["nodeType"]) for body in added} == {(gateway.device_id, "ENDPOINT")}
    # Each report through its sub-device's codec, with the gateway's deviceId; the ACK to its own prefix.
    assert sorted(received.path for received in simulated.received) == sorted(f"/{sub.prefix}/19/1/0" for sub in listed)
    assert {received.payload for received in simulated.received} == {b"\xaa\xaa\x00\x00"}
    changed = {body["deviceId"]: body for body in pushed("deviceDataChanged")}
    assert changed[one.device_id]["gatewayId"] == gateway.device_id
    assert changed[one.device_id]["service"]["data"]["reading"] == 1000
    assert DataHistory.objects.filter(device_id__in=[device.pk for device in found.values()]).count() == 150
    history = client.get(
        f"/iocm/app/data/v1.2.0/deviceDataHistory?deviceId={one.device_id}&gatewayId={gateway.device_id}",
        headers=owner_app.headers(),
    )
    rows = history.json()["deviceDataHistoryDTOs"]
    assert history.status_code == 200 and rows[0]["gatewayId"] == gateway.device_id
    assert rows[0]["data"]["reading"] == 1000
    wrong = client.get(
        f"/iocm/app/data/v1.2.0/deviceDataHistory?deviceId={one.device_id}&gatewayId={one.device_id}",
        headers=owner_app.headers(),
    )
    assert wrong.json()["deviceDataHistoryDTOs"] == []
    listing = client.get(f"/iocm/app/dm/v1.4.0/devices?gatewayId={gateway.device_id}", headers=owner_app.headers())
    assert listing.json()["totalCount"] == 151
    # Another application sees none of them.
    other = create_app("Other utility")
    theirs = client.get(f"/iocm/app/dm/v1.4.0/devices/{one.device_id}", headers=other.headers())
    assert theirs.json().get("error_code") == "100418"
    their_list = client.get(f"/iocm/app/dm/v1.4.0/devices?gatewayId={gateway.device_id}", headers=other.headers())
    assert their_list.json()["totalCount"] == 0
    assert any("150 sub-devices listed, 150 added" in line for line in logs_of(gateway))


def _create(client: Client, credentials, device_id: str, **body) -> str:
    response = client.post(
        "/iocm/app/cmd/v1.4.0/deviceCommands",
        json.dumps({"deviceId": device_id, "command": SET_PERIOD, **body}),
        content_type="application/json",
        headers=credentials.headers(),
    )
    assert response.status_code == 201, response.content
    return response.json()["commandId"]


def _status(command_id: str, wanted: str) -> Command:
    wait_for(lambda: Command.objects.get(command_id=command_id).status == wanted)
    return Command.objects.get(command_id=command_id)


async def _command_to(simulated: SimulatedDevice, sub: SubDevice):
    """The first command (messageId 0x02) the gateway got for `sub`, not a report ACK."""
    count = 1
    while True:
        received = await simulated.wait_downlink(count)
        commands = [one for one in received if one.payload[:1] == b"\x02" and one.path.startswith(f"/{sub.prefix}/")]
        if commands:
            return commands[0]
        count = len(received) + 1


def test_commands_to_a_sub_device_go_to_its_prefix_through_the_gateway_and_are_answered(owner_app, port):
    client = Client()
    gateway = lwm2m_gateway(owner_app)
    listed = subs(gateway, 2)

    async def scenario():
        simulated = await online(gateway, port, listed)
        target = await db(lambda: Device.objects.get(node_id=listed[1].node_id))
        # Immediate: written to /{prefix}/19/1/0 at once, answered on its /19/0/0 with the same mid.
        now = await db(lambda: _create(client, owner_app, target.device_id, expireTime=0))
        sent = await _command_to(simulated, listed[1])
        await db(_status, now, "DELIVERED")
        mid = struct.unpack(">H", sent.payload[1:3])[0]
        await simulated.notify_sub(listed[1], b"\x03" + struct.pack(">HBb", mid, 0, 7))
        # Cached (PSM, the default, the gateway's): waits for the gateway's next report for it.
        simulated.received.clear()
        cached = await db(_create, client, owner_app, target.device_id)
        await asyncio.sleep(0.3)
        waited = [one.payload for one in simulated.received]
        await simulated.notify_sub(listed[1], report(5))
        later = await _command_to(simulated, listed[1])
        await db(_status, cached, "DELIVERED")
        simulated.close()
        return now, sent, cached, waited, later

    now, sent, cached, waited, later = asyncio.run(scenario())
    assert sent.path == "/ep1/19/1/0" and sent.method == "PUT" and sent.confirmable
    assert struct.unpack(">I", sent.payload[3:7])[0] == 60
    command = _status(now, "SUCCESSFUL")
    assert command.status == "SUCCESSFUL" and command.result_detail == {"result": 7}
    assert list(CommandEvent.objects.filter(command=command).values_list("status", flat=True)) == [
        "PENDING",
        "SENT",
        "DELIVERED",
        "SUCCESSFUL",
    ]
    assert waited == []
    assert later.path == "/ep1/19/1/0" and Command.objects.get(command_id=cached).status == "DELIVERED"


def test_a_gateway_lists_only_what_it_may_and_each_refusal_is_logged_with_its_rule(owner_app, port):
    gateway = lwm2m_gateway(owner_app)
    other_gateway = lwm2m_gateway(owner_app, "gw-0000002")
    Device.objects.filter(pk=other_gateway.pk).update(node_type=NodeType.GATEWAY)
    theirs = register(owner_app, "theirs-001", info=METER, timeout=0)
    Device.objects.filter(pk=theirs.pk).update(gateway=other_gateway)
    direct = register(owner_app, "direct-001", info=METER, timeout=0)
    stranger = create_app("Other utility")
    foreign = register(stranger, "foreign-001", timeout=0)
    listed = [
        SubDevice("new-001", "a", manufacturer="Acme", model="m1"),
        SubDevice("unknown-001", "b", manufacturer="Acme", model="no-such-model"),
        SubDevice(theirs.node_id, "c"),
        SubDevice(direct.node_id, "d"),
        SubDevice(foreign.node_id, "e"),
    ]

    async def scenario():
        simulated = SimulatedDevice(gateway.node_id, ("127.0.0.1", port), sub_devices=listed)
        await simulated.open()
        await simulated.register()
        await asyncio.wait_for(asyncio.gather(listed[0].observed.wait(), listed[3].observed.wait()), 10)
        simulated.close()
        return simulated

    asyncio.run(scenario())

    assert sorted(children(gateway)) == ["direct-001", "new-001"]  # added, and adopted
    assert Device.objects.get(pk=direct.pk).node_type == NodeType.ENDPOINT
    assert Device.objects.get(pk=theirs.pk).gateway_id == other_gateway.pk
    assert Device.objects.get(pk=foreign.pk).application_id == stranger.application.pk
    assert not Device.objects.filter(node_id="unknown-001").exists()
    lines = "\n".join(logs_of(gateway))
    no_product = "no product of this application has manufacturerId 'Acme' and model 'no-such-model'"
    assert f"sub-device unknown-001 refused: {no_product}" in lines
    assert f"sub-device {theirs.node_id} refused: it is already a sub-device of another gateway" in lines
    assert f"sub-device {foreign.node_id} refused: the nodeId is already registered to another device" in lines
    assert "5 sub-devices listed, 1 added, 1 adopted, 3 refused" in lines
    assert listed[1].observe_token is None and listed[2].observe_token is None


def test_an_update_without_an_instance_takes_it_offline_and_its_notifications_are_refused(owner_app, port):
    gateway = lwm2m_gateway(owner_app)
    listed = subs(gateway, 3)

    async def scenario():
        simulated = await online(gateway, port, listed)
        gone = listed.pop(1)
        answer = await simulated.update(objects='</>;rt="oma.lwm2m",</1/0>,</3/0>,</19/0>,' + simulated.gateway_links())
        assert answer.code.is_successful()
        await db(wait_for, lambda: Device.objects.get(node_id=gone.node_id).status == Status.OFFLINE)
        with pytest.raises(DeviceError, match="reset"):
            await simulated.notify_sub(gone, report(7))
        await simulated.notify_sub(listed[1], report(8))  # the others keep reporting
        simulated.close()
        return gone

    gone = asyncio.run(scenario())

    statuses = {node_id: device.status for node_id, device in children(gateway).items()}
    assert statuses == {listed[0].node_id: "ONLINE", gone.node_id: "OFFLINE", listed[1].node_id: "ONLINE"}
    assert not DataHistory.objects.filter(device_id=Device.objects.get(node_id=gone.node_id).pk).exists()
    assert DataHistory.objects.filter(device_id=Device.objects.get(node_id=listed[1].node_id).pk).exists()
    assert DeviceSession.objects.get(device__node_id=gone.node_id).listed is False
    refused = [line for line in logs_of(gateway) if "refused" in line]
    assert wait_for(lambda: [line for line in logs_of(gateway) if "prefix 'ep1' refused" in line]), refused


def test_a_product_that_is_not_a_gateway_product_ignores_object_25(owner_app, port):
    device = lwm2m_gateway(owner_app, gateway=False)

    async def scenario():
        simulated = SimulatedDevice(device.node_id, ("127.0.0.1", port), sub_devices=subs(device, 2))
        await simulated.open()
        await simulated.register()
        await simulated.wait_observed()
        await simulated.notify(report(3))
        simulated.close()

    asyncio.run(scenario())

    assert not Device.objects.filter(gateway=device).exists()
    assert Device.objects.get(pk=device.pk).node_type != NodeType.GATEWAY
    assert DataHistory.objects.filter(device_id=device.pk).exists()  # its own data, as a plain device
    assert any("object 25 (LwM2M Gateway) ignored: its product" in line for line in logs_of(device))


def test_sub_devices_follow_their_gateway_offline_on_deregistration_and_expiry_and_come_back(owner_app, port):
    gateway = lwm2m_gateway(owner_app)
    listed = subs(gateway, 3)

    def statuses() -> list[tuple[str, str]]:
        return [(device.status, device.status_detail) for device in children(gateway).values()]

    bridge = (Status.OFFLINE, StatusDetail.BRIDGE_OFFLINE)

    async def scenario():
        simulated = await online(gateway, port, listed)
        await simulated.deregister()
        assert await db(wait_for, lambda: statuses() == [bridge] * 3)
        for sub in listed:
            sub.observed.clear()
        await simulated.register()
        await simulated.wait_sub_devices_observed()
        assert await db(wait_for, lambda: statuses() == [(Status.ONLINE, StatusDetail.NONE)] * 3)
        simulated.close()

    asyncio.run(scenario())
    assert Device.objects.get(pk=gateway.pk).status == Status.ONLINE
    assert any("LwM2M de-registration" in line for line in logs_of(gateway))

    # Its lifetime runs out (the clock moved on): the sweep of sessions takes it and them OFFLINE.
    later = timezone.now() + dt.timedelta(days=3)
    sessions.expire_sessions(now=later)
    assert statuses() == [bridge] * 3
    assert Device.objects.get(pk=gateway.pk).status == Status.OFFLINE
    assert not DeviceSession.objects.filter(device__gateway=gateway).exists()
    assert any("its LwM2M registration expired" in line for line in logs_of(gateway))


def test_over_coaps_the_sub_devices_share_the_gateways_dtls_session(owner_app):
    from tests.ingress.fixtures import WorkerThread

    psk = "73656372657450534b"
    gateway_product(owner_app)
    gateway = register(owner_app, "gw-secure-01", info=METER, timeout=0, psk=psk, is_secure=True)
    listed = subs(gateway, 2)
    worker = WorkerThread().start()
    try:

        async def scenario():
            simulated = await online(gateway, worker.coaps_port, listed, psk=(gateway.node_id, bytes.fromhex(psk)))
            await simulated.notify_sub(listed[0], report(42))
            target = await db(lambda: Device.objects.get(node_id=listed[0].node_id))
            command_id = await db(lambda: _create(Client(), owner_app, target.device_id, expireTime=0))
            sent = await _command_to(simulated, listed[0])
            mid = struct.unpack(">H", sent.payload[1:3])[0]
            await db(_status, command_id, "DELIVERED")
            await simulated.notify_sub(listed[0], b"\x03" + struct.pack(">HBb", mid, 0, 1))
            simulated.close()
            return command_id, sent, target

        command_id, sent, target = asyncio.run(scenario())
    finally:
        worker.stop()

    assert sent.path == f"/{listed[0].prefix}/19/1/0"
    assert _status(command_id, "SUCCESSFUL").status == "SUCCESSFUL"
    assert DataHistory.objects.filter(device_id=target.pk).exists()
    assert DeviceSession.objects.get(device=target).secure is True


def test_the_simulated_gateway_reports_for_its_sub_devices_and_answers_their_commands(owner_app, port):
    from ingress.simulator import run_lwm2m_gateway

    gateway = lwm2m_gateway(owner_app)
    node_ids = [f"{gateway.node_id}-{n:05d}" for n in range(3)]

    async def scenario():
        run = asyncio.ensure_future(
            run_lwm2m_gateway(
                gateway.node_id,
                node_ids,
                port,
                payload=report(9),
                manufacturer="Acme",
                model="m1",
                rate=10,
                duration=3,
                answer=bytes.fromhex("030007"),  # messageId 3, the mid, errcode 0, result 7
            )
        )
        target = await db(wait_for, lambda: Device.objects.filter(node_id=node_ids[2]).first())
        await asyncio.sleep(0.5)
        command_id = await db(lambda: _create(Client(), owner_app, target.device_id, expireTime=0))
        result = await run
        return command_id, result

    command_id, result = asyncio.run(scenario())

    assert result.connected == 3 and result.failed == 0 and result.acknowledged == result.sent >= 20
    command = _status(command_id, "SUCCESSFUL")
    assert command.status == "SUCCESSFUL" and command.result_detail == {"result": 7}
