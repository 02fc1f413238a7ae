"""The Things Network's example files (`*-codec.yaml` of its device repository) are the plugin's vectors."""

from __future__ import annotations

from products.codecs.checker import check_package
from products.codecs.profile import ProfileIndex
from tests.products.codecs.fixtures import manifest, meter_files, plugin_zip
from tests.products.fixtures import accepted

INDEX = ProfileIndex.from_profile(accepted(meter_files()))

# Modelled on a TTN device-repository codec: two ports, warnings, errors, and a downlink encoder.
CODEC = """
function decodeUplink(input) {
  if (input.fPort === 1) return {data: {temperature: input.bytes[0] - 40, level: input.bytes[1]}};
  if (input.fPort === 2) return {data: {reading: (input.bytes[0] << 8) | input.bytes[1]}};
  return {errors: ['unknown FPort']};
}
function encodeDownlink(input) {
  return {bytes: [input.data.period >> 8, input.data.period & 255], fPort: 3};
}
"""

# As the device repository writes them: hex bytes, descriptions, outputs with warnings and errors.
EXAMPLES = """\
uplinkDecoder:
  fileName: sensor.js
  examples:
    - description: Climate on port 1
      input:
        fPort: 1
        bytes: [0x3D, 0x50]
      output:
        data:
          temperature: 21
          level: 80
        warnings: []
        errors: []
    - description: Meter on port 2
      input:
        fPort: 2
        bytes: [0x04, 0xD2]
      output:
        data:
          reading: 1234
    - description: Unknown port
      input:
        fPort: 9
        bytes: [0x00]
      output:
        errors:
          - unknown FPort
downlinkEncoder:
  fileName: sensor.js
  examples:
    - description: Period of five minutes
      input:
        data:
          period: 300
      output:
        bytes: [0x01, 0x2C]
        fPort: 3
        warnings: []
        errors: []
"""


def _zip(examples: str = EXAMPLES, codec: str = CODEC) -> bytes:
    return plugin_zip({"manifest.json": manifest(format="ttn"), "codec.js": codec, "acme-sensor-codec.yaml": examples})


def test_the_examples_file_runs_as_vectors_unchanged():
    report = check_package("sensor.zip", _zip(), index=INDEX)
    assert report.passed, [str(found) for found in report.issues]
    assert report.warnings == []
    assert [(result.direction, result.name, result.passed) for result in report.results] == [
        ("decode", "Climate on port 1", True),
        ("decode", "Meter on port 2", True),
        ("decode", "Unknown port", True),
        ("encode", "Period of five minutes", True),
    ]


def test_an_example_the_codec_does_not_meet_refuses_it():
    broken = CODEC.replace("input.bytes[0] - 40", "input.bytes[0] - 41")
    report = check_package("sensor.zip", _zip(codec=broken), index=INDEX)
    assert [(found.code, found.path) for found in report.issues] == [("CODEC_VECTOR_FAILED", "$.decode[0]")]
    assert report.issues[0].file == "acme-sensor-codec.yaml"


def test_an_examples_file_that_is_not_yaml_names_the_line():
    report = check_package("sensor.zip", _zip(examples="uplinkDecoder:\n  examples: [\n"), index=INDEX)
    (found,) = report.issues
    assert (found.code, found.file) == ("CODEC_VECTORS_YAML", "acme-sensor-codec.yaml")
    assert "line 3" in found.message_en
