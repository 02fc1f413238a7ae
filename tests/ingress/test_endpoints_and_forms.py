"""Endpoint names, object 19 downlink forms and the content formats of object 19 reads: plain functions."""

from __future__ import annotations

import base64
import json

import cbor2
import pytest

from ingress import endpoints, formats, object19
from ingress.formats import FormatError, resource_bytes

IMEI = "867724030023557"


@pytest.mark.parametrize(
    ("name", "node_id", "form"),
    [
        (IMEI, IMEI, "nodeId"),
        (f"urn:imei:{IMEI}", IMEI, "urn:imei"),
        (f"URN:IMEI:{IMEI}", IMEI, "urn:imei"),
        (f"urn:imei-imsi:{IMEI}-460001234567890", IMEI, "urn:imei-imsi"),
        (f"urn:imei-msisdn:{IMEI}-8613800000000", IMEI, "urn:imei-msisdn"),
        (f"urn:dev:ops:001122-Meter-{IMEI}", IMEI, "urn:dev:ops"),
        (f"urn:dev:ops:001122-{IMEI}", IMEI, "urn:dev:ops"),
        ("urn:imei:", "urn:imei:", "nodeId"),  # nothing after the prefix: the name as it is
        ("urn:imei-imsi:123", "urn:imei-imsi:123", "nodeId"),  # no IMSI part
        ("urn:uuid:0a1b", "urn:uuid:0a1b", "nodeId"),
    ],
)
def test_each_endpoint_name_form_names_a_node_id(name, node_id, form):
    endpoint = endpoints.parse(name)

    assert (endpoint.node_id, endpoint.form) == (node_id, form)
    assert endpoint.candidates[0] == name  # a device registered with the whole name is found first


@pytest.mark.parametrize(
    ("setting", "version", "learned", "forms"),
    [
        ("auto", "1.0", "", ["opaque", "tlv"]),  # Huawei modules: today's write first
        ("auto", "", "", ["opaque", "tlv"]),
        ("auto", "1.1", "", ["instance", "opaque"]),
        ("auto", "1.2", "", ["instance", "opaque"]),
        ("huawei", "1.1", "", ["opaque", "instance"]),
        ("standard", "1.0", "", ["tlv", "opaque"]),
        ("standard", "1.1", "", ["instance", "opaque"]),
        ("auto", "1.0", "tlv", ["tlv", "opaque"]),
        ("auto", "1.1", "opaque", ["opaque", "instance"]),
        ("auto", "1.0", "bogus", ["opaque", "tlv"]),
    ],
)
def test_the_forms_follow_the_setting_the_version_and_what_was_learned(setting, version, learned, forms):
    assert object19.forms_for(setting, version, learned) == forms


@pytest.mark.parametrize(
    ("content_format", "payload", "empty"),
    [
        (formats.SENML_CBOR, b"\x80", True),  # Anjay's answer for a resource with no instances
        (formats.SENML_JSON, b"[]", True),
        (formats.LWM2M_JSON, b'{"bn":"/19/0/0/","e":[]}', True),
        (formats.LWM2M_CBOR, b"\xa0", True),
        (formats.TLV, b"", True),
        (formats.OPAQUE, b"", True),
        (formats.OPAQUE, b"\x80", False),
        (formats.SENML_CBOR, cbor2.dumps([{0: "0", 8: b"x"}]), False),
        (formats.SENML_JSON, b"[", False),  # broken: the pipeline reports it
    ],
)
def test_a_read_without_instances_is_no_value(content_format, payload, empty):
    assert formats.carries_no_instances(content_format, payload) is empty


@pytest.mark.parametrize(
    ("links", "declared"),
    [
        # Huawei modules and clients that say nothing: nothing declared
        ('</>;rt="oma.lwm2m",</1/0>,</3/0>,</19/0>,</19/1>', ""),
        ("</1/0>,</3/0>,</19/0>,</19/1>", ""),
        ('</>;rt="oma.lwm2m";ct=42,</19/0>', ""),  # opaque carries one value
        ('</>;rt="oma.lwm2m",</3>;ver=1.1,</19/0>', ""),  # another object's version
        ("</19/0/0>,</19/1>", ""),  # a resource link alone says nothing of its instances
        ('</>;rt="oma.lwm2m";ct=11543,</19/0>', "its root link declares content format 11543"),  # Zephyr 1.0
        ('</>;rt="oma.lwm2m";ct="11542",</19/0>', "its root link declares content format 11542"),
        ("</19>;ver=1.0,</19/0>,</19/1>", "</19> declares object version 1.0"),
        ("</19/0>,</19/1/0>;dim=1", "</19/1/0> declares dim=1"),
        ("</19/0>,</19/1/0/0>", "it lists the resource instance </19/1/0/0>"),
    ],
)
def test_links_that_declare_the_specifications_object_model(links, declared):
    assert object19.declares_standard(formats.parse_link_format(links.encode())) == declared


@pytest.mark.parametrize(
    ("setting", "learned", "forms"),
    [
        ("auto", "", ["tlv", "opaque"]),  # a 1.0 client that declared it: TLV first, before any lesson
        ("huawei", "", ["opaque", "tlv"]),  # the product's setting stands
        ("auto", "opaque", ["opaque", "tlv"]),  # what the device took stands
    ],
)
def test_a_declared_object_model_puts_the_standard_form_first_on_auto_products_only(setting, learned, forms):
    assert object19.forms_for(setting, "1.0", learned, declared=True) == forms


@pytest.mark.parametrize(
    ("forms", "tried", "code", "following"),
    [
        (("opaque", "tlv"), ["opaque"], "4.00", "tlv"),
        (("instance", "opaque"), ["instance"], "4.15", "opaque"),
        (("instance", "opaque"), ["instance"], "4.04", "tlv"),  # no instance 0 yet (Anjay): TLV creates it
        (("tlv", "opaque"), ["tlv"], "4.04", None),  # not found is not a refusal of the form
        (("opaque", "tlv"), ["opaque", "tlv"], "4.00", None),  # once
        (("opaque",), ["opaque"], "4.00", None),
        (("instance", "opaque"), ["instance"], "5.00", None),
    ],
)
def test_the_next_form_after_a_refusal(forms, tried, code, following):
    assert object19.next_form(forms, tried, code) == following


def test_only_the_opaque_form_first_is_the_huawei_form():
    assert object19.huawei_form(["opaque", "tlv"]) and object19.huawei_form(("opaque", "instance"))
    assert not object19.huawei_form(["tlv", "opaque"]) and not object19.huawei_form(("instance", "opaque"))


def test_each_form_is_its_request():
    base = ("19", "1", "0")

    assert object19.request_parts("opaque", base, b"\x01\x02") == (base, 42, b"\x01\x02")
    assert object19.request_parts("instance", base, b"\x01\x02") == (("19", "1", "0", "0"), 42, b"\x01\x02")
    path, content_format, body = object19.request_parts("tlv", base, b"\x01\x02")
    assert (path, content_format) == (base, 11542)
    # A multiple resource (id 0) holding resource instance 0 (LwM2M TS 1.0, 6.4.3).
    assert formats.parse_tlv(body) == [(formats.MULTIPLE_RESOURCE, 0, [(formats.RESOURCE_INSTANCE, 0, b"\x01\x02")])]


VALUE = b"\x01\x00\x00\x10\x92\x00\x15"
B64 = base64.b64encode(VALUE).decode()


@pytest.mark.parametrize(
    ("content_format", "payload"),
    [
        (42, VALUE),
        (1544, VALUE),
        (11542, formats.encode_tlv_multiple(0, [VALUE])),
        (1542, formats.encode_tlv_multiple(0, [VALUE[:3], VALUE[3:]])),
        (110, json.dumps([{"bn": "/19/0/0/", "n": "0", "vd": base64.urlsafe_b64encode(VALUE).decode().rstrip("=")}])),
        (112, cbor2.dumps([{-2: "/19/0/0/", 0: "0", 8: VALUE}])),
        (11543, json.dumps({"bn": "/19/0/0/", "e": [{"n": "0", "sv": B64}]})),
        (1543, json.dumps({"e": [{"n": "0", "sv": B64}]})),
        (60, cbor2.dumps(VALUE)),
        (11544, cbor2.dumps({19: {0: {0: {0: VALUE}}}})),
        (11544, cbor2.dumps({19: {0: {0: {1: VALUE[3:], 0: VALUE[:3]}}}})),  # instances in path order
    ],
)
def test_every_format_of_a_multiple_instance_resource_reads_as_its_bytes(content_format, payload):
    raw = payload.encode() if isinstance(payload, str) else payload

    assert resource_bytes(content_format, raw) == VALUE


@pytest.mark.parametrize(
    ("content_format", "payload", "message"),
    [
        (60, b"\xff\xff", "not CBOR"),
        (60, cbor2.dumps("text"), "not a byte string"),
        (11544, cbor2.dumps([1, 2]), "not a map"),
        (11544, cbor2.dumps({19: {0: {0: {0: "text"}}}}), "not a byte string"),
        (11544, cbor2.dumps({"19": {0: b"x"}}), "not a path component"),
        (11544, cbor2.dumps({}), "no resource value"),
        (9999, b"x", "not supported"),
    ],
)
def test_a_payload_that_is_not_what_its_format_says_is_refused_with_the_reason(content_format, payload, message):
    with pytest.raises(FormatError, match=message):
        resource_bytes(content_format, payload)
