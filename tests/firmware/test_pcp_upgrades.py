"""Software (MCU) upgrades with Huawei PCP, end to end: the real run_ingress process, a simulated device
with a PCP client. Frames from the device are uplinks on /19/0/0 that the pipeline splits off before
the codec; frames to it are downlinks on /19/1/0."""

from __future__ import annotations

import asyncio

import pytest

from devices.models import Device, DeviceLog
from ingress.simulator import PcpClient, connect
from tests.firmware.upgrades import create_task, finished, steps, upload
from tests.ingress.fixtures import off_loop, water_device

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("ingress_settings")]


def _upgrade(credentials, port: int, device: Device, package, **client_options):
    async def scenario():
        simulated = await connect(device.node_id, port)
        client = PcpClient(simulated, **client_options)
        operation = await off_loop(lambda: create_task(credentials, package, [device]))
        [sub] = await off_loop(finished, operation)
        simulated.close()
        return sub, client

    return asyncio.run(scenario())


def _meter(credentials, node_id: str) -> Device:
    device = water_device(credentials, node_id)
    Device.objects.filter(pk=device.pk).update(sw_version="V1.0")
    return device


def test_pcp_success_version_query_notice_blocks_download_execute_and_result(owner_app, ingress):
    _, port = ingress()
    package = upload(owner_app, software=True, version="V2.0", size=1800)  # 4 blocks of 500 bytes
    device = _meter(owner_app, "867000000000101")

    sub, client = _upgrade(owner_app, port, device, package, next_version="V2.0")

    assert (sub.status, sub.source_version, sub.cur_version) == ("success", "V1.0", "V2.0")
    assert bytes(client.package) == bytes(package.data) and client.blocks == [0, 1, 2, 3]
    assert [frame.code for frame in client.frames if frame.code != 0x15] == [0x13, 0x14, 0x16, 0x17, 0x18]
    assert [step for step, _, _ in steps(sub)][:4] == ["idle", "downloading", "downloaded", "updating"]
    assert sub.blocks_sent == 4
    assert Device.objects.get(pk=device.pk).sw_version == "V2.0"
    # Split off before the codec: logged as PCP, never decoded as WaterMeter data.
    assert DeviceLog.objects.filter(device=device, summary__startswith="PCP message").count() >= 8
    assert not DeviceLog.objects.filter(device=device, kind="DECODE_ERROR").exists()


@pytest.mark.parametrize(
    ("options", "code"),
    [
        ({"version": "V2.0"}, "SAME_VERSION"),  # the device's own answer to the version query
        ({"outcome": "integrity"}, "INTEGRITY_FAILURE"),
        ({"outcome": "update_failed"}, "UPDATE_FAILED"),
    ],
)
def test_pcp_failures_are_the_sub_tasks_error(owner_app, ingress, options, code):
    _, port = ingress()
    package = upload(owner_app, software=True, version="V2.0", size=900)
    device = _meter(owner_app, "867000000000111")

    sub, _ = _upgrade(owner_app, port, device, package, **options)

    assert (sub.status, sub.error_code) == ("fail", code)


def test_pcp_download_interrupted_then_retried_resumes_from_the_block_the_device_recorded(owner_app, ingress):
    from firmware import actions
    from firmware.models import SubOperation
    from tests.firmware.upgrades import wait_for

    _, port = ingress()
    package = upload(owner_app, software=True, version="V2.0", size=2400)  # 5 blocks of 500 bytes
    device = _meter(owner_app, "867000000000121")

    async def scenario():
        simulated = await connect(device.node_id, port)
        client = PcpClient(simulated, next_version="V2.0", interrupt_after=2)
        operation = await off_loop(lambda: create_task(owner_app, package, [device], retryType=True, retryTimes=1))

        def waiting_again():
            sub = SubOperation.objects.get(operation=operation)
            return sub if sub.status == "wait" and sub.attempts == 1 else None

        await off_loop(wait_for, waiting_again, 20, "the failed attempt to go back to wait")
        await off_loop(actions.schedule, operation.pk)
        [sub] = await off_loop(finished, operation)
        simulated.close()
        return sub, client

    sub, client = asyncio.run(scenario())
    assert (sub.status, sub.attempts, sub.cur_version) == ("success", 2, "V2.0")
    assert client.blocks == [0, 1, 2, 3, 4] and bytes(client.package) == bytes(package.data)
    notes = [note for _, _, note in steps(sub)]
    assert any("Waiting for package download timeout.); retry 1 of 1" in note for note in notes)
    assert any("download resumed at block 2 (F-7.9)" in note for note in notes)
