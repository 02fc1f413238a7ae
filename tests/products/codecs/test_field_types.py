"""Every field type of online plugins, decoded and encoded with real bytes, big-endian (F-1.4)."""

from __future__ import annotations

import base64
import struct

import pytest

from products.codecs.engine import compile_definition
from products.codecs.errors import CodecError
from products.codecs.online import check_definition
from products.codecs.profile import ProfileIndex
from tests.products.codecs.fixtures import field, meter_files
from tests.products.fixtures import accepted

INDEX = None


def _index() -> ProfileIndex:
    global INDEX
    if INDEX is None:
        INDEX = ProfileIndex.from_profile(accepted(meter_files()))
    return INDEX


def _plugin(*fields: dict, command: list[dict] | None = None):
    """One data report of the fields (mapped to Meter properties), and a SET_LABEL command if given."""
    messages = [{"name": "report", "kind": "dataReport", "serviceId": "Meter", "fields": list(fields)}]
    if command is not None:
        messages.append(
            {"name": "setLabel", "kind": "command", "serviceId": "Meter", "command": "SET_LABEL", "fields": command}
        )
    return compile_definition(check_definition({"messages": messages}, _index(), max_payload=1024), max_payload=1024)


def _values(plugin, payload: bytes) -> dict:
    return plugin.decode(payload)["data"][0]["serviceData"]


def _command(*fields: dict):
    """A SET_PERIOD command of the fields."""
    message = {
        "name": "setPeriod",
        "kind": "command",
        "serviceId": "Meter",
        "command": "SET_PERIOD",
        "fields": list(fields),
    }
    return compile_definition(check_definition({"messages": [message]}, _index(), max_payload=1024), max_payload=1024)


def _set_period(plugin, period):
    return plugin.encode_command({"serviceId": "Meter", "cmd": "SET_PERIOD", "paras": {"period": period}})


@pytest.mark.parametrize(
    ("type_", "raw", "value"),
    [
        ("uint8", b"\xff", 255),
        ("uint16", b"\x01\x02", 0x0102),
        ("uint32", b"\xde\xad\xbe\xef", 0xDEADBEEF),
        ("int8", b"\x80", -128),
        ("int16", b"\xff\xfe", -2),
        ("int32", b"\x80\x00\x00\x00", -(2**31)),
    ],
)
def test_integers_are_big_endian_both_ways(type_, raw, value):
    assert _values(_plugin(field("reading", type_, target="reading")), raw) == {"reading": value}
    assert _set_period(_command(field("period", type_, target="period")), value) == raw


def test_float_is_ieee754_single_and_reads_as_the_shortest_decimal():
    plugin = _plugin(field("voltage", "float", target="voltage"))
    assert _values(plugin, struct.pack(">f", 21.3)) == {"voltage": 21.3}
    assert _values(plugin, bytes.fromhex("41AC0000")) == {"voltage": 21.5}


def test_double_is_ieee754_double():
    plugin = _plugin(field("flow", "double", target="flow"))
    assert _values(plugin, struct.pack(">d", 0.1)) == {"flow": 0.1}


@pytest.mark.parametrize("raw", [struct.pack(">f", float("nan")), struct.pack(">f", float("inf"))])
def test_a_float_json_cannot_carry_names_the_field_and_byte(raw):
    plugin = _plugin(field("messageId", "uint8", default="01"), field("voltage", "float", target="voltage"))
    with pytest.raises(CodecError) as refused:
        plugin.decode(b"\x01" + raw)
    assert (refused.value.code, refused.value.field, refused.value.offset) == ("CODEC_DECODE_NOT_FINITE", "voltage", 1)


def test_string_is_ascii_padded_with_nul_bytes():
    plugin = _plugin(
        field("label", "string", length=8, target="label"), command=[field("label", "string", length=8, target="label")]
    )
    assert _values(plugin, b"ABC\0\0\0\0\0") == {"label": "ABC"}
    assert (
        plugin.encode_command({"serviceId": "Meter", "cmd": "SET_LABEL", "paras": {"label": "ABC"}}) == b"ABC\0\0\0\0\0"
    )


def test_string_that_is_not_ascii_is_refused_at_its_byte_f_3_3():
    plugin = _plugin(field("messageId", "uint8", default="01"), field("label", "string", length=4, target="label"))
    with pytest.raises(CodecError) as refused:
        plugin.decode(b"\x01AB\xc3\xa9")
    error = refused.value
    assert (error.code, error.message_name, error.field, error.offset) == (
        "CODEC_DECODE_NOT_ASCII",
        "report",
        "label",
        3,
    )
    assert "0xC3" in str(error)


def test_varstring_takes_its_length_from_its_length_field():
    fields = [
        field("messageId", "uint8", default="01"),
        field("size", "uint8"),
        field("label", "varstring", lengthField="size", target="label"),
        field("reading", "uint16", target="reading"),
    ]
    plugin = _plugin(
        *fields, command=[field("size", "uint8"), field("label", "varstring", lengthField="size", target="label")]
    )
    assert _values(plugin, b"\x01\x05hello\x00\x07") == {"label": "hello", "reading": 7}
    assert plugin.encode_command({"serviceId": "Meter", "cmd": "SET_LABEL", "paras": {"label": "hey"}}) == b"\x03hey"


def test_varstring_without_length_field_runs_to_the_end():
    plugin = _plugin(field("messageId", "uint8", default="01"), field("label", "varstring", target="label"))
    assert _values(plugin, b"\x01free text") == {"label": "free text"}
    assert _values(plugin, b"\x01") == {"label": ""}


def test_a_length_field_longer_than_the_payload_names_the_variable_field():
    fields = [
        field("messageId", "uint8", default="01"),
        field("size", "uint8"),
        field("label", "varstring", lengthField="size", target="label"),
    ]
    plugin = _plugin(*fields)
    with pytest.raises(CodecError) as refused:
        plugin.decode(b"\x01\x09abc")
    error = refused.value
    assert (error.code, error.field, error.offset) == ("CODEC_DECODE_TOO_SHORT", "label", 2)
    assert "bytes 2 to 10" in str(error)


def test_array_is_base64_in_json_f_3_3():
    plugin = _plugin(
        field("blob", "array", length=4, target="blob"),
        command=[field("label", "array", length=4, target="label")],
    )
    assert _values(plugin, b"\x00\x01\xfe\xff") == {"blob": base64.b64encode(b"\x00\x01\xfe\xff").decode()}
    encoded = plugin.encode_command({"serviceId": "Meter", "cmd": "SET_LABEL", "paras": {"label": "AAH+/w=="}})
    assert encoded == b"\x00\x01\xfe\xff"


def test_array_must_be_base64_of_exactly_its_length():
    plugin = _plugin(
        field("blob", "array", length=4, target="blob"), command=[field("label", "array", length=4, target="label")]
    )
    for bad in ("not base64!", base64.b64encode(b"\x01\x02").decode()):
        with pytest.raises(CodecError) as refused:
            plugin.encode_command({"serviceId": "Meter", "cmd": "SET_LABEL", "paras": {"label": bad}})
        assert (refused.value.code, refused.value.field) == ("CODEC_ENCODE_BASE64", "label")


def test_varray_with_length_field():
    fields = [
        field("messageId", "uint8", default="01"),
        field("size", "uint16"),
        field("blob", "varray", lengthField="size", target="blob"),
    ]
    plugin = _plugin(*fields)
    assert _values(plugin, b"\x01\x00\x03abc") == {"blob": "YWJj"}


def test_defaults_are_the_fields_bytes_in_hex():
    command = [
        field("messageId", "uint8", default="0x7F"),
        field("signed", "int8", default="FF"),
        field("word", "uint16", default="1"),
        field("text", "string", length=3, default="4142"),
        field("label", "varstring", target="label"),
    ]
    plugin = _plugin(field("reading", "uint8", target="reading"), command=command)
    encoded = plugin.encode_command({"serviceId": "Meter", "cmd": "SET_LABEL", "paras": {"label": "x"}})
    assert encoded == b"\x7f\xff\x00\x01AB\x00x"


def test_encode_checks_each_value_against_its_type_f_5_9():
    encoder = _command(field("messageId", "uint8", default="02"), field("period", "uint16", target="period"))
    cases = {"12": "CODEC_ENCODE_TYPE", 1.5: "CODEC_ENCODE_TYPE", None: "CODEC_ENCODE_TYPE"}
    cases.update({70000: "CODEC_ENCODE_RANGE", -1: "CODEC_ENCODE_RANGE"})
    for value, code in cases.items():
        with pytest.raises(CodecError) as refused:
            _set_period(encoder, value)
        assert (refused.value.code, refused.value.field, refused.value.offset) == (code, "period", 1), value


@pytest.mark.parametrize(("type_", "raw"), [("float", struct.pack(">f", 2.5)), ("double", struct.pack(">d", 2.5))])
def test_floats_encode_big_endian(type_, raw):
    message = {"name": "setGain", "kind": "command", "serviceId": "Meter", "command": "SET_GAIN"}
    message["fields"] = [field("gain", type_, target="gain")]
    plugin = compile_definition(check_definition({"messages": [message]}, _index(), max_payload=1024), max_payload=1024)
    assert plugin.encode_command({"serviceId": "Meter", "cmd": "SET_GAIN", "paras": {"gain": 2.5}}) == raw
    assert plugin.encode_command({"serviceId": "Meter", "cmd": "SET_GAIN", "paras": {"gain": 2}}) == struct.pack(
        ">" + ("f" if type_ == "float" else "d"), 2.0
    )
    with pytest.raises(CodecError) as refused:
        plugin.encode_command({"serviceId": "Meter", "cmd": "SET_GAIN", "paras": {"gain": "2.5"}})
    assert (refused.value.code, refused.value.field) == ("CODEC_ENCODE_TYPE", "gain")
