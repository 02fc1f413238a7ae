"""An LwM2M session's lifecycle (docs/lwm2m.md): changed links observed again, lifetime expiry."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from django.utils import timezone

from commands import actions as command_actions
from commands.models import Command, DeliveryPolicy
from devices.models import Device
from ingress import sessions
from ingress.models import Channel, DeviceSession
from ingress.simulator import connect
from tests.ingress.fixtures import WorkerThread, off_loop, water_device

pytestmark = pytest.mark.django_db(transaction=True)
ALARM = {"serviceId": "WaterMeterAlarm", "method": "SET_HIGHFLOW_ALARM", "paras": {"highFlow": 30}}


@pytest.fixture
def worker():
    thread = WorkerThread().start()
    yield thread
    thread.stop()


def test_an_update_with_changed_links_observes_the_uplink_again_and_one_without_does_not(owner_app, worker):
    device = water_device(owner_app)

    async def scenario():
        simulated = await connect(device.node_id, worker.port, client="1.1")
        while not await off_loop(lambda: DeviceSession.objects.get(device=device).observed):
            await asyncio.sleep(0.02)  # the worker records the observe's answer in the background
        simulated.observe_requested.clear()
        await simulated.update()  # no links: nothing changed
        await asyncio.sleep(0.5)
        unchanged = simulated.observe_requested.is_set()
        await simulated.update(objects='</>;rt="oma.lwm2m",</1/0>,</3/0>,</3303/0>')  # other links: not observed
        await asyncio.sleep(0.5)
        other_links = simulated.observe_requested.is_set()
        await simulated.update(objects='</>;rt="oma.lwm2m",</1/0>,</3/0>,</19/0/0>,</19/1>,</3303/0>')
        await asyncio.wait_for(simulated.observe_requested.wait(), 10)
        simulated.close()
        return unchanged, other_links

    assert asyncio.run(scenario()) == (False, False)
    session = DeviceSession.objects.get(device=device)
    assert {"path": "/19/0/0"} in session.object_links


def test_lifetime_expiry_ends_the_registration_and_commands_wait_without_failing(owner_app, transactional_db):
    # given: a registered device with a DRX command policy, its registration past lifetime and grace
    device = water_device(owner_app)
    view = sessions.register(channel=Channel.LWM2M, node_id=device.node_id, host="127.0.0.1", port=5, worker="w")
    DeliveryPolicy.objects.create(device=device, power_mode="DRX")
    later = timezone.now() + dt.timedelta(seconds=view.lifetime + 301)
    status = Device.objects.get(pk=device.pk).status

    # when
    assert sessions.expire_sessions(now=later) == 1

    # then: no session; a new command waits as for a sleeping device, and the status is the sweep's (F-4.6)
    assert not DeviceSession.objects.filter(device=device).exists()
    device = Device.objects.select_related("product", "application").get(pk=device.pk)
    command = command_actions.do_create_command(owner_app.application, device, ALARM)
    command_actions.dispatch_after_commit(command.pk)
    assert Command.objects.get(pk=command.pk).status == "PENDING"
    assert Device.objects.get(pk=device.pk).status == status  # not OFFLINE by the expiry itself
