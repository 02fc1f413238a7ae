"""Status changes the rules hear of besides a report: the status sweep (with each device's previous
status) and a gateway's sub-devices following it OFFLINE and back, with a controlled clock."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from devices import actions as device_actions
from devices import gateways
from devices.models import Device, Status
from devices.tasks import sweep_devices
from ingress.pipeline import STORED, Uplink, handle_uplinks
from rules.models import Alarm, RuleRun
from tests.devices.fixtures import WATER_METER, register, water_meter
from tests.rules.fixtures import alarm_action, create_rule, meter_device, meter_product, report_bytes, rule_body

pytestmark = pytest.mark.django_db(transaction=True)
START = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)


def status_condition(status: str, manufacturer_id: str, model: str) -> dict:
    return {
        "type": "DEVICE_STATUS",
        "deviceTypeInfo": {"manufacturerId": manufacturer_id, "model": model},
        "status": status,
    }


def test_the_sweep_gives_the_previous_status_so_an_abnormal_alarm_clears_when_the_device_goes_offline(
    client, owner_app
):
    meter_product(owner_app)
    device = meter_device(owner_app)
    create_rule(client, owner_app, rule_body([status_condition("ABNORMAL", "Acme", "m1")], [alarm_action("Quiet")]))
    application = owner_app.application
    with time_machine.travel(START, tick=False):
        [outcome] = handle_uplinks([Uplink(device.pk, report_bytes(1, 20))])
        assert outcome.result == STORED

    with time_machine.travel(START + dt.timedelta(seconds=application.abnormal_after + 1), tick=False):
        device_actions.sweep_status()
    [alarm] = Alarm.objects.open()
    assert alarm.name == "Quiet" and RuleRun.objects.count() == 1

    # ABNORMAL -> OFFLINE: the rule stops holding (it held before: the sweep says so), its alarm clears
    with time_machine.travel(START + dt.timedelta(seconds=application.offline_after + 1), tick=False):
        device_actions.sweep_status()
    assert Device.objects.get(pk=device.pk).status == Status.OFFLINE
    alarm.refresh_from_db()
    assert alarm.cleared_by == "rule" and RuleRun.objects.count() == 1


@pytest.fixture
def gateway(owner_app):
    water_meter(owner_app)
    with time_machine.travel(START, tick=False):
        device = register(owner_app, node_id="gw-1", info=WATER_METER)
        device_actions.do_bind_device(Device.objects.select_related("application").get(pk=device.pk))
    return Device.objects.select_related("application").get(pk=device.pk)


def test_sub_devices_going_offline_with_their_gateway_reach_the_rules_and_come_back_with_it(
    client, owner_app, other_app, gateway
):
    with time_machine.travel(START, tick=False):
        infos = [gateways.SubDeviceInfo(node, manufacturer_id="Huawei", model="v1001") for node in ("s-1", "s-2")]
        children = [added.device for added in gateways.do_add_sub_devices(gateway, infos)]
    create_rule(client, owner_app, rule_body([status_condition("OFFLINE", "Huawei", "v1001")], [alarm_action("Lost")]))
    # another application's OFFLINE rule on its own product hears nothing of these devices
    meter_product(other_app)
    create_rule(client, other_app, rule_body([status_condition("OFFLINE", "Acme", "m1")], [alarm_action("Theirs")]))

    # the sub-devices reported recently; only their gateway went quiet
    with time_machine.travel(START + dt.timedelta(hours=49, seconds=1), tick=False):
        Device.objects.filter(pk__in=[child.pk for child in children]).update(
            status=Status.ONLINE, last_seen_at=START + dt.timedelta(hours=48)
        )
        result = sweep_devices()
    assert result.get("sub_devices") == 2, result

    opened = {alarm.device_id: alarm for alarm in Alarm.objects.open()}
    assert set(opened) == {gateway.pk, *(child.pk for child in children)}
    assert {alarm.name for alarm in opened.values()} == {"Lost"}
    assert not Alarm.objects.filter(application=other_app.application).exists()
    runs = RuleRun.objects.filter(device__in=children)
    assert [run.reasons[0]["info"] for run in runs] == [{"status": "OFFLINE"}] * 2

    # the gateway comes back: its sub-devices come back ONLINE with it, and their alarms clear
    assert gateways.do_gateway_online(gateway.pk) == 2
    for child in children:
        opened[child.pk].refresh_from_db()
        assert opened[child.pk].cleared_by == "rule"
