"""The real `manage.py run_ingress` process: end to end from the northbound API, and SIGKILL."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time

import pytest
from django.test import Client

from devices.models import DataHistory
from ingress.models import DeviceSession
from ingress.simulator import DeviceError, connect
from subscriptions.delivery import deliver_target
from subscriptions.models import PushMessage
from tests.ingress.fixtures import water_device, water_product
from tests.ingress.process import live_workers
from tests.ingress.water_codec import report
from tests.subscriptions.fixtures import subscribe
from tests.subscriptions.receiver import Receiver

pytestmark = pytest.mark.django_db(transaction=True)


def test_end_to_end_from_the_northbound_api_to_history_and_a_push(owner_app, ingress):
    receiver = Receiver().start()
    try:
        water_product(owner_app)  # the WaterMeter product and its JavaScript codec
        subscribe(owner_app, receiver, "deviceDataChanged")
        client = Client(headers=owner_app.headers())
        registered = client.post(
            "/iocm/app/reg/v1.1.0/deviceCredentials",
            {"nodeId": "868000000000001", "verifyCode": "868000000000001", "timeout": 0},
            content_type="application/json",
        )
        assert registered.status_code == 200, registered.content
        device_id = registered.json()["deviceId"]
        modified = client.put(
            f"/iocm/app/dm/v1.4.0/devices/{device_id}",
            {"manufacturerId": "Huawei", "deviceType": "WaterMeter", "model": "v1001", "protocolType": "CoAP"},
            content_type="application/json",
        )
        assert modified.status_code == 204
        _, port = ingress()

        async def device():
            simulated = await connect("868000000000001", port)
            await simulated.notify(report(signal=17, reading=98765, flow=3))
            ack = await simulated.wait_downlink(1)
            simulated.close()
            return ack

        ack = asyncio.run(device())
        assert ack[0].payload == bytes.fromhex("AAAA0000")

        history = client.get(f"/iocm/app/data/v1.2.0/deviceDataHistory?deviceId={device_id}&gatewayId={device_id}")
        assert history.status_code == 200
        rows = history.json()["deviceDataHistoryDTOs"]
        assert rows[0]["data"] == {"signalStrength": "17", "currentReading": "98765", "flowRateReading": "3"}

        for target_id in set(PushMessage.objects.values_list("target_id", flat=True)):
            deliver_target(target_id)
        bodies = [json.loads(body) for body in receiver.bodies()]
        pushed = [body for body in bodies if body.get("notifyType") == "deviceDataChanged"]
        assert pushed and pushed[0]["deviceId"] == device_id
        assert pushed[0]["service"]["serviceId"] == "WaterMeter"
        assert pushed[0]["service"]["data"]["currentReading"] == "98765"
    finally:
        receiver.stop()


def _worker_pid(channel: str) -> int:
    return int(live_workers()[channel].split("-")[1])


@pytest.mark.slow  # SIGKILL under load
def test_sigkill_under_load_loses_no_acknowledged_uplink_and_the_observed_device_keeps_reporting(owner_app, ingress):
    # Limited uplinks are acknowledged and dropped by design (a notification cannot be refused):
    # this test is about loss, so the application's rate limit is out of the way.
    owner_app.application.uplink_rate_limit = 100000
    owner_app.application.save()
    devices = [water_device(owner_app, f"86900000000{n:04d}") for n in range(6)]
    _, port = ingress(workers=2)
    acknowledged: list[tuple[int, int]] = []
    killed: list[int] = []

    async def run():
        simulated = [await connect(device.node_id, port, timeout=0.5, retransmits=8) for device in devices]
        owners = await asyncio.to_thread(lambda: {s.worker for s in DeviceSession.objects.all()})

        async def load(index: int) -> None:
            for reading in range(40):
                try:
                    await simulated[index].notify(report(reading=reading))
                except DeviceError:
                    continue  # never acknowledged: may or may not be stored
                acknowledged.append((devices[index].pk, reading))
                await asyncio.sleep(0.005)

        async def killer() -> None:
            await asyncio.sleep(0.3)
            live = live_workers()
            holders = sorted(channel for channel in owners if channel in live) or sorted(live)
            victim = _worker_pid(holders[0])
            os.kill(victim, signal.SIGKILL)
            killed.append(victim)

        await asyncio.gather(killer(), *(load(index) for index in range(len(devices))))
        # Every device, its worker killed or not, is still observed: its next notification is stored.
        for index, device in enumerate(simulated):
            await device.notify(report(reading=1000 + index))
            acknowledged.append((devices[index].pk, 1000 + index))
        for device in simulated:
            device.close()

    asyncio.run(run())

    assert killed
    # History is not emptied between tests (an unmanaged, partitioned table): only these devices' rows.
    rows = DataHistory.objects.filter(device_id__in=[device.pk for device in devices])
    stored = {(row.device_id, int(row.data["currentReading"])) for row in rows}
    missing = [entry for entry in acknowledged if entry not in stored]
    assert not missing, f"acknowledged but not stored: {missing[:10]}"
    assert len(acknowledged) > 100
    # The supervisor replaced the dead worker.
    deadline = time.monotonic() + 15
    while True:
        pids = {int(name.split("-")[1]) for name in live_workers().values() if name}
        if len(pids) >= 2 and not pids & set(killed):
            break
        assert time.monotonic() < deadline, "the killed worker was not replaced"
        time.sleep(0.1)
