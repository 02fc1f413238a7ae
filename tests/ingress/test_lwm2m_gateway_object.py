"""Reading an LwM2M gateway's object 25 and its end devices' /3/0 (ingress.lwm2m_gateway), as TLV and
SenML JSON, with every instance that cannot be used named with its reason."""

from __future__ import annotations

import json

import pytest

from ingress.formats import SENML_JSON, TLV, encode_tlv_instance, encode_tlv_resource
from ingress.lwm2m_gateway import Instance, Unreadable, gateway_instances, resources
from ingress.simulator import SimulatedDevice, SubDevice


def _instance(number: int, node_id: str, prefix: str, objects: str = "</3/0>,</19/0>") -> bytes:
    return encode_tlv_instance(
        number,
        encode_tlv_resource(0, node_id.encode()) + encode_tlv_resource(1, prefix.encode())
        + encode_tlv_resource(3, objects.encode()),
    )  # fmt: skip


def test_object_25_as_tlv_gives_each_end_device_its_node_id_prefix_and_objects():
    payload = _instance(0, "meter-1", "m1") + _instance(4, "meter-2", "m2", "</3/0>")

    instances, problems = gateway_instances(TLV, payload)

    assert problems == []
    assert instances == [
        Instance(0, "meter-1", "m1", [{"path": "/3/0"}, {"path": "/19/0"}]),
        Instance(4, "meter-2", "m2", [{"path": "/3/0"}]),
    ]


def test_object_25_as_senml_json_reads_the_same():
    simulated = SimulatedDevice("gw", ("127.0.0.1", 1), object_25_format=SENML_JSON)
    simulated.sub_devices = [SubDevice("meter-1", "m1"), SubDevice("meter-2", "m2")]
    payload, form = simulated.gateway_object()

    instances, problems = gateway_instances(form, payload)

    assert form == SENML_JSON and problems == []
    assert [(one.instance, one.node_id, one.prefix) for one in instances] == [
        (0, "meter-1", "m1"),
        (1, "meter-2", "m2"),
    ]
    assert instances[0].objects == [{"path": "/3/0"}, {"path": "/19/0"}, {"path": "/19/1"}]


@pytest.mark.parametrize(
    "node_id, prefix, reason",
    [
        ("", "m1", "/25/1: Device ID (resource 0) must be 1 to 256 characters"),
        ("meter-2", "19", "/25/1 (nodeId meter-2): Prefix (resource 1) '19' must be 1 to 32 letters"),
        ("meter-2", "a/b", "/25/1 (nodeId meter-2): Prefix (resource 1) 'a/b' must be"),
        ("meter-2", "m1", "/25/1 (nodeId meter-2): its Device ID or Prefix is listed twice"),
        ("meter-1", "m2", "/25/1 (nodeId meter-1): its Device ID or Prefix is listed twice"),
    ],
)
def test_an_instance_that_cannot_be_used_is_named_with_its_reason_and_the_others_are_kept(node_id, prefix, reason):
    payload = _instance(0, "meter-1", "m1") + _instance(1, node_id, prefix)

    instances, problems = gateway_instances(TLV, payload)

    assert [one.node_id for one in instances] == ["meter-1"]
    assert len(problems) == 1 and problems[0].startswith(reason), problems


def test_an_instance_read_of_3_0_gives_manufacturer_and_model():
    payload = encode_tlv_resource(0, b"Acme") + encode_tlv_resource(1, b"m1")
    assert resources(TLV, payload) == {(-1, 0): b"Acme", (-1, 1): b"m1"}
    senml = json.dumps([{"bn": "/p1/3/0/", "n": "0", "vs": "Acme"}, {"n": "1", "vs": "m1"}]).encode()
    assert resources(SENML_JSON, senml) == {(0, 0): b"Acme", (0, 1): b"m1"}


@pytest.mark.parametrize(
    "form, payload, reason",
    [
        (42, b"\x00", "content format 42: TLV (11542) or SenML JSON (110) expected"),
        (TLV, b"\xc8\x00\x20ab", "TLV value at byte 0 needs 32 bytes"),
        (SENML_JSON, b"{", "SenML JSON payload is not JSON"),
        (SENML_JSON, b"{}", "SenML JSON payload is not an array of records"),
    ],
)
def test_an_unreadable_answer_says_why(form, payload, reason):
    with pytest.raises(Unreadable, match="^" + reason.replace("(", r"\(").replace(")", r"\)")):
        resources(form, payload)
