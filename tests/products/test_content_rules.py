"""Values: F-2.8 data types and enumerations, names, option, method, numbers, duplicates."""

import pytest

from tests.products.fixtures import (
    DEVICE_FILE,
    WATER_METER_ZIP,
    accepted,
    changed,
    codes,
    refused,
    service_path,
    simple_files,
    water_meter_files,
)

DEVICE = ("devices", 0)
CAPABILITY = (*DEVICE, "serviceTypeCapabilities", 0)
ELECTRICITY = service_path("Electricity")
VOLTAGE = ("services", 0, "properties", 0)
ALARM = service_path("WaterMeterAlarm")
HIGH_FLOW = ("services", 0, "commands", 0, "paras", 0)


def _voltage(key: str, value) -> dict:
    return changed(water_meter_files(), ELECTRICITY, (*VOLTAGE, key), value)


# --- F-2.8: data types -------------------------------------------------------------------------


@pytest.mark.parametrize("data_type", ["int", "decimal", "double", "string", "DateTime", "jsonObject"])
def test_every_data_type_of_the_original_is_accepted(data_type):
    profile = accepted(_voltage("dataType", data_type))
    assert profile["services"][0]["properties"][0]["dataType"] == data_type


@pytest.mark.parametrize("data_type", ["float", "Int", "boolean", "datetime", ""])
def test_other_data_types_are_refused(data_type):
    issues = refused(_voltage("dataType", data_type))
    assert codes(issues) == ["PROFILE_DATA_TYPE" if data_type else "PROFILE_FIELD_EMPTY"]
    assert issues[0].path == "$.services[0].properties[0].dataType"
    if data_type:
        assert "jsonObject" in issues[0].message_en and data_type in issues[0].message_zh


def test_a_string_may_have_an_enumeration():
    files = changed(_voltage("dataType", "string"), ELECTRICITY, (*VOLTAGE, "enumList"), ["OPEN", "CLOSE"])
    assert accepted(files)["services"][0]["properties"][0]["enumList"] == ["OPEN", "CLOSE"]


def test_a_number_may_not_have_an_enumeration():
    issues = refused(_voltage("enumList", ["1", "2"]))
    assert codes(issues) == ["PROFILE_ENUM_DATA_TYPE"]
    assert "string data only" in issues[0].message_en


def test_an_empty_enumeration_on_a_number_is_harmless():
    assert accepted(_voltage("enumList", []))["services"][0]["properties"][0]["enumList"] == []


@pytest.mark.parametrize("values", [["OPEN", "OPEN"], ["OPEN", ""], ["OPEN", 1]])
def test_enumeration_values_are_distinct_non_empty_strings(values):
    files = changed(_voltage("dataType", "string"), ELECTRICITY, (*VOLTAGE, "enumList"), values)
    issues = refused(files)
    assert codes(issues) == ["PROFILE_ENUM_VALUE"]
    assert issues[0].path == "$.services[0].properties[0].enumList[1]"


# --- Names ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pointer", "value"),
    [((*DEVICE, "deviceType"), "waterMeter"), ((*CAPABILITY, "serviceId"), "electricity_1")],
)
def test_device_type_and_service_names_are_upper_camel(pointer, value):
    issues = refused(changed(water_meter_files(), DEVICE_FILE, pointer, value), WATER_METER_ZIP)
    assert "PROFILE_NAME_UPPER_CAMEL" in codes(issues)
    assert "UpperCamelCase" in issues[0].message_en and "大驼峰" in issues[0].message_zh


def test_the_service_type_is_upper_camel_in_its_file_too():
    issues = refused(changed(water_meter_files(), ELECTRICITY, ("services", 0, "serviceType"), "electricity"))
    assert "PROFILE_NAME_UPPER_CAMEL" in codes(issues)


@pytest.mark.parametrize("name", ["battery-level", "2level", "level one", "电压"])
def test_property_names_are_camel_case(name):
    issues = refused(_voltage("propertyName", name))
    assert codes(issues) == ["PROFILE_NAME_CAMEL"]


def test_upper_camel_property_and_para_names_pass_as_in_the_original_multisensor_example():
    files = changed(_voltage("propertyName", "TemperatureCur"), ALARM, (*HIGH_FLOW, "paraName"), "Period")
    profile = accepted(files)
    assert profile["services"][0]["properties"][0]["propertyName"] == "TemperatureCur"


@pytest.mark.parametrize("name", ["set alarm", "_SET", "SET-ALARM"])
def test_command_names_are_letters_digits_and_underscores(name):
    issues = refused(changed(water_meter_files(), ALARM, ("services", 0, "commands", 0, "commandName"), name))
    assert codes(issues) == ["PROFILE_NAME_COMMAND"]


@pytest.mark.parametrize(("field", "value"), [("manufacturerId", "Hua wei"), ("model", ".v1"), ("model", "v1/2")])
def test_manufacturer_id_and_model_are_identifiers(field, value):
    issues = refused(changed(water_meter_files(), DEVICE_FILE, (*DEVICE, field), value), WATER_METER_ZIP)
    assert codes(issues) == ["PROFILE_NAME_IDENTIFIER"]


def test_identifiers_may_hold_dots_dashes_and_underscores():
    files = simple_files(manufacturer_id="eSDK", model="v1.0-beta_2")
    assert accepted(files)["device"]["model"] == "v1.0-beta_2"


@pytest.mark.parametrize(
    ("path", "pointer", "value", "duplicate_path"),
    [
        (
            DEVICE_FILE,
            (*DEVICE, "serviceTypeCapabilities", 1, "serviceId"),
            "Electricity",
            "serviceTypeCapabilities[1]",
        ),
        (
            service_path("WaterMeter"),
            ("services", 0, "properties", 1, "propertyName"),
            "deviceAddress",
            "properties[1]",
        ),
    ],
)
def test_names_are_unique_where_they_are_looked_up(path, pointer, value, duplicate_path):
    issues = refused(changed(water_meter_files(), path, pointer, value), WATER_METER_ZIP)
    duplicate = [issue for issue in issues if issue.code == "PROFILE_NAME_DUPLICATE"]
    assert len(duplicate) == 1
    assert duplicate_path in duplicate[0].path
    assert "already used at $." in duplicate[0].message_en


def test_command_para_and_response_names_are_unique_in_their_lists():
    files = water_meter_files()
    command = files[ALARM]["services"][0]["commands"][0]
    twice = {**command, "paras": command["paras"] * 2, "responses": command["responses"] * 2}
    issues = refused(changed(files, ALARM, ("services", 0, "commands"), [twice, twice]))
    assert sorted(issue.path for issue in issues) == [
        "$.services[0].commands[0].paras[1].paraName",
        "$.services[0].commands[0].responses[1].responseName",
        "$.services[0].commands[1].commandName",
        "$.services[0].commands[1].paras[1].paraName",
        "$.services[0].commands[1].responses[1].responseName",
    ]
    assert set(codes(issues)) == {"PROFILE_NAME_DUPLICATE"}


# --- Option, protocol, method ----------------------------------------------------------------------


@pytest.mark.parametrize("option", ["Master", "Mandatory", "Optional", "", None])
def test_option_is_one_of_the_originals_or_empty(option):
    profile = accepted(changed(water_meter_files(), DEVICE_FILE, (*CAPABILITY, "option"), option), WATER_METER_ZIP)
    assert profile["device"]["serviceTypeCapabilities"][0]["option"] == (option or "")


@pytest.mark.parametrize("option", ["Sometimes", "master", 1])
def test_another_option_is_refused(option):
    issues = refused(changed(water_meter_files(), DEVICE_FILE, (*CAPABILITY, "option"), option), WATER_METER_ZIP)
    assert codes(issues) == ["PROFILE_OPTION"]
    assert issues[0].path == "$.devices[0].serviceTypeCapabilities[0].option"


@pytest.mark.parametrize("protocol", ["CoAP", "LWM2M", "LwM2M", "MQTT"])
def test_supported_protocols_pass(protocol):
    files = changed(water_meter_files(), DEVICE_FILE, (*DEVICE, "protocolType"), protocol)
    assert accepted(files, WATER_METER_ZIP)["device"]["protocolType"] == protocol


def test_an_unsupported_protocol_is_refused():
    issues = refused(changed(water_meter_files(), DEVICE_FILE, (*DEVICE, "protocolType"), "Zigbee"), WATER_METER_ZIP)
    assert codes(issues) == ["PROFILE_PROTOCOL_TYPE"]


@pytest.mark.parametrize("method", ["R", "W", "E", "RE", "RWE", "WR"])
def test_method_combines_read_write_observe(method):
    assert accepted(_voltage("method", method))["services"][0]["properties"][0]["method"] == method


@pytest.mark.parametrize("method", ["RR", "X", "rwe", "RWEX"])
def test_another_method_is_refused(method):
    issues = refused(_voltage("method", method))
    assert codes(issues) == ["PROFILE_METHOD"]
    assert "R (read)" in issues[0].message_en


# --- Numbers -------------------------------------------------------------------------------------


def test_min_and_max_may_be_numbers_or_numeric_strings_as_in_the_original():
    files = changed(_voltage("min", "0"), ELECTRICITY, (*VOLTAGE, "max"), "3000.5")
    voltage = accepted(files)["services"][0]["properties"][0]
    assert (voltage["min"], voltage["max"]) == ("0", "3000.5")


@pytest.mark.parametrize(("key", "value"), [("min", "low"), ("max", True), ("step", [1]), ("step", "0.1x")])
def test_limits_that_are_not_numbers_are_refused(key, value):
    issues = refused(_voltage(key, value))
    assert codes(issues) == ["PROFILE_NUMBER"]
    assert issues[0].path == f"$.services[0].properties[0].{key}"


def test_a_negative_step_is_refused():
    assert codes(refused(_voltage("step", -0.1))) == ["PROFILE_NEGATIVE"]


@pytest.mark.parametrize(
    ("value", "code"), [(-1, "PROFILE_NEGATIVE"), (1.5, "PROFILE_WHOLE_NUMBER"), ("10", "PROFILE_WHOLE_NUMBER")]
)
def test_max_length_is_a_whole_number_not_below_zero(value, code):
    assert codes(refused(_voltage("maxLength", value))) == [code]


def test_a_property_with_min_above_max_is_refused():
    issues = refused(_voltage("min", 5000))
    assert codes(issues) == ["PROFILE_RANGE"]
    assert issues[0].message_en == "min 5000 is greater than max 3000."


def test_a_para_with_min_above_max_passes_as_in_the_original_water_meter_alarm():
    para = accepted(water_meter_files())["services"][2]["commands"][0]["paras"][0]
    assert (para["paraName"], para["min"], para["max"]) == ("highFlow", 1, 0)


def test_min_above_max_on_a_string_is_not_a_range():
    files = changed(_voltage("dataType", "string"), ELECTRICITY, (*VOLTAGE, "min"), 5000)
    assert accepted(files)["services"][0]["properties"][0]["min"] == 5000
