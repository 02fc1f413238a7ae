"""The original's rule calls: create, modify, query by name and author, delete, enable or disable one
or several; by the owner application, another application and an anonymous caller."""

from __future__ import annotations

import json

import pytest

from rules.models import Rule, RuleStatus
from tests.rules.fixtures import alarm_action, command_action, create_rule, data_condition, meter_device, meter_product
from tests.rules.fixtures import rule_body as body

pytestmark = pytest.mark.django_db

RULES = "/iocm/app/rule/v1.2.0/rules"


@pytest.fixture
def device(owner_app):
    meter_product(owner_app)
    return meter_device(owner_app)


def call(client, method: str, path: str, credentials=None, payload=None):
    headers = credentials.headers() if credentials else {}
    data = json.dumps(payload) if payload is not None else None
    return getattr(client, method)(path, data, content_type="application/json", headers=headers)


def test_create_query_and_read_back_what_was_written(client, owner_app, device):
    written = {
        **body([data_condition(device, strategy={"trigger": "pulse"})], [alarm_action(), command_action()]),
        "description": "too hot",
        "timeRange": {"startTime": "22:00", "endTime": "06:00", "daysOfWeek": "1,2,3"},
        "matchNow": "yes",
        "groupExpress": None,
    }
    rule_id = create_rule(client, owner_app, written)

    listed = call(client, "get", f"{RULES}?author=ops&name=Overheat", owner_app).json()
    [rule] = listed
    assert rule["ruleId"] == rule_id and rule["appKey"] == owner_app.app_id
    assert rule["status"] == "active" and rule["logic"] == "and" and rule["description"] == "too hot"
    assert rule["conditions"] == [
        {
            "type": "DEVICE_DATA",
            "transInfo": None,
            "deviceInfo": {"deviceId": device.device_id, "path": "Meter/temperature"},
            "operator": ">",
            "value": "80",
            "duration": 0,
            "strategy": {"trigger": "pulse"},
        }
    ]
    assert rule["timeRange"] == {"startTime": "22:00", "endTime": "06:00", "daysOfWeek": "1,2,3"}
    assert rule["matchNow"] == "yes" and rule["groupExpress"] is None
    assert call(client, "get", f"{RULES}?author=someone-else", owner_app).json() == []
    assert call(client, "get", f"{RULES}?name=Other", owner_app).json() == []


def test_author_defaults_to_the_app_id(client, owner_app, device):
    rule_id = create_rule(client, owner_app, {**body([data_condition(device)], [alarm_action()]), "author": None})
    assert Rule.objects.get(rule_id=rule_id).author == owner_app.app_id


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": ""}, "name is required"),
        ({"conditions": []}, "conditions must be a non-empty array"),
        ({"actions": "x"}, "actions must be a non-empty array"),
        ({"logic": "xor"}, "logic must be and or or"),
        ({"status": "on"}, "status must be active or inactive"),
        ({"timeRange": {"startTime": "25:00", "endTime": "06:00"}}, "timeRange.startTime must be a time HH:mm"),
        ({"timezoneID": "Mars/Olympus"}, "timezoneID must be an IANA time zone"),
        ({"conditions": [{"type": "SOMETHING"}]}, "conditions[0].type must be one of"),
        (
            {
                "conditions": [
                    {
                        "type": "DEVICE_DATA",
                        "deviceInfo": {"deviceId": "nope", "path": "Meter/temperature"},
                        "operator": ">",
                        "value": 1,
                    }
                ]
            },
            "conditions[0].deviceInfo.deviceId must be a device",
        ),
        (
            {
                "conditions": [
                    {
                        "type": "DEVICE_TYPE_DATA",
                        "deviceTypeInfo": {"manufacturerId": "Acme", "model": "m1", "path": "temperature"},
                        "operator": ">",
                        "value": 1,
                    }
                ]
            },
            "deviceTypeInfo.path must be serviceId/",
        ),
        (
            {
                "conditions": [
                    {
                        "type": "DEVICE_TYPE_DATA",
                        "deviceTypeInfo": {"manufacturerId": "Acme", "model": "m1", "path": "Meter/temperature"},
                        "operator": ">",
                        "value": "hot",
                    }
                ]
            },
            "conditions[0].value must be a number",
        ),
        (
            {
                "conditions": [
                    {
                        "type": "DEVICE_TYPE_DATA",
                        "deviceTypeInfo": {"manufacturerId": "Acme", "model": "m1", "path": "Meter/temperature"},
                        "operator": "between",
                        "value": "9,1",
                    }
                ]
            },
            '"low,high"',
        ),
        (
            {
                "conditions": [
                    {
                        "type": "DEVICE_NO_DATA",
                        "deviceTypeInfo": {"manufacturerId": "Acme", "model": "m1"},
                        "minutes": 0,
                    }
                ]
            },
            "conditions[0].minutes must be",
        ),
        (
            {
                "conditions": [
                    {
                        "type": "DEVICE_STATUS",
                        "deviceTypeInfo": {"manufacturerId": "Acme", "model": "m1"},
                        "status": "GONE",
                    }
                ]
            },
            "conditions[0].status must be ONLINE, OFFLINE or ABNORMAL",
        ),
        (
            {"actions": [{"type": "DEVICE_ALARM", "name": "x", "severity": "doom"}]},
            "actions[0].severity must be one of",
        ),
        (
            {"actions": [{"type": "DEVICE_CMD", "cmd": {"serviceId": "Meter"}}]},
            "actions[0].cmd.messageType is required",
        ),
        ({"actions": [{"type": "FAX"}]}, "actions[0].type must be one of"),
    ],
)
def test_a_broken_rule_is_refused_naming_the_field_and_nothing_is_written(client, owner_app, device, change, field):
    response = call(client, "post", RULES, owner_app, {**body([data_condition(device)], [alarm_action()]), **change})

    assert response.status_code == 400, response.content
    assert response.json()["error_code"] == "100022" and field in response.json()["error_desc"]
    assert not Rule.objects.exists()


def test_a_webhook_with_an_illegal_url_is_100222(client, owner_app, device):
    response = call(
        client, "post", RULES, owner_app, body([data_condition(device)], [{"type": "WEBHOOK", "url": "ftp://x"}])
    )
    assert response.status_code == 400 and response.json()["error_code"] == "100222"


def test_modify_replaces_the_rule(client, owner_app, device):
    rule_id = create_rule(client, owner_app, body([data_condition(device)], [alarm_action()]))

    response = call(
        client,
        "put",
        RULES,
        owner_app,
        {**body([data_condition(device, value="90")], [alarm_action("Hotter")]), "ruleId": rule_id, "name": "Hotter"},
    )

    assert response.status_code == 200 and response.json() == {"ruleId": rule_id}
    rule = Rule.objects.get(rule_id=rule_id)
    assert rule.name == "Hotter" and rule.conditions[0]["value"] == "90"


def test_another_application_cannot_see_modify_disable_or_delete_the_rule(client, owner_app, other_app, device):
    rule_id = create_rule(client, owner_app, body([data_condition(device)], [alarm_action()]))
    before = Rule.objects.values().get(rule_id=rule_id)

    assert call(client, "get", RULES, other_app).json() == []
    modify = call(client, "put", RULES, other_app, {**body([data_condition()], [alarm_action()]), "ruleId": rule_id})
    assert modify.status_code == 404 and modify.json()["error_code"] == "200001"
    disable = call(client, "put", f"{RULES}/{rule_id}/status/inactive", other_app)
    assert disable.status_code == 404 and disable.json()["error_code"] == "200001"
    delete = call(client, "delete", f"{RULES}/{rule_id}", other_app)
    assert delete.status_code == 404 and delete.json()["error_code"] == "200001"
    assert Rule.objects.values().get(rule_id=rule_id) == before


def test_anonymous_callers_are_refused(client, owner_app, device):
    rule_id = create_rule(client, owner_app, body([data_condition(device)], [alarm_action()]))
    for method, path in (("get", RULES), ("post", RULES), ("delete", f"{RULES}/{rule_id}")):
        response = call(client, method, path)
        assert response.status_code in (400, 401, 403), (method, response.status_code)
    assert Rule.objects.filter(rule_id=rule_id).exists()


def test_delete(client, owner_app, device):
    rule_id = create_rule(client, owner_app, body([data_condition(device)], [alarm_action()]))
    assert call(client, "delete", f"{RULES}/{rule_id}", owner_app).status_code == 204
    assert not Rule.objects.exists()
    assert call(client, "delete", f"{RULES}/{rule_id}", owner_app).status_code == 404


def test_enable_and_disable_one_and_several(client, owner_app, other_app, device):
    first = create_rule(client, owner_app, body([data_condition(device)], [alarm_action()]))
    second = create_rule(client, owner_app, body([data_condition(device)], [alarm_action()]))

    assert call(client, "put", f"{RULES}/{first}/status/inactive", owner_app).status_code == 200
    assert Rule.objects.get(rule_id=first).status == RuleStatus.INACTIVE
    bad = call(client, "put", f"{RULES}/{first}/status/paused", owner_app)
    assert bad.status_code == 400 and "status must be active or inactive" in bad.json()["error_desc"]

    requests = [
        {"ruleId": first, "status": "active"},
        {"ruleId": second, "status": "inactive"},
        {"ruleId": "missing", "status": "inactive"},
    ]
    response = call(client, "put", f"{RULES}/status", owner_app, {"requests": requests})

    assert response.status_code == 200
    assert response.json()["responses"] == [
        {"ruleId": first, "result": {"result_code": "0", "result_desc": "success"}},
        {"ruleId": second, "result": {"result_code": "0", "result_desc": "success"}},
        {
            "ruleId": "missing",
            "result": {"result_code": "200001", "result_desc": "The resource is not found: no rule with this ruleId."},
        },
    ]
    assert response.json()["result"]["result_code"] == "1"
    assert dict(Rule.objects.values_list("rule_id", "status")) == {first: "active", second: "inactive"}
    # Another application's batch changes nothing of ours.
    theirs = call(client, "put", f"{RULES}/status", other_app, {"requests": [{"ruleId": first, "status": "inactive"}]})
    assert theirs.json()["responses"][0]["result"]["result_code"] == "200001"
    assert Rule.objects.get(rule_id=first).status == "active"
    empty = call(client, "put", f"{RULES}/status", owner_app, {"requests": []})
    assert empty.status_code == 400 and empty.json()["error_code"] == "100022"


def test_query_counts_its_queries(client, owner_app, device, django_assert_max_num_queries):
    for _ in range(5):
        create_rule(client, owner_app, body([data_condition(device)], [alarm_action()]))
    with django_assert_max_num_queries(4):
        assert len(call(client, "get", RULES, owner_app).json()) == 5
