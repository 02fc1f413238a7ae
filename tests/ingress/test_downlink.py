"""devices.downlink.queue_downlink: the payload reaches the worker holding the device, and back comes
the outcome (acked, error, timeout, undeliverable) through devices.hooks."""

from __future__ import annotations

import asyncio

import pytest

from devices import hooks
from devices.downlink import queue_downlink
from devices.models import Device, DeviceLog, LogKind
from ingress.simulator import connect
from tests.ingress.fixtures import WorkerThread, water_device

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def worker():
    thread = WorkerThread().start()
    yield thread
    thread.stop()


def queue(device: Device, payload: bytes, request_id: str) -> bool:
    from django.db import close_old_connections

    try:
        return queue_downlink(Device.objects.get(pk=device.pk), payload, request_id=request_id)
    finally:
        close_old_connections()


def test_a_downlink_reaches_the_device_on_19_1_0_and_reports_acked(owner_app, worker, outcomes):
    received, arrived = outcomes
    device = water_device(owner_app)

    async def scenario():
        simulated = await connect(device.node_id, worker.port)
        assert await asyncio.to_thread(queue, device, b"\x03\x07\xe0hello", "cmd-1")
        downlinks = await simulated.wait_downlink(1)
        simulated.close()
        return downlinks

    downlinks = asyncio.run(scenario())
    assert downlinks[0].path == "/19/1/0" and downlinks[0].confirmable
    assert downlinks[0].payload == b"\x03\x07\xe0hello"
    assert arrived.wait(5)
    assert received == [hooks.DownlinkOutcome("cmd-1", device.pk, "acked", "2.04", "")]
    assert DeviceLog.objects.filter(
        device=device, kind=LogKind.COMMAND, summary__contains="downlink cmd-1 to 19/1/0: acked"
    ).exists()


def test_a_downlink_to_a_silent_device_times_out_after_coap_retransmissions(owner_app, worker, outcomes):
    received, arrived = outcomes
    device = water_device(owner_app)

    async def scenario():
        simulated = await connect(device.node_id, worker.port)
        simulated.asleep = True  # in PSM: nothing answers now
        assert await asyncio.to_thread(queue, device, b"\x01", "cmd-2")
        await asyncio.to_thread(arrived.wait, 10)
        simulated.close()

    asyncio.run(scenario())
    # ACK timeout 0.2 s x 1.5, 2 retransmissions: gives up within ~2 s.
    assert arrived.wait(10)
    assert received[0].outcome == "timeout" and received[0].request_id == "cmd-2"


def test_a_device_without_session_is_undeliverable_at_once(owner_app, outcomes, django_capture_on_commit_callbacks):
    received, _ = outcomes
    device = water_device(owner_app)

    with django_capture_on_commit_callbacks(execute=True):
        assert not queue_downlink(device, b"\x01", request_id="cmd-3")

    assert received == [hooks.DownlinkOutcome("cmd-3", device.pk, "undeliverable", "", "no ingress session")]


def test_huawei_t_r_registration_observes_t_d_and_downlinks_post_to_t_d(owner_app, worker, outcomes):
    from tests.ingress.water_codec import report

    received, arrived = outcomes
    device = water_device(owner_app)

    async def scenario():
        simulated = await connect(device.node_id, worker.port, lwm2m=False)
        await simulated.notify(report(reading=88))
        ack = await simulated.wait_downlink(1)  # the codec's cloudRsp
        assert await asyncio.to_thread(queue, device, b"\x03\x00\x01go", "cmd-4")
        downlinks = await simulated.wait_downlink(2)
        simulated.close()
        return ack, downlinks

    _, downlinks = asyncio.run(scenario())
    assert [(d.path, d.method, d.payload) for d in downlinks] == [
        ("/t/d", "POST", bytes.fromhex("AAAA0000")),
        ("/t/d", "POST", b"\x03\x00\x01go"),
    ]
    assert arrived.wait(5) and received[0].outcome == "acked"
    assert Device.objects.get(pk=device.pk).shadow["WaterMeter"]["data"]["currentReading"] == "88"
