"""The fPort a TTN or ChirpStack codec gets for uplinks that carry none (products.codecs.ports): the
product's codec maps the channel (CoAP/LwM2M resource path, MQTT topic suffix) to a port, and the real
ingress passes it to the codec."""

from __future__ import annotations

import asyncio

import pytest

from devices import actions
from devices.models import DataHistory, DeviceLog, LogKind
from ingress.pipeline import DECODE_ERROR, STORED, Uplink, handle_uplinks
from ingress.simulator import connect
from products import codec_actions
from products.codecs.errors import CodecError
from products.codecs.ports import check_ports, port_for
from products.models import Codec
from tests.devices.fixtures import register
from tests.ingress.fixtures import WorkerThread
from tests.mqtt.fixtures import DeviceClient, ServerThread, wait_for
from tests.products.codecs.fixtures import manifest, meter, plugin_zip, upload

pytestmark = pytest.mark.django_db(transaction=True)
ACME = {"manufacturerId": "Acme", "deviceType": "WaterMeter", "model": "m1", "protocolType": "LWM2M"}

# A multi-port codec, as published TTN codecs are: what a byte means depends on the port.
MULTI_PORT = """
function decodeUplink(input) {
  var b = input.bytes;
  if (input.fPort === 1) return {data: {temperature: b[0] - 40}};
  if (input.fPort === 2) return {data: {level: b[0]}};
  if (input.fPort === 3) return {data: {reading: b[0]}};
  return {errors: ['unknown fPort ' + input.fPort]};
}
"""


@pytest.fixture(autouse=True)
def _real_codecs(settings):
    settings.INGRESS_CODEC_MODULE = "products.codecs"
    settings.CODEC_VERSION_CACHE_SECONDS = 0


@pytest.fixture
def codec(owner_app) -> Codec:
    meter(owner_app)
    version = upload(owner_app, plugin_zip({"manifest.json": manifest(format="ttn", fPort=1), "codec.js": MULTI_PORT}))
    return version.codec


def _history(device) -> list[dict]:
    return [row.data for row in DataHistory.objects.filter(device_id=device.pk).order_by("id")]


def test_channels_map_to_ports_and_unmatched_ones_to_the_manifests():
    ports = check_ports({"*": "1", "/19/0/0": 2, "data/binary": 3})
    assert ports == {"*": 1, "/19/0/0": 2, "data/binary": 3}
    assert port_for(ports, "/19/0/0") == 2
    assert port_for(ports, "/gw-1/19/0/0") == 2  # a gateway's sub-device
    assert port_for(ports, "data/binary") == 3
    assert port_for(ports, "/t/d") == 1  # "*"
    assert port_for({"/t/d": 4}, "/19/0/0") is None  # the manifest's fPort
    assert port_for({}, "/19/0/0") is None


@pytest.mark.parametrize(
    ("value", "code", "path"),
    [
        ({"topic/x": 1}, "CODEC_PORT_CHANNEL", "$.uplinkPorts['topic/x']"),
        ({"/19/0/0": 256}, "CODEC_FPORT", "$.uplinkPorts['/19/0/0']"),
        ({"/19/0/0": True}, "CODEC_FPORT", "$.uplinkPorts['/19/0/0']"),
        ({"*": "one"}, "CODEC_FPORT", "$.uplinkPorts['*']"),
        ([1, 2], "CODEC_PORT_CHANNEL", "$.uplinkPorts"),
        ({f"/{n}/0/0": 1 for n in range(17)}, "CODEC_PORT_CHANNEL", "$.uplinkPorts"),
    ],
)
def test_a_bad_mapping_names_the_entry_and_changes_nothing(codec, value, code, path):
    codec_actions.do_set_uplink_ports(codec, {"*": 2})
    with pytest.raises(CodecError) as refused:
        codec_actions.do_set_uplink_ports(codec, value)
    assert (refused.value.issue.code, refused.value.issue.path) == (code, path)
    codec.refresh_from_db()
    assert codec.uplink_ports == {"*": 2}


def test_the_pipeline_gives_each_uplink_of_a_batch_its_channels_port(owner_app, codec):
    codec_actions.do_set_uplink_ports(codec, {"/19/0/0": 2, "/t/d": 3})
    lwm2m = register(owner_app, "867724030000001", info=ACME)
    coap = register(owner_app, "867724030000002", info=ACME)
    outcomes = handle_uplinks(
        [
            Uplink(lwm2m.pk, bytes([80]), channel="/19/0/0"),
            Uplink(coap.pk, bytes([7]), channel="/t/d"),
            Uplink(lwm2m.pk, bytes([61]), channel="/sensor/1"),  # unmapped: the manifest's fPort 1
        ]
    )
    assert [outcome.result for outcome in outcomes] == [STORED, STORED, STORED]
    assert _history(lwm2m) == [{"level": 80}, {"temperature": 21}]
    assert _history(coap) == [{"reading": 7}]


def test_without_a_mapping_the_manifests_port_applies_as_before(owner_app, codec):
    device = register(owner_app, "867724030000001", info=ACME)
    (outcome,) = handle_uplinks([Uplink(device.pk, bytes([61]), channel="/19/0/0")])
    assert outcome.result == STORED
    assert _history(device) == [{"temperature": 21}]


def test_a_port_the_codec_does_not_know_is_its_own_error_in_the_device_log(owner_app, codec):
    codec_actions.do_set_uplink_ports(codec, {"*": 9})
    device = register(owner_app, "867724030000001", info=ACME)
    (outcome,) = handle_uplinks([Uplink(device.pk, bytes([61]), channel="/19/0/0")])
    assert outcome.result == DECODE_ERROR
    entry = DeviceLog.objects.get(device=device, kind=LogKind.DECODE_ERROR)
    assert "unknown fPort 9" in entry.summary


def test_lwm2m_and_huawei_coap_devices_get_their_resources_port_through_the_worker(owner_app, codec):
    codec_actions.do_set_uplink_ports(codec, {"/19/0/0": 2, "/t/d": 3})
    lwm2m = register(owner_app, "867724030000001", info=ACME)
    coap = register(owner_app, "867724030000002", info=ACME)
    worker = WorkerThread().start()
    try:

        async def scenario():
            first = await connect(lwm2m.node_id, worker.port)
            second = await connect(coap.node_id, worker.port, lwm2m=False)
            await first.notify(bytes([80]))
            await second.notify(bytes([7]))
            first.close()
            second.close()

        asyncio.run(scenario())
    finally:
        worker.stop()
    assert _history(lwm2m) == [{"level": 80}]
    assert _history(coap) == [{"reading": 7}]


def test_an_mqtt_binary_uplink_gets_the_topics_port(owner_app, codec):
    codec_actions.do_set_uplink_ports(codec, {"data/binary": 3, "*": 2})
    info = {**ACME, "protocolType": "MQTT"}
    device = actions.do_register_device(
        owner_app.application, node_id="864000000000001", password_mode=True, info=info
    ).device
    server = ServerThread().start()
    try:
        client = DeviceClient(device, server.port)
        assert not client.connect().is_failure
        client.publish(client.topic("data", "binary"), bytes([42]), qos=1)
        client.close()
    finally:
        server.stop()
    assert wait_for(lambda: _history(device)) == [{"reading": 42}]
