"""A rule's last evaluations (issue 22, item 5): recorded from the batched evaluation through the real
ingress, bounded per rule, each saying what the conditions saw and what the rule did or why not, shown
on the rule's page to its application only."""

from __future__ import annotations

import asyncio
import datetime as dt
import time

import pytest
from django.db import connections

from ingress.pipeline import STORED, Uplink, handle_uplinks
from ingress.simulator import connect
from rules import actions, evaluations
from rules.models import Rule
from tests.ingress.fixtures import WorkerThread
from tests.portal.fixtures import create_personas
from tests.rules.fixtures import (
    alarm_action,
    command_action,
    data_condition,
    meter_device,
    meter_product,
    report_bytes,
    rule_body,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def worker():
    thread = WorkerThread().start()
    yield thread
    thread.stop()


@pytest.fixture
def personas(db, monkeypatch):
    monkeypatch.setattr("subscriptions.actions.wake", lambda target_id: None)
    return create_personas()


def _until(condition, seconds: float = 10.0):
    deadline = time.monotonic() + seconds
    try:
        while True:
            value = condition()
            if value or time.monotonic() > deadline:
                return value
            time.sleep(0.05)
    finally:
        connections.close_all()


def _rule(personas, body: dict) -> str:
    return actions.do_create_rule(personas.app.application, body).rule_id


def _recent(rule_id: str) -> list[dict]:
    return evaluations.recent(Rule.objects.get(rule_id=rule_id).pk)


def send(device, *temperatures: int) -> None:
    for reading, temperature in enumerate(temperatures):
        [outcome] = handle_uplinks([Uplink(device.pk, report_bytes(200 + reading, temperature))])
        assert outcome.result == STORED, outcome.detail


def test_evaluations_through_the_real_ingress_say_what_was_seen_and_done_bounded_to_n(
    client, personas, worker, settings
):
    # given: a threshold rule raising an alarm, and 3 evaluations kept per rule
    settings.RULES_EVALUATIONS_KEPT = 3
    meter_product(personas.app)
    device = meter_device(personas.app)
    rule_id = _rule(personas, rule_body([data_condition(device)], [alarm_action()]))

    # when: the device reports 21 (reaches no condition), then 86, 90 (over 80), then 20 (back under)
    pk = Rule.objects.get(rule_id=rule_id).pk

    async def run():
        simulated = await connect(device.node_id, worker.port)
        await simulated.notify(report_bytes(100, 21))
        await simulated.notify(report_bytes(101, 86))
        await asyncio.to_thread(_until, lambda: len(evaluations.recent(pk)) >= 1)
        first = await asyncio.to_thread(evaluations.recent, pk)
        await simulated.notify(report_bytes(102, 90))
        await asyncio.to_thread(_until, lambda: len(evaluations.recent(pk)) >= 2)
        await simulated.notify(report_bytes(103, 20))
        await asyncio.to_thread(_until, lambda: len(evaluations.recent(pk)) >= 3)
        await simulated.notify(report_bytes(104, 95))
        await asyncio.to_thread(_until, lambda: evaluations.recent(pk)[0]["conditions"][0]["value"] == 95)
        simulated.close()
        return first

    first = asyncio.run(run())

    # then: the 21 was never evaluated (no condition reached); the first evaluation fired the alarm
    assert first[0]["nodeId"] == device.node_id and first[0]["deviceId"] == device.device_id
    assert first[0]["result"] is True and first[0]["outcome"] == evaluations.FIRED
    assert first[0]["conditions"] == [{"path": "Meter/temperature", "value": 86, "holds": True}]
    [alarm] = first[0]["actions"]
    assert alarm["type"] == "DEVICE_ALARM" and alarm["result"]["count"] == 1 and "alreadyOpen" not in alarm
    # only the last 3 of the 4 evaluations are kept, newest first
    kept = _recent(rule_id)
    assert [row["conditions"][0]["value"] for row in kept] == [95, 20, 90]
    assert [row["outcome"] for row in kept] == [evaluations.FIRED, evaluations.RECOVERED, evaluations.FIRED]
    assert [row["result"] for row in kept] == [True, False, True]
    assert kept[2]["actions"][0]["alreadyOpen"] is True and kept[2]["actions"][0]["result"]["count"] == 2
    assert dt.datetime.strptime(kept[0]["at"], "%Y%m%dT%H%M%SZ")

    # and: the rule's page shows them to its application's members, and another application's not
    client.force_login(personas.owner)
    page = client.get(f"/rules/{rule_id}/").content.decode()
    assert 'id="rule-evaluations"' in page and "stopped holding: its alarms clear" in page
    partial = client.get(f"/rules/{rule_id}/evaluations/").content.decode()
    assert partial.count("<tr data-outcome=") == 3 and "data-rule-disabled" not in partial
    client.cookies["django_language"] = "zh-hans"
    partial = client.get(f"/rules/{rule_id}/evaluations/").content.decode()
    assert "最近评估" in partial and "其告警清除" in partial and "最近 3 次" in partial
    client.force_login(personas.outsider)
    assert client.get(f"/rules/{rule_id}/").status_code == 404
    assert client.get(f"/rules/{rule_id}/evaluations/").status_code == 404


def test_why_a_rule_did_nothing(client, personas):
    meter_product(personas.app)
    device = meter_device(personas.app)
    # an AND rule: temperature over 80 and reading under 10 (the reading never is)
    both = _rule(
        personas,
        rule_body(
            [data_condition(device), data_condition(device, path="Meter/reading", operator="<", value="10")],
            [alarm_action(), command_action(enable=False)],
        ),
    )
    # a rule active only in a window that is never now
    now = dt.datetime.now(dt.UTC)
    start = (now + dt.timedelta(hours=2)).strftime("%H:%M")
    end = (now + dt.timedelta(hours=3)).strftime("%H:%M")
    window = _rule(
        personas,
        rule_body([data_condition(device)], [alarm_action()], timeRange={"startTime": start, "endTime": end}),
    )
    # a "reverse" rule: fires when it starts to hold, then only holds
    edge = _rule(
        personas,
        rule_body([data_condition(device, value="85", strategy={"trigger": "reverse"})], [alarm_action()]),
    )

    send(device, 90, 91)

    [second, first] = _recent(both)
    assert first["outcome"] == evaluations.NOT_MET and first["result"] is False
    assert first["conditions"] == [
        {"path": "Meter/temperature", "value": 90, "holds": True},
        {"path": "Meter/reading", "value": 200, "holds": False},
    ]
    assert second["conditions"][0]["value"] == 91
    assert [row["outcome"] for row in _recent(window)] == [evaluations.OUTSIDE_WINDOW] * 2
    assert [row["outcome"] for row in _recent(edge)] == [evaluations.HELD, evaluations.FIRED]


def test_a_disabled_action_is_reported_as_such_and_a_deleted_rule_forgets(client, personas):
    meter_product(personas.app)
    device = meter_device(personas.app)
    rule_id = _rule(personas, rule_body([data_condition(device)], [alarm_action(), command_action(enable=False)]))
    send(device, 90)
    [row] = _recent(rule_id)
    assert row["actions"][-1] == {"type": "DEVICE_CMD", "disabled": True}
    # a disabled rule is not evaluated at all: its page says so, and a report adds nothing
    actions.do_set_statuses(personas.app.application, [(rule_id, "inactive")])
    send(device, 95)
    assert len(_recent(rule_id)) == 1
    client.force_login(personas.owner)
    assert "data-rule-disabled" in client.get(f"/rules/{rule_id}/evaluations/").content.decode()
    pk = Rule.objects.get(rule_id=rule_id).pk
    actions.do_delete_rule(personas.app.application, rule_id)
    assert evaluations.recent(pk) == []


def test_one_round_trip_per_batch_whatever_the_number_of_evaluations(client, personas, monkeypatch):
    meter_product(personas.app)
    devices = [meter_device(personas.app, f"86772403002{n:04d}") for n in range(5)]
    for _ in range(3):
        _rule(personas, rule_body([data_condition()], [alarm_action()]))
    executed = []
    real = evaluations.record
    monkeypatch.setattr(evaluations, "record", lambda batch: (executed.append(len(batch)), real(batch)))
    outcomes = handle_uplinks([Uplink(device.pk, report_bytes(1, 90)) for device in devices])
    assert {outcome.result for outcome in outcomes} == {STORED}
    assert executed == [15]  # 3 rules x 5 devices, one call (one pipeline)


def test_a_redis_failure_loses_the_evaluations_not_the_uplink(personas, monkeypatch, caplog):
    from redis.exceptions import ConnectionError as RedisConnectionError

    from rules.models import Alarm

    meter_product(personas.app)
    device = meter_device(personas.app)
    _rule(personas, rule_body([data_condition(device)], [alarm_action()]))

    class Down:
        def pipeline(self, transaction=False):
            raise RedisConnectionError("Redis is down")

    monkeypatch.setattr(evaluations, "get_redis", Down)
    send(device, 90)  # stored (send asserts it)
    assert Alarm.objects.open().filter(device=device).count() == 1  # the rule still fired
    assert "rule evaluations of 1 rules not kept: Redis is down" in caplog.text
