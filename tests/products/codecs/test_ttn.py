"""Codecs written for The Things Network and ChirpStack, mapped onto the profile by the manifest."""

from __future__ import annotations

import pytest

from products.codecs.package import script_key
from products.codecs.profile import ProfileIndex
from products.codecs.ttn import TtnPlugin, check_mapping
from tests.products.codecs.fixtures import meter_files
from tests.products.fixtures import accepted

INDEX = ProfileIndex.from_profile(accepted(meter_files()))

TTN = """
function decodeUplink(input) {
  var b = input.bytes;
  if (input.fPort !== 1) return {errors: ['unknown fPort ' + input.fPort, 'payload ignored']};
  var warnings = b[1] < 10 ? ['battery low'] : [];
  return {data: {temperature: b[0] - 40, level: b[1], voltage: 3.6, raw: b.length}, warnings: warnings};
}
function encodeDownlink(input) {
  var period = input.data.period;
  return {bytes: [input.data.type === 'interval' ? 1 : 0, period >> 8, period & 255], fPort: input.fPort};
}
"""

CHIRPSTACK_V3 = """
function Decode(fPort, bytes, variables) { return {temperature: bytes[0] - 40, level: bytes[1]}; }
function Encode(fPort, obj, variables) { return [fPort, obj.period & 255]; }
"""

MANIFEST = {
    "format": "ttn",
    "fPort": 1,
    "mapping": {"voltage": "Battery.voltage", "raw": None},
    "commands": {"SET_PERIOD": {"fPort": 3, "data": {"type": "interval"}}},
}


def _plugin(source: str = TTN, manifest: dict | None = None) -> TtnPlugin:
    return TtnPlugin(script_key(source), source, manifest if manifest is not None else MANIFEST, INDEX)


def test_data_becomes_the_services_of_the_profile():
    (outcome,) = _plugin().decode_many([bytes([61, 80])])
    assert outcome.error is None
    assert outcome.value == {
        "msgType": "deviceReq",
        "hasMore": 0,
        "data": [
            {"serviceId": "Meter", "serviceData": {"temperature": 21}},
            {"serviceId": "Battery", "serviceData": {"level": 80, "voltage": 3.6}},
        ],
    }


def test_warnings_join_the_logs():
    (outcome,) = _plugin().decode_many([bytes([61, 5])])
    assert outcome.logs == ["warning: battery low"]


def test_errors_fail_the_decode_with_the_codecs_own_words():
    plugin = _plugin(manifest={**MANIFEST, "fPort": 2})
    (outcome,) = plugin.decode_many([bytes([61, 80])])
    assert outcome.error.code == "CODEC_TTN_ERRORS"
    assert outcome.error.detail == "unknown fPort 2; payload ignored"


def test_a_key_of_two_services_needs_a_mapping():
    (outcome,) = _plugin(manifest={"mapping": {"raw": None}}).decode_many([bytes([61, 80])])
    error = outcome.error
    assert (error.code, error.issue.path) == ("CODEC_TTN_UNMAPPED", "$.data.voltage")
    assert "matches a property of several services (Meter, Battery)" in str(error)


def test_a_key_of_no_property_is_never_dropped_silently():
    (outcome,) = _plugin(manifest={"mapping": {"voltage": "Meter.voltage"}}).decode_many([bytes([61, 80])])
    assert outcome.error.code == "CODEC_TTN_UNMAPPED"
    assert "“raw” of the codec's data matches no property of the profile" in str(outcome.error)


def test_commands_encode_with_the_manifests_constants_and_port():
    outcome = _plugin().encode(
        {"msgType": "cloudReq", "serviceId": "Meter", "cmd": "SET_PERIOD", "paras": {"period": 300}}
    )
    assert outcome.value == bytes([1, 1, 44])


def test_there_is_no_lorawan_ack():
    assert _plugin().encode({"msgType": "cloudRsp", "request": b"\x01", "errcode": 0, "hasMore": 0}).value is None


def test_a_codec_without_encoder_says_so():
    source = "function decodeUplink(input) { return {data: {level: input.bytes[0]}}; }"
    outcome = _plugin(source, {}).encode(
        {"msgType": "cloudReq", "serviceId": "Meter", "cmd": "SET_PERIOD", "paras": {}}
    )
    assert outcome.error.code == "CODEC_UNSUPPORTED"


def test_chirpstack_v3_decode_and_encode():
    plugin = _plugin(CHIRPSTACK_V3, {"fPort": 2})
    (outcome,) = plugin.decode_many([bytes([50, 99])])
    assert outcome.value["data"] == [
        {"serviceId": "Meter", "serviceData": {"temperature": 10}},
        {"serviceId": "Battery", "serviceData": {"level": 99}},
    ]
    encoded = plugin.encode({"msgType": "cloudReq", "serviceId": "Meter", "cmd": "SET_PERIOD", "paras": {"period": 7}})
    assert encoded.value == bytes([2, 7])


def test_a_throwing_codec_gives_its_message():
    source = "function decodeUplink(input) { throw new Error('fPort ' + input.fPort + ' unsupported'); }"
    (outcome,) = _plugin(source, {"fPort": 9}).decode_many([b"\x00"])
    assert outcome.error.code == "CODEC_JS_EXCEPTION"
    assert "Error: fPort 9 unsupported" in outcome.error.detail


@pytest.mark.parametrize("target", ["Gas.level", "Battery.pressure", "level", 5])
def test_a_mapping_to_what_the_profile_lacks(target):
    issues = check_mapping({"level": target}, INDEX)
    assert [(issue.code, issue.path) for issue in issues] == [("CODEC_TTN_MAPPING", "$.mapping.level")]


def test_a_valid_mapping_passes():
    assert check_mapping(MANIFEST["mapping"], INDEX) == []
