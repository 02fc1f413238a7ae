"""The four JavaScript codec shapes people have, and the globals bundled libraries expect.

Codecs written for these tests, modelled on published ones: a TTN v2 `Decoder` with its `Converter`
and `Validator`, a multi-port `decodeUplink` (ports tell messages apart, as many TTN device-repository
codecs do), a codec bundling a library in the universal module style (UMD), and variables reaching
ChirpStack codecs.
"""

from __future__ import annotations

from products.codecs.package import script_key
from products.codecs.profile import ProfileIndex
from products.codecs.script import ScriptPlugin
from products.codecs.ttn import TtnPlugin
from tests.products.codecs.fixtures import meter_files
from tests.products.fixtures import accepted

INDEX = ProfileIndex.from_profile(accepted(meter_files()))

TTN_V2 = """
function Decoder(bytes, port) {
  console.log('v2 port', port);
  return {temperature: bytes[0] - 40, level: bytes[1]};
}
function Converter(decoded, port) {
  decoded.level = Math.min(decoded.level, 100);
  return decoded;
}
function Validator(converted, port) {
  return converted.temperature < 125;
}
function Encoder(object, port) {
  return [port, object.period >> 8, object.period & 255];
}
"""

MULTI_PORT = """
function decodeUplink(input) {
  switch (input.fPort) {
    case 1: return {data: {temperature: input.bytes[0] - 40}};
    case 2: return {data: {level: input.bytes[0]}, warnings: input.bytes[0] < 10 ? ['battery low'] : []};
    default: return {errors: ['unknown FPort ' + input.fPort]};
  }
}
"""

# A library bundled the way browserify and rollup emit UMD, then the codec that uses its global.
UMD = """
(function (root, factory) {
  if (typeof define === 'function' && define.amd) { define([], factory); }
  else if (typeof module === 'object' && module.exports) { module.exports = factory(); }
  else { root.Unpack = factory(); }
}(typeof self !== 'undefined' ? self : this, function () {
  return {uint16: function (bytes, at) { return (bytes[at] << 8) | bytes[at + 1]; }};
}));
function decodeUplink(input) {
  return {data: {reading: Unpack.uint16(input.bytes, 0)}};
}
"""

CHIRPSTACK_V3 = """
function Decode(fPort, bytes, variables) {
  return {temperature: bytes[0] - Number(variables.offset || 40)};
}
"""


def _ttn(source: str, manifest: dict | None = None) -> TtnPlugin:
    return TtnPlugin(script_key(source), source, manifest or {"format": "ttn", "fPort": 1}, INDEX)


def test_ttn_v2_decoder_with_its_converter_and_validator():
    plugin = _ttn(TTN_V2, {"format": "ttn", "fPort": 5})
    good, refused = plugin.decode_many([bytes([61, 180]), bytes([200, 1])])
    assert good.value["data"] == [
        {"serviceId": "Meter", "serviceData": {"temperature": 21}},
        {"serviceId": "Battery", "serviceData": {"level": 100}},  # the Converter capped it
    ]
    assert good.logs == ["v2 port 5"]
    assert refused.error.code == "CODEC_TTN_INVALID"  # the Validator said false
    assert refused.error.logs == ["v2 port 5"]


def test_ttn_v2_encoder_takes_the_object_and_the_port():
    outcome = _ttn(TTN_V2).encode(
        {"msgType": "cloudReq", "serviceId": "Meter", "cmd": "SET_PERIOD", "paras": {"period": 300}}, fport=7
    )
    assert outcome.value == bytes([7, 1, 44])


def test_a_multi_port_codec_decodes_each_payload_with_its_own_port():
    plugin = _ttn(MULTI_PORT)
    temperature, level, unknown, default = plugin.decode_many(
        [b"\x3d", b"\x05", b"\x01", b"\x3e"], ports=[1, 2, 9, None]
    )
    assert temperature.value["data"] == [{"serviceId": "Meter", "serviceData": {"temperature": 21}}]
    assert level.value["data"] == [{"serviceId": "Battery", "serviceData": {"level": 5}}]
    assert level.logs == ["warning: battery low"]
    assert unknown.error.code == "CODEC_TTN_ERRORS" and "unknown FPort 9" in unknown.error.detail
    assert default.value["data"] == [{"serviceId": "Meter", "serviceData": {"temperature": 22}}]  # the manifest's port


def test_a_umd_bundled_library_becomes_the_global_the_codec_uses():
    (outcome,) = _ttn(UMD).decode_many([bytes([0x04, 0xD2])])
    assert outcome.error is None, outcome.error
    assert outcome.value["data"] == [{"serviceId": "Meter", "serviceData": {"reading": 1234}}]


def test_common_js_codecs_still_load_after_the_first_attempt_without_module():
    source = "exports.decode = function (b) { return {msgType: 'deviceRsp', errcode: b[0]}; };"
    (outcome,) = ScriptPlugin(script_key(source), source).decode_many([b"\x05"])
    assert outcome.value["errcode"] == 5


def test_variables_reach_the_codec_from_the_call_over_the_manifest():
    plugin = _ttn(CHIRPSTACK_V3, {"format": "ttn", "fPort": 1, "variables": {"offset": "30"}})
    (from_manifest,) = plugin.decode_many([b"\x3d"])
    (from_call,) = plugin.decode_many([b"\x3d"], variables={"offset": "50"})
    assert from_manifest.value["data"][0]["serviceData"] == {"temperature": 31}
    assert from_call.value["data"][0]["serviceData"] == {"temperature": 11}


def test_a_refused_mapping_shows_what_the_codec_gave():
    source = "function decodeUplink(input) { console.log('got', input.bytes.length); return {data: {}}; }"
    (outcome,) = _ttn(source).decode_many([b"\x01"])
    assert outcome.error.code == "CODEC_JS_SHAPE"
    assert "{}" in outcome.error.issue.message_en
    assert outcome.error.logs == ["got 1"]


def test_the_checker_takes_a_v2_codec_and_a_umd_bundle_without_vectors():
    from products.codecs.checker import check_package
    from tests.products.codecs.fixtures import manifest, plugin_zip

    for source in (TTN_V2, UMD):
        report = check_package("codec.zip", plugin_zip({"manifest.json": manifest(), "codec.js": source}), index=INDEX)
        assert report.passed, [str(found) for found in report.issues]
        assert report.kind == "ttn"
        assert {found.code for found in report.warnings} == {"CODEC_VECTORS_MISSING"}
