"""Standard LwM2M objects without a codec: mapped values read from every content format by the object's
definition and stored as service data through the pipeline (shadow, history), as codec output is."""

from __future__ import annotations

import json
import struct

import cbor2
import pytest

from devices.models import DataHistory, Device, DeviceLog, LogKind
from ingress import formats
from ingress.formats import FormatError
from ingress.lwm2m_values import read_values
from ingress.pipeline import DECODE_ERROR, STORED, Uplink, handle_uplink
from tests.products.lwm2m_fixtures import standard_device

pytestmark = pytest.mark.django_db(transaction=True)

TEMPERATURE = formats.encode_tlv_resource(5700, struct.pack(">d", 21.5))
TEMPERATURE_INSTANCE = formats.encode_tlv_instance(
    0, formats.encode_tlv_resource(5700, struct.pack(">f", 21.5)) + formats.encode_tlv_resource(5701, b"Cel")
)
SENML_JSON = json.dumps(
    [{"bn": "/3303/0/", "n": "5700", "v": 21.5}, {"n": "5701", "vs": "Cel"}, {"bn": "/3/0/", "n": "9", "v": 87}]
).encode()
SENML_CBOR = cbor2.dumps([{-2: "/3303/0/", 0: "5700", 2: 21.5}, {0: "5701", 3: "Cel"}, {-2: "/3/0/", 0: "9", 2: 87}])


@pytest.mark.parametrize(
    ("content_format", "payload", "path", "values"),
    [
        (formats.TEXT, b"21.5", "/3303/0/5700", {(3303, 0, 5700): 21.5}),
        (formats.TLV, TEMPERATURE, "/3303/0/5700", {(3303, 0, 5700): 21.5}),
        (formats.TLV, TEMPERATURE_INSTANCE, "/3303/0", {(3303, 0, 5700): 21.5, (3303, 0, 5701): "Cel"}),
        (formats.TLV, formats.encode_tlv_resource(9, b"\x57"), "/3/0/9", {(3, 0, 9): 87}),
        (formats.SENML_JSON, SENML_JSON, "/", {(3303, 0, 5700): 21.5, (3303, 0, 5701): "Cel", (3, 0, 9): 87}),
        (formats.SENML_CBOR, SENML_CBOR, "/", {(3303, 0, 5700): 21.5, (3303, 0, 5701): "Cel", (3, 0, 9): 87}),
        (
            formats.LWM2M_JSON,
            b'{"bn":"/3303/0/","e":[{"n":"5700","v":21.5},{"n":"5701","sv":"Cel"}]}',
            "/3303/0",
            {(3303, 0, 5700): 21.5, (3303, 0, 5701): "Cel"},
        ),
        (formats.CBOR, cbor2.dumps(21.5), "/3303/0/5700", {(3303, 0, 5700): 21.5}),
        (
            formats.LWM2M_CBOR,
            cbor2.dumps({3303: {0: {5700: 21.5, 5701: "Cel"}}}),
            "/",
            {(3303, 0, 5700): 21.5, (3303, 0, 5701): "Cel"},
        ),
        (formats.TLV, formats.encode_tlv_resource(4, b""), "/3/0/4", {}),  # executable: no value
    ],
)
def test_every_content_format_is_read_by_the_definition(content_format, payload, path, values):
    assert read_values(content_format, payload, path) == values


@pytest.mark.parametrize(
    ("content_format", "payload", "path", "words"),
    [
        (formats.TEXT, b"warm", "/3303/0/5700", "'warm' is not a Float"),
        (formats.TLV, formats.encode_tlv_resource(5700, b"\x01\x02\x03"), "/3303/0/5700", "4 or 8 bytes"),
        (formats.SENML_JSON, b'[{"n": "/3303/0/5700", "vs": "x"}]', "/", "is not a number (Float)"),
        (formats.OPAQUE, b"\x01", "/3303/0/5700", "opaque content for a Float resource"),
        (formats.SENML_CBOR, b"\xff", "/", "not CBOR"),
    ],
)
def test_a_value_that_does_not_fit_its_definition_is_refused_naming_the_path(content_format, payload, path, words):
    with pytest.raises(FormatError) as refused:
        read_values(content_format, payload, path)
    assert words in str(refused.value)


def test_a_mapped_notification_is_stored_as_service_data_in_the_shadow_and_history(owner_app):
    device = standard_device(owner_app)

    uplink = Uplink(device.pk, SENML_CBOR, content_format=formats.SENML_CBOR, transport="LwM2M", lwm2m_path="/")
    outcome = handle_uplink(uplink)

    assert outcome.result == STORED, outcome.detail
    assert outcome.reply is None  # no codec, no cloudRsp
    device.refresh_from_db()
    assert device.shadow["Temperature"]["data"] == {"temperature": 21.5, "units": "Cel"}
    assert device.shadow["Device"]["data"] == {"battery": 87}
    history = {row.service_id: row.data for row in DataHistory.objects.filter(device_id=device.pk)}
    assert history == {"Temperature": {"temperature": 21.5, "units": "Cel"}, "Device": {"battery": 87}}
    logged = DeviceLog.objects.get(device=device, kind=LogKind.DECODED)
    assert logged.summary == "LwM2M uplink: Temperature, Device"


def test_a_single_resource_notification_updates_its_property(owner_app):
    device = standard_device(owner_app)
    handle_uplink(Uplink(device.pk, b"3.31", content_format=formats.TEXT, lwm2m_path="/3316/0/5700"))
    device.refresh_from_db()
    assert device.shadow["Voltage"]["data"] == {"voltage": 3.31}


def test_an_unreadable_value_is_logged_on_the_device_and_stores_nothing(owner_app):
    device = standard_device(owner_app)

    outcome = handle_uplink(Uplink(device.pk, b"warm", content_format=formats.TEXT, lwm2m_path="/3303/0/5700"))

    assert outcome.result == DECODE_ERROR
    entry = DeviceLog.objects.get(device=device, kind=LogKind.DECODE_ERROR)
    assert entry.summary == "LwM2M text on /3303/0/5700 could not be read: /3303/0/5700: 'warm' is not a Float"
    assert not DataHistory.objects.filter(device_id=device.pk).exists()


def test_values_of_unmapped_resources_alone_are_logged_not_stored(owner_app):
    device = standard_device(owner_app)
    outcome = handle_uplink(Uplink(device.pk, b"12", content_format=formats.TEXT, lwm2m_path="/3/0/10"))
    assert outcome.result == DECODE_ERROR
    assert "nothing mapped to the profile (/3/0/10)" in outcome.detail


def test_per_path_notifications_keep_the_services_other_mapped_properties(owner_app):
    from ingress.pipeline import handle_uplinks

    device = standard_device(owner_app)
    # one batch: the second builds on the first before either is committed
    handle_uplinks(
        [
            Uplink(device.pk, b"87", content_format=formats.TEXT, lwm2m_path="/3/0/9"),
            Uplink(device.pk, b"Std", content_format=formats.TEXT, lwm2m_path="/3/0/0"),
        ]
    )
    handle_uplink(Uplink(device.pk, b"86", content_format=formats.TEXT, lwm2m_path="/3/0/9"))

    device.refresh_from_db()
    assert device.shadow["Device"]["data"] == {"battery": 86, "manufacturer": "Std"}
    rows = DataHistory.objects.filter(device_id=device.pk, service_id="Device").order_by("id")
    assert [row.data for row in rows] == [
        {"battery": 87},
        {"battery": 87, "manufacturer": "Std"},
        {"battery": 86, "manufacturer": "Std"},
    ]


def test_a_batch_of_mapped_notifications_costs_the_same_queries_for_1_and_for_20_devices(owner_app):
    """The standard-object decode reads each product's mapping and definitions once per batch (with the
    devices and products the pipeline loads), never per uplink: no N+1 on the uplink path."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from ingress.pipeline import handle_uplinks

    owner_app.application.uplink_rate_limit = 100000  # the limit is not what this test counts
    owner_app.application.save()
    devices = [standard_device(owner_app, f"86772403002{index:04d}") for index in range(21)]

    def batch(members, value: float) -> list[Uplink]:
        return [
            Uplink(device.pk, SENML_CBOR if index % 2 else f"{value}".encode(), lwm2m_path="/" if index % 2 else
                   "/3303/0/5700", content_format=formats.SENML_CBOR if index % 2 else formats.TEXT, message_id=None)
            for index, device in enumerate(members)
        ]  # fmt: skip

    # Each device's first contact binds it (a one-time cost per device, not the decode's): done first.
    handle_uplinks(batch(devices, 20.0))
    counted = {}
    for size in (1, 20):
        members = devices[1 : 1 + size]
        with CaptureQueriesContext(connection) as queries:
            outcomes = handle_uplinks(batch(members, 22.5))
        assert [outcome.result for outcome in outcomes] == [STORED] * size, [o.detail for o in outcomes]
        counted[size] = len(queries)

    assert counted[20] == counted[1] <= 11, counted  # the batch budget: 11 queries, whatever its size
    shadows = {device.shadow["Temperature"]["data"]["temperature"] for device in Device.objects.filter(
        pk__in=[device.pk for device in devices[1:21]])}  # fmt: skip
    assert shadows == {21.5, 22.5}  # SenML CBOR (21.5) and text (22.5), each stored


def test_a_products_plan_is_worked_out_once_per_instance_and_again_when_its_mapping_changes(owner_app):
    from ingress.lwm2m_values import plan

    product = standard_device(owner_app).product

    first = plan(product)

    assert plan(product) is first  # the batch's devices share their product instance: once per batch
    assert ((3303, 0, 5700), "Temperature", "temperature", "decimal") in first.entries
    product.lwm2m_mapping = {**product.lwm2m_mapping, "properties": product.lwm2m_mapping["properties"][:1]}
    assert plan(product) is not first and len(plan(product).entries) == 1
