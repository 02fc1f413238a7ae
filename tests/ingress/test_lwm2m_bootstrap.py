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
from ingress.formats import parse_tlv
from ingress.lwm2m_bootstrap import chosen_instance, discovered_instances
from ingress.models import BootstrapDevice, DeviceSession
from ingress.simulator import DeviceError, SimulatedDevice
from tests.ingress.fixtures import free_udp_port, water_device
from tests.metrics import wait_for

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


def _bootstrap_log(device):
    def read():
        try:
            return (
                DeviceLog.objects.filter(device=device, summary__startswith="bootstrap:")
                .values_list("summary", flat=True)
                .first()
            )
        finally:
            connections.close_all()

    return read


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
    logged = wait_for(_bootstrap_log(device), bool, within=10)
    assert logged == (
        "bootstrap: Discover /0 2.05; Discover /1 2.05; PUT /0 (instance 1) 2.04; PUT /1 (instance 0) 2.04; "
        "POST /bs 2.04"
    )


def test_the_bootstrap_session_ends_after_finish_so_a_client_on_the_same_port_registers_through_a_new_one(
    owner_app, ports
):
    """Wakaama's tinydtls client keeps one DTLS state per server address and one socket: the platform
    ends the bootstrap session (close_notify) and the client handshakes again with its new PSK."""
    _, coaps = ports
    device = water_device(owner_app, IMEI, psk=DEVICE_PSK, is_secure=True)
    assert _enable(owner_app, device).json() == {"enabled": True}

    async def scenario():
        client = await SimulatedDevice(
            IMEI, ("127.0.0.1", coaps), client="1.1", psk=("factory", bytes.fromhex(BOOTSTRAP_PSK))
        ).open()
        try:
            port = client.local_port
            await client.request_bootstrap()
            await asyncio.wait_for(client.bootstrapped.wait(), 20)
            await asyncio.wait_for(client.session_closed.wait(), 10)
            _, identity, key = client.bootstrap_account()
            await client.handshake_again((identity, key))
            return port, client.local_port, await client.register()
        finally:
            client.close()

    before, after, registered = asyncio.run(scenario())

    assert before == after and str(registered.code.dotted) == "2.01"
    assert DeviceSession.objects.get(device=device).secure


@pytest.mark.parametrize(
    ("held", "security", "server", "discovered"),
    [
        # Anjay 3.14's demo client keeps its bootstrap account at /0/1: the server account goes beside it.
        ({0: {1: None}, 1: {}}, 0, 0, "Discover /0 2.05; Discover /1 2.05"),
        # provisioned before: the accounts holding short server id 1 are replaced in place.
        ({0: {0: None, 2: 1, 3: 7}, 1: {3: 1, 4: 7}}, 2, 3, "Discover /0 2.05; Discover /1 2.05"),
        # no Bootstrap-Discover (a 1.0 client): /0/1 and /1/0, said in the log.
        (None, 1, 0, "Discover /0 4.05 (instance 1 assumed); Discover /1 4.05 (instance 0 assumed)"),
    ],
)
def test_bootstrap_discovers_the_instances_and_keeps_the_devices_bootstrap_account(
    owner_app, ports, held, security, server, discovered
):
    _, coaps = ports
    device = water_device(owner_app, IMEI, psk=DEVICE_PSK, is_secure=True)
    assert _enable(owner_app, device).json() == {"enabled": True}

    async def scenario():
        factory = await SimulatedDevice(
            IMEI, ("127.0.0.1", coaps), client="1.1", psk=("factory", bytes.fromhex(BOOTSTRAP_PSK))
        ).open()
        factory.bootstrap_instances = (
            None if held is None else {object_id: dict(instances) for object_id, instances in held.items()}
        )
        await factory.request_bootstrap()
        await asyncio.wait_for(factory.bootstrapped.wait(), 20)
        factory.close()
        return factory

    factory = asyncio.run(scenario())

    [(_, security_written, _)] = parse_tlv(factory.bootstrap_writes["/0"])
    [(_, server_written, _)] = parse_tlv(factory.bootstrap_writes["/1"])
    assert (security_written, server_written) == (security, server)
    if held is not None:
        bootstrap_accounts = [instance for instance, ssid in held[0].items() if ssid is None]
        assert all(factory.bootstrap_instances[0][instance] is None for instance in bootstrap_accounts)
        assert factory.bootstrap_instances[0][security] == 1 and factory.bootstrap_instances[1][server] == 1
    logged = wait_for(_bootstrap_log(device), bool, within=10)  # written after the Finish's answer
    assert logged == (
        f"bootstrap: {discovered}; PUT /0 (instance {security}) 2.04; PUT /1 (instance {server}) 2.04; POST /bs 2.04"
    )


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


def test_discovered_instances_read_both_versions_answers():
    anjay = b'</>;lwm2m=1.2,</0>,</0/1>;uri="coaps://127.0.0.1:5684",</0/4>;ssid=1;uri="coaps://a,b"'
    wakaama_10 = b'lwm2m="1.0",</0/0>,</0/3>;ssid=7,</1/3>;ssid=7'

    assert discovered_instances(anjay, 0) == {1: None, 4: 1}
    assert discovered_instances(wakaama_10, 0) == {0: None, 3: 7}
    assert discovered_instances(wakaama_10, 1) == {3: 7}
    assert chosen_instance({1: None}) == 0
    assert chosen_instance({0: None, 1: 7, 2: None}) == 3
    assert chosen_instance({0: None, 5: 1}) == 5
    assert chosen_instance({}) == 0
