"""CoAPS: DTLS-PSK (identity = nodeId, key = the device's psk) on the worker's COAPS port."""

from __future__ import annotations

import asyncio
import subprocess

import pytest

from devices import hooks
from devices.downlink import queue_downlink
from devices.models import DataHistory, Device, DeviceLog
from ingress.models import DeviceSession
from ingress.simulator import DeviceError, SimulatedDevice, connect
from tests.ingress.fixtures import WorkerThread, off_loop, water_device
from tests.ingress.water_codec import report

pytestmark = pytest.mark.django_db(transaction=True)
PSK_HEX = "73656372657450534b"  # the bytes of "secretPSK": coap-client takes the key as text
SUITES = {"PSK-AES128-CCM8": "TLS-PSK-WITH-AES-128-CCM-8", "PSK-AES128-CBC-SHA256": "TLS-PSK-WITH-AES-128-CBC-SHA256"}


@pytest.fixture
def worker():
    thread = WorkerThread().start()
    yield thread
    thread.stop()


def secure_device(owner_app, node_id: str = "863703030000301") -> Device:
    return water_device(owner_app, node_id, psk=PSK_HEX, is_secure=True)


def s_client(port: int, identity: str, key_hex: str, cipher: str) -> str:
    done = subprocess.run(
        ["openssl", "s_client", "-dtls1_2", "-connect", f"127.0.0.1:{port}", "-psk_identity", identity,
         "-psk", key_hex, "-cipher", f"{cipher}:@SECLEVEL=0"],
        input="Q\n", capture_output=True, text=True, timeout=20,
    )  # fmt: skip
    return done.stdout + done.stderr


@pytest.mark.parametrize("cipher", sorted(SUITES))
def test_both_suites_of_f_1_3_are_accepted(owner_app, worker, cipher):
    device = secure_device(owner_app)

    output = s_client(worker.coaps_port, device.node_id, PSK_HEX, cipher)

    assert f"Cipher is {cipher}" in output
    assert "alert" not in output


def test_a_wrong_key_or_an_unknown_identity_is_refused(owner_app, worker):
    device = secure_device(owner_app)

    wrong_key = s_client(worker.coaps_port, device.node_id, "00112233445566778899", "PSK-AES128-CCM8")
    unknown = s_client(worker.coaps_port, "000000000000000", PSK_HEX, "PSK-AES128-CCM8")

    assert "alert bad record mac" in wrong_key
    assert "alert unknown psk identity" in unknown


def test_coap_client_openssl_registers_over_coaps(owner_app, worker):
    device = secure_device(owner_app)
    url = f"coaps://127.0.0.1:{worker.coaps_port}/rd?ep={device.node_id}&lt=300"

    done = subprocess.run(
        ["coap-client-openssl", "-B", "5", "-m", "post", "-t", "40", "-e", "</19/0>", "-k", "secretPSK",
         "-u", device.node_id, url],
        capture_output=True, text=True, timeout=20,
    )  # fmt: skip

    assert "4.0" not in done.stdout + done.stderr
    session = DeviceSession.objects.get(device=device)
    assert session.secure and session.lifetime == 300


@pytest.mark.parametrize("cipher", sorted(SUITES.values()))
def test_lwm2m_over_coaps_stores_uplinks_and_carries_downlinks(owner_app, worker, cipher):
    device = secure_device(owner_app)
    outcomes = []
    hooks.on_downlink_outcome(outcomes.append)

    async def scenario():
        simulated = await connect(
            device.node_id, worker.coaps_port, psk=(device.node_id, bytes.fromhex(PSK_HEX)), cipher=cipher
        )
        await simulated.notify(report(reading=2024))
        ack = await simulated.wait_downlink(1)
        queued = await off_loop(
            lambda: queue_downlink(Device.objects.get(pk=device.pk), b"\x03\x00\x05hi", request_id="c1")
        )
        assert queued
        downlinks = await simulated.wait_downlink(2)
        simulated.close()
        return ack, downlinks

    try:
        _, downlinks = asyncio.run(scenario())
    finally:
        hooks._outcome_handlers.remove(outcomes.append)

    assert [d.payload for d in downlinks] == [bytes.fromhex("AAAA0000"), b"\x03\x00\x05hi"]
    assert [row.data["currentReading"] for row in DataHistory.objects.filter(device_id=device.pk)] == ["2024"]
    assert DeviceSession.objects.get(device=device).secure


def test_a_dtls_identity_cannot_register_another_endpoint(owner_app, worker):
    mine = secure_device(owner_app)
    other = water_device(owner_app, "863703030000302", psk="00112233445566778899", is_secure=True)

    async def scenario():
        simulated = await SimulatedDevice(
            other.node_id, ("127.0.0.1", worker.coaps_port), psk=(mine.node_id, bytes.fromhex(PSK_HEX))
        ).open()
        try:
            with pytest.raises(DeviceError, match="is not the endpoint name"):
                await simulated.register()
        finally:
            simulated.close()

    asyncio.run(scenario())
    assert not DeviceSession.objects.filter(device=other).exists()


def test_a_secure_observation_is_not_fed_over_plain_coap(owner_app, worker):
    device = secure_device(owner_app)

    async def scenario():
        simulated = await connect(device.node_id, worker.coaps_port, psk=(device.node_id, bytes.fromhex(PSK_HEX)))
        token = simulated.observe_token
        simulated.close()
        # Someone who learned the token sends a notification on plain CoAP.
        spoof = await SimulatedDevice(device.node_id, ("127.0.0.1", worker.port)).open()
        spoof.observe_token = token
        await spoof.notify(report(reading=666))
        spoof.close()

    asyncio.run(scenario())
    assert not DataHistory.objects.filter(device_id=device.pk).exists()
    assert DeviceLog.objects.filter(device=device, summary__contains="must use CoAPS").exists()


def test_after_a_restart_a_coaps_device_is_reachable_once_it_handshakes_again(owner_app):
    """DTLS sessions live in the worker's memory: after a restart the device's records of the old
    session are dropped (the platform cannot start a handshake), and it is reachable again as soon
    as it handshakes and registers again, which takes milliseconds."""
    import time

    device = secure_device(owner_app)
    worker = WorkerThread().start()
    restarted = []
    key = (device.node_id, bytes.fromhex(PSK_HEX))

    async def scenario():
        simulated = await connect(device.node_id, worker.coaps_port, psk=key, timeout=0.3, retransmits=1)
        await asyncio.to_thread(worker.stop)
        restarted.append(await asyncio.to_thread(WorkerThread, worker.port, worker.coaps_port))
        await asyncio.to_thread(restarted[0].start)
        with pytest.raises(DeviceError):  # the old session is gone: no answer
            await simulated.notify(report(reading=1))
        simulated.close()
        started = time.monotonic()
        again = await connect(device.node_id, worker.coaps_port, psk=key)  # new handshake, registration, observe
        await again.notify(report(reading=2))
        elapsed = time.monotonic() - started
        again.close()
        return elapsed

    try:
        elapsed = asyncio.run(scenario())
    finally:
        for thread in restarted:
            thread.stop()
    print(f"CoAPS device reachable {elapsed * 1000:.0f} ms after it started its new handshake")
    assert elapsed < 2.0
    assert [row.data["currentReading"] for row in DataHistory.objects.filter(device_id=device.pk)] == ["2"]
