"""F-2.4: every JSON file parses; the error names the file, the line and the column."""

import json
import zipfile

from tests.products.fixtures import (
    DEVICE_FILE,
    WATER_METER_ZIP,
    accepted,
    build_zip,
    changed,
    codes,
    refused,
    service_path,
    water_meter_files,
)


def _text(files: dict, path: str) -> str:
    return json.dumps(files[path], indent=2)


def test_a_syntax_error_names_the_file_line_and_column():
    # given: a comma missing after "model" on line 6 of the device file
    files = water_meter_files()
    text = _text(files, DEVICE_FILE).replace('"model": "v1001",', '"model": "v1001"')
    # when
    issues = refused({**files, DEVICE_FILE: text}, WATER_METER_ZIP)
    # then
    assert codes(issues) == ["PROFILE_JSON_SYNTAX"]
    issue = issues[0]
    assert (issue.file, issue.line, issue.column) == (DEVICE_FILE, 7, 7)
    assert issue.location == f"{DEVICE_FILE}:7:7"
    assert "input format is wrong" in issue.message_en
    assert "文件输入格式有误" in issue.message_zh


def test_a_syntax_error_in_one_service_still_reports_the_others():
    files = changed(water_meter_files(), service_path("Electricity"), ("services", 0, "properties", 0, "dataType"), "x")
    files[service_path("WaterMeter")] = '{"services": [}'
    issues = refused(files)
    assert sorted(codes(issues)) == ["PROFILE_DATA_TYPE", "PROFILE_JSON_SYNTAX"]
    assert {issue.file for issue in issues} == {service_path("Electricity"), service_path("WaterMeter")}


def test_a_file_not_in_utf8_is_refused():
    text = _text(water_meter_files(), DEVICE_FILE).replace("Huawei", "Hüawei")
    issues = refused({**water_meter_files(), DEVICE_FILE: text.encode("latin-1")}, WATER_METER_ZIP)
    assert codes(issues) == ["PROFILE_JSON_ENCODING"]
    assert issues[0].file == DEVICE_FILE


def test_a_byte_order_mark_is_accepted():
    files = water_meter_files()
    device_json = _text(files, DEVICE_FILE)
    files[DEVICE_FILE] = "\ufeff".encode() + device_json.encode()
    assert accepted(files, WATER_METER_ZIP)["device"]["model"] == "v1001"


def test_a_key_given_twice_is_refused():
    text = _text(water_meter_files(), DEVICE_FILE).replace('"model": "v1001",', '"model": "v1001", "model": "v2",')
    issues = refused({**water_meter_files(), DEVICE_FILE: text}, WATER_METER_ZIP)
    assert codes(issues) == ["PROFILE_JSON_DUPLICATE_KEY"]
    assert "“model”" in issues[0].message_en


def test_nan_is_not_json():
    text = _text(water_meter_files(), service_path("Electricity")).replace('"max": 3000', '"max": NaN')
    issues = refused({**water_meter_files(), service_path("Electricity"): text})
    assert codes(issues) == ["PROFILE_JSON_SYNTAX"]
    assert "NaN" in issues[0].message_en


def test_a_number_too_large_to_store_is_refused():
    text = _text(water_meter_files(), service_path("Electricity")).replace('"max": 3000', '"max": 1e400')
    issues = refused({**water_meter_files(), service_path("Electricity"): text})
    assert "PROFILE_JSON_NUMBER_RANGE" in codes(issues)


def test_the_nul_character_is_refused():
    files = changed(water_meter_files(), service_path("Electricity"), ("services", 0, "description"), "volts\x00")
    issues = refused(files)
    assert codes(issues) == ["PROFILE_JSON_NUL"]
    assert issues[0].file == service_path("Electricity")


def test_deep_nesting_is_refused_not_a_crash():
    text = '{"devices": ' + "[" * 100_000 + "]" * 100_000 + "}"
    # Stored, not deflated: deflated, the compression ratio would refuse it first.
    issues = refused(build_zip({**water_meter_files(), DEVICE_FILE: text}, compression=zipfile.ZIP_STORED))
    assert codes(issues) == ["PROFILE_JSON_SYNTAX"]
    assert "nested too deeply" in issues[0].message_en
