"""Commands to a simulated LwM2M device through the real ingress worker and the real codec engine.

The device is registered and tied to its product through the northbound API, connects over CoAP,
is observed, reports; commands go out on /19/1/0 as the codec encodes them, the device's ACK makes
them DELIVERED and its response (matched by mid) SUCCESSFUL or FAILED.
"""

from __future__ import annotations

import asyncio
import json
import struct
import time

import pytest
from aiocoap import Message
from django.db import connections

from commands.models import Command, CommandEvent
from ingress.simulator import connect
from tests.applications.fixtures import create_app
from tests.ingress.fixtures import WorkerThread
from tests.products.codecs.fixtures import deploy, meter

pytestmark = pytest.mark.django_db(transaction=True)

SET_PERIOD = {"serviceId": "Meter", "method": "SET_PERIOD", "paras": {"period": 60}}


@pytest.fixture(autouse=True)
def _real_codecs(settings, monkeypatch):
    settings.INGRESS_CODEC_MODULE = "products.codecs"
    settings.PUSH_ALLOW_PRIVATE = True
    settings.INGRESS_ACK_TIMEOUT = 0.2
    settings.INGRESS_MAX_RETRANSMIT = 2
    settings.INGRESS_HEARTBEAT_SECONDS = 1
    settings.CODEC_VERSION_CACHE_SECONDS = 0
    monkeypatch.setattr("subscriptions.actions.wake", lambda target_id: None)


@pytest.fixture
def worker():
    thread = WorkerThread().start()
    yield thread
    thread.stop()


@pytest.fixture
def device(client):
    credentials = create_app()
    deploy(meter(credentials))
    headers = credentials.headers()
    registered = client.post(
        "/iocm/app/reg/v1.1.0/deviceCredentials",
        json.dumps({"nodeId": "867724030023557", "verifyCode": "867724030023557", "timeout": 0}),
        content_type="application/json",
        headers=headers,
    ).json()
    tie = {"manufacturerId": "Acme", "deviceType": "WaterMeter", "model": "m1", "protocolType": "LWM2M"}
    modified = client.put(
        f"/iocm/app/dm/v1.4.0/devices/{registered['deviceId']}",
        json.dumps(tie),
        content_type="application/json",
        headers=headers,
    )
    assert modified.status_code == 204
    return credentials, registered["deviceId"], "867724030023557"


def _create(client, credentials, device_id, **body):
    response = client.post(
        "/iocm/app/cmd/v1.4.0/deviceCommands",
        json.dumps({"deviceId": device_id, "command": SET_PERIOD, **body}),
        content_type="application/json",
        headers=credentials.headers(),
    )
    assert response.status_code == 201, response.content
    return response.json()["commandId"]


def _report(reading: int = 100) -> bytes:
    return b"\x01" + struct.pack(">Ih", reading, 21)


async def _command_downlink(simulated):
    """The first downlink that is a command (messageId 0x02), not a report ACK (AA AA ...)."""
    count = 1
    while True:
        received = await simulated.wait_downlink(count)
        commands = [downlink for downlink in received if downlink.payload[:1] == b"\x02"]
        if commands:
            return commands[0]
        count = len(received) + 1


def _threaded(function, *args, **kwargs):
    """Run `function` on an asyncio.to_thread worker, then give the thread's pooled connection back
    (a thread that ends without it keeps the connection from the pool for the rest of the run)."""
    try:
        return function(*args, **kwargs)
    finally:
        connections.close_all()


def _command_transmissions(simulated) -> int:
    """How many copies of a command (payload messageId 0x02) reached the device while it slept; the
    codec's report ACKs (AA AA ...) and their retransmissions are not counted."""
    return sum(Message.decode(data).payload[:1] == b"\x02" for data in simulated.dropped)


def _wait_status(command_id: str, wanted: str, seconds: float = 10) -> Command:
    deadline = time.monotonic() + seconds
    while True:
        command = Command.objects.get(command_id=command_id)
        if command.status == wanted or time.monotonic() > deadline:
            return command
        time.sleep(0.05)


def test_psm_command_goes_out_on_the_next_uplink_and_succeeds(client, worker, device):
    credentials, device_id, node_id = device

    async def scenario():
        simulated = await connect(node_id, worker.port)
        await simulated.notify(_report())  # first contact binds the device, ONLINE
        command_id = await asyncio.to_thread(_threaded, _create, client, credentials, device_id)
        await asyncio.sleep(0.2)
        # PSM: nothing but the report's ACK (AA AA 00 00) until the device reports again.
        assert [downlink.payload for downlink in simulated.received] == [b"\xaa\xaa\x00\x00"]
        await simulated.notify(_report(101))
        downlink = await _command_downlink(simulated)
        await asyncio.to_thread(_threaded, _wait_status, command_id, "DELIVERED")
        mid = struct.unpack(">H", downlink.payload[1:3])[0]
        await simulated.notify(b"\x03" + struct.pack(">HBb", mid, 0, 7))
        simulated.close()
        return command_id, downlink

    command_id, downlink = asyncio.run(scenario())
    assert downlink.path == "/19/1/0"
    assert downlink.payload[0] == 0x02 and struct.unpack(">I", downlink.payload[3:7])[0] == 60
    command = _wait_status(command_id, "SUCCESSFUL")
    assert command.status == "SUCCESSFUL" and command.result_detail == {"result": 7}
    statuses = list(CommandEvent.objects.filter(command=command).values_list("status", flat=True))
    assert statuses == ["PENDING", "SENT", "DELIVERED", "SUCCESSFUL"]


def test_immediate_command_to_an_awake_device_is_sent_at_once(client, worker, device):
    credentials, device_id, node_id = device

    async def scenario():
        simulated = await connect(node_id, worker.port)
        await simulated.notify(_report())
        command_id = await asyncio.to_thread(_threaded, _create, client, credentials, device_id, expireTime=0)
        downlink = await _command_downlink(simulated)
        mid = struct.unpack(">H", downlink.payload[1:3])[0]
        await asyncio.to_thread(_threaded, _wait_status, command_id, "DELIVERED")
        await simulated.notify(b"\x03" + struct.pack(">HBb", mid, 1, -1))  # errcode 1: FAILED
        simulated.close()
        return command_id

    command = _wait_status(asyncio.run(scenario()), "FAILED")
    assert command.status == "FAILED"


def test_a_sleeping_device_never_acknowledges_and_the_command_times_out(client, worker, device):
    credentials, device_id, node_id = device

    async def scenario():
        simulated = await connect(node_id, worker.port)
        await simulated.notify(_report())
        simulated.asleep = True
        command_id = await asyncio.to_thread(_threaded, _create, client, credentials, device_id, expireTime=0)
        await asyncio.to_thread(_threaded, _wait_status, command_id, "TIMEOUT")
        simulated.close()
        return command_id

    assert _wait_status(asyncio.run(scenario()), "TIMEOUT").status == "TIMEOUT"


@pytest.mark.parametrize("max_retransmit", [0, 2])
def test_the_commands_max_retransmit_bounds_coaps_retransmissions(client, worker, device, max_retransmit):
    credentials, device_id, node_id = device

    async def scenario():
        simulated = await connect(node_id, worker.port)
        await simulated.notify(_report())
        await simulated.wait_downlink(1)  # the codec's report ACK, acknowledged while awake
        simulated.asleep = True
        command_id = await asyncio.to_thread(
            _threaded, _create, client, credentials, device_id, expireTime=0, maxRetransmit=max_retransmit
        )
        command = await asyncio.to_thread(_threaded, _wait_status, command_id, "TIMEOUT")
        simulated.close()
        return command, _command_transmissions(simulated)

    command, transmissions = asyncio.run(scenario())
    assert command.status == "TIMEOUT"
    assert transmissions == 1 + max_retransmit


def test_a_desired_property_goes_at_the_next_contact_through_the_codec_and_its_outcome_is_pushed(client, worker):
    """The shadow API: the application desires Meter.period = 60 (a writable property); the device gets it
    at its next report as SET_PERIOD, encoded by the product's real codec, and its response ends the change."""
    from commands.models import DesiredChange
    from subscriptions.models import PushMessage, Subscription
    from tests.products.codecs.fixtures import meter_files
    from tests.products.fixtures import import_files, service_path

    credentials = create_app()
    files = meter_files()
    meter_service = files[service_path("Meter")]["services"][0]
    meter_service["properties"].append(
        {"propertyName": "period", "dataType": "int", "required": False, "min": 1, "max": 86400, "step": None,
         "maxLength": None, "method": "RW", "unit": None, "enumList": None}
    )  # fmt: skip
    deploy(import_files(credentials, files))
    Subscription.objects.create(
        application=credentials.application,
        notify_type="deviceDesiredPropertiesModifyStatusChanged",
        callback_url="http://127.0.0.1:9/desired",
    )
    headers = credentials.headers()
    node_id = "867724030023558"
    device_id = client.post(
        "/iocm/app/reg/v1.1.0/deviceCredentials",
        json.dumps({"nodeId": node_id, "verifyCode": node_id, "timeout": 0}),
        content_type="application/json",
        headers=headers,
    ).json()["deviceId"]
    tie = {"manufacturerId": "Acme", "deviceType": "WaterMeter", "model": "m1", "protocolType": "LWM2M"}
    client.put(
        f"/iocm/app/dm/v1.4.0/devices/{device_id}", json.dumps(tie), content_type="application/json", headers=headers
    )

    def desire() -> int:
        body = {"serviceDesireds": [{"serviceId": "Meter", "desired": {"period": 60}}]}
        return client.put(
            f"/iocm/app/shadow/v1.5.0/devices/{device_id}",
            json.dumps(body),
            content_type="application/json",
            headers=headers,
        ).status_code

    async def scenario():
        simulated = await connect(node_id, worker.port)
        await simulated.notify(_report())  # first contact: bound, ONLINE
        assert await asyncio.to_thread(_threaded, desire) == 200
        await asyncio.sleep(0.2)
        assert [downlink.payload for downlink in simulated.received] == [b"\xaa\xaa\x00\x00"]  # kept until contact
        await simulated.notify(_report(101))
        downlink = await _command_downlink(simulated)
        mid = struct.unpack(">H", downlink.payload[1:3])[0]
        await simulated.notify(b"\x03" + struct.pack(">HBb", mid, 0, 0))
        simulated.close()
        return downlink

    downlink = asyncio.run(scenario())
    assert downlink.path == "/19/1/0"
    assert downlink.payload[0] == 0x02 and struct.unpack(">I", downlink.payload[3:7])[0] == 60
    deadline = time.monotonic() + 10
    while DesiredChange.objects.get().status != "SUCCESSFUL" and time.monotonic() < deadline:
        time.sleep(0.05)
    change = DesiredChange.objects.get()
    assert (change.status, change.version, change.command.method) == ("SUCCESSFUL", 1, "SET_PERIOD")
    pushed = PushMessage.objects.get(notify_type="deviceDesiredPropertiesModifyStatusChanged")
    assert json.loads(bytes(pushed.body))["status"] == "SUCCESSFUL"
