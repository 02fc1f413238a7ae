"""A rule watching a simulated LwM2M device through the real ingress worker and the real codec engine:
the report that crosses the threshold raises the alarm and the rule's command reaches the device."""

from __future__ import annotations

import asyncio
import struct
import time

import pytest
from django.db import connections

from commands.models import Command
from ingress.simulator import connect
from rules.models import Alarm, RuleRun
from tests.ingress.fixtures import WorkerThread
from tests.rules.fixtures import (
    alarm_action,
    command_action,
    create_rule,
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


def _until(condition, seconds: float = 10.0):
    """Poll `condition` (a query) in this thread until it is truthy; its value, or the last one."""
    deadline = time.monotonic() + seconds
    try:
        while True:
            value = condition()
            if value or time.monotonic() > deadline:
                return value
            time.sleep(0.05)
    finally:
        connections.close_all()


def test_a_threshold_rule_raises_an_alarm_and_its_command_reaches_the_device(client, owner_app, worker):
    meter_product(owner_app)
    device = meter_device(owner_app)
    create_rule(client, owner_app, rule_body([data_condition(device)], [alarm_action(), command_action(period=45)]))

    async def scenario():
        simulated = await connect(device.node_id, worker.port)
        await simulated.notify(report_bytes(100, 21))  # binds the device, ONLINE; below the threshold
        await simulated.notify(report_bytes(101, 86))  # over 80: the rule fires
        alarm = await asyncio.to_thread(_until, lambda: Alarm.objects.open().first())
        count = 1
        while True:  # the first downlink that is a command (messageId 0x02), not a report ACK (AA AA ...)
            received = await simulated.wait_downlink(count)
            commands = [downlink for downlink in received if downlink.payload[:1] == b"\x02"]
            if commands:
                break
            count = len(received) + 1
        simulated.close()
        return alarm, commands[0]

    alarm, downlink = asyncio.run(scenario())
    assert (alarm.name, alarm.severity, alarm.device_id, alarm.value) == (
        "Overheat",
        "critical",
        device.pk,
        {"Meter/temperature": 86},
    )
    assert downlink.path == "/19/1/0" and struct.unpack(">I", downlink.payload[3:7])[0] == 45
    command = _until(lambda: Command.objects.filter(device=device, status__in=["SENT", "DELIVERED"]).first())
    assert command.paras == {"period": 45}
    [run] = RuleRun.objects.all()
    assert [result["type"] for result in run.results] == ["DEVICE_ALARM", "DEVICE_CMD"]
