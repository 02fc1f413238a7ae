"""Rules evaluated on the uplink pipeline (ingress.pipeline.handle_uplinks, as the network loop calls it):
thresholds, AND/OR, edge and pulse triggers, ranges, changes, durations, disabled rules, tenants."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import time_machine

from commands.models import Command
from ingress.pipeline import STORED, Uplink, handle_uplinks
from rules import actions
from rules.models import Alarm, Rule, RuleRun, RuleTimer
from subscriptions.models import PushMessage
from tests.rules.fixtures import (
    alarm_action,
    create_rule,
    data_condition,
    meter_device,
    meter_product,
    report_bytes,
    rule_body,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def device(owner_app):
    meter_product(owner_app)
    return meter_device(owner_app)


def send(device, *readings: tuple[int, int]) -> None:
    """Each (reading, temperature) as its own batch of one uplink, in order."""
    for reading, temperature in readings:
        [outcome] = handle_uplinks([Uplink(device.pk, report_bytes(reading, temperature))])
        assert outcome.result == STORED, outcome.detail


def open_alarms(device) -> list[Alarm]:
    return list(Alarm.objects.open().filter(device=device))


def test_a_threshold_rule_raises_one_alarm_counts_it_and_clears_it_when_the_value_falls(client, owner_app, device):
    rule_id = create_rule(client, owner_app, rule_body([data_condition(device)], [alarm_action()]))

    send(device, (1, 20))
    assert not open_alarms(device)
    send(device, (2, 85), (3, 90))

    [alarm] = open_alarms(device)
    assert (alarm.name, alarm.severity, alarm.count) == ("Overheat", "critical", 2)
    assert alarm.rule.rule_id == rule_id and alarm.value == {"Meter/temperature": 90}
    assert Rule.objects.get(rule_id=rule_id).trigger_count == 2

    send(device, (4, 30))
    alarm.refresh_from_db()
    assert alarm.cleared_at is not None and alarm.cleared_by == "rule"
    send(device, (5, 95))
    assert [a.count for a in open_alarms(device)] == [1]  # a new alarm, the old one stays cleared


def test_reverse_trigger_fires_only_when_the_condition_starts_to_hold(client, owner_app, device):
    condition = data_condition(device, strategy={"trigger": "reverse"})
    rule_id = create_rule(client, owner_app, rule_body([condition], [alarm_action()]))

    send(device, (1, 85), (2, 90), (3, 95), (4, 20), (5, 99))

    assert RuleRun.objects.filter(rule__rule_id=rule_id).count() == 2


def test_and_needs_every_condition_or_needs_one(client, owner_app, device):
    hot = data_condition(device)
    busy = data_condition(device, path="Meter/reading", operator=">=", value=1000)
    both = create_rule(client, owner_app, {**rule_body([hot, busy], [alarm_action("Both")]), "logic": "and"})
    either = create_rule(client, owner_app, {**rule_body([hot, busy], [alarm_action("Either")]), "logic": "or"})

    send(device, (10, 85))  # hot only
    assert list(RuleRun.objects.values_list("rule__rule_id", flat=True)) == [either]
    send(device, (1000, 20))  # busy only
    assert list(RuleRun.objects.filter(rule__rule_id=both)) == []
    send(device, (1500, 90))  # both
    assert RuleRun.objects.filter(rule__rule_id=both).count() == 1
    assert RuleRun.objects.filter(rule__rule_id=either).count() == 3


def test_between_and_changed_by(client, owner_app, device):
    band = create_rule(
        client,
        owner_app,
        rule_body([data_condition(device, operator="between", value="40,60")], [alarm_action("Band")]),
    )
    jump = create_rule(
        client,
        owner_app,
        rule_body(
            [data_condition(device, path="Meter/reading", operator="changedBy", value=100)], [alarm_action("Jump")]
        ),
    )

    send(device, (100, 30), (150, 50), (400, 70))

    assert [r.device_id for r in RuleRun.objects.filter(rule__rule_id=band)] == [device.pk]
    jumps = RuleRun.objects.filter(rule__rule_id=jump)
    assert [run.reasons[0]["info"]["value"] for run in jumps] == [400]


def test_a_duration_holds_before_the_rule_fires_and_the_sweep_fires_it(client, owner_app, device):
    create_rule(client, owner_app, rule_body([data_condition(device, duration=300)], [alarm_action()]))
    start = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)

    with time_machine.travel(start, tick=False):
        send(device, (1, 90))
        assert not open_alarms(device) and RuleTimer.objects.count() == 1
    with time_machine.travel(start + dt.timedelta(seconds=299), tick=False):
        assert actions.sweep_timers()["fired"] == 0
    with time_machine.travel(start + dt.timedelta(seconds=301), tick=False):
        assert actions.sweep_timers()["fired"] == 1
    assert len(open_alarms(device)) == 1

    # Cooling down before the duration cancels the timer: nothing fires later.
    send(device, (2, 20))
    with time_machine.travel(start + dt.timedelta(seconds=400), tick=False):
        send(device, (3, 90))
    send(device, (4, 20))
    assert RuleTimer.objects.count() == 0


def test_a_disabled_rule_is_silent_and_speaks_again_when_enabled(client, owner_app, device):
    rule_id = create_rule(
        client, owner_app, {**rule_body([data_condition(device)], [alarm_action()]), "status": "inactive"}
    )

    send(device, (1, 90))
    assert not RuleRun.objects.exists() and not open_alarms(device)

    response = client.put(f"/iocm/app/rule/v1.2.0/rules/{rule_id}/status/active", headers=owner_app.headers())
    assert response.status_code == 200
    send(device, (2, 91))
    assert RuleRun.objects.count() == 1


def test_the_time_range_limits_when_a_rule_fires(client, owner_app, device):
    window = {"startTime": "08:00", "endTime": "18:00", "daysOfWeek": "1,2,3,4,5"}
    create_rule(
        client,
        owner_app,
        {**rule_body([data_condition(device)], [alarm_action()]), "timeRange": window, "timezoneID": "Asia/Shanghai"},
    )

    with time_machine.travel(dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC), tick=False):  # Monday 20:00 in Shanghai
        send(device, (1, 90))
    assert not RuleRun.objects.exists()
    with time_machine.travel(dt.datetime(2026, 3, 3, 2, 0, tzinfo=dt.UTC), tick=False):  # Tuesday 10:00
        send(device, (2, 91))
    assert RuleRun.objects.count() == 1


def test_a_rule_sends_a_command_through_the_normal_command_path(client, owner_app, device):
    from tests.rules.fixtures import command_action

    send(device, (1, 20))  # the device is ONLINE: a command to it is accepted
    create_rule(client, owner_app, rule_body([data_condition(device)], [command_action(period=45)]))

    send(device, (2, 90))

    [command] = Command.objects.filter(device=device)
    assert (command.service_id, command.method, command.paras, command.expire_time) == (
        "Meter",
        "SET_PERIOD",
        {"period": 45},
        0,
    )
    [run] = RuleRun.objects.all()
    assert run.results[0]["result"]["commandId"] == command.command_id


def test_the_rule_event_push_has_the_original_body(client, owner_app, device):
    client.post(
        "/iocm/app/sub/v1.2.0/subscriptions",
        json.dumps({"notifyType": "ruleEvent", "callbackUrl": "http://127.0.0.1:9/rules"}),
        content_type="application/json",
        headers=owner_app.headers(),
    )
    condition = data_condition(device, transInfo={"note": "hot"})
    rule_id = create_rule(client, owner_app, rule_body([condition], [alarm_action()]))

    with time_machine.travel(dt.datetime(2026, 3, 2, 10, 0, 5, tzinfo=dt.UTC), tick=False):
        send(device, (1, 88))

    [push] = PushMessage.objects.filter(notify_type="ruleEvent")
    body = json.loads(bytes(push.body))
    alarm = Alarm.objects.get()
    assert body == {
        "notifyType": "ruleEvent",
        "author": "ops",
        "ruleId": rule_id,
        "ruleName": "Overheat",
        "logic": "and",
        "reasons": [
            {
                "satisfactionTime": "20260302T100005Z",
                "type": "DEVICE_DATA",
                "id": device.device_id,
                "info": {"path": "Meter/temperature", "value": 88},
                "transInfo": {"note": "hot"},
            }
        ],
        "triggerTime": "20260302T100005Z",
        "actionsResults": [
            {
                "type": "DEVICE_ALARM",
                "id": "Overheat",
                "info": None,
                "transInfo": None,
                "result": {"alarmId": alarm.alarm_id, "count": 1, "severity": "critical"},
            }
        ],
    }
    assert bytes(push.body) == json.dumps(body, separators=(",", ":")).encode()


def test_a_webhook_action_goes_through_the_push_outbox(client, owner_app, device):
    webhook = {"type": "WEBHOOK", "url": "https://hooks.example.com:8443/alarms"}
    create_rule(client, owner_app, rule_body([data_condition(device)], [webhook]))

    send(device, (1, 90))

    [push] = PushMessage.objects.filter(url="https://hooks.example.com:8443/alarms")
    assert push.notify_type == "ruleEvent" and json.loads(bytes(push.body))["ruleName"] == "Overheat"


def test_another_applications_rule_never_fires_on_or_sees_these_devices(client, owner_app, other_app, device):
    # Their own product with the same model name: a rule on it, and one naming our device, refused.
    meter_product_other = __import__("tests.rules.fixtures", fromlist=["meter_product"]).meter_product
    from products.models import Product

    Product.objects.filter(application=owner_app.application).update(manufacturer_id="Acme")
    with pytest.raises(Exception):  # noqa: B017  (the product identity is platform-wide: refused)
        meter_product_other(other_app)
    refused = client.post(
        "/iocm/app/rule/v1.2.0/rules",
        json.dumps(rule_body([data_condition(device)], [alarm_action()])),
        content_type="application/json",
        headers=other_app.headers(),
    )
    assert refused.status_code == 400 and refused.json()["error_code"] == "100022"
    assert "deviceInfo.deviceId" in refused.json()["error_desc"]
    by_product = client.post(
        "/iocm/app/rule/v1.2.0/rules",
        json.dumps(rule_body([data_condition()], [alarm_action()])),
        content_type="application/json",
        headers=other_app.headers(),
    )
    assert by_product.status_code == 400 and "deviceTypeInfo" in by_product.json()["error_desc"]
    assert not Rule.objects.filter(application=other_app.application).exists()

    # A rule of theirs on the same path with a product of their own never reaches our device.
    from tests.products.codecs.fixtures import deploy, meter

    deploy(meter(other_app, model="m2"))
    theirs = rule_body(
        [
            {
                **data_condition(),
                "deviceTypeInfo": {"manufacturerId": "Acme", "model": "m2", "path": "Meter/temperature"},
            }
        ],
        [alarm_action()],
    )
    create_rule(client, other_app, theirs)
    send(device, (1, 99))
    assert not Alarm.objects.exists() and not RuleRun.objects.exists()
    listed = client.get("/iocm/app/rule/v1.2.0/rules", headers=other_app.headers()).json()
    assert [rule["conditions"][0]["deviceTypeInfo"]["model"] for rule in listed] == ["m2"]
