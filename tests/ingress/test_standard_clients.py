"""Clients that follow the OMA LwM2M specification, through the real `run_ingress` process (docs/lwm2m.md).

The simulated device acts as a conformant 1.0 or 1.1 client (`client="1.0"|"1.1"`): object 19's
resource 0 is multiple-instance, so a plain opaque write to /19/1/0 is refused with 4.00 as Zephyr,
Anjay and Wakaama refuse it; 1.0 takes a TLV write of the resource, 1.1 a write of /19/1/0/0. Commands
go through the northbound API and the real codec engine, the answers come back by mid.
"""

from __future__ import annotations

import asyncio
import json
import os
import struct
import subprocess
import time

import pytest
from django.db import connections
from django.test import Client

from applications.redis import get_redis
from commands import actions as command_actions
from commands.models import Command, CommandEvent
from devices.downlink import asleep, held_key, queue_downlink
from devices.models import DataHistory, Device, DeviceLog, Status
from ingress.formats import TLV, encode_tlv_multiple
from ingress.models import DeviceSession, LearnedDownlink
from ingress.simulator import SimulatedDevice
from portal.env import BASE_DIR
from tests.applications.fixtures import create_app
from tests.devices.fixtures import register
from tests.ingress.fixtures import free_udp_port
from tests.ingress.strict_client import StrictClient
from tests.products.codecs.fixtures import deploy, meter

pytestmark = pytest.mark.django_db(transaction=True)

IMEI = "867724030023557"
PEERS = BASE_DIR / "tests" / "peers"
PSK_HEX = "73656372657450534b"
SET_PERIOD = {"serviceId": "Meter", "method": "SET_PERIOD", "paras": {"period": 60}}
ENDPOINT_NAMES = {
    "nodeId": IMEI,
    "urn:imei": f"urn:imei:{IMEI}",
    "urn:imei-imsi": f"urn:imei-imsi:{IMEI}-460001234567890",
    "urn:dev:ops": f"urn:dev:ops:001122-Meter-{IMEI}",
}


@pytest.fixture(autouse=True)
def _fast(settings, monkeypatch):
    settings.PUSH_ALLOW_PRIVATE = True
    settings.CODEC_VERSION_CACHE_SECONDS = 0
    monkeypatch.setattr("subscriptions.actions.wake", lambda target_id: None)


@pytest.fixture
def start(ingress, settings):
    """The real run_ingress (one worker) with the real codec engine: (CoAP port, CoAPS port)."""
    # Commands reach the worker over the channel layer: this process must use the prefix that the
    # ingress process derives from this test's REDIS_KEY_PREFIX.
    layers = {"default": {**settings.CHANNEL_LAYERS["default"]}}
    layers["default"]["CONFIG"] = {**layers["default"]["CONFIG"], "prefix": f"{settings.REDIS_KEY_PREFIX}asgi"}
    settings.CHANNEL_LAYERS = layers

    def start_ingress(**overrides: str) -> tuple[int, int]:
        coaps_port = free_udp_port()
        _, port = ingress(
            workers=1,
            INGRESS_CODEC_MODULE="products.codecs",
            CODEC_VERSION_CACHE_SECONDS="0",
            COAPS_PORT=str(coaps_port),
            **overrides,
        )
        return port, coaps_port

    return start_ingress


@pytest.fixture
def meter_device():
    """A WaterMeter device of the Acme product (real codec deployed), secure or not."""
    credentials = create_app()
    product = meter(credentials)
    deploy(product)

    def make(*, secure: bool = False, power_mode: str = "DRX", downlink: str = "") -> tuple:
        options = {"psk": PSK_HEX, "is_secure": True} if secure else {}
        info = {"manufacturerId": "Acme", "deviceType": "WaterMeter", "model": "m1", "protocolType": "LWM2M"}
        device = register(credentials, IMEI, info=info, **options)
        command_actions.do_set_delivery_policy(product=product, power_mode=power_mode, lwm2m_downlink=downlink)
        return credentials, device, product

    return make


PSK_SUITES = ("TLS-PSK-WITH-AES-128-CCM-8", "TLS-PSK-WITH-AES-128-CBC-SHA256")  # F-1.3
# The strict client's transports: plain CoAP, or CoAPS with one of the PSK suites (its DTLS: DtlsTunnel).
CCM8, CBC = "CoAPS-CCM8", "CoAPS-CBC"
STRICT_TRANSPORTS = {"CoAP": None, CCM8: PSK_SUITES[0], CBC: PSK_SUITES[1]}


def _strict(endpoint: str, ports: tuple[int, int], transport: str, **options) -> StrictClient:
    """The strict client on `transport`: the CoAP port, or the COAPS port with the device's psk (identity:
    its endpoint name) and that suite."""
    port, coaps_port = ports
    suite = STRICT_TRANSPORTS[transport]
    if suite is None:
        return StrictClient(endpoint, ("127.0.0.1", port), **options)
    psk = (endpoint, bytes.fromhex(PSK_HEX))
    return StrictClient(endpoint, ("127.0.0.1", coaps_port), psk=psk, cipher=suite, **options)


def _report(reading: int) -> bytes:
    return b"\x01" + struct.pack(">Ih", reading, 21)


def _threaded(function, *args):
    try:
        return function(*args)
    finally:
        connections.close_all()


def _create(credentials, device: Device) -> str:
    response = Client(headers=credentials.headers()).post(
        "/iocm/app/cmd/v1.4.0/deviceCommands",
        json.dumps({"deviceId": device.device_id, "command": SET_PERIOD}),
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    return response.json()["commandId"]


def _query(credentials, command_id: str) -> dict:
    response = Client(headers=credentials.headers()).get("/iocm/app/cmd/v1.4.0/deviceCommands?pageSize=100")
    assert response.status_code == 200, response.content
    return next(item for item in response.json()["data"] if item["commandId"] == command_id)


def _wait(condition, seconds: float = 15.0):
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def _status(command_id: str, wanted: str) -> bool:
    return Command.objects.filter(command_id=command_id, status=wanted).exists()


async def _register(device: SimulatedDevice) -> SimulatedDevice:
    await device.open()
    await device.register()
    await device.wait_observed()
    return device


def _readings(device: Device) -> list[str]:
    return [str(row.data.get("reading")) for row in DataHistory.objects.filter(device_id=device.pk).order_by("id")]


@pytest.mark.parametrize("secure", [False, True], ids=["CoAP", "CoAPS"])
@pytest.mark.parametrize("form", sorted(ENDPOINT_NAMES))
def test_each_endpoint_name_form_registers_the_device_and_its_first_observe_value_is_stored(
    start, meter_device, form, secure
):
    _credentials, device, _ = meter_device(secure=secure)
    port, coaps_port = start()
    name = ENDPOINT_NAMES[form]

    async def scenario():
        simulated = SimulatedDevice(
            name,
            ("127.0.0.1", coaps_port if secure else port),
            client="1.1",
            current_value=_report(4242),
            psk=(name, bytes.fromhex(PSK_HEX)) if secure else None,
        )
        await _register(simulated)
        await asyncio.to_thread(_threaded, _wait, lambda: _readings(device) == ["4242"])
        await simulated.deregister()
        simulated.close()

    asyncio.run(scenario())

    registered = DeviceLog.objects.filter(device=device, summary__contains="registration over").first()
    assert ("CoAPS" if secure else "CoAP") in registered.summary
    if form == "nodeId":
        assert "endpoint name" not in registered.summary
    else:
        assert f"endpoint name {name!r} ({form} form)" in registered.summary
    device.refresh_from_db()
    assert device.status == Status.OFFLINE  # de-registered: OFFLINE at once
    assert DeviceLog.objects.filter(device=device, summary__endswith="-> OFFLINE: LwM2M de-registration").exists()
    assert not DeviceSession.objects.filter(device=device).exists()


@pytest.mark.parametrize(
    ("client", "path", "form"), [("1.0", "/19/1/0", "tlv"), ("1.1", "/19/1/0/0", "instance")], ids=["1.0", "1.1"]
)
def test_a_command_reaches_a_conformant_client_in_its_form_and_its_answer_completes_it(
    start, meter_device, client, path, form
):
    credentials, device, _ = meter_device()
    port, _ = start()

    async def scenario():
        simulated = await _register(SimulatedDevice(f"urn:imei:{IMEI}", ("127.0.0.1", port), client=client))
        await simulated.notify(_report(100))  # ONLINE
        command_id = await asyncio.to_thread(_threaded, _create, credentials, device)
        (downlink,) = [d for d in await _command_downlinks(simulated, 1)]
        await asyncio.to_thread(_threaded, _wait, lambda: _status(command_id, "DELIVERED"))
        mid = struct.unpack(">H", downlink.payload[1:3])[0]
        await simulated.notify(b"\x03" + struct.pack(">HBb", mid, 0, 7))
        await asyncio.to_thread(_threaded, _wait, lambda: _status(command_id, "SUCCESSFUL"))
        # Once learned, the next command goes in the form that worked, at once.
        second = await asyncio.to_thread(_threaded, _create, credentials, device)
        await _command_downlinks(simulated, 2)
        simulated.close()
        return command_id, downlink, second

    _command_id, downlink, second = asyncio.run(scenario())

    assert downlink.path == path and downlink.payload[0] == 0x02
    assert struct.unpack(">I", downlink.payload[3:7])[0] == 60
    if client == "1.0":
        # Opaque first (the Huawei modules' form), refused with 4.00, then TLV: learned.
        assert LearnedDownlink.objects.get(device=device).form == "tlv"
        refused = DeviceLog.objects.get(device=device, summary__startswith="the device refused the opaque write")
        assert "4.00 Bad Request" in refused.summary and "trying the tlv form" in refused.summary
        assert DeviceSession.objects.get(device=device).downlink_forms == "tlv,opaque"
    else:
        assert not LearnedDownlink.objects.filter(device=device).exists()  # 1.1: the instance form first
    assert form in DeviceSession.objects.get(device=device).downlink_forms.split(",")[0]
    assert Command.objects.get(command_id=second).status in ("SENT", "DELIVERED")


async def _command_downlinks(simulated: SimulatedDevice, count: int) -> list:
    """The commands (payload messageId 0x02) the device took, not the report ACKs (AA AA ...)."""
    deadline = time.monotonic() + 15
    while True:
        commands = [d for d in simulated.received if d.payload[:1] == b"\x02"]
        if len(commands) >= count:
            return commands
        assert time.monotonic() < deadline, f"{len(commands)} commands arrived, {count} expected"
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("secure", [False, True], ids=["CoAP", "CoAPS"])
def test_a_refused_downlink_fails_the_command_with_the_devices_answer_in_result_detail(start, meter_device, secure):
    # given: the delivery policy says Execute, which a conformant client refuses; Execute has no fallback
    credentials, device, _ = meter_device(downlink="execute", secure=secure)
    port, coaps_port = start()

    async def scenario():
        server = ("127.0.0.1", coaps_port if secure else port)
        psk = (IMEI, bytes.fromhex(PSK_HEX)) if secure else None
        simulated = await _register(SimulatedDevice(IMEI, server, client="1.1", psk=psk))
        await simulated.notify(_report(100))
        command_id = await asyncio.to_thread(_threaded, _create, credentials, device)
        await asyncio.to_thread(_threaded, _wait, lambda: _status(command_id, "FAILED"))
        simulated.close()
        return command_id

    command_id = asyncio.run(scenario())

    answer = "the device answered 4.05 Method Not Allowed: resource 0 of object 19 is not executable"
    body = _query(credentials, command_id)
    assert body["status"] == "FAILED"
    assert body["result"] == {"resultCode": "FAILED", "resultDetail": answer}
    event = CommandEvent.objects.filter(command__command_id=command_id, status="FAILED").get()
    assert event.evidence["code"] == "4.05" and event.evidence["detail"] == answer
    assert not LearnedDownlink.objects.filter(device=device).exists()


@pytest.mark.parametrize("client", ["huawei", "1.0", "1.1"])
def test_queue_mode_holds_commands_until_the_next_update_then_sends_them_in_its_wake_window(
    start, meter_device, client
):
    credentials, device, _ = meter_device()
    # A wake window of 1 s: the device is asleep 1 s after each registration, Update or uplink.
    port, _ = start(INGRESS_QUEUE_AWAKE_SECONDS="1")

    async def scenario():
        simulated = await _register(
            SimulatedDevice(f"urn:imei:{IMEI}", ("127.0.0.1", port), client=client, binding="UQ")
        )
        await asyncio.to_thread(_threaded, _wait, lambda: asleep(Device.objects.get(pk=device.pk)))
        command_id = await asyncio.to_thread(_threaded, _create, credentials, device)
        await asyncio.sleep(0.5)
        waiting = await asyncio.to_thread(_threaded, lambda: Command.objects.get(command_id=command_id).status)
        nothing = [d for d in simulated.received if d.payload[:1] == b"\x02"]
        await simulated.update()  # it wakes
        commands = await _command_downlinks(simulated, 1)
        await asyncio.to_thread(_threaded, _wait, lambda: _status(command_id, "DELIVERED"))
        simulated.close()
        return waiting, nothing, commands

    waiting, nothing, commands = asyncio.run(scenario())

    assert waiting == "PENDING" and nothing == []
    assert len(commands) == 1
    assert "Q" in DeviceSession.objects.get(device=device).binding


def test_an_observe_refused_with_4_04_is_retried_when_an_update_lists_the_instance(start, meter_device):
    _credentials, device, _ = meter_device()
    port, _ = start()

    async def scenario():
        simulated = SimulatedDevice(IMEI, ("127.0.0.1", port), client="1.1", refuse_observe=True)
        await simulated.open()
        await simulated.register(objects='</>;rt="oma.lwm2m",</1/0>,</3/0>,</19>')
        await asyncio.wait_for(simulated.observe_requested.wait(), 10)
        await asyncio.to_thread(
            _threaded,
            _wait,
            lambda: DeviceLog.objects.filter(device=device, summary__contains="refused to be observed").exists(),
        )
        simulated.refuse_observe, simulated.current_value = False, _report(77)
        await simulated.update(objects='</>;rt="oma.lwm2m",</1/0>,</3/0>,</19/0>,</19/1>')
        await simulated.wait_observed()
        await asyncio.to_thread(_threaded, _wait, lambda: _readings(device) == ["77"])
        simulated.close()

    asyncio.run(scenario())
    assert DeviceSession.objects.get(device=device).observed


class NodeClient:
    """lwm2m-node-lib (npm, tests/peers/lwm2m_client.js) as a subprocess: its events, lines to its stdin."""

    def __init__(self, port: int, endpoint: str, value: bytes, *, writes: bool = True) -> None:
        assert (PEERS / "node_modules" / "lwm2m-node-lib").exists(), "run: npm ci --prefix tests/peers"
        self.process = subprocess.Popen(
            ["node", str(PEERS / "lwm2m_client.js"), "127.0.0.1", str(port), endpoint, value.hex()],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "LWM2M_WRITES": "1" if writes else "0"},
        )

    def event(self, name: str) -> dict:
        while True:  # the library logs too, and the platform's report ACKs are written: skip them
            line = self.process.stdout.readline()
            assert line, "the client exited"
            if line.startswith('{"event"'):
                found = json.loads(line)
                # (it decodes written payloads as UTF-8: the report ACK AA AA 00 00 arrives as FD FD 00 00)
                if found["event"] == name and not found.get("hex", "").startswith(("aaaa", "fdfd")):
                    return found

    def send(self, line: str) -> None:
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def quit(self) -> None:
        self.send("quit")
        self.process.wait(timeout=10)


def test_lwm2m_node_lib_as_urn_imei_first_value_a_command_and_deregistration(start, meter_device):
    """lwm2m-node-lib (npm, tests/peers) registers as urn:imei:<IMEI> with LwM2M 1.0: today's opaque write."""
    credentials, device, _ = meter_device()
    port, _ = start()
    client = NodeClient(port, f"urn:imei:{IMEI}", _report(31))
    try:
        client.event("registered")
        _wait(lambda: _readings(device) == ["31"])  # the observe's answer: its value before any notification
        command_id = _create(credentials, device)
        written = client.event("written")
        _wait(lambda: _status(command_id, "DELIVERED"))
        client.send("deregister")
        client.event("deregistered")
        _wait(lambda: Device.objects.get(pk=device.pk).status == Status.OFFLINE)
    finally:
        client.quit()

    assert written["path"] == "/19/1/0" and written["hex"].startswith("02")
    registered = DeviceLog.objects.filter(device=device, summary__contains="registration over").get()
    assert "endpoint name 'urn:imei:867724030023557' (urn:imei form)" in registered.summary
    assert DeviceSession.objects.filter(device=device).count() == 0


def test_lwm2m_node_lib_registers_with_each_endpoint_name_form_and_de_registers_to_offline(start, meter_device):
    _credentials, device, _ = meter_device()
    port, _ = start()
    forms = sorted(ENDPOINT_NAMES)

    for index, form in enumerate(forms):
        client = NodeClient(port, ENDPOINT_NAMES[form], _report(40 + index), writes=False)
        try:
            client.event("registered")
            _wait(lambda index=index: _readings(device)[-1:] == [str(40 + index)])
            client.send("deregister")
            client.event("deregistered")
            _wait(lambda: Device.objects.get(pk=device.pk).status == Status.OFFLINE)
        finally:
            client.quit()

    assert _readings(device) == [str(40 + index) for index in range(len(forms))]
    registered = list(
        DeviceLog.objects.filter(device=device, summary__contains="registration over CoAP")
        .order_by("id")
        .values_list("summary", flat=True)
    )
    for form, summary in zip(forms, registered, strict=True):
        assert (f"({form} form)" in summary) if form != "nodeId" else ("endpoint name" not in summary)
    offline = DeviceLog.objects.filter(device=device, summary__endswith="-> OFFLINE: LwM2M de-registration")
    assert offline.count() == len(forms)


def test_lwm2m_node_lib_without_the_downlink_instance_fails_the_command_with_its_answer(start, meter_device):
    credentials, device, _ = meter_device()
    port, _ = start()
    client = NodeClient(port, IMEI, _report(32), writes=False)  # it has no /19/1
    try:
        client.event("registered")
        _wait(lambda: _readings(device) == ["32"])
        command_id = _create(credentials, device)
        _wait(lambda: _status(command_id, "FAILED"))
    finally:
        client.quit()

    detail = _query(credentials, command_id)["result"]["resultDetail"]
    assert detail.startswith("the device answered 4.04 Not Found")
    event = CommandEvent.objects.get(command__command_id=command_id, status="FAILED")
    assert event.evidence["detail"] == detail


@pytest.mark.parametrize("transport", sorted(STRICT_TRANSPORTS))
@pytest.mark.parametrize("version", ["1.0", "1.1"])
def test_the_strict_client_on_aiocoap_is_commanded_answers_and_leaves(start, meter_device, version, transport):
    credentials, device, _ = meter_device(secure=transport != "CoAP")
    ports = start()

    async def scenario():
        client = _strict(f"urn:imei-imsi:{IMEI}-460001234567890", ports, transport, version=version)
        client.uplink.value = _report(55)
        # It answers each command (its mid) with errcode 0, on /19/0/0, as a device would.
        client.on_write = lambda value: value[:1] == b"\x02" and client.report(b"\x03" + value[1:3] + b"\x00\x07")
        await client.start()
        await asyncio.to_thread(_threaded, _wait, lambda: _readings(device) == ["55"])
        command_id = await asyncio.to_thread(_threaded, _create, credentials, device)
        await asyncio.to_thread(_threaded, _wait, lambda: _status(command_id, "SUCCESSFUL"))
        left = await client.deregister()
        await client.stop()
        return command_id, client.written, left, client.negotiated_cipher

    command_id, written, left, cipher = asyncio.run(scenario())

    assert cipher == (STRICT_TRANSPORTS[transport] or "")
    assert str(left.code.dotted) == "2.02"
    assert [value[:1] for value in written if value[:1] == b"\x02"] == [b"\x02"]
    forms = DeviceSession.objects.filter(device=device).values_list("downlink_forms", flat=True)
    assert list(forms) == []  # de-registered
    assert Device.objects.get(pk=device.pk).status == Status.OFFLINE
    # In the order the transitions happened (ids follow the row lock; `at` is taken before it, so an ACK's
    # DELIVERED decided a moment after the answer may carry the later time and still come first).
    events = list(
        CommandEvent.objects.filter(command__command_id=command_id).order_by("id").values_list("status", flat=True)
    )
    # The answer may overtake the write's ACK (it is sent from the write's handler): DELIVERED is then skipped.
    assert events[:2] == ["PENDING", "SENT"] and events[-1] == "SUCCESSFUL"
    if version == "1.0":
        assert LearnedDownlink.objects.get(device=device).form == "tlv"  # after its 4.00 to the opaque write
    else:
        assert not LearnedDownlink.objects.filter(device=device).exists()


def test_any_downlink_to_a_sleeping_queue_mode_device_is_held_until_it_wakes(start, meter_device):
    _, device, _ = meter_device()
    port, _ = start(INGRESS_QUEUE_AWAKE_SECONDS="1")

    async def scenario():
        simulated = await _register(SimulatedDevice(IMEI, ("127.0.0.1", port), client="1.1", binding="UQ"))
        # Its wake window (1 s after registering) closes.
        await asyncio.to_thread(_threaded, _wait, lambda: asleep(Device.objects.get(pk=device.pk)))
        queued = await asyncio.to_thread(
            _threaded,
            lambda: queue_downlink(Device.objects.get(pk=device.pk), b"\x05held", request_id="not-a-command"),
        )
        await asyncio.sleep(0.5)
        before = list(simulated.received)
        held = await asyncio.to_thread(_threaded, lambda: get_redis().llen(held_key(device.pk)))
        await simulated.update()
        received = await simulated.wait_downlink(1)
        simulated.close()
        return queued, before, held, received

    queued, before, held, received = asyncio.run(scenario())

    assert queued and before == [] and held == 1
    assert [(item.path, item.payload) for item in received] == [("/19/1/0/0", b"\x05held")]


@pytest.mark.parametrize("transport", ["CoAP", CCM8])
def test_a_conformant_clients_new_registration_cancels_its_stale_observation_with_a_reset(
    start, meter_device, transport
):
    """RFC 7641 3.6: the platform forgets the old observation; a notification on its token is reset."""
    _credentials, device, _ = meter_device(secure=transport != "CoAP")
    ports = start()

    async def scenario():
        client = _strict(f"urn:imei:{IMEI}", ports, transport, version="1.1", value=_report(10))
        await client.start()
        await asyncio.to_thread(_threaded, _wait, lambda: _readings(device) == ["10"])
        first = await asyncio.to_thread(
            _threaded, lambda: bytes(DeviceSession.objects.get(device=device).observe_token)
        )
        client.uplink.value = _report(11)
        await client.register()  # a new Register, not an Update: observed afresh, with a new token
        await asyncio.to_thread(_threaded, _wait, lambda: _readings(device) == ["10", "11"])
        observers_then = client.uplink.observers
        client.report(_report(12))  # notifies both observations aiocoap holds: the old one gets a reset
        await _until(lambda: client.uplink.observers == 1)
        await asyncio.to_thread(_threaded, _wait, lambda: _readings(device) == ["10", "11", "12"])
        client.report(_report(13))
        await asyncio.to_thread(_threaded, _wait, lambda: _readings(device) == ["10", "11", "12", "13"])
        await client.stop()
        return first, observers_then

    first, observers_then = asyncio.run(scenario())

    assert observers_then == 2  # the device still held the old observation after registering again
    session = DeviceSession.objects.get(device=device)
    assert session.previous_token is None and bytes(session.observe_token) != first
    assert _readings(device) == ["10", "11", "12", "13"]  # each value once: nothing on the old token
    again = DeviceLog.objects.filter(device=device, summary__contains="registration over").order_by("-id").first()
    assert again.summary.endswith("; the previous registration's observation is cancelled")


def test_a_huawei_module_registering_again_keeps_its_previous_token_accepted(start, meter_device):
    _credentials, device, _ = meter_device()
    port, _ = start()

    async def scenario():
        simulated = await _register(SimulatedDevice(IMEI, ("127.0.0.1", port)))  # client="huawei"
        old_token = simulated.observe_token
        simulated.observed.clear()
        await simulated.register()
        await simulated.wait_observed()
        new_token = simulated.observe_token
        simulated.observe_token = old_token  # a module notifies on its previous token for a while
        await simulated.notify(_report(21))  # CON: acknowledged, not reset
        await asyncio.to_thread(_threaded, _wait, lambda: "21" in _readings(device))
        simulated.close()
        return old_token, new_token, simulated.resets

    old_token, new_token, resets = asyncio.run(scenario())

    assert old_token != new_token and resets == 0
    assert bytes(DeviceSession.objects.get(device=device).previous_token) == old_token
    assert not DeviceLog.objects.filter(device=device, summary__contains="observation is cancelled").exists()


async def _until(condition, seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        await asyncio.sleep(0.05)


def _report_acks(simulated: SimulatedDevice) -> list:
    """The codec's cloudRsp to reports (AA AA ...), as the device took them."""
    return [d for d in simulated.received if d.payload[:2] == b"\xaa\xaa"]


def test_a_1_0_client_whose_links_declare_the_object_model_takes_its_first_non_cloud_rsp_in_tlv(start, meter_device):
    # given: an `auto` product and a 1.0 client whose root link declares LwM2M JSON (as Zephyr's does)
    _credentials, device, _ = meter_device()
    port, _ = start()

    async def scenario():
        simulated = SimulatedDevice(f"urn:imei:{IMEI}", ("127.0.0.1", port), client="1.0")
        await simulated.open()
        await simulated.register(objects='</>;rt="oma.lwm2m";ct=11543,</1/0>,</3/0>,</19/0>,</19/1>')
        await simulated.wait_observed()
        # when: its first report, before any command
        await simulated.notify(_report(5))
        await _until(lambda: _report_acks(simulated))
        simulated.close()
        return _report_acks(simulated)

    (ack,) = asyncio.run(scenario())

    # then: the NON cloudRsp went in the TLV form and was taken; nothing had to be refused first
    assert ack.path == "/19/1/0" and not ack.confirmable
    assert DeviceSession.objects.get(device=device).downlink_forms == "tlv,opaque"
    registered = DeviceLog.objects.get(device=device, summary__contains="registration over")
    assert (
        "object 19 downlinks in the tlv form first: its root link declares content format 11543" in registered.summary
    )
    assert not DeviceLog.objects.filter(device=device, summary__startswith="the device refused").exists()


def test_a_1_0_client_notifying_in_tlv_teaches_its_form_before_any_command(start, meter_device):
    _credentials, device, _ = meter_device()
    port, _ = start()

    async def scenario():
        simulated = await _register(SimulatedDevice(IMEI, ("127.0.0.1", port), client="1.0"))
        # A report as the specification's multiple-instance resource: TLV, resource 0 with instance 0.
        await simulated.notify(encode_tlv_multiple(0, [_report(6)]), content_format=TLV)
        await _until(lambda: _report_acks(simulated))
        simulated.close()
        return _report_acks(simulated)

    (ack,) = asyncio.run(scenario())

    assert _readings(device) == ["6"]
    assert ack.path == "/19/1/0"  # the reply to that very report went in TLV (after the form was learned)
    assert LearnedDownlink.objects.get(device=device).form == "tlv"
    assert DeviceLog.objects.filter(
        device=device, summary="object 19 downlinks: the device takes the tlv form (its notifications are TLV)"
    ).exists()
    assert not DeviceLog.objects.filter(device=device, summary__startswith="the device refused").exists()


COMMAND_PATHS = {"huawei": "/19/1/0", "1.0": "/19/1/0", "1.1": "/19/1/0/0"}


@pytest.mark.parametrize("client", sorted(COMMAND_PATHS))
def test_over_coaps_with_each_psk_suite_a_command_is_delivered_in_the_clients_form_and_answered(
    start, meter_device, client
):
    credentials, device, _ = meter_device(secure=True)
    _port, coaps_port = start()
    name = IMEI if client == "huawei" else f"urn:imei:{IMEI}"  # a module's PSK identity is its IMEI

    async def session(suite: str) -> tuple:
        simulated = SimulatedDevice(
            name, ("127.0.0.1", coaps_port), client=client, psk=(name, bytes.fromhex(PSK_HEX)), cipher=suite
        )
        await _register(simulated)
        await simulated.notify(_report(100))
        command_id = await asyncio.to_thread(_threaded, _create, credentials, device)
        (downlink,) = await _command_downlinks(simulated, 1)
        mid = struct.unpack(">H", downlink.payload[1:3])[0]
        await simulated.notify(b"\x03" + struct.pack(">HBb", mid, 0, 7))
        await asyncio.to_thread(_threaded, _wait, lambda: _status(command_id, "SUCCESSFUL"))
        await simulated.deregister()
        simulated.close()
        return simulated.negotiated_cipher, downlink, command_id

    async def scenario():
        return [await session(suite) for suite in PSK_SUITES]

    outcomes = asyncio.run(scenario())

    for suite, (cipher, downlink, command_id) in zip(PSK_SUITES, outcomes, strict=True):
        assert cipher == suite
        assert downlink.path == COMMAND_PATHS[client] and downlink.payload[0] == 0x02
        assert _query(credentials, command_id)["status"] == "SUCCESSFUL"
    registrations = DeviceLog.objects.filter(device=device, summary__contains="registration over CoAPS")
    assert registrations.count() == 2
    if client == "1.0":  # its first command taught the TLV form, over the first suite's session
        assert LearnedDownlink.objects.get(device=device).form == "tlv"
    else:
        assert not LearnedDownlink.objects.filter(device=device).exists()
    assert Device.objects.get(pk=device.pk).status == Status.OFFLINE


@pytest.mark.parametrize("transport", ["CoAP", CBC])
def test_a_1_1_client_without_the_resource_instance_yet_takes_the_command_as_tlv(start, meter_device, transport):
    """Anjay answers a write of /19/1/0/0 with 4.04 while /19/1/0 holds no instance: a TLV write creates it."""
    credentials, device, _ = meter_device(secure=transport != "CoAP")
    ports = start()

    async def scenario():
        client = _strict(f"urn:imei:{IMEI}", ports, transport, version="1.1", downlink_instance=False)
        client.uplink.value = _report(55)
        client.on_write = lambda value: value[:1] == b"\x02" and client.report(b"\x03" + value[1:3] + b"\x00\x07")
        await client.start()
        await asyncio.to_thread(_threaded, _wait, lambda: _readings(device) == ["55"])
        command_id = await asyncio.to_thread(_threaded, _create, credentials, device)
        await asyncio.to_thread(_threaded, _wait, lambda: _status(command_id, "SUCCESSFUL"))
        await client.stop()
        return command_id, client.written

    command_id, written = asyncio.run(scenario())

    assert [value[:1] for value in written] == [b"\x02"]
    assert _query(credentials, command_id)["status"] == "SUCCESSFUL"
    refused = DeviceLog.objects.get(device=device, summary__startswith="the device refused the instance write")
    assert "4.04 Not Found: no resource instance 0 yet" in refused.summary and "trying the tlv form" in refused.summary
    assert LearnedDownlink.objects.get(device=device).form == "tlv"


@pytest.mark.parametrize("transport", sorted(STRICT_TRANSPORTS))
def test_the_strict_client_registers_with_each_endpoint_name_form_and_de_registers_to_offline(
    start, meter_device, transport
):
    _credentials, device, _ = meter_device(secure=transport != "CoAP")
    ports = start()
    forms = sorted(ENDPOINT_NAMES)

    async def scenario():
        statuses, ciphers = [], []
        for index, form in enumerate(forms):
            client = _strict(ENDPOINT_NAMES[form], ports, transport, version="1.1", value=_report(60 + index))
            await client.start()
            ciphers.append(client.negotiated_cipher)
            # the observe's first answer is stored: the value it held when it registered
            await asyncio.to_thread(_threaded, _wait, lambda index=index: _readings(device)[-1:] == [str(60 + index)])
            statuses.append(await asyncio.to_thread(_threaded, lambda: Device.objects.get(pk=device.pk).status))
            await client.deregister()
            await client.stop()
            await asyncio.to_thread(_threaded, _wait, lambda: Device.objects.get(pk=device.pk).status == Status.OFFLINE)
        return statuses, ciphers

    statuses, ciphers = asyncio.run(scenario())

    assert ciphers == [STRICT_TRANSPORTS[transport] or ""] * len(forms)
    assert statuses == [Status.ONLINE] * len(forms)
    assert _readings(device) == [str(60 + index) for index in range(len(forms))]
    registered = list(
        DeviceLog.objects.filter(device=device, summary__contains="registration over CoAP")
        .order_by("id")
        .values_list("summary", flat=True)
    )
    assert len(registered) == len(forms)
    for form, summary in zip(forms, registered, strict=True):
        assert f"over {'CoAP' if transport == 'CoAP' else 'CoAPS'} " in summary
        named = f"endpoint name {ENDPOINT_NAMES[form]!r} ({form} form)"
        assert (named in summary) if form != "nodeId" else ("endpoint name" not in summary)
    offline = DeviceLog.objects.filter(device=device, summary__endswith="-> OFFLINE: LwM2M de-registration")
    assert offline.count() == len(forms)


@pytest.mark.parametrize("transport", ["CoAP", CBC])
@pytest.mark.parametrize("version", ["1.0", "1.1"])
def test_the_strict_client_in_queue_mode_gets_its_command_when_it_wakes(start, meter_device, version, transport):
    credentials, device, _ = meter_device(secure=transport != "CoAP")
    ports = start(INGRESS_QUEUE_AWAKE_SECONDS="1")

    async def scenario():
        client = _strict(IMEI, ports, transport, version=version, value=_report(5), queue_mode=True)
        client.on_write = lambda value: value[:1] == b"\x02" and client.report(b"\x03" + value[1:3] + b"\x00\x07")
        await client.start()
        await asyncio.to_thread(_threaded, _wait, lambda: asleep(Device.objects.get(pk=device.pk)))
        command_id = await asyncio.to_thread(_threaded, _create, credentials, device)
        waiting = await asyncio.to_thread(_threaded, lambda: Command.objects.get(command_id=command_id).status)
        before = [value for value in client.written if value[:1] == b"\x02"]  # commands, not report ACKs
        await client.update()  # it wakes: the command goes in this window
        await asyncio.to_thread(_threaded, _wait, lambda: _status(command_id, "SUCCESSFUL"))
        await client.stop()
        return waiting, before, client.written

    waiting, before, written = asyncio.run(scenario())

    assert waiting == "PENDING" and before == []
    assert [value[:1] for value in written if value[:1] == b"\x02"] == [b"\x02"]
    assert "Q" in DeviceSession.objects.get(device=device).binding


@pytest.mark.parametrize("transport", ["CoAP", CCM8])
def test_the_strict_client_refuses_an_execute_and_its_answer_is_the_result_detail(start, meter_device, transport):
    credentials, device, _ = meter_device(downlink="execute", secure=transport != "CoAP")
    ports = start()

    async def scenario():
        client = _strict(f"urn:imei:{IMEI}", ports, transport, version="1.0", value=_report(8))
        await client.start()
        await asyncio.to_thread(_threaded, _wait, lambda: _readings(device) == ["8"])
        command_id = await asyncio.to_thread(_threaded, _create, credentials, device)
        await asyncio.to_thread(_threaded, _wait, lambda: _status(command_id, "FAILED"))
        await client.stop()
        return command_id, client.written

    command_id, written = asyncio.run(scenario())

    assert written == []  # Execute is never followed by a write in another form
    answer = "the device answered 4.05 Method Not Allowed: not executable"
    assert _query(credentials, command_id)["result"] == {"resultCode": "FAILED", "resultDetail": answer}


@pytest.mark.parametrize("secure", [False, True], ids=["CoAP", "CoAPS"])
def test_the_simulator_in_each_mode_registers_with_each_endpoint_name_form_and_de_registers_to_offline(
    start, meter_device, secure
):
    _credentials, device, _ = meter_device(secure=secure)
    port, coaps_port = start()
    runs = [(client, form) for client in ("huawei", "1.0", "1.1") for form in sorted(ENDPOINT_NAMES)]

    async def scenario():
        for index, (client, form) in enumerate(runs):
            name = ENDPOINT_NAMES[form]
            simulated = SimulatedDevice(
                name,
                ("127.0.0.1", coaps_port if secure else port),
                client=client,
                current_value=_report(100 + index),
                psk=(name, bytes.fromhex(PSK_HEX)) if secure else None,
            )
            await _register(simulated)
            await asyncio.to_thread(_threaded, _wait, lambda index=index: _readings(device)[-1:] == [str(100 + index)])
            await simulated.deregister()
            simulated.close()
            await asyncio.to_thread(_threaded, _wait, lambda: Device.objects.get(pk=device.pk).status == Status.OFFLINE)

    asyncio.run(scenario())

    assert _readings(device) == [str(100 + index) for index in range(len(runs))]  # each first observe value
    registered = list(
        DeviceLog.objects.filter(device=device, summary__contains="registration over")
        .order_by("id")
        .values_list("summary", flat=True)
    )
    assert len(registered) == len(runs)
    for (client, form), summary in zip(runs, registered, strict=True):
        assert f"over {'CoAPS' if secure else 'CoAP'} " in summary
        assert f"LwM2M {'1.1' if client == '1.1' else '1.0'}" in summary
        if form != "nodeId":
            assert f"endpoint name {ENDPOINT_NAMES[form]!r} ({form} form)" in summary
    offline = DeviceLog.objects.filter(device=device, summary__endswith="-> OFFLINE: LwM2M de-registration")
    assert offline.count() == len(runs)
