"""The LwM2M bootstrap server through the real `run_ingress` over CoAPS: a device with bootstrap enabled
asks with the bootstrap PSK, gets its Security (/0) and Server (/1) objects written and Bootstrap-Finish,
then registers with the identity and PSK it was given; unknown endpoints, devices without bootstrap and
plain CoAP are refused and logged."""

from __future__ import annotations

import asyncio
import json

import pytest
from django.db import connections
from django.test import Client

from devices.models import DeviceLog
from ingress.models import BootstrapDevice, DeviceSession
from ingress.simulator import DeviceError, SimulatedDevice
from tests.ingress.fixtures import free_udp_port, water_device

pytestmark = pytest.mark.django_db(transaction=True)

IMEI = "867724030029911"
DEVICE_PSK = "a1b2c3d4e5f60718"
BOOTSTRAP_PSK = "b0075742a9"


@pytest.fixture
def ports(ingress):
    coaps = free_udp_port()
    _, port = ingress(
        workers=1, COAPS_PORT=str(coaps), LWM2M_BOOTSTRAP_IDENTITY="factory", LWM2M_BOOTSTRAP_PSK=BOOTSTRAP_PSK
    )
    return port, coaps


def _enable(credentials, device, enabled=True):
    try:
        return Client(headers=credentials.headers()).put(
            f"/api/v1/devices/{device.device_id}/lwm2m/bootstrap",
            json.dumps({"enabled": enabled}),
            content_type="application/json",
        )
    finally:
        connections.close_all()


def test_bootstrap_writes_security_and_server_then_the_device_registers_with_the_written_psk(owner_app, ports):
    _, coaps = ports
    device = water_device(owner_app, IMEI, psk=DEVICE_PSK, is_secure=True)
    assert _enable(owner_app, device).json() == {"enabled": True}

    async def scenario():
        factory = await SimulatedDevice(
            IMEI, ("127.0.0.1", coaps), client="1.1", psk=("factory", bytes.fromhex(BOOTSTRAP_PSK))
        ).open()
        asked = await factory.request_bootstrap()
        await asyncio.wait_for(factory.bootstrapped.wait(), 20)
        factory.close()
        uri, identity, key = factory.bootstrap_account()
        server_port = int(uri.rsplit(":", 1)[1])
        device_side = await SimulatedDevice(IMEI, ("127.0.0.1", server_port), client="1.1", psk=(identity, key)).open()
        registered = await device_side.register()
        device_side.close()
        return asked, factory.bootstrap_writes, (uri, identity, key), registered

    asked, writes, account, registered = asyncio.run(scenario())

    assert str(asked.code.dotted) == "2.04"
    assert set(writes) == {"/0", "/1"}
    assert account == (f"coaps://127.0.0.1:{coaps}", IMEI, bytes.fromhex(DEVICE_PSK))
    assert str(registered.code.dotted) == "2.01"
    assert DeviceSession.objects.get(device=device).secure
    assert BootstrapDevice.objects.get(device=device).bootstrapped_at is not None
    logged = DeviceLog.objects.get(device=device, summary__startswith="bootstrap:").summary
    assert logged == "bootstrap: PUT /0 2.04; PUT /1 2.04; POST /bs 2.04"


def test_bootstrap_is_refused_for_unknown_endpoints_devices_without_it_and_plain_coap(owner_app, ports):
    port, coaps = ports
    device = water_device(owner_app, IMEI, psk=DEVICE_PSK, is_secure=True)  # bootstrap not enabled

    async def ask(endpoint: str, server_port: int, psk) -> str:
        simulated = await SimulatedDevice(endpoint, ("127.0.0.1", server_port), client="1.1", psk=psk).open()
        try:
            answer = await simulated.request_bootstrap()
            return f"{answer.code.dotted} {answer.payload.decode()}"
        except DeviceError as problem:
            return str(problem)
        finally:
            simulated.close()

    bootstrap_psk = ("factory", bytes.fromhex(BOOTSTRAP_PSK))
    not_enabled = asyncio.run(ask(IMEI, coaps, bootstrap_psk))
    unknown = asyncio.run(ask("867724030000000", coaps, bootstrap_psk))
    plain = asyncio.run(ask(IMEI, port, None))
    device_psk = asyncio.run(ask(IMEI, coaps, (IMEI, bytes.fromhex(DEVICE_PSK))))

    assert not_enabled == "4.03 bootstrap is not enabled for this device"
    assert unknown == "4.03 unknown endpoint '867724030000000'"
    assert plain == "4.03 bootstrap needs CoAPS with the bootstrap PSK"
    assert device_psk == "4.03 bootstrap needs CoAPS with the bootstrap PSK"
    assert DeviceLog.objects.filter(
        device=device, summary="bootstrap refused: bootstrap is not enabled for this device"
    ).exists()


def test_enabling_needs_a_psk_and_is_scoped_to_the_application(owner_app, db):
    from devices.models import Device
    from tests.applications.fixtures import create_app

    without_psk = water_device(owner_app, "867724030029912")
    Device.objects.filter(pk=without_psk.pk).update(psk_encrypted="")  # registration gave it one
    without_psk.refresh_from_db()
    response = _enable(owner_app, without_psk)
    assert response.status_code == 400 and "needs a psk" in response.json()["error_desc"]
    device = water_device(owner_app, IMEI, psk=DEVICE_PSK)
    other = create_app("Other")
    assert _enable(other, device).status_code != 200
    assert not BootstrapDevice.objects.exists()
