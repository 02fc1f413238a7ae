"""The shape of the documents: F-2.5 arrays, required fields, one device, service files and references."""

import pytest

from tests.products.fixtures import (
    DEVICE_FILE,
    WATER_METER_ZIP,
    accepted,
    changed,
    codes,
    refused,
    removed,
    service_path,
    water_meter_files,
)

DEVICE = ("devices", 0)
ELECTRICITY = service_path("Electricity")
ALARM = service_path("WaterMeterAlarm")
ALARM_SERVICE = ("services", 0)
ALARM_COMMAND = (*ALARM_SERVICE, "commands", 0)


# --- F-2.5: commands and properties are arrays, or null ------------------------------------------


@pytest.mark.parametrize("key", ["commands", "properties"])
@pytest.mark.parametrize("value", [{"commandName": "X"}, "[]", 3, True])
def test_commands_and_properties_must_be_arrays(key, value):
    issues = refused(changed(water_meter_files(), ELECTRICITY, ("services", 0, key), value))
    assert codes(issues) == ["PROFILE_NOT_ARRAY"]
    assert issues[0].file == ELECTRICITY
    assert issues[0].path == f"$.services[0].{key}"
    assert "square brackets" in issues[0].message_en and "中括号" in issues[0].message_zh


@pytest.mark.parametrize("key", ["commands", "properties"])
def test_null_is_allowed_as_the_original_examples_use_it(key):
    profile = accepted(changed(water_meter_files(), ELECTRICITY, ("services", 0, key), None))
    assert profile["services"][0][key] == []


@pytest.mark.parametrize(
    ("pointer", "path"),
    [
        ((*ALARM_COMMAND, "paras"), "$.services[0].commands[0].paras"),
        ((*ALARM_COMMAND, "responses"), "$.services[0].commands[0].responses"),
        ((*ALARM_COMMAND, "responses", 0, "paras"), "$.services[0].commands[0].responses[0].paras"),
    ],
)
def test_paras_and_responses_must_be_arrays_too(pointer, path):
    issues = refused(changed(water_meter_files(), ALARM, pointer, "none"))
    assert codes(issues) == ["PROFILE_NOT_ARRAY"]
    assert issues[0].path == path


# --- The documents' shape ----------------------------------------------------------------------


@pytest.mark.parametrize("document", [[], 3, None])
def test_the_device_file_must_be_an_object(document):
    issues = refused({**water_meter_files(), DEVICE_FILE: document}, WATER_METER_ZIP)
    assert "PROFILE_FIELD_TYPE" in codes(issues)
    assert issues[0].path == "$"


def test_devices_must_hold_exactly_one_device():
    files = water_meter_files()
    device = files[DEVICE_FILE]["devices"][0]
    issues = refused({**files, DEVICE_FILE: {"devices": [device, device]}}, WATER_METER_ZIP)
    assert codes(issues)[0] == "PROFILE_DEVICE_COUNT"
    assert "not 2" in issues[0].message_en


def test_a_service_file_must_hold_exactly_one_service():
    issues = refused(changed(water_meter_files(), ELECTRICITY, ("services",), []))
    assert codes(issues) == ["PROFILE_SERVICE_COUNT"]
    assert issues[0].path == "$.services"


@pytest.mark.parametrize(
    ("path", "pointer", "field"),
    [
        (DEVICE_FILE, (*DEVICE, "deviceType"), "deviceType"),
        (DEVICE_FILE, (*DEVICE, "manufacturerId"), "manufacturerId"),
        (DEVICE_FILE, (*DEVICE, "manufacturerName"), "manufacturerName"),
        (DEVICE_FILE, (*DEVICE, "model"), "model"),
        (DEVICE_FILE, (*DEVICE, "protocolType"), "protocolType"),
        (DEVICE_FILE, (*DEVICE, "serviceTypeCapabilities"), "serviceTypeCapabilities"),
        (DEVICE_FILE, (*DEVICE, "serviceTypeCapabilities", 0, "serviceId"), "serviceId"),
        (ALARM, (*ALARM_SERVICE, "serviceType"), "serviceType"),
        (ALARM, (*ALARM_SERVICE, "properties", 0, "propertyName"), "propertyName"),
        (ALARM, (*ALARM_SERVICE, "properties", 0, "dataType"), "dataType"),
        (ALARM, (*ALARM_SERVICE, "properties", 0, "method"), "method"),
        (ALARM, (*ALARM_COMMAND, "commandName"), "commandName"),
        (ALARM, (*ALARM_COMMAND, "paras", 0, "paraName"), "paraName"),
        (ALARM, (*ALARM_COMMAND, "paras", 0, "dataType"), "dataType"),
        (ALARM, (*ALARM_COMMAND, "responses", 0, "responseName"), "responseName"),
    ],
)
def test_a_missing_required_field_is_named_with_its_path(path, pointer, field):
    issues = refused(removed(water_meter_files(), path, pointer), WATER_METER_ZIP)
    missing = [issue for issue in issues if issue.code == "PROFILE_FIELD_MISSING"]
    assert len(missing) == 1
    assert missing[0].file == path
    assert missing[0].path.endswith(f".{field}")
    assert f"required field {field} is missing" in missing[0].message_en


def test_optional_fields_may_be_left_out_and_are_filled_in():
    files = water_meter_files()
    for key in ("required", "min", "max", "step", "maxLength", "unit", "enumList"):
        files = removed(files, ELECTRICITY, ("services", 0, "properties", 0, key))
    files = removed(files, DEVICE_FILE, (*DEVICE, "serviceTypeCapabilities", 0, "option"))
    profile = accepted(files)
    voltage = profile["services"][0]["properties"][0]
    assert voltage == {
        "propertyName": "voltage",
        "dataType": "double",
        "required": False,
        "min": None,
        "max": None,
        "step": None,
        "maxLength": None,
        "method": "RE",
        "unit": None,
        "enumList": None,
    }
    assert profile["device"]["serviceTypeCapabilities"][0]["option"] == ""


def test_a_string_field_with_another_type_is_refused():
    issues = refused(changed(water_meter_files(), DEVICE_FILE, (*DEVICE, "model"), 1001), WATER_METER_ZIP)
    assert "PROFILE_FIELD_TYPE" in codes(issues)
    assert "model must be string, not number" in issues[0].message_en


def test_required_must_be_a_boolean():
    issues = refused(changed(water_meter_files(), ELECTRICITY, ("services", 0, "properties", 0, "required"), "yes"))
    assert codes(issues) == ["PROFILE_FIELD_TYPE"]
    assert issues[0].path == "$.services[0].properties[0].required"


def test_an_empty_name_is_refused():
    issues = refused(changed(water_meter_files(), DEVICE_FILE, (*DEVICE, "manufacturerName"), "  "), WATER_METER_ZIP)
    assert codes(issues) == ["PROFILE_FIELD_EMPTY"]


def test_an_overlong_name_is_refused():
    name = "Water" + "x" * 64
    issues = refused(changed(water_meter_files(), DEVICE_FILE, (*DEVICE, "deviceType"), name), WATER_METER_ZIP)
    assert codes(issues) == ["PROFILE_FIELD_TOO_LONG"]
    assert "at most 64" in issues[0].message_en


# --- Service files and their references ------------------------------------------------------------


def test_a_referenced_service_type_without_its_file_is_refused():
    files = water_meter_files()
    del files[ALARM]
    issues = refused(files)
    assert codes(issues) == ["PROFILE_SERVICE_FILE_MISSING"]
    assert issues[0].file == DEVICE_FILE
    assert issues[0].path == "$.devices[0].serviceTypeCapabilities[2].serviceType"
    assert ALARM in issues[0].message_en


def test_a_service_file_nobody_references_is_refused():
    files = water_meter_files()
    capabilities = files[DEVICE_FILE]["devices"][0]["serviceTypeCapabilities"]
    files = changed(files, DEVICE_FILE, (*DEVICE, "serviceTypeCapabilities"), capabilities[:2])
    issues = refused(files)
    assert codes(issues) == ["PROFILE_SERVICE_FILE_UNREFERENCED"]
    assert issues[0].file == ALARM


def test_the_folder_must_match_the_service_type_inside():
    files = water_meter_files()
    files[service_path("Battery")] = files.pop(ELECTRICITY)
    issues = refused(files)
    assert sorted(codes(issues)) == [
        "PROFILE_SERVICE_FILE_MISSING",
        "PROFILE_SERVICE_FILE_UNREFERENCED",
        "PROFILE_SERVICE_TYPE_MISMATCH",
    ]
    mismatch = next(issue for issue in issues if issue.code == "PROFILE_SERVICE_TYPE_MISMATCH")
    assert mismatch.file == service_path("Battery")
    assert "service/Battery" in mismatch.message_en


def test_two_services_may_share_a_service_type():
    files = water_meter_files()
    capabilities = files[DEVICE_FILE]["devices"][0]["serviceTypeCapabilities"]
    second = {"serviceId": "BackupBattery", "serviceType": "Electricity", "option": "Optional"}
    profile = accepted(changed(files, DEVICE_FILE, (*DEVICE, "serviceTypeCapabilities"), [*capabilities, second]))
    assert [service["serviceType"] for service in profile["services"]] == [
        "Electricity",
        "WaterMeter",
        "WaterMeterAlarm",
    ]
    assert len(profile["device"]["serviceTypeCapabilities"]) == 4


def test_unknown_keys_are_kept():
    files = changed(water_meter_files(), DEVICE_FILE, (*DEVICE, "omCapability"), {"upgradeCapability": {}})
    files = changed(files, ELECTRICITY, ("services", 0, "events"), [])
    profile = accepted(files)
    assert profile["device"]["omCapability"] == {"upgradeCapability": {}}
    assert profile["services"][0]["events"] == []


def test_all_issues_of_one_upload_are_reported_together():
    files = changed(water_meter_files(), ELECTRICITY, ("services", 0, "properties", 0, "dataType"), "float")
    files = changed(files, DEVICE_FILE, (*DEVICE, "protocolType"), "Zigbee")
    files = changed(files, ALARM, (*ALARM_COMMAND, "commandName"), "set alarm")
    issues = refused(files, "wrong.zip")
    assert sorted(codes(issues)) == [
        "PROFILE_DATA_TYPE",
        "PROFILE_NAME_COMMAND",
        "PROFILE_PROTOCOL_TYPE",
        "PROFILE_ZIP_NAME",
    ]
