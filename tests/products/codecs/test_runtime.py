"""The public API other apps use: decode_uplink, decode_many, encode_command, encode_ack, versions."""

from __future__ import annotations

import pytest

from products import codec_actions, codecs
from products.codecs import runtime
from products.codecs.errors import CodecError
from products.models import Codec
from tests.products.codecs.fixtures import deploy, meter, upload

REPORT = bytes.fromhex("01 000004D2 FFF6")
DEVICE_REQ = {
    "msgType": "deviceReq",
    "hasMore": 0,
    "data": [{"serviceId": "Meter", "serviceData": {"reading": 1234, "temperature": -10}}],
}
SET_PERIOD = {"serviceId": "Meter", "cmd": "SET_PERIOD", "paras": {"period": 60}, "mid": 7}


@pytest.fixture
def product(owner_app):
    return meter(owner_app)


def test_decode_uplink_with_an_online_plugin(product):
    deploy(product)
    assert codecs.decode_uplink(product, REPORT) == DEVICE_REQ
    assert codecs.decode_uplink(product, bytearray(REPORT)) == DEVICE_REQ


def test_a_payload_that_does_not_decode_names_message_field_and_byte(product):
    deploy(product)
    with pytest.raises(CodecError) as refused:
        codecs.decode_uplink(product, REPORT[:3])
    error = refused.value
    assert (error.code, error.message_name, error.field, error.offset) == (
        "CODEC_DECODE_TOO_SHORT",
        "report",
        "reading",
        1,
    )


def test_values_are_checked_against_the_profile_unless_asked_not_to(product):
    deploy(product)
    hot = bytes.fromhex("01 000004D2 00C8")  # 200 °C, the profile says at most 125
    with pytest.raises(CodecError) as refused:
        codecs.decode_uplink(product, hot)
    assert (refused.value.code, refused.value.field, refused.value.issue.path) == (
        "CODEC_VALUE_RANGE",
        "temperature",
        "$.data[0].serviceData.temperature",
    )
    assert codecs.decode_uplink(product, hot, check=False)["data"][0]["serviceData"]["temperature"] == 200


def test_a_product_without_codec_says_so(product):
    assert codecs.active_version(product) is None
    with pytest.raises(CodecError) as refused:
        codecs.decode_uplink(product, REPORT)
    assert refused.value.code == "CODEC_NONE"
    with pytest.raises(CodecError):
        codecs.encode_command(product, SET_PERIOD)


def test_empty_and_oversized_payloads(product, settings):
    deploy(product)
    settings.CODEC_MAX_PAYLOAD_BYTES = 4
    for payload, code in ((b"", "CODEC_DECODE_EMPTY"), (REPORT, "CODEC_PAYLOAD_TOO_LARGE")):
        with pytest.raises(CodecError) as refused:
            codecs.decode_uplink(product, payload)
        assert refused.value.code == code


def test_a_javascript_plugin_returns_its_logs(owner_app, product):
    upload(owner_app)
    logs: list[str] = []
    decoded = codecs.decode_uplink(product, REPORT, logs=logs)
    assert decoded == {**DEVICE_REQ, "identifier": "1"}
    assert logs == ["decoding 7 bytes"]


def test_a_javascript_error_is_the_same_exception_with_the_plugins_message(owner_app, product):
    upload(owner_app)
    logs: list[str] = []
    with pytest.raises(CodecError) as refused:
        codecs.decode_uplink(product, b"\x09", logs=logs)
    assert refused.value.code == "CODEC_JS_EXCEPTION"
    assert refused.value.detail.startswith("Error: unknown message 9")
    assert refused.value.logs == logs == ["decoding 1 bytes"]


def test_decode_many_keeps_the_order_and_each_error(owner_app, product):
    upload(owner_app)
    logs: list[list[str]] = []
    results = codecs.decode_many(product, [REPORT, b"\x09", b"", REPORT], logs=logs)
    assert results[0] == results[3] == {**DEVICE_REQ, "identifier": "1"}
    assert [result.code for result in results[1:3]] == ["CODEC_JS_EXCEPTION", "CODEC_DECODE_EMPTY"]
    assert logs == [["decoding 7 bytes"], ["decoding 1 bytes"], [], ["decoding 7 bytes"]]


def test_a_stored_version_decodes_while_another_is_active(owner_app, product):
    deploy(product)  # version 1: online, no identifier
    upload(owner_app)  # version 2: JavaScript, active now
    assert codecs.active_version(product) == 2
    assert "identifier" in codecs.decode_uplink(product, REPORT)
    assert codecs.decode_uplink(product, REPORT, version=1) == DEVICE_REQ
    assert codecs.decode_many(product, [REPORT], version=1) == [DEVICE_REQ]
    with pytest.raises(CodecError) as refused:
        codecs.decode_uplink(product, REPORT, version=9)
    assert refused.value.code == "CODEC_VERSION_UNKNOWN"


def test_encode_command_checks_the_paras_against_the_profile_f_5_9(product):
    deploy(product)
    assert codecs.encode_command(product, SET_PERIOD) == bytes.fromhex("02 0007 0000003C")
    for paras, code in (
        ({"period": "12"}, "CODEC_VALUE_TYPE"),
        ({"period": 0}, "CODEC_VALUE_RANGE"),
        ({}, "CODEC_VALUE_MISSING"),
    ):
        with pytest.raises(CodecError) as refused:
            codecs.encode_command(product, {**SET_PERIOD, "paras": paras})
        assert (refused.value.code, refused.value.field) == (code, "period")
    with pytest.raises(CodecError) as refused:
        codecs.encode_command(product, {**SET_PERIOD, "paras": {"period": "12"}}, check=False)
    assert refused.value.code == "CODEC_ENCODE_TYPE"  # the engine refuses it too


def test_encode_command_refuses_a_bad_mid(product):
    deploy(product)
    with pytest.raises(CodecError) as refused:
        codecs.encode_command(product, {**SET_PERIOD, "mid": 0})
    assert (refused.value.code, refused.value.issue.path) == ("CODEC_INPUT_SHAPE", "$.mid")


def test_encode_ack_online_and_javascript(owner_app, product):
    deploy(product)
    assert codecs.encode_ack(product, REPORT) == bytes.fromhex("AAAA0000")
    assert codecs.encode_ack(product, REPORT, errcode=2, has_more=1) == bytes.fromhex("AAAA0201")
    assert codecs.encode_ack(product, bytes.fromhex("03 0001 00 00")) is None
    upload(owner_app)
    assert codecs.encode_ack(product, REPORT, errcode=1) == bytes.fromhex("AAAA0100")
    assert codecs.encode_ack(product, b"\x03\x00\x01\x00\x00") is None


def test_no_query_per_uplink_while_the_version_is_remembered(product, django_assert_num_queries):
    deploy(product)
    codecs.decode_uplink(product, REPORT)
    with django_assert_num_queries(0):
        codecs.decode_uplink(product, REPORT)
        assert len(codecs.decode_many(product, [REPORT] * 200)) == 200


def test_one_query_per_call_without_the_version_cache(product, settings, django_assert_num_queries):
    settings.CODEC_VERSION_CACHE_SECONDS = 0
    deploy(product)
    codecs.decode_uplink(product, REPORT)
    with django_assert_num_queries(1):
        codecs.decode_uplink(product, REPORT)
    with django_assert_num_queries(1):
        assert len(codecs.decode_many(product, [REPORT] * 200)) == 200


def test_a_change_in_this_process_takes_effect_at_once(owner_app, product):
    deploy(product)
    assert "identifier" not in codecs.decode_uplink(product, REPORT)
    upload(owner_app)  # version 2 becomes active
    assert codecs.decode_uplink(product, REPORT)["identifier"] == "1"
    codec_actions.do_activate_version(Codec.objects.get(product=product), 1)
    assert "identifier" not in codecs.decode_uplink(product, REPORT)
    codec_actions.do_delete_codec(Codec.objects.get(product=product))
    with pytest.raises(CodecError) as refused:
        codecs.decode_uplink(product, REPORT)
    assert refused.value.code == "CODEC_NONE"


def test_the_plugin_is_built_once_per_version_and_revision(product):
    deploy(product)
    first = runtime.plugin_for(product)[1]
    assert runtime.plugin_for(product)[1] is first
    product.revision += 1  # a profile change: values are checked against the new profile
    assert runtime.plugin_for(product)[1] is not first
