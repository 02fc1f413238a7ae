"""The plugin checker (F-3.8): manifest, syntax, functions, test vectors, time per call; every rule by code."""

from __future__ import annotations

import copy
import io
import zipfile

import pytest

from products.codecs.checker import check_package
from products.codecs.profile import ProfileIndex
from tests.products.codecs.fixtures import (
    OCEANCONNECT_JS,
    OCEANCONNECT_VECTORS,
    manifest,
    meter_files,
    oceanconnect_files,
    oceanconnect_zip,
    plugin_zip,
)
from tests.products.fixtures import accepted

INDEX = ProfileIndex.from_profile(accepted(meter_files()))


def _codes(data: bytes, *, index=None) -> list[str]:
    return [issue.code for issue in check_package("codec.zip", data, index=index).issues]


def test_a_good_plugin_passes_with_its_vectors_and_timings():
    report = check_package("codec.zip", oceanconnect_zip(), index=INDEX)
    assert report.issues == []
    assert report.kind == "script"
    assert report.functions == ["decode", "encode"]
    assert [(result.direction, result.name, result.passed) for result in report.results] == [
        ("decode", "report", True),
        ("decode", "unknown", True),
        ("encode", "set period", True),
        ("encode", "ack", True),
    ]
    assert 0 < report.timings["decode"] < 10 and 0 < report.timings["encode"] < 10


# --- The zip -----------------------------------------------------------------------------------------


def test_not_a_zip():
    assert _codes(b"function decode() {}") == ["CODEC_NOT_ZIP"]


def test_too_large(settings):
    settings.CODEC_MAX_UPLOAD_BYTES = 100
    assert _codes(oceanconnect_zip()) == ["CODEC_UPLOAD_TOO_LARGE"]


def _raw_zip(entries: list[tuple[zipfile.ZipInfo | str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for info, data in entries:
            archive.writestr(info, data)
    return buffer.getvalue()


def test_unsafe_entries_are_refused_by_name():
    link = zipfile.ZipInfo("codec.js")
    link.external_attr = 0o120777 << 16
    data = _raw_zip([("manifest.json", b"{}"), ("../evil.js", b""), (link, b"/etc/passwd")])
    report = check_package("codec.zip", data)
    assert [(issue.code, issue.file) for issue in report.issues] == [
        ("CODEC_ZIP_ENTRY", "../evil.js"),
        ("CODEC_ZIP_ENTRY", "codec.js"),
    ]
    assert "climbs out of the zip" in str(report.issues[0]) and "a link" in str(report.issues[1])


def test_hidden_files_and_a_wrapping_folder_are_fine():
    files = {f"plugin/{name}": value for name, value in oceanconnect_files().items()}
    files["__MACOSX/plugin/._codec.js"] = b"junk"
    files["plugin/.DS_Store"] = b"junk"
    files["plugin/README.md"] = "notes"
    assert _codes(plugin_zip(files)) == []


def test_f_3_10_names_in_any_characters():
    source = OCEANCONNECT_JS.replace("function decode(bytes) {", "function decode(bytes) {\n  var 温度 = '°C';")
    files = oceanconnect_files(**{"codec.js": None})
    files["解码器/编解码 ü.js"] = source
    files["manifest.json"] = manifest(entry="解码器/编解码 ü.js", model="m1")
    assert _codes(plugin_zip(files)) == []


# --- The manifest and the files it names --------------------------------------------------------------


def test_no_manifest():
    assert _codes(plugin_zip({"codec.js": OCEANCONNECT_JS})) == ["CODEC_MANIFEST_MISSING"]


def test_manifest_not_json_names_line_and_column():
    report = check_package("codec.zip", oceanconnect_zip(**{"manifest.json": '{"model": "m1",\n  oops}'}))
    (issue,) = report.issues
    assert (issue.code, issue.file, issue.path) == ("CODEC_MANIFEST_JSON", "manifest.json", "2:3")


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"model": None}, "$.model"),
        ({"version": 2}, "$.version"),
        ({"format": "lua"}, "$.format"),
        ({"mapping": ["temperature"]}, "$.mapping"),
        ({"fPort": 0}, "$.fPort"),
    ],
)
def test_manifest_fields(changes, path):
    value = {key: item for key, item in {**manifest(), **changes}.items() if item is not None}
    report = check_package("codec.zip", oceanconnect_zip(**{"manifest.json": value}))
    assert [(issue.code, issue.path) for issue in report.issues] == [("CODEC_MANIFEST_FIELD", path)]


def test_entry_missing_or_not_utf8():
    assert _codes(oceanconnect_zip(**{"manifest.json": manifest(entry="main.js")})) == ["CODEC_ENTRY_MISSING"]
    assert _codes(oceanconnect_zip(**{"codec.js": "var s = '\u00e9';".encode("latin-1")})) == ["CODEC_ENTRY_ENCODING"]


# --- The script ----------------------------------------------------------------------------------------


def test_syntax_error_names_the_line():
    report = check_package("codec.zip", oceanconnect_zip(**{"codec.js": "function decode(bytes) {\n  return [;\n}"}))
    (issue,) = report.issues
    assert (issue.code, issue.file) == ("CODEC_JS_SYNTAX", "codec.js")
    assert "<anonymous>:2: SyntaxError" in issue.detail


def test_top_level_throw():
    report = check_package("codec.zip", oceanconnect_zip(**{"codec.js": "throw new Error('no config');"}))
    assert [issue.code for issue in report.issues] == ["CODEC_JS_LOAD"]
    assert "no config" in report.issues[0].detail


def test_no_decode_function():
    assert _codes(oceanconnect_zip(**{"codec.js": "function parse(bytes) { return null; }"})) == ["CODEC_JS_EXPORTS"]
    ttn = oceanconnect_zip(**{"manifest.json": manifest(format="ttn")})
    assert _codes(ttn) == ["CODEC_JS_EXPORTS"]


# --- Vectors ----------------------------------------------------------------------------------------------


def test_vectors_are_recommended_not_required():
    # Real codecs arrive without vectors: the plugin passes, and the report warns.
    report = check_package("codec.zip", oceanconnect_zip(**{"vectors.json": None}))
    assert report.passed
    assert [(found.code, found.message_en) for found in report.warnings] == [
        ("CODEC_VECTORS_MISSING", "The plugin carries no decode test vectors."),
        ("CODEC_VECTORS_MISSING", "The plugin carries no encode test vectors."),
    ]
    assert [found["code"] for found in report.as_dict()["warnings"]] == ["CODEC_VECTORS_MISSING"] * 2
    decode_only = {"decode": OCEANCONNECT_VECTORS["decode"]}
    report = check_package("codec.zip", oceanconnect_zip(**{"vectors.json": decode_only}))
    assert report.passed and [result.passed for result in report.results] == [True] * len(decode_only["decode"])
    assert [(found.code, found.message_en) for found in report.warnings] == [
        ("CODEC_VECTORS_MISSING", "The plugin carries no encode test vectors.")
    ]


def test_vectors_that_fail_still_refuse_and_show_what_the_plugin_logged():
    source = "function decode(bytes) { console.log('first byte', bytes[0]); return {msgType: 'deviceReq'}; }"
    vectors = {"decode": [{"name": "one", "payload": "01", "expected": {"msgType": "deviceReq", "data": []}}]}
    report = check_package("codec.zip", oceanconnect_zip(**{"codec.js": source, "vectors.json": vectors}))
    assert not report.passed
    assert report.logs == ["one: first byte 1"]
    assert report.as_dict()["logs"] == ["one: first byte 1"]


def test_vectors_not_json():
    assert _codes(oceanconnect_zip(**{"vectors.json": "{decode: []}"})) == ["CODEC_VECTORS_JSON"]


def test_vector_shapes():
    vectors = {
        "decode": [{"payload": "zz", "expected": {}}, {"payload": "01"}],
        "encode": [{"input": 1, "expected": "00"}],
    }
    report = check_package("codec.zip", oceanconnect_zip(**{"vectors.json": vectors}))
    assert [(issue.code, issue.path) for issue in report.issues] == [
        ("CODEC_VECTOR_SHAPE", "$.decode[0].payload"),
        ("CODEC_VECTOR_SHAPE", "$.decode[1]"),
        ("CODEC_VECTOR_SHAPE", "$.encode[0].input"),
    ]


def test_a_decode_vector_that_fails_shows_both_sides():
    vectors = copy.deepcopy(OCEANCONNECT_VECTORS)
    vectors["decode"][0]["expected"]["data"][0]["serviceData"]["reading"] = 1235
    report = check_package("codec.zip", oceanconnect_zip(**{"vectors.json": vectors}))
    (issue,) = report.issues
    assert (issue.code, issue.file, issue.path) == ("CODEC_VECTOR_FAILED", "vectors.json", "$.decode[0]")
    assert '"reading":1235' in issue.message_en and '"reading":1234' in issue.message_en
    assert [result.passed for result in report.results] == [False, True, True, True]


def test_an_encode_vector_that_fails():
    vectors = copy.deepcopy(OCEANCONNECT_VECTORS)
    vectors["encode"][0]["expected"] = "02 0007 00000000"
    report = check_package("codec.zip", oceanconnect_zip(**{"vectors.json": vectors}))
    (issue,) = report.issues
    assert issue.code == "CODEC_VECTOR_FAILED"
    assert "expected 02000700000000 but the plugin gave 0200070000003C" in issue.message_en


def test_an_error_vector_must_see_its_error():
    vectors = copy.deepcopy(OCEANCONNECT_VECTORS)
    vectors["decode"][1]["error"] = "checksum"
    vectors["decode"].append({"name": "fine", "payload": "01 00000001 0001", "error": "anything"})
    report = check_package("codec.zip", oceanconnect_zip(**{"vectors.json": vectors}))
    assert [(issue.code, issue.path) for issue in report.issues] == [
        ("CODEC_VECTOR_NO_ERROR", "$.decode[1]"),
        ("CODEC_VECTOR_NO_ERROR", "$.decode[2]"),
    ]
    assert "the error was:" in report.issues[0].message_en and "unknown message 9" in report.issues[0].message_en
    assert "the payload decoded" in report.issues[1].message_en


def test_a_plugin_error_inside_a_vector_keeps_its_code_at_the_vector():
    vectors = {"decode": [{"name": "loops", "payload": "01", "expected": {}}], "encode": OCEANCONNECT_VECTORS["encode"]}
    source = OCEANCONNECT_JS.replace(
        "if (bytes[0] === 1) {",
        "if (bytes[0] === 1 && bytes.length === 1) { while (true) {} }\n  if (bytes[0] === 1) {",
    )
    report = check_package("codec.zip", oceanconnect_zip(**{"vectors.json": vectors, "codec.js": source}))
    (issue,) = report.issues
    assert (issue.code, issue.file, issue.path) == ("CODEC_JS_TIMEOUT", "vectors.json", "$.decode[0]")


def test_decoded_vectors_must_fit_the_profile():
    vectors = copy.deepcopy(OCEANCONNECT_VECTORS)
    vectors["decode"][0]["payload"] = "01 000004D2 00C8"  # 200 °C
    vectors["decode"][0]["expected"]["data"][0]["serviceData"]["temperature"] = 200
    assert _codes(oceanconnect_zip(**{"vectors.json": vectors})) == []  # no profile known
    report = check_package("codec.zip", oceanconnect_zip(**{"vectors.json": vectors}), index=INDEX)
    (issue,) = report.issues
    assert (issue.code, issue.path, issue.field) == (
        "CODEC_VALUE_RANGE",
        "$.decode[0] $.data[0].serviceData.temperature",
        "temperature",
    )


def test_too_slow_per_call(settings):
    settings.CODEC_CHECK_CALL_BUDGET_MS = 1
    source = OCEANCONNECT_JS.replace(
        "function decode(bytes) {", "function decode(bytes) {\n  var end = Date.now() + 3; while (Date.now() < end) {}"
    )
    report = check_package("codec.zip", oceanconnect_zip(**{"codec.js": source}))
    assert [issue.code for issue in report.issues] == ["CODEC_CHECK_SLOW"]
    assert report.timings["decode"] > 1


def test_a_ttn_codec_with_its_mapping_checked_against_the_profile():
    source = "function decodeUplink(input) { return {data: {level: input.bytes[0], pressure: 1}}; }"
    files = {
        "manifest.json": manifest(entry="decoder.js", format="ttn", mapping={"pressure": "Battery.pressure"}),
        "decoder.js": source,
        "vectors.json": {"decode": [{"payload": "50", "expected": {"level": 80, "pressure": 1}}]},
    }
    assert check_package("codec.zip", plugin_zip(files)).issues == []
    report = check_package("codec.zip", plugin_zip(files), index=INDEX)
    assert [(issue.code, issue.path) for issue in report.issues] == [
        ("CODEC_TTN_MAPPING", "$.mapping.pressure"),
        ("CODEC_TTN_MAPPING", "$.decode[0] $.data.pressure"),
    ]
