"""Deploying an online plugin: every rule (F-3.2, F-3.5 to F-3.7 and ours), each naming message and field."""

from __future__ import annotations

import copy

import pytest

from products.codecs.errors import CodecError
from products.codecs.online import check_definition
from products.codecs.profile import ProfileIndex
from tests.products.codecs.fixtures import (
    ack_message,
    field,
    full_definition,
    meter_files,
    report_message,
    set_period_message,
    set_period_response,
)
from tests.products.fixtures import accepted

INDEX = ProfileIndex.from_profile(accepted(meter_files()))


def _issues(definition) -> list[tuple[str, str, str, str]]:
    try:
        check_definition(definition, INDEX, max_payload=64)
    except CodecError as error:
        return [(issue.code, issue.message_name, issue.field, issue.path) for issue in error.issues]
    return []


def _codes(definition) -> list[str]:
    return [code for code, *_ in _issues(definition)]


def test_the_full_plugin_deploys():
    assert _issues(full_definition()) == []


# --- F-3.2 -----------------------------------------------------------------------------------------


def test_f_3_2_two_uplink_messages_repeating_a_message_id_value():
    second = report_message(name="report2")
    definition = {"messages": [report_message(), second]}
    assert _issues(definition) == [
        ("CODEC_MESSAGE_ID_REPEATED", "report2", "messageId", "$.messages[1].fields[0].default")
    ]
    with pytest.raises(CodecError) as refused:
        check_definition(definition, INDEX, max_payload=64)
    assert "already used by the uplink message “report”" in str(refused.value)


def test_f_3_2_message_id_at_different_positions():
    moved = report_message(name="other")
    moved["fields"] = [field("reading", "uint32", target="reading"), field("messageId", "uint8", default="0x05")]
    assert _issues({"messages": [report_message(), moved]}) == [
        ("CODEC_MESSAGE_ID_POSITION", "other", "messageId", "$.messages[1].fields[1].name")
    ]


def test_f_3_2_message_id_of_another_type_than_integer():
    message = report_message()
    message["fields"][0] = field("messageId", "string", length=1, default="01")
    assert ("CODEC_MESSAGE_ID_TYPE", "report", "messageId", "$.messages[0].fields[0].type") in _issues(
        {"messages": [message]}
    )


@pytest.mark.parametrize("default", ["0xZZ", "one", "0x", "12G4"])
def test_f_3_2_a_default_that_is_not_hex(default):
    message = report_message()
    message["fields"][1]["default"] = default
    assert _issues({"messages": [message]}) == [
        ("CODEC_DEFAULT_NOT_HEX", "report", "reading", "$.messages[0].fields[1].default")
    ]


@pytest.mark.parametrize("name", ["class", "int", "new", "function", "var", "synchronized"])
def test_f_3_2_a_reserved_word_as_field_name(name):
    message = report_message()
    message["fields"].append(field(name, "uint8"))
    assert _issues({"messages": [message]}) == [("CODEC_RESERVED_NAME", "report", name, "$.messages[0].fields[3].name")]


# --- F-3.5, F-3.6, F-3.7 -------------------------------------------------------------------------


def test_f_3_5_several_messages_of_a_direction_need_message_id():
    lone = report_message(name="second")
    lone["fields"] = lone["fields"][1:]
    assert _issues({"messages": [report_message(), lone]}) == [
        ("CODEC_MESSAGE_ID_MISSING", "second", "", "$.messages[1].fields")
    ]


def test_f_3_5_an_ack_counts_as_a_command():
    ack = ack_message()
    ack["fields"] = ack["fields"][1:]
    definition = {"messages": [report_message(ack="reportAck"), set_period_message(), ack]}
    assert _codes(definition) == ["CODEC_MESSAGE_ID_MISSING"]


def test_f_3_6_a_command_response_needs_message_id_even_alone():
    response = set_period_response()
    response["fields"] = response["fields"][1:]
    assert ("CODEC_MESSAGE_ID_MISSING", "setPeriodRsp", "", "$.messages[0].fields") in _issues({"messages": [response]})


def test_f_3_6_a_command_response_needs_mid():
    response = set_period_response()
    del response["fields"][1]
    assert _issues({"messages": [set_period_message(), response]}) == [
        ("CODEC_MID_MISSING", "setPeriodRsp", "", "$.messages[1].fields")
    ]


def test_f_3_6_its_command_needs_mid_too():
    command = set_period_message()
    del command["fields"][1]
    assert _issues({"messages": [command, set_period_response()]}) == [
        ("CODEC_MID_MISSING", "setPeriod", "", "$.messages[0].fields")
    ]


def test_f_3_6_mid_at_the_same_position_in_command_and_response():
    response = set_period_response()
    response["fields"][1], response["fields"][2] = response["fields"][2], response["fields"][1]
    assert _issues({"messages": [set_period_message(), response]}) == [
        ("CODEC_MID_POSITION", "setPeriodRsp", "mid", "$.messages[1].fields[2].name")
    ]


def test_f_3_6_mid_holds_1_to_65535():
    command = set_period_message()
    command["fields"][1] = field("mid", "uint8")
    assert _codes({"messages": [command]}) == ["CODEC_MID_TYPE"]


def test_f_3_7_the_response_field_names_a_report_ack():
    assert _issues({"messages": [report_message(ack="nothing")]}) == [
        ("CODEC_ACK_UNKNOWN", "report", "", "$.messages[0].ack")
    ]
    not_an_ack = {"messages": [report_message(ack="setPeriod"), set_period_message()]}
    assert _codes(not_an_ack) == ["CODEC_ACK_UNKNOWN"]


def test_f_3_7_an_ack_carries_no_profile_data():
    ack = ack_message()
    ack["fields"][1]["target"] = "reading"
    assert _issues({"messages": [report_message(ack="reportAck"), ack]}) == [
        ("CODEC_TARGET_NOT_ALLOWED", "reportAck", "magic", "$.messages[1].fields[1].target")
    ]


def test_f_3_4_there_is_no_pass_through_kind():
    message = report_message(kind="passThrough")
    assert _codes({"messages": [message]}) == ["CODEC_MESSAGE_KIND"]


# --- Our rules --------------------------------------------------------------------------------------


CASES = [
    ("no messages", lambda d: {"messages": []}, "CODEC_NO_MESSAGES"),
    ("a message name with a space", lambda d: _set(d, 0, "name", "my report"), "CODEC_MESSAGE_NAME"),
    ("two messages of one name", lambda d: _set(d, 1, "name", "report"), "CODEC_MESSAGE_DUPLICATE"),
    ("a message without fields", lambda d: _set(d, 1, "fields", []), "CODEC_MESSAGE_EMPTY"),
    ("an unknown service", lambda d: _set(d, 0, "serviceId", "Gas"), "CODEC_MESSAGE_SERVICE"),
    ("an unknown command", lambda d: _set(d, 1, "command", "REBOOT"), "CODEC_MESSAGE_COMMAND"),
    ("a response to a command without responses", lambda d: _response_of(d, "SET_LABEL"), "CODEC_MESSAGE_RESPONSE"),
    ("a field name with a dash", lambda d: _field(d, 0, 1, name="read-ing"), "CODEC_FIELD_NAME"),
    ("two fields of one name", lambda d: _field(d, 0, 2, name="reading", target=None), "CODEC_FIELD_DUPLICATE"),
    ("an unknown type", lambda d: _field(d, 0, 1, type="uint64"), "CODEC_FIELD_TYPE"),
    ("a string without length", lambda d: _field(d, 0, 1, type="string", target="label"), "CODEC_FIELD_LENGTH"),
    ("a length on an integer", lambda d: _field(d, 0, 1, length=4), "CODEC_FIELD_LENGTH"),
    ("a default too wide", lambda d: _field(d, 0, 2, default="0x010203"), "CODEC_DEFAULT_RANGE"),
    ("a length field that does not exist", lambda d: _var(d, "lengthField", "size"), "CODEC_LENGTH_FIELD"),
    ("a variable field in the middle", lambda d: _var(d, "lengthField", None, last=False), "CODEC_VARIABLE_NOT_LAST"),
    ("messageId without default", lambda d: _field(d, 0, 0, default=None), "CODEC_MESSAGE_ID_DEFAULT"),
    ("errcode in a data report", lambda d: _add(d, 0, field("errcode", "uint8")), "CODEC_ROLE_MISPLACED"),
    ("hasMore that is text", lambda d: _add(d, 0, field("hasMore", "string", length=1)), "CODEC_ROLE_TYPE"),
    ("mid after a variable field", lambda d: _mid_after_variable(d), "CODEC_ROLE_VARIABLE_OFFSET"),
    ("a target the service lacks", lambda d: _field(d, 0, 1, target="level"), "CODEC_TARGET_UNKNOWN"),
    ("an integer field for text", lambda d: _field(d, 0, 1, target="label"), "CODEC_TARGET_TYPE"),
    ("one property from two fields", lambda d: _field(d, 0, 2, target="reading"), "CODEC_TARGET_DUPLICATE"),
    (
        "a message longer than a payload",
        lambda d: _add(d, 0, field("text", "string", length=70)),
        "CODEC_MESSAGE_TOO_LONG",
    ),
]


def _set(definition, message, key, value):
    definition["messages"][message][key] = value
    return definition


def _field(definition, message, number, **values):
    target = definition["messages"][message]["fields"][number]
    for key, value in values.items():
        if value is None:
            target.pop(key, None)
        else:
            target[key] = value
    return definition


def _add(definition, message, item):
    definition["messages"][message]["fields"].append(item)
    return definition


def _var(definition, key, value, *, last=True):
    fields = definition["messages"][0]["fields"]
    item = field("label", "varstring", target="label")
    if value is not None:
        item[key] = value
    if last:
        fields.append(item)
    else:
        fields.insert(1, item)
    return definition


def _response_of(definition, command):
    response = set_period_response(command=command, name="labelRsp")
    response["fields"][0]["default"] = "0x09"
    response["fields"] = response["fields"][:3]
    definition["messages"].append(response)
    return definition


def _mid_after_variable(definition):
    fields = definition["messages"][1]["fields"]
    fields.insert(1, field("note", "varstring", lengthField="size"))
    fields.insert(1, field("size", "uint8"))
    return definition


@pytest.mark.parametrize(("case", "change", "code"), CASES, ids=[case for case, *_ in CASES])
def test_each_rule_names_its_code(case, change, code):
    definition = change(copy.deepcopy(full_definition()))
    assert code in _codes(definition), _issues(definition)


def test_every_issue_of_a_bad_plugin_is_reported_at_once():
    definition = full_definition()
    definition["messages"][0]["fields"][1]["default"] = "nope"
    definition["messages"][1]["fields"].append(field("int", "uint8"))
    definition["messages"][2]["serviceId"] = "Gas"
    assert set(_codes(definition)) == {"CODEC_DEFAULT_NOT_HEX", "CODEC_RESERVED_NAME", "CODEC_MESSAGE_SERVICE"}


def test_a_document_that_is_not_an_object_is_refused_not_crashed():
    for garbage in (None, [], "x", {"messages": "all"}, {"messages": [1, None, {"fields": "x"}]}):
        assert _codes(garbage), garbage
