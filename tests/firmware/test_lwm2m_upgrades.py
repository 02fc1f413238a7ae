"""Firmware upgrades over LwM2M object 5, end to end: the real run_ingress process, simulated devices.

The task is created in the test process (its first schedule pass runs the driver, which hands the
sub-operation to the worker holding the device over the channel layer); the worker observes State
and Update Result, delivers the package (pull from /fw/<id> with Block2, or push with Block1 to
/5/0/0), executes Update and reads /3/0/3.
"""

from __future__ import annotations

import asyncio

import pytest

from devices.models import Device, DeviceLog
from firmware import actions
from firmware.models import Operation, SubOperation
from ingress.simulator import SimulatedDevice
from tests.firmware.upgrades import create_task, finished, steps, upload, wait_for
from tests.ingress.fixtures import off_loop, water_device

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("ingress_settings")]


def _meter(credentials, node_id: str, version: str = "V1.0") -> Device:
    device = water_device(credentials, node_id)
    Device.objects.filter(pk=device.pk).update(fw_version=version)
    return Device.objects.get(pk=device.pk)


async def _online(device: Device, port: int, **options) -> SimulatedDevice:
    options = {"firmware": True, **options}
    simulated = await SimulatedDevice(device.node_id, ("127.0.0.1", port), **options).open()
    await simulated.register()
    await simulated.wait_observed()
    return simulated


def _upgrade(credentials, port: int, devices: list[Device], package, *, count: int | None = None, **options):
    """Bring the simulated devices online, start the task, wait for `count` sub-operations to end."""
    simulated_options = options.pop("simulated", [{}] * len(devices))

    async def scenario():
        simulated = [
            await _online(device, port, **extra) for device, extra in zip(devices, simulated_options, strict=True)
        ]
        operation = await off_loop(lambda: create_task(credentials, package, devices, **options))
        subs = await off_loop(finished, operation, count or len(devices))
        for device in simulated:
            device.close()
        return operation, subs, simulated

    return asyncio.run(scenario())


def test_pull_success_same_version_and_wrong_source_version(owner_app, ingress):
    _, port = ingress()
    package = upload(owner_app, size=3000)
    devices = [_meter(owner_app, "867000000000001"), _meter(owner_app, "867000000000002", "V1.1"),
               _meter(owner_app, "867000000000003", "V0.9")]  # fmt: skip

    operation, subs, simulated = _upgrade(owner_app, port, devices, package)

    upgraded, same, wrong = subs
    assert (upgraded.status, upgraded.cur_version, upgraded.error_code) == ("success", "V1.1", "")
    assert simulated[0].fw_installed == bytes(package.data) and simulated[0].firmware_version == "V1.1"
    assert simulated[0].fw_blocks == [0, 1, 2] and upgraded.blocks_sent == 3  # 3000+ bytes, 1024-byte blocks
    assert [step for step, _, _ in steps(upgraded)][:4] == ["idle", "downloading", "downloaded", "updating"]
    assert Device.objects.get(pk=devices[0].pk).fw_version == "V1.1"
    assert (same.status, same.detail_info) == ("fail", "The current version is the same as the target version")
    assert (wrong.status, wrong.error_code) == ("fail", "SOURCE_VERSION_MISMATCH")
    assert simulated[1].fw_blocks == [] and simulated[2].fw_blocks == []
    assert DeviceLog.objects.filter(device=devices[0], summary__contains="/fw/" + upgraded.sub_operation_id).exists()
    actions.schedule(operation.pk)
    assert Operation.objects.get(pk=operation.pk).status == "failed"  # two of three did not upgrade


def test_push_to_a_device_that_cannot_pull(owner_app, ingress):
    _, port = ingress()
    package = upload(owner_app, size=2500)
    device = _meter(owner_app, "867000000000011")

    _, [sub], [simulated] = _upgrade(owner_app, port, [device], package, simulated=[{"fw_delivery": 1}])

    assert (sub.status, sub.cur_version) == ("success", "V1.1")
    assert simulated.fw_installed == bytes(package.data)
    assert simulated.fw_blocks == [0, 1, 2] and sub.blocks_sent == 3  # Block1: 1024 + 1024 + the rest
    assert "pushing" in steps(sub)[1][2]


@pytest.mark.parametrize(("outcome", "code"), [("integrity", "INTEGRITY_FAILURE"), ("update_failed", "UPDATE_FAILED")])
def test_the_devices_update_result_is_the_sub_tasks_error(owner_app, ingress, outcome, code):
    _, port = ingress()
    package = upload(owner_app)
    device = _meter(owner_app, "867000000000021")

    _, [sub], _ = _upgrade(owner_app, port, [device], package, simulated=[{"fw_outcome": outcome}])

    assert (sub.status, sub.error_code) == ("fail", code)
    assert Device.objects.get(pk=device.pk).status_detail == "NONE"  # commands no longer wait


def test_an_interrupted_download_is_retried_and_resumes_from_the_block_the_device_recorded(owner_app, ingress):
    _, port = ingress()
    package = upload(owner_app, size=1500)
    device = _meter(owner_app, "867000000000031")

    async def scenario():
        # 64-byte blocks; the connection is lost after 5 of them (Update Result 4).
        simulated = await _online(device, port, fw_block_szx=2, fw_interrupt_after=5)
        operation = await off_loop(lambda: create_task(owner_app, package, [device], retryType=True, retryTimes=1))

        def waiting_again():
            sub = SubOperation.objects.get(operation=operation)
            return sub if sub.status == "wait" and sub.attempts == 1 else None

        first = await off_loop(wait_for, waiting_again, 20, "the failed attempt to go back to wait")
        await off_loop(actions.schedule, operation.pk)  # the sweep's next pass starts the retry
        [sub] = await off_loop(finished, operation)
        simulated.close()
        return first, sub, simulated

    first, sub, simulated = asyncio.run(scenario())
    assert first.attempts == 1
    retried = "failed (Connection lost during downloading process.); retry 1 of 1"
    assert any(retried in note for _, _, note in steps(sub))
    assert (sub.status, sub.attempts, sub.cur_version) == ("success", 2, "V1.1")
    blocks = simulated.fw_blocks
    assert blocks[:5] == [0, 1, 2, 3, 4] and blocks[5] == 5 and blocks == sorted(set(blocks))  # never from 0 again
    assert any("resumed at block 5" in note for _, _, note in steps(sub))


def test_an_unknown_package_uri_is_not_found(owner_app, ingress):
    _, port = ingress()

    async def scenario():
        simulated = await SimulatedDevice("867000000000041", ("127.0.0.1", port)).open()
        from aiocoap import Message
        from aiocoap.numbers import codes

        request = Message(code=codes.GET)
        request.opt.uri_path = ("fw", "0" * 32)
        request.token = b"\x01\x02"
        answer = await simulated.exchange(request)
        simulated.close()
        return answer

    assert str(asyncio.run(scenario()).code.dotted) == "4.04"


def test_an_offline_device_waits_with_the_device_online_policy_and_upgrades_when_it_reports(owner_app, ingress):
    from tests.ingress.water_codec import report

    _, port = ingress()
    package = upload(owner_app)
    device = _meter(owner_app, "867000000000051")

    async def scenario():
        simulated = await _online(device, port)
        await off_loop(lambda: Device.objects.filter(pk=device.pk).update(status="OFFLINE"))
        operation = await off_loop(lambda: create_task(owner_app, package, [device], executeType="device_online"))
        waiting = await off_loop(lambda: SubOperation.objects.get(operation=operation).status)
        await simulated.notify(report(reading=5))  # a report: the device is ONLINE again
        await off_loop(wait_for, lambda: Device.objects.get(pk=device.pk).status == "ONLINE", 10, "ONLINE")
        await off_loop(actions.schedule, operation.pk)  # the sweep's next pass
        [sub] = await off_loop(finished, operation)
        simulated.close()
        return waiting, sub

    waiting, sub = asyncio.run(scenario())
    assert waiting == "wait"
    assert (sub.status, sub.cur_version) == ("success", "V1.1")


def test_abort_by_failure_ratio_stops_the_devices_not_yet_started(owner_app, ingress, settings):
    settings.FIRMWARE_ABORT_MIN_SAMPLE = 2
    _, port = ingress()
    package = upload(owner_app)
    devices = [_meter(owner_app, f"86700000000006{n}") for n in range(3)]

    async def scenario():
        simulated = [await _online(device, port, fw_outcome="integrity") for device in devices]
        rollout = {"maxConcurrent": 2, "abortFailureRatio": 0.5}
        operation = await off_loop(lambda: create_task(owner_app, package, devices, rollout=rollout))
        await off_loop(finished, operation, 2)
        await off_loop(actions.schedule, operation.pk)  # the sweep's next pass sees 2 of 2 failed
        subs = await off_loop(finished, operation, 3)
        for device in simulated:
            device.close()
        return await off_loop(lambda: Operation.objects.get(pk=operation.pk)), subs, simulated

    operation, subs, simulated = asyncio.run(scenario())
    assert operation.status == "stop" and "2 of 2" in operation.detail
    assert [(sub.status, sub.error_code) for sub in subs] == [
        ("fail", "INTEGRITY_FAILURE"),
        ("fail", "INTEGRITY_FAILURE"),
        ("stop", "STOPPED"),
    ]
    assert simulated[2].fw_blocks == []  # never started


def test_retry_failed_sub_tasks_upgrades_only_the_devices_that_failed(owner_app, ingress):
    _, port = ingress()
    package = upload(owner_app)
    devices = [_meter(owner_app, "867000000000071"), _meter(owner_app, "867000000000072")]

    async def scenario():
        good = await _online(devices[0], port)
        flaky = await _online(devices[1], port, fw_outcome="update_failed")
        operation = await off_loop(lambda: create_task(owner_app, package, devices))
        first = await off_loop(finished, operation, 2)
        flaky.fw_outcome = "success"  # whatever went wrong on the device is fixed
        blocks = list(good.fw_blocks)
        assert await off_loop(actions.do_retry_failed, operation) == 1
        await off_loop(actions.schedule, operation.pk)

        def both_succeeded():
            subs = list(SubOperation.objects.filter(operation=operation).order_by("id"))
            return subs if all(sub.status == "success" for sub in subs) else None

        second = await off_loop(wait_for, both_succeeded, 20, "the retried sub-task to succeed")
        good.close()
        flaky.close()
        return first, second, blocks, good

    first, second, blocks, good = asyncio.run(scenario())
    assert [(sub.status, sub.error_code) for sub in first] == [("success", ""), ("fail", "UPDATE_FAILED")]
    assert [(sub.status, sub.attempts) for sub in second] == [("success", 1), ("success", 1)]
    assert good.fw_blocks == blocks  # the device that had upgraded was left alone


def test_the_version_the_device_reports_is_checked_before_anything_is_sent(owner_app, ingress):
    _, port = ingress()
    package = upload(owner_app)
    device = _meter(owner_app, "867000000000081")  # stored as V1.0, but the device runs V1.1 already

    _, [sub], [simulated] = _upgrade(owner_app, port, [device], package, simulated=[{"firmware_version": "V1.1"}])

    assert (sub.status, sub.error_code, sub.source_version) == ("fail", "SAME_VERSION", "V1.1")
    assert simulated.fw_uri == "" and Device.objects.get(pk=device.pk).fw_version == "V1.1"


def test_a_device_that_reboots_to_install_is_read_when_it_is_back(owner_app, ingress):
    # It loses its observations and registers again from a new address, maybe behind the other worker.
    _, port = ingress(FIRMWARE_POLL_SECONDS="1")
    package = upload(owner_app)
    device = _meter(owner_app, "867000000000091")

    _, [sub], [simulated] = _upgrade(owner_app, port, [device], package, simulated=[{"fw_reboot": True}])

    assert (sub.status, sub.cur_version) == ("success", "V1.1")
    assert simulated.fw_installed == bytes(package.data)


def test_the_products_delivery_setting_chooses_push(owner_app, ingress):
    from products.models import Product

    _, port = ingress()
    package = upload(owner_app)
    device = _meter(owner_app, "867000000000121")
    product = Product.objects.get(pk=device.product_id)
    product.profile["device"]["omCapability"] = {"fwUpgradeCapability": {"firmwareDelivery": "push"}}
    product.save(update_fields=["profile"])

    _, [sub], [simulated] = _upgrade(owner_app, port, [device], package)  # the device could pull (/5/0/9 2)

    assert sub.status == "success" and "pushing" in steps(sub)[1][2]
    assert simulated.fw_uri == "" and simulated.fw_installed == bytes(package.data)


def test_a_device_without_object_5_has_no_protocol_service(owner_app, ingress):
    _, port = ingress()
    package = upload(owner_app)
    device = _meter(owner_app, "867000000000131")

    _, [sub], _ = _upgrade(owner_app, port, [device], package, simulated=[{"firmware": False}])

    assert (sub.status, sub.error_code) == ("fail", "NO_PROTOCOL_SERVICE")
