"""Status and absence conditions, with a controlled clock: the status sweep and the rules sweep (beat)."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from devices.actions import sweep_status
from devices.models import Device, Status
from ingress.pipeline import STORED, Uplink, handle_uplinks
from rules import tasks
from rules.models import Alarm, RuleRun, RuleTimer
from tests.rules.fixtures import alarm_action, create_rule, data_condition, meter_device, meter_product, report_bytes
from tests.rules.fixtures import rule_body as body

pytestmark = pytest.mark.django_db(transaction=True)
START = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def device(owner_app):
    meter_product(owner_app)
    return meter_device(owner_app)


def send(device, reading: int = 1, temperature: int = 20) -> None:
    [outcome] = handle_uplinks([Uplink(device.pk, report_bytes(reading, temperature))])
    assert outcome.result == STORED, outcome.detail


def test_a_status_rule_fires_when_the_device_goes_offline_and_clears_when_it_comes_back(client, owner_app, device):
    offline = {"type": "DEVICE_STATUS", "deviceInfo": {"deviceId": device.device_id}, "status": "OFFLINE"}
    create_rule(client, owner_app, body([offline], [alarm_action("Lost", "major")]))
    application = owner_app.application
    with time_machine.travel(START, tick=False):
        send(device)
    assert not Alarm.objects.exists()

    with time_machine.travel(START + dt.timedelta(seconds=application.abnormal_after + 1), tick=False):
        sweep_status()
    assert Device.objects.get(pk=device.pk).status == Status.ABNORMAL and not Alarm.objects.exists()
    with time_machine.travel(START + dt.timedelta(seconds=application.offline_after + 1), tick=False):
        sweep_status()
        assert Device.objects.get(pk=device.pk).status == Status.OFFLINE
    [alarm] = Alarm.objects.open()
    assert (alarm.name, alarm.severity, alarm.device_id) == ("Lost", "major", device.pk)
    assert RuleRun.objects.get().reasons[0]["info"] == {"status": "OFFLINE"}

    with time_machine.travel(START + dt.timedelta(seconds=application.offline_after + 60), tick=False):
        send(device)
    alarm.refresh_from_db()
    assert alarm.cleared_by == "rule"


def test_a_came_back_rule_fires_on_online_after_offline(client, owner_app, device):
    back = {"type": "DEVICE_STATUS", "deviceTypeInfo": {"manufacturerId": "Acme", "model": "m1"}, "status": "ONLINE"}
    create_rule(client, owner_app, body([back], [alarm_action("Back", "warning")]))
    with time_machine.travel(START, tick=False):
        send(device)  # first contact: OFFLINE (never seen) -> ONLINE
    assert RuleRun.objects.count() == 1
    with time_machine.travel(START + dt.timedelta(seconds=60), tick=False):
        send(device)  # ONLINE already: no change, no run
    assert RuleRun.objects.count() == 1


def test_an_absence_rule_fires_after_n_silent_minutes_and_clears_on_the_next_report(client, owner_app, device):
    silent = {"type": "DEVICE_NO_DATA", "deviceTypeInfo": {"manufacturerId": "Acme", "model": "m1"}, "minutes": 10}
    rule_id = create_rule(client, owner_app, body([silent], [alarm_action("Silent", "minor")]))
    with time_machine.travel(START, tick=False):
        send(device)
    [timer] = RuleTimer.objects.all()
    assert timer.due_at == START + dt.timedelta(minutes=10)

    with time_machine.travel(START + dt.timedelta(minutes=5), tick=False):
        send(device)  # a report pushes the due time forward
    with time_machine.travel(START + dt.timedelta(minutes=14), tick=False):
        assert tasks.sweep_rules()["fired"] == 0
    with time_machine.travel(START + dt.timedelta(minutes=15, seconds=1), tick=False):
        assert tasks.sweep_rules()["fired"] == 1
        assert tasks.sweep_rules()["fired"] == 0  # fired once per silence
    [alarm] = Alarm.objects.open()
    assert (alarm.name, alarm.rule.rule_id, alarm.device_id) == ("Silent", rule_id, device.pk)

    with time_machine.travel(START + dt.timedelta(minutes=20), tick=False):
        send(device)
    alarm.refresh_from_db()
    assert alarm.cleared_by == "rule" and alarm.cleared_at == START + dt.timedelta(minutes=20)
    assert RuleTimer.objects.get().due_at == START + dt.timedelta(minutes=30)


def test_an_absence_rule_arms_devices_that_reported_before_it_was_created(client, owner_app, device):
    with time_machine.travel(START, tick=False):
        send(device)
    silent = {"type": "DEVICE_NO_DATA", "deviceInfo": {"deviceId": device.device_id}, "minutes": 30}
    with time_machine.travel(START + dt.timedelta(minutes=1), tick=False):
        create_rule(client, owner_app, body([silent], [alarm_action("Silent")]))
    assert RuleTimer.objects.get().due_at == START + dt.timedelta(minutes=30)


def test_a_daily_timer_fires_at_its_time_and_moves_to_the_next_day(client, owner_app, device):
    daily = {"type": "DAILY_TIMER", "time": "08:30", "daysOfWeek": "1,2,3,4,5,6,7"}
    with time_machine.travel(START, tick=False):  # 10:00 UTC = 18:00 in Shanghai
        create_rule(client, owner_app, {**body([daily], [alarm_action("Daily")]), "timezoneID": "Asia/Shanghai"})
    timer = RuleTimer.objects.get()
    assert timer.due_at == dt.datetime(2026, 3, 3, 0, 30, tzinfo=dt.UTC)  # 08:30 next morning in Shanghai
    with time_machine.travel(timer.due_at + dt.timedelta(seconds=5), tick=False):
        assert tasks.sweep_rules()["fired"] == 1
    assert RuleTimer.objects.get().due_at == dt.datetime(2026, 3, 4, 0, 30, tzinfo=dt.UTC)


def test_a_data_condition_on_a_named_device_and_a_timer_read_its_shadow(client, owner_app, device):
    hot = data_condition(device)
    cycle = {"type": "CYCLE_TIMER", "interval": 5}
    with time_machine.travel(START, tick=False):
        create_rule(client, owner_app, body([cycle, hot], [alarm_action("Hot at check")]))
        send(device, 1, 95)
    assert not RuleRun.objects.exists()  # the timer has not come: AND does not hold
    with time_machine.travel(START + dt.timedelta(minutes=5, seconds=1), tick=False):
        assert tasks.sweep_rules()["fired"] == 1
