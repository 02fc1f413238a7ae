"""The compiled engine: messageId dispatch (F-3.5), mid round trips (F-3.6), ACKs (F-3.7), named errors."""

from __future__ import annotations

import pytest

from products.codecs.engine import compile_definition
from products.codecs.errors import CodecError
from products.codecs.online import check_definition
from products.codecs.profile import ProfileIndex
from tests.products.codecs.fixtures import field, full_definition, meter_files, report_message, set_period_message
from tests.products.fixtures import accepted

INDEX = ProfileIndex.from_profile(accepted(meter_files()))
REPORT = bytes.fromhex("01 000004D2 FFF6")


def _compile(definition=None):
    checked = check_definition(definition or full_definition(), INDEX, max_payload=1024)
    return compile_definition(checked, max_payload=1024)


def test_a_data_report_becomes_a_device_req():
    assert _compile().decode(REPORT) == {
        "msgType": "deviceReq",
        "hasMore": 0,
        "data": [{"serviceId": "Meter", "serviceData": {"reading": 1234, "temperature": -10}}],
    }


def test_message_id_picks_the_message_f_3_5():
    plugin = _compile()
    assert plugin.decode(REPORT)["msgType"] == "deviceReq"
    assert plugin.decode(bytes.fromhex("03 1F40 00 05"))["msgType"] == "deviceRsp"


def test_an_unknown_message_id_names_its_value_and_byte():
    with pytest.raises(CodecError) as refused:
        _compile().decode(b"\x09\x00\x00")
    error = refused.value
    assert (error.code, error.field, error.offset) == ("CODEC_DECODE_UNKNOWN_MESSAGE", "messageId", 0)
    assert "9 (0x09)" in str(error)


def test_a_lone_message_checks_its_message_id_before_its_length():
    plugin = _compile({"messages": [report_message()]})
    with pytest.raises(CodecError) as refused:
        plugin.decode(b"\x05\x00")
    assert refused.value.code == "CODEC_DECODE_UNKNOWN_MESSAGE"


def test_mid_round_trip_command_then_response_f_3_6():
    plugin = _compile()
    command = plugin.encode_command(
        {"serviceId": "Meter", "cmd": "SET_PERIOD", "paras": {"period": 3600}, "mid": 8000, "hasMore": 0}
    )
    assert command == bytes.fromhex("02 1F40 00000E10")
    # the device answers with the mid it was given, at the same position
    response = bytes([3]) + command[1:3] + bytes([0, 5])
    assert plugin.decode(response) == {
        "msgType": "deviceRsp",
        "mid": 8000,
        "errcode": 0,
        "hasMore": 0,
        "body": {"result": 5},
    }


def test_a_command_message_with_mid_needs_the_cloud_req_mid():
    with pytest.raises(CodecError) as refused:
        _compile().encode_command({"serviceId": "Meter", "cmd": "SET_PERIOD", "paras": {"period": 1}})
    assert (refused.value.code, refused.value.message_name, refused.value.field) == (
        "CODEC_ENCODE_MISSING",
        "setPeriod",
        "mid",
    )


def test_a_missing_para_without_default_is_named():
    with pytest.raises(CodecError) as refused:
        _compile().encode_command({"serviceId": "Meter", "cmd": "SET_PERIOD", "paras": {}, "mid": 1})
    assert (refused.value.code, refused.value.field) == ("CODEC_ENCODE_MISSING", "period")
    assert "paras.period" in str(refused.value)


def test_a_command_without_message_is_named():
    with pytest.raises(CodecError) as refused:
        _compile().encode_command({"serviceId": "Meter", "cmd": "SET_LABEL", "paras": {"label": "x"}, "mid": 1})
    assert refused.value.code == "CODEC_ENCODE_NO_MESSAGE"
    assert "Meter.SET_LABEL" in str(refused.value)


def test_the_report_ack_f_3_7():
    plugin = _compile()
    assert plugin.encode_ack(REPORT) == bytes.fromhex("AAAA0000")
    assert plugin.encode_ack(REPORT, errcode=1, has_more=1) == bytes.fromhex("AAAA0101")


def test_no_ack_for_a_report_without_response_field_nor_for_a_response():
    definition = full_definition()
    del definition["messages"][0]["ack"]
    plugin = _compile(definition)
    assert plugin.encode_ack(REPORT) is None
    assert _compile().encode_ack(bytes.fromhex("03 0001 00 00")) is None


def test_has_more_is_read_and_written():
    report = report_message()
    report["fields"].append(field("hasMore", "uint8"))
    command = set_period_message()
    command["fields"].append(field("hasMore", "uint8"))
    plugin = _compile({"messages": [report, command]})
    assert plugin.decode(REPORT + b"\x01")["hasMore"] == 1
    encoded = plugin.encode_command(
        {"serviceId": "Meter", "cmd": "SET_PERIOD", "paras": {"period": 1}, "mid": 2, "hasMore": 1}
    )
    assert encoded.endswith(b"\x01")


@pytest.mark.parametrize(
    ("payload", "field_name", "offset", "text"),
    [
        ("01 0000", "reading", 1, "needs bytes 1 to 4 but the payload is 3 bytes long"),
        ("01 000004D2 FF", "temperature", 5, "needs bytes 5 to 6 but the payload is 6 bytes long"),
    ],
)
def test_a_short_payload_names_message_field_and_byte(payload, field_name, offset, text):
    with pytest.raises(CodecError) as refused:
        _compile().decode(bytes.fromhex(payload))
    error = refused.value
    assert (error.code, error.message_name, error.field, error.offset) == (
        "CODEC_DECODE_TOO_SHORT",
        "report",
        field_name,
        offset,
    )
    assert text in str(error)


def test_a_long_payload_names_where_the_message_ends():
    with pytest.raises(CodecError) as refused:
        _compile().decode(REPORT + b"\x00\x00")
    error = refused.value
    assert (error.code, error.message_name, error.offset) == ("CODEC_DECODE_TOO_LONG", "report", 7)
    assert "is 7 bytes long but the payload is 9 bytes long" in str(error)


def test_an_empty_payload():
    with pytest.raises(CodecError) as refused:
        _compile().decode(b"")
    assert refused.value.code == "CODEC_DECODE_EMPTY"
    with pytest.raises(CodecError) as refused:
        _compile({"messages": [report_message()]}).decode(b"")
    assert refused.value.code == "CODEC_DECODE_EMPTY"


def test_a_fixed_message_compiles_to_one_unpack_and_one_dict():
    plugin = _compile({"messages": [report_message()]})
    lines = plugin.source.splitlines()
    assert sum("unpack" in line or "_U" in line for line in lines) == 1
    assert sum(line.strip().startswith("return {") for line in lines) == 1
    assert "for " not in plugin.source  # no loop over fields at decode time


def test_names_reach_the_generated_code_only_as_literals():
    # Names are validated, and still only ever written with repr(): nothing from a document is code.
    plugin = _compile()
    assert "'reading'" in plugin.source and "'Meter'" in plugin.source
    for line in plugin.source.splitlines():
        assert "reading =" not in line and "Meter =" not in line


def test_a_two_byte_message_id_dispatches_too():
    first, second = report_message(), report_message(name="second")
    first["fields"][0] = field("messageId", "uint16", default="0x0101")
    second["fields"][0] = field("messageId", "uint16", default="0x0202")
    second["fields"] = second["fields"][:2]
    plugin = _compile({"messages": [first, second]})
    assert plugin.decode(bytes.fromhex("0202 000004D2"))["data"][0]["serviceData"] == {"reading": 1234}
    assert plugin.decode(bytes.fromhex("0101 000004D2 FFF6"))["data"][0]["serviceData"]["temperature"] == -10
    with pytest.raises(CodecError) as refused:
        plugin.decode(bytes.fromhex("0303 00"))
    assert (refused.value.code, refused.value.offset) == ("CODEC_DECODE_UNKNOWN_MESSAGE", 0)
    with pytest.raises(CodecError) as refused:
        plugin.decode(b"\x02")
    assert (refused.value.code, refused.value.field) == ("CODEC_DECODE_TOO_SHORT", "messageId")


def test_a_plugin_without_uplink_messages_cannot_decode():
    plugin = _compile({"messages": [set_period_message()]})
    with pytest.raises(CodecError) as refused:
        plugin.decode(b"\x01")
    assert refused.value.code == "CODEC_UNSUPPORTED"
    assert "decode uplinks" in str(refused.value)
