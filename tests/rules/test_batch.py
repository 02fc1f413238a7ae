"""A batch's firings carried out together: the queries do not grow with the devices of a batch that
fire, and the alarms the batch upserts in one statement are the rows the models describe."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ingress.pipeline import STORED, Uplink, handle_uplinks
from rules import actions
from rules.models import Alarm, Rule, RuleRun
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
def fleet(client, owner_app):
    meter_product(owner_app)
    devices = [meter_device(owner_app, node_id=f"86772403002{number:04d}") for number in range(8)]
    client.post(
        "/iocm/app/sub/v1.2.0/subscriptions",
        json.dumps({"notifyType": "ruleEvent", "callbackUrl": "http://127.0.0.1:9/rules"}),
        content_type="application/json",
        headers=owner_app.headers(),
    )
    for number in range(3):  # three rules on the product, each raising its alarm on every hot report
        condition = data_condition(value=str(50 + number))
        create_rule(
            client, owner_app, rule_body([condition], [alarm_action(name=f"Hot {number}")], name=f"Hot {number}")
        )
    return devices


def _queries_in_apply(monkeypatch) -> list[int]:
    """How many queries each call of rules.actions.apply makes (the firing of a batch)."""
    counts = []
    real = actions.apply

    def counted(*args, **kwargs):
        with CaptureQueriesContext(connection) as captured:
            result = real(*args, **kwargs)
        counts.append(len(captured.captured_queries))
        return result

    monkeypatch.setattr(actions, "apply", counted)
    return counts


def _send(devices, temperature: int, reading: int = 1) -> None:
    outcomes = handle_uplinks([Uplink(device.pk, report_bytes(reading, temperature)) for device in devices])
    assert all(outcome.result == STORED for outcome in outcomes), [outcome.detail for outcome in outcomes]


def test_the_queries_of_a_batchs_firings_do_not_grow_with_its_devices(fleet, monkeypatch):
    counts = _queries_in_apply(monkeypatch)

    _send(fleet[:1], 90, reading=1)  # 3 firings: three alarms raised
    _send(fleet[:1], 91, reading=2)  # 3 firings: the same three counted again
    _send(fleet, 92, reading=3)  # 24 firings: 21 raised, 3 counted
    _send(fleet, 93, reading=4)  # 24 firings: 24 counted

    assert RuleRun.objects.count() == 3 + 3 + 24 + 24
    assert PushMessage.objects.filter(notify_type="ruleEvent").count() == 54
    assert Rule.objects.filter(trigger_count=18).count() == 3
    assert sorted(Alarm.objects.open().values_list("count", flat=True)) == [2] * 21 + [4] * 3
    # one firing costs what twenty-four firings cost: a statement per kind of work, not per firing (BEGIN,
    # rules, alarm upsert, subscription, push target, counters, COMMIT; the pushes and runs go by COPY; the
    # first batch also creates the push target: get_or_create's savepoint and insert)
    assert counts[1] == counts[2] == counts[3] <= 7, counts
    assert counts[0] <= counts[1] + 3, counts


def test_alarms_upserted_in_one_statement_are_the_rows_the_models_describe(fleet, owner_app):
    device = fleet[0]
    _send([device], 90, reading=1)

    alarms = list(Alarm.objects.open().filter(device=device).order_by("name"))
    assert [(a.name, a.severity, a.count, a.value, a.description) for a in alarms] == [
        (f"Hot {number}", "critical", 1, {"Meter/temperature": 90}, "") for number in range(3)
    ]
    alarm = alarms[0]
    assert alarm.application_id == owner_app.application.pk and alarm.rule.name == "Hot 0"
    assert alarm.state == "ACTIVE" and alarm.acknowledged_by == "" and alarm.cleared_by == ""
    assert alarm.raised_at == alarm.last_raised_at and len(alarm.alarm_id) == 36

    # the ruleEvent and the run report the alarm as stored
    run = RuleRun.objects.get(rule=alarm.rule)
    assert run.results == [
        {
            "type": "DEVICE_ALARM",
            "id": "Hot 0",
            "info": None,
            "transInfo": None,
            "result": {"alarmId": alarm.alarm_id, "count": 1, "severity": "critical"},
        }
    ]

    # an operator clears it: the next firing opens a new alarm, the cleared one stays as it was
    actions.do_clear_alarms(owner_app.application, [alarm.alarm_id], "ops")
    _send([device], 95, reading=2)
    [again] = Alarm.objects.open().filter(device=device, rule=alarm.rule)
    alarm.refresh_from_db()
    assert again.pk != alarm.pk and again.count == 1 and again.value == {"Meter/temperature": 95}
    assert (alarm.count, alarm.cleared_by) == (1, "ops")


def test_a_pair_raised_twice_in_one_batch_counts_twice_and_each_firing_sees_its_count(fleet):
    # two firings of one (rule, device) in one batch (a sweep may bring them): one upsert, counted twice
    device, rule = fleet[0], Rule.objects.select_related("application").get(name="Hot 0")
    reasons = [{"index": 0, "info": {"path": "Meter/temperature", "value": 90}, "satisfactionTime": timezone.now()}]

    runs = actions.fire([actions.Firing(rule, device, reasons, timezone.now()) for _ in range(2)])

    [alarm] = Alarm.objects.open().filter(device=device)
    assert alarm.count == 2
    assert [run.results[0]["result"]["count"] for run in runs] == [1, 2]
    assert Rule.objects.get(pk=rule.pk).trigger_count == 2
