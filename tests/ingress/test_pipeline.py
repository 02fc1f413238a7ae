"""The uplink pipeline called directly, as the network loop calls it."""

from __future__ import annotations

import base64
import json

import cbor2
import pytest

from devices import hooks
from devices.models import DataHistory, Device, DeviceLog, LogKind, Status
from ingress import formats
from ingress.pipeline import (
    DECODE_ERROR,
    DUPLICATE,
    IN_PROGRESS,
    LIMITED,
    PCP,
    REFUSED,
    RESPONSE,
    STORED,
    Uplink,
    handle_uplink,
    handle_uplinks,
)
from tests.ingress.fixtures import water_device
from tests.ingress.water_codec import report

pytestmark = pytest.mark.django_db(transaction=True)


def logs_of(device: Device, kind: str | None = None) -> list[DeviceLog]:
    entries = DeviceLog.objects.filter(device=device).order_by("id")
    return list(entries.filter(kind=kind) if kind else entries)


def test_an_uplink_is_decoded_stored_logged_and_answered_with_the_codec_ack(owner_app):
    device = water_device(owner_app)
    payload = report(signal=31, reading=4321, flow=12)

    outcome = handle_uplink(Uplink(device.pk, payload, message_id=7))

    assert outcome.result == STORED and outcome.acknowledge
    assert outcome.reply == bytes.fromhex("AAAA0000")
    device.refresh_from_db()
    assert device.shadow["WaterMeter"]["data"] == {
        "signalStrength": "31",
        "currentReading": "4321",
        "flowRateReading": "12",
    }
    rows = list(DataHistory.objects.filter(device_id=device.pk))
    assert [row.data["currentReading"] for row in rows] == ["4321"]
    decoded = logs_of(device, LogKind.DECODED)
    assert decoded[0].raw == payload.hex().upper()
    assert decoded[0].detail["data"][0]["serviceId"] == "WaterMeter"


def test_first_contact_binds_the_device(owner_app):
    device = water_device(owner_app)
    assert not device.activated

    handle_uplink(Uplink(device.pk, report()))

    device.refresh_from_db()
    assert device.activated and device.status == Status.ONLINE
    assert logs_of(device, LogKind.BIND)


def test_a_retransmitted_uplink_is_stored_once_and_acknowledged_again(owner_app):
    device = water_device(owner_app)
    uplink = Uplink(device.pk, report(reading=1), message_id=4242)

    first, again = handle_uplink(uplink), handle_uplink(uplink)

    assert first.result == STORED
    assert again.result == DUPLICATE and again.acknowledge and again.reply is None
    assert DataHistory.objects.filter(device_id=device.pk).count() == 1
    # Another message id of the same device is a new uplink.
    assert handle_uplink(Uplink(device.pk, report(reading=2), message_id=4243)).result == STORED


def test_a_copy_arriving_while_the_first_is_processed_is_left_for_the_first_to_acknowledge(owner_app):
    from ingress import flow

    device = water_device(owner_app)
    assert flow.claim([(device.pk, 9)]) == [None]  # the first copy is being processed

    outcome = handle_uplink(Uplink(device.pk, report(), message_id=9))

    assert outcome.result == IN_PROGRESS and not outcome.acknowledge
    assert not DataHistory.objects.filter(device_id=device.pk).exists()


def test_a_failed_uplink_is_not_acknowledged_and_its_retransmission_is_processed(owner_app, monkeypatch):
    device = water_device(owner_app)

    def broken(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr("devices.actions.do_store_reports", broken)
    monkeypatch.setattr("devices.actions.do_store_report", broken)
    failed = handle_uplink(Uplink(device.pk, report(), message_id=11))
    monkeypatch.undo()
    retried = handle_uplink(Uplink(device.pk, report(), message_id=11))

    assert failed.result == "failed" and not failed.acknowledge
    assert retried.result == STORED


def test_a_batch_that_fails_is_processed_one_by_one_so_one_bad_uplink_fails_alone(owner_app, monkeypatch):
    from devices import actions

    good, bad = water_device(owner_app), water_device(owner_app, "863703030000002")
    store_one = actions.do_store_report

    def batch_breaks(*args, **kwargs):
        raise RuntimeError("one row violates something")

    def one_breaks(device, reports, **kwargs):
        if device.pk == bad.pk:
            raise RuntimeError("this one violates something")
        store_one(device, reports, **kwargs)

    monkeypatch.setattr("devices.actions.do_store_reports", batch_breaks)
    monkeypatch.setattr("devices.actions.do_store_report", one_breaks)
    outcomes = handle_uplinks(
        [Uplink(good.pk, report(reading=5), message_id=1), Uplink(bad.pk, report(), message_id=1)]
    )

    assert [o.result for o in outcomes] == [STORED, "failed"]
    assert [row.data["currentReading"] for row in DataHistory.objects.filter(device_id=good.pk)] == ["5"]


def test_pcp_messages_are_split_off_before_the_codec(owner_app):
    device = water_device(owner_app)
    seen = []
    handler = hooks.on_pcp_message(lambda device, payload: seen.append((device.pk, payload)))
    try:
        payload = bytes.fromhex("FFFE0113000000000000")
        outcome = handle_uplink(Uplink(device.pk, payload))
    finally:
        hooks._pcp_handlers.remove(handler)  # only ours: the firmware layer's stays registered

    assert outcome.result == PCP and outcome.reply is None
    assert seen == [(device.pk, payload)]
    assert not DataHistory.objects.filter(device_id=device.pk).exists()
    assert "PCP" in logs_of(device, LogKind.UPLINK)[0].summary


def test_a_payload_the_codec_cannot_decode_is_logged_with_the_codec_message(owner_app):
    device = water_device(owner_app)

    outcome = handle_uplink(Uplink(device.pk, bytes.fromhex("7F0102")))

    assert outcome.result == DECODE_ERROR and outcome.acknowledge
    entry = logs_of(device, LogKind.DECODE_ERROR)[0]
    assert "unknown messageId 0x7F at byte offset 0" in entry.summary
    assert entry.raw == "7F0102"


def test_decoded_data_outside_the_profile_is_refused_naming_the_property(owner_app):
    device = water_device(owner_app)

    outcome = handle_uplink(Uplink(device.pk, bytes.fromhex("010502")))  # lowFlowAlarm 5, range 0..1

    # products.codecs checks the decode against the profile itself: the codec's error names the property
    assert outcome.result == DECODE_ERROR
    summary = logs_of(device, LogKind.DECODE_ERROR)[0].summary
    assert "serviceData.lowFlowAlarm lowFlowAlarm: CODEC_VALUE_RANGE: The value 5 is outside 0 to 1" in summary
    assert Device.objects.get(pk=device.pk).shadow == {}


def test_a_device_without_product_gets_a_decode_error_not_a_crash(owner_app):
    from tests.devices.fixtures import register

    device = register(owner_app, "863703030000099")

    outcome = handle_uplink(Uplink(device.pk, report()))

    assert outcome.result == DECODE_ERROR
    assert "not tied to a product" in outcome.detail


def test_a_command_response_goes_to_the_commands_layer(owner_app):
    device = water_device(owner_app)
    responses = []
    handler = hooks.on_device_response(lambda device, decoded: responses.append(decoded))
    try:
        outcome = handle_uplink(Uplink(device.pk, bytes.fromhex("02 07E0 00 00000001".replace(" ", ""))))
    finally:
        # Only our handler: clearing them all would unhook the commands app for every later test.
        hooks._response_handlers.remove(handler)

    assert outcome.result == RESPONSE
    assert responses == [{"msgType": "deviceRsp", "mid": 2016, "errcode": 0, "hasMore": 0, "body": {"result": 1}}]


def test_stored_uplinks_are_handed_to_the_commands_layer(owner_app):
    device = water_device(owner_app)
    stored = []
    handler = hooks.on_uplink_stored(lambda device, reports: stored.append([r.service_id for r in reports]))
    try:
        handle_uplink(Uplink(device.pk, report()))
    finally:
        hooks._uplink_handlers.remove(handler)  # only ours: the commands layer's stays registered
    assert stored == [["WaterMeter"]]


def test_a_batch_reaches_batch_handlers_in_one_call(owner_app):
    devices = [water_device(owner_app, f"86370303000020{n}") for n in range(3)]
    calls = []
    handler = hooks.on_uplinks_stored(lambda items: calls.append([device.pk for device, _ in items]))
    try:
        handle_uplinks([Uplink(device.pk, report()) for device in devices])
    finally:
        hooks._uplinks_handlers.remove(handler)  # only ours: the commands layer's stays registered
    assert calls == [[device.pk for device in devices]]


def test_a_secure_device_is_refused_on_plain_coap(owner_app):
    device = water_device(owner_app, is_secure=True)

    refused = handle_uplink(Uplink(device.pk, report(), secure=False))
    accepted = handle_uplink(Uplink(device.pk, report(), secure=True))

    assert refused.result == REFUSED and accepted.result == STORED
    assert "must use CoAPS" in logs_of(device, LogKind.INFO)[-1].summary


def test_device_flow_control_drops_and_logs_naming_the_limit(owner_app):
    owner_app.application.device_uplink_limit = 2
    owner_app.application.save()
    device = water_device(owner_app)

    outcomes = handle_uplinks([Uplink(device.pk, report(reading=n), message_id=n) for n in range(3)])

    assert [o.result for o in outcomes] == [STORED, STORED, LIMITED]
    assert 0 < outcomes[2].retry_after <= 1200
    entry = logs_of(device, LogKind.FLOW_CONTROL)[0]
    assert "over the limit of 2 messages per device per 1200 s" in entry.summary
    assert DataHistory.objects.filter(device_id=device.pk).count() == 2


def test_application_flow_control_counts_all_its_devices(owner_app):
    owner_app.application.uplink_rate_limit = 3
    owner_app.application.save()
    devices = [water_device(owner_app, f"86370303000010{n}") for n in range(4)]

    outcomes = handle_uplinks([Uplink(device.pk, report()) for device in devices])

    assert [o.result for o in outcomes].count(LIMITED) == 1
    assert "3 messages per second per application" in outcomes[-1].detail


@pytest.mark.parametrize(
    ("content_format", "encode"),
    [
        (formats.OPAQUE, lambda p: p),
        (formats.OLD_OPAQUE, lambda p: p),
        (formats.TEXT, lambda p: base64.b64encode(p)),
        (formats.OLD_TEXT, lambda p: base64.b64encode(p)),
        (formats.TLV, lambda p: formats.encode_tlv_multiple(0, [p])),
        (formats.OLD_TLV, lambda p: formats.encode_tlv_resource(0, p)),
        (
            formats.LWM2M_JSON,
            lambda p: json.dumps({"bn": "/19/0/0/", "e": [{"n": "0", "sv": base64.b64encode(p).decode()}]}).encode(),
        ),
        (
            formats.OLD_JSON,
            lambda p: json.dumps({"bn": "/19/0/0/", "e": [{"n": "0", "sv": base64.b64encode(p).decode()}]}).encode(),
        ),
        (
            formats.SENML_JSON,
            lambda p: json.dumps(
                [{"bn": "/19/0/0/", "n": "0", "vd": base64.urlsafe_b64encode(p).decode().rstrip("=")}]
            ).encode(),
        ),
        (formats.SENML_CBOR, lambda p: cbor2.dumps([{-2: "/19/0/0/", 0: "0", 8: p}])),
    ],
)
def test_every_lwm2m_content_format_reaches_the_codec_as_the_same_bytes(owner_app, content_format, encode):
    device = water_device(owner_app)
    payload = report(reading=777)

    outcome = handle_uplink(Uplink(device.pk, encode(payload), content_format=content_format))

    assert outcome.result == STORED, outcome.detail
    assert Device.objects.get(pk=device.pk).shadow["WaterMeter"]["data"]["currentReading"] == "777"


def test_a_payload_broken_in_its_content_format_is_logged(owner_app):
    device = water_device(owner_app)

    outcome = handle_uplink(Uplink(device.pk, b"\xc8\x00\x09ab", content_format=formats.TLV))

    assert outcome.result == DECODE_ERROR
    assert "TLV payload could not be read: TLV value at byte 0 needs 9 bytes" in outcome.detail


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("a\x00b", "must not contain NUL characters"),
        (10**20, "is out of range"),
        (float("inf"), "is out of range (too large"),
    ],
)
def test_codec_output_postgresql_cannot_store_is_refused_and_logged(owner_app, monkeypatch, settings, value, words):
    """A codec that yields a NUL character or a number past 64 bits (jsonb refuses both): refused, logged
    with the field, nothing stored, no traceback. The stand-in codec: JSON from V8 cannot carry infinity."""
    from tests.ingress import water_codec

    def decode(product, payload):
        data = {"signalStrength": "1", "currentReading": value, "flowRateReading": "2"}
        return {"msgType": "deviceReq", "hasMore": 0, "data": [{"serviceId": "WaterMeter", "serviceData": data}]}

    settings.INGRESS_CODEC_MODULE = "tests.ingress.water_codec"
    monkeypatch.setattr(water_codec, "decode_uplink", decode)
    device = water_device(owner_app)

    outcome = handle_uplink(Uplink(device.pk, report()))

    assert outcome.result == DECODE_ERROR
    entry = logs_of(device, LogKind.DECODE_ERROR)[0]
    assert f"data[0].serviceData.currentReading: {words}" in entry.summary
    assert entry.raw == report().hex().upper()
    assert Device.objects.get(pk=device.pk).shadow == {}
    assert not DataHistory.objects.filter(device_id=device.pk).exists()


def test_a_javascript_codecs_output_postgresql_cannot_store_is_refused_in_the_batch_path(owner_app, caplog):
    # given: the WaterMeter codec, changed to put a NUL character into currentReading
    from products import codec_actions
    from tests.ingress.fixtures import WATER_METER_JS, water_product
    from tests.products.codecs.fixtures import plugin_zip

    product = water_product(owner_app)
    nul = WATER_METER_JS.replace("currentReading: String(reading)", "currentReading: 'a' + String.fromCharCode(0)")
    manifest = {"manufacturerId": "Huawei", "model": "v1001", "entry": "codec.js", "version": "1.0.1"}
    zipped = plugin_zip({"manifest.json": manifest, "codec.js": nul})
    codec_actions.do_upload_codec(owner_app.application, "codec.zip", zipped, product=product, activate=True)
    device = water_device(owner_app)

    # when: one batch with it and a well-formed alarm report
    outcomes = handle_uplinks([Uplink(device.pk, report(), message_id=1), Uplink(device.pk, b"\x01\x00\x01")])

    # then: refused with the field, the other stored, the batch never failed (no traceback in the log)
    assert [outcome.result for outcome in outcomes] == [DECODE_ERROR, STORED]
    assert "data[0].serviceData.currentReading: must not contain NUL characters" in outcomes[0].detail
    assert not [record for record in caplog.records if record.exc_info]


def test_a_json_uplink_with_a_nul_character_is_refused_and_logged(owner_app):
    device = water_device(owner_app)
    payload = b'{"msgType":"deviceReq","data":[{"serviceId":"WaterMeter","serviceData":{"currentReading":"1\\u0000"}}]}'

    outcome = handle_uplink(Uplink(device.pk, payload, json=True))

    assert outcome.result == DECODE_ERROR
    summary = logs_of(device, LogKind.DECODE_ERROR)[0].summary
    assert "data[0].serviceData.currentReading: must not contain NUL characters" in summary
    assert Device.objects.get(pk=device.pk).shadow == {}
