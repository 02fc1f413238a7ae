"""LwM2M over CoAP against a real worker on a real socket, driven by the simulated device."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest
from aiocoap import Message
from aiocoap.numbers import codes

from devices.models import DataHistory, Device, DeviceLog, LogKind
from ingress.models import DeviceSession
from ingress.simulator import DeviceError, SimulatedDevice, connect
from tests.ingress.fixtures import WorkerThread, off_loop, water_device
from tests.ingress.water_codec import report

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def worker():
    thread = WorkerThread().start()
    yield thread
    thread.stop()


def stored_readings(device: Device) -> list[str]:
    return [row.data["currentReading"] for row in DataHistory.objects.filter(device_id=device.pk).order_by("id")]


def wait_for(condition, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


def test_register_observe_notify_store_ack_and_cloud_rsp(owner_app, worker):
    device = water_device(owner_app)
    acked_after_store = []

    async def scenario():
        simulated = await connect(device.node_id, worker.port)
        await simulated.notify(report(reading=555))
        # The ACK came back: the uplink must be in the database by now.
        acked_after_store.append(await off_loop(stored_readings, device))
        received = await simulated.wait_downlink(1)
        simulated.close()
        return simulated, received

    simulated, received = asyncio.run(scenario())

    assert acked_after_store == [["555"]]
    assert received[0].path == "/19/1/0" and received[0].method == "PUT"
    assert received[0].payload == bytes.fromhex("AAAA0000")
    # The observe's answer is recorded by the worker in the background.
    wait_for(lambda: DeviceSession.objects.get(device=device).observed)
    session = DeviceSession.objects.get(device=device)
    assert session.observe_token == simulated.observe_token
    assert session.worker == worker.worker.channel_name
    device.refresh_from_db()
    assert device.activated
    logs = list(DeviceLog.objects.filter(device=device).values_list("kind", flat=True))
    assert LogKind.BIND in logs and LogKind.DECODED in logs


def test_a_non_confirmable_uplink_is_stored(owner_app, worker):
    device = water_device(owner_app)

    async def scenario():
        simulated = await connect(device.node_id, worker.port)
        await simulated.notify(report(reading=9), confirmable=False)
        simulated.close()

    asyncio.run(scenario())
    wait_for(lambda: stored_readings(device) == ["9"])


def test_an_unknown_endpoint_is_refused(owner_app, worker, caplog):
    async def scenario():
        simulated = await SimulatedDevice("999999999999999", ("127.0.0.1", worker.port)).open()
        try:
            with pytest.raises(DeviceError, match=r"4\.03"):
                await simulated.register()
        finally:
            simulated.close()

    asyncio.run(scenario())
    assert "unknown endpoint '999999999999999'" in caplog.text


def test_a_secure_device_is_refused_on_plain_coap(owner_app, worker):
    device = water_device(owner_app, is_secure=True)

    async def scenario():
        simulated = await SimulatedDevice(device.node_id, ("127.0.0.1", worker.port)).open()
        try:
            with pytest.raises(DeviceError, match="must use CoAPS"):
                await simulated.register()
        finally:
            simulated.close()

    asyncio.run(scenario())
    assert not DeviceSession.objects.filter(device=device).exists()
    assert DeviceLog.objects.filter(device=device, summary__contains="must use CoAPS").exists()


def test_registration_over_the_flow_limit_gets_4_29_with_max_age(owner_app, worker):
    owner_app.application.device_uplink_limit = 1
    owner_app.application.save()
    device = water_device(owner_app)

    async def scenario():
        simulated = await SimulatedDevice(device.node_id, ("127.0.0.1", worker.port)).open()
        await simulated.register()
        request = Message(code=codes.POST, payload=b"</19/0>", content_format=40)
        request.opt.uri_path = ("rd",)
        request.opt.uri_query = (f"ep={device.node_id}",)
        request.token = b"\x01"
        answer = await simulated.exchange(request)
        simulated.close()
        return answer

    answer = asyncio.run(scenario())
    assert answer.code == codes.TOO_MANY_REQUESTS
    assert 0 < answer.opt.max_age <= 1200
    assert DeviceLog.objects.filter(device=device, kind=LogKind.FLOW_CONTROL).exists()


def test_update_from_a_new_port_and_notifications_from_it_keep_working(owner_app, worker):
    device = water_device(owner_app)

    async def scenario():
        simulated = await connect(device.node_id, worker.port)
        first_port = simulated.local_port
        await simulated.move()
        assert simulated.local_port != first_port
        answer = await simulated.update()
        assert answer.code == codes.CHANGED
        await simulated.notify(report(reading=1))
        await simulated.move()  # a NAT rebinding without an update
        await simulated.notify(report(reading=2))
        port = simulated.local_port
        simulated.close()
        return port

    port = asyncio.run(scenario())
    assert stored_readings(device) == ["1", "2"]
    wait_for(lambda: DeviceSession.objects.get(device=device).port == port)


def test_deregistration_ends_the_session(owner_app, worker):
    device = water_device(owner_app)

    async def scenario():
        simulated = await connect(device.node_id, worker.port)
        answer = await simulated.deregister()
        again = await simulated.update()
        simulated.close()
        return answer, again

    answer, again = asyncio.run(scenario())
    assert answer.code == codes.DELETED
    assert again.code == codes.NOT_FOUND
    assert not DeviceSession.objects.filter(device=device).exists()


def test_a_retransmitted_notification_is_stored_once_and_acknowledged_each_time(owner_app, worker):
    device = water_device(owner_app)

    async def scenario():
        simulated = await connect(device.node_id, worker.port)
        message = simulated.notification(report(reading=3))
        for _ in range(3):  # the module did not see our ACKs: same message id three times
            message.mid = message.mid
            answer = await simulated.exchange(message)
            assert answer.code == codes.EMPTY
        simulated.close()

    asyncio.run(scenario())
    assert stored_readings(device) == ["3"]


def test_a_notification_with_an_unknown_token_is_reset(owner_app, worker):
    device = water_device(owner_app)

    async def scenario():
        simulated = await connect(device.node_id, worker.port)
        simulated.observe_token = b"\x99" * 8
        with pytest.raises(DeviceError, match="reset"):
            await simulated.notify(report())
        simulated.close()

    asyncio.run(scenario())
    assert stored_readings(device) == []


def test_a_device_refusing_the_observation_is_logged(owner_app, worker):
    device = water_device(owner_app)

    async def scenario():
        simulated = await SimulatedDevice(device.node_id, ("127.0.0.1", worker.port), refuse_observe=True).open()
        await simulated.register()
        await asyncio.wait_for(simulated.observe_requested.wait(), 5)
        simulated.close()

    asyncio.run(scenario())
    wait_for(lambda: DeviceLog.objects.filter(device=device, summary__contains="refused to be observed").exists())


def test_malformed_datagrams_and_unknown_paths_leave_the_worker_serving(owner_app, worker):
    device = water_device(owner_app)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as raw:
        for junk in (b"", b"\x00", b"\xff" * 64, b"\x40\x01\x00", bytes(range(256)) * 4):
            raw.sendto(junk, ("127.0.0.1", worker.port))

    async def scenario():
        simulated = await SimulatedDevice(device.node_id, ("127.0.0.1", worker.port)).open()
        request = Message(code=codes.GET)
        request.opt.uri_path = ("nowhere",)
        request.token = b"\x02"
        missing = await simulated.exchange(request)
        await simulated.register()
        await simulated.wait_observed()
        await simulated.notify(report(reading=4))
        simulated.close()
        return missing

    assert asyncio.run(scenario()).code == codes.NOT_FOUND
    assert stored_readings(device) == ["4"]


def test_overload_refuses_registrations_with_5_03_and_leaves_notifications_unacknowledged(owner_app, worker, settings):
    device, other = water_device(owner_app), water_device(owner_app, "863703030000002")

    async def scenario():
        simulated = await connect(device.node_id, worker.port, retransmits=0, timeout=0.5)
        settings.INGRESS_MAX_PENDING = 0  # as if the queue were full
        late = await SimulatedDevice(other.node_id, ("127.0.0.1", worker.port)).open()
        with pytest.raises(DeviceError, match=r"5\.03"):
            await late.register()
        with pytest.raises(DeviceError, match="no answer"):
            await simulated.notify(report(reading=1))
        settings.INGRESS_MAX_PENDING = 5000
        await simulated.notify(report(reading=2))  # the device's next try, once there is room
        simulated.close()
        late.close()

    asyncio.run(scenario())
    assert stored_readings(device) == ["2"]
    assert worker.worker.stats["overload"] >= 1 and worker.worker.stats["refused_5.03"] == 1


def test_queue_mode_binding_and_lifetime_are_kept_and_expired_sessions_forgotten(owner_app, worker):
    import datetime as dt

    import time_machine

    from ingress import sessions

    device = water_device(owner_app)

    async def scenario():
        simulated = await connect(device.node_id, worker.port, binding="UQ", lifetime=120)
        simulated.close()

    asyncio.run(scenario())
    session = DeviceSession.objects.get(device=device)
    assert session.binding == "UQ" and session.queue_mode and session.lifetime == 120
    with time_machine.travel(session.expires_at + dt.timedelta(seconds=10)):
        assert sessions.expire_sessions() == 0  # within the grace period
    with time_machine.travel(session.expires_at + dt.timedelta(seconds=301)):
        assert sessions.expire_sessions() == 1
    assert not DeviceSession.objects.filter(device=device).exists()


def test_a_notification_arriving_before_the_observe_answer_is_stored_not_taken_for_the_answer(owner_app, worker):
    device = water_device(owner_app)

    async def scenario():
        # The module notifies on the token before its answer to the GET reached the platform.
        simulated = await connect(device.node_id, worker.port, answer_observe=False)
        await simulated.notify(report(reading=77))
        simulated.close()

    asyncio.run(scenario())
    assert stored_readings(device) == ["77"]
    wait_for(lambda: DeviceSession.objects.get(device=device).observed)
