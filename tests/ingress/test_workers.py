"""Observations outlive a worker: another worker, or a restarted one, accepts the device's token."""

from __future__ import annotations

import asyncio
import time

import pytest

from devices.models import DataHistory
from ingress.models import DeviceSession
from ingress.simulator import connect
from tests.ingress.fixtures import WorkerThread, water_device
from tests.ingress.test_lwm2m import wait_for
from tests.ingress.water_codec import report

pytestmark = pytest.mark.django_db(transaction=True)


def readings(device) -> list[str]:
    return [row.data["currentReading"] for row in DataHistory.objects.filter(device_id=device.pk).order_by("id")]


def test_a_notification_reaching_another_worker_is_accepted_not_reset(owner_app):
    device = water_device(owner_app)
    first, second = WorkerThread().start(), WorkerThread().start()
    try:

        async def scenario():
            simulated = await connect(device.node_id, first.port)
            # The kernel now hashes the device to the other worker (a worker came or went).
            simulated.server = ("127.0.0.1", second.port)
            await simulated.notify(report(reading=21))
            await simulated.notify(report(reading=22))
            simulated.close()
            return simulated.resets

        assert asyncio.run(scenario()) == 0
        assert readings(device) == ["21", "22"]
        # The second worker holds the device now: downlinks go there.
        wait_for(lambda: DeviceSession.objects.get(device=device).worker == second.worker.channel_name)
    finally:
        first.stop()
        second.stop()


def test_after_a_restart_the_next_notification_is_stored_and_the_device_is_observed_again(owner_app):
    device = water_device(owner_app)
    worker = WorkerThread().start()
    restarted = []

    async def scenario():
        simulated = await connect(device.node_id, worker.port)
        token = simulated.observe_token
        simulated.observed.clear()
        # The worker goes away (its heartbeat key with it) and a new one binds the port: at start it
        # takes over the orphaned session and observes the device again, with the same token.
        await asyncio.to_thread(worker.stop)
        restarted.append(await asyncio.to_thread(WorkerThread(worker.port).start))
        await simulated.wait_observed()
        await simulated.notify(report(reading=31))
        await simulated.notify(report(reading=32))
        simulated.close()
        return token, simulated.observe_token, simulated.resets

    try:
        token, token_after, resets = asyncio.run(scenario())
    finally:
        for thread in restarted:
            thread.stop()

    assert token_after == token and resets == 0
    assert readings(device) == ["31", "32"]
    wait_for(lambda: DeviceSession.objects.get(device=device).worker == restarted[0].worker.channel_name)


def test_a_module_asleep_through_a_restart_notifies_on_its_old_token_and_is_stored(owner_app):
    device = water_device(owner_app)
    worker = WorkerThread().start()
    restarted = []

    async def scenario():
        simulated = await connect(device.node_id, worker.port)
        simulated.asleep = True  # misses the re-observation
        await asyncio.to_thread(worker.stop)
        restarted.append(await asyncio.to_thread(WorkerThread(worker.port).start))
        await asyncio.sleep(0.5)
        simulated.asleep = False
        await simulated.notify(report(reading=41))
        simulated.close()
        return simulated.resets

    try:
        assert asyncio.run(scenario()) == 0
    finally:
        for thread in restarted:
            thread.stop()
    assert readings(device) == ["41"]


def test_an_uplink_reaching_a_new_worker_is_handled_once_that_worker_is_the_holder(owner_app, monkeypatch):
    """A device moved to another worker (its node died, the balancer moved it): the uplink's hooks send its
    waiting commands, so they must find the new worker in Redis, even when recording it is slow."""
    from devices.downlink import holder
    from devices.models import Device
    from ingress import sessions
    from ingress import worker as worker_module

    device = water_device(owner_app)
    first, second = WorkerThread().start(), WorkerThread().start()
    holders_seen = []
    real_heard, real_handle = sessions.heard, worker_module._wake_and_handle

    def slow_heard(*args, **kwargs):
        time.sleep(0.3)  # a slow database: the recording lags the uplink (no wait: a delay injected)
        return real_heard(*args, **kwargs)

    def handle(queued, uplinks):
        holders_seen.extend(holder(Device.objects.get(pk=uplink.device_pk)) for uplink in uplinks)
        return real_handle(queued, uplinks)

    try:

        def held_by_first() -> bool:
            from django.db import connection

            try:
                observed = DeviceSession.objects.filter(device_id=device.pk, observed=True).exists()
                return observed and holder(Device.objects.get(pk=device.pk)) == first.worker.channel_name
            finally:
                connection.close()  # this thread's own: the test database is dropped at the end

        async def scenario():
            simulated = await connect(device.node_id, first.port)
            # The first worker has recorded the observation and itself as the holder (else that recording,
            # late on a loaded machine, could land after the second worker's and undo it).
            for _ in range(200):
                if await asyncio.to_thread(held_by_first):
                    break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError("the first worker never became the device's holder")
            monkeypatch.setattr(sessions, "heard", slow_heard)
            monkeypatch.setattr(worker_module, "_wake_and_handle", handle)
            simulated.server = ("127.0.0.1", second.port)
            await simulated.notify(report(reading=41))
            await simulated.notify(report(reading=42))
            simulated.close()

        asyncio.run(scenario())
        assert holders_seen == [second.worker.channel_name] * 2
        assert readings(device) == ["41", "42"]
    finally:
        first.stop()
        second.stop()
