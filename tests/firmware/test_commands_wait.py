"""F-7.6: while a device upgrades its commands wait, the portal's explanation says why, and they go
when the upgrade ends."""

import json

from commands import actions as commands
from commands.explain import explain
from commands.models import Command, CommandEvent, DeliveryPolicy
from firmware import actions
from firmware.models import SubOperation
from tests.firmware.upgrades import create_task, upload

ALARM = {"serviceId": "WaterMeterAlarm", "method": "SET_HIGHFLOW_ALARM", "paras": {"highFlow": 30}}


def _upgrading(credentials, device):
    operation = create_task(credentials, upload(credentials), [device])
    actions.schedule(operation.pk)
    return SubOperation.objects.select_related("device", "operation", "operation__application").get()


def test_commands_wait_while_the_device_upgrades_and_go_when_it_ends(
    owner_app, meters, driver, monkeypatch, django_capture_on_commit_callbacks
):
    sent = []
    monkeypatch.setattr("commands.transport.encode", lambda device, cloud_req: json.dumps(cloud_req).encode())
    monkeypatch.setattr("commands.transport.deliver", lambda command, payload: sent.append(command.command_id))
    monkeypatch.setattr("commands.transport.reachable", lambda device: True)
    device = meters[0]
    DeliveryPolicy.objects.create(device=device, power_mode="DRX")
    sub = _upgrading(owner_app, device)

    with django_capture_on_commit_callbacks(execute=True):
        cached = commands.do_create_command(owner_app.application, device, ALARM)
        immediate = commands.do_create_command(owner_app.application, device, ALARM, expire_time=0)
    commands.on_uplink(Command.objects.select_related("device").get(pk=cached.pk).device)

    assert sent == []
    cached = Command.objects.select_related("device").get(pk=cached.pk)
    assert cached.status == "PENDING"
    assert "being upgraded" in explain(cached)
    assert Command.objects.get(pk=immediate.pk).status == "FAILED"
    reason = CommandEvent.objects.filter(command=immediate, status="FAILED").values_list("reason", flat=True).get()
    assert reason == "immediate delivery, but the device is upgrading (F-7.6)"

    with django_capture_on_commit_callbacks(execute=True):
        actions.on_result(sub, ok=True, cur_version="V1.1")

    assert sent == [cached.command_id]
    event = CommandEvent.objects.filter(command=cached, status="SENT").values_list("reason", flat=True).get()
    assert event == "the device's upgrade ended (F-7.6)"
