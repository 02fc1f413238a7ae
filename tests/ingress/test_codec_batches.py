"""The pipeline decodes a batch through products.codecs: one call per product, and for a JavaScript
codec the decodes and their cloudRsp ACKs of the whole batch in one crossing into the sandbox."""

from __future__ import annotations

import struct

import pytest

from devices.models import DataHistory, DeviceLog, LogKind
from ingress.pipeline import DECODE_ERROR, RESPONSE, STORED, Uplink, handle_uplinks
from products.codecs.sandbox import get_sandbox
from tests.devices.fixtures import register
from tests.products.codecs.fixtures import deploy, meter, oceanconnect_zip, upload

pytestmark = pytest.mark.django_db(transaction=True)
ACME = {"manufacturerId": "Acme", "deviceType": "WaterMeter", "model": "m1", "protocolType": "LWM2M"}
OTHER = {**ACME, "model": "m2"}

# The fixtures' OceanConnect plugin, whose ACK throws for one marked report, as a buggy codec would.
ACK_FAILS = """
if (obj.msgType === 'cloudRsp') {
    if (obj.request[6] === 0x63) throw new Error('no ACK for 99');"""


@pytest.fixture(autouse=True)
def _real_codecs(settings):
    settings.INGRESS_CODEC_MODULE = "products.codecs"
    settings.CODEC_VERSION_CACHE_SECONDS = 0


@pytest.fixture
def crossings(monkeypatch):
    """Every crossing into the sandbox: (function, call mode, number of inputs)."""
    sandbox = get_sandbox()
    seen: list[tuple[str, str, int]] = []
    original = sandbox.run

    def counted(key, source, function, call, inputs, limits, *, budget_ms):
        seen.append((function, call, len(inputs)))
        return original(key, source, function, call, inputs, limits, budget_ms=budget_ms)

    monkeypatch.setattr(sandbox, "run", counted)
    return seen


def _report(reading: int, temperature: int) -> bytes:
    return b"\x01" + struct.pack(">Ih", reading, temperature)


def test_a_batch_of_javascript_uplinks_crosses_once_with_its_acks(owner_app, crossings):
    meter(owner_app)
    upload(owner_app)
    devices = [register(owner_app, f"86772403000000{n}", info=ACME) for n in range(3)]
    uplinks = [Uplink(device.pk, _report(100 + n, 20)) for n, device in enumerate(devices)]
    uplinks.append(Uplink(devices[0].pk, b"\x03\x00\x07\x00\x01"))  # a command response
    uplinks.append(Uplink(devices[1].pk, b"\x09"))  # the codec refuses it
    crossings.clear()  # the checker's, at the upload
    outcomes = handle_uplinks(uplinks)
    assert [outcome.result for outcome in outcomes] == [STORED, STORED, STORED, RESPONSE, DECODE_ERROR]
    assert [outcome.reply for outcome in outcomes[:3]] == [bytes.fromhex("AAAA0000")] * 3
    assert outcomes[3].reply is None  # the plugin sends no ACK for a response
    assert crossings == [("decode", "bytes+ack", 5)]
    rows = DataHistory.objects.filter(device_id__in=[device.pk for device in devices])
    readings = sorted(row.data["reading"] for row in rows)
    assert readings == [100, 101, 102]
    (error,) = DeviceLog.objects.filter(kind=LogKind.DECODE_ERROR, device_id__in=[device.pk for device in devices])
    assert "unknown message 9" in error.summary and error.device_id == devices[1].pk


def test_an_ack_that_fails_is_logged_and_the_uplink_still_stored(owner_app, crossings):
    from tests.products.codecs.fixtures import OCEANCONNECT_JS

    meter(owner_app)
    source = OCEANCONNECT_JS.replace("\n  if (obj.msgType === 'cloudRsp') {", ACK_FAILS, 1)
    assert source != OCEANCONNECT_JS
    upload(owner_app, oceanconnect_zip(**{"codec.js": source, "vectors.json": None}))
    device = register(owner_app, "867724030000001", info=ACME)
    crossings.clear()
    good, bad = handle_uplinks([Uplink(device.pk, _report(1, 20)), Uplink(device.pk, _report(2, 99))])
    assert (good.result, good.reply) == (STORED, bytes.fromhex("AAAA0000"))
    assert (bad.result, bad.reply) == (STORED, None)
    (entry,) = DeviceLog.objects.filter(kind=LogKind.ENCODE_ERROR, device_id=device.pk)
    assert "no ACK for 99" in entry.summary
    assert crossings == [("decode", "bytes+ack", 2)]


def test_each_product_is_its_own_call_and_an_online_codec_needs_no_crossing(owner_app, crossings):
    meter(owner_app)
    upload(owner_app)
    deploy(meter(owner_app, model="m2"))
    script_device = register(owner_app, "867724030000001", info=ACME)
    online_device = register(owner_app, "867724030000002", info=OTHER)
    crossings.clear()
    outcomes = handle_uplinks(
        [
            Uplink(script_device.pk, _report(1, 20)),
            Uplink(online_device.pk, _report(2, 21)),
            Uplink(script_device.pk, _report(3, 22)),
        ]
    )
    assert [outcome.result for outcome in outcomes] == [STORED] * 3
    assert crossings == [("decode", "bytes+ack", 2)]
    readings = [
        row.data["reading"]
        for row in DataHistory.objects.filter(device_id=script_device.pk).order_by("received_at", "id")
    ]
    assert readings == [1, 3]  # the device's order is kept
