"""Standard LwM2M objects through the real `run_ingress`: a product's mapped paths are given
Write-Attributes and observed (composite on a 1.1 client, per path on 1.0), their values land in the
shadow and the history as service data, and LwM2M 1.1 Send is stored the same way (docs/lwm2m-objects.md)."""

from __future__ import annotations

import asyncio

import pytest
from django.db import connections

from devices.models import DataHistory, Device, DeviceLog
from tests.ingress.standard_client import StandardClient
from tests.products.lwm2m_fixtures import standard_device

pytestmark = pytest.mark.django_db(transaction=True)

IMEI = "867724030023999"
MAPPED = ["/3303/0/5700", "/3303/0/5701", "/3304/0/5700", "/3316/0/5700", "/3/0/9", "/3/0/0"]


def _shadow(device: Device, service: str) -> dict:
    try:
        return Device.objects.get(pk=device.pk).shadow.get(service, {}).get("data", {})
    finally:
        connections.close_all()


async def _until(condition, seconds: float = 20.0):
    """Poll a database condition from the event loop's thread pool until it holds."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        value = await asyncio.to_thread(condition)
        if value:
            return value
        assert asyncio.get_running_loop().time() < deadline, "timed out waiting"
        await asyncio.sleep(0.05)


@pytest.fixture
def port(ingress):
    _, port = ingress(workers=1)
    return port


@pytest.mark.parametrize("version", ["1.1", "1.0"])
def test_mapped_paths_get_write_attributes_are_observed_and_land_in_the_shadow_and_history(owner_app, port, version):
    device = standard_device(owner_app, IMEI)

    async def scenario():
        client = await StandardClient(f"urn:imei:{IMEI}", ("127.0.0.1", port), version=version).start()
        try:
            await _until(lambda: _shadow(device, "Temperature").get("temperature") == 21.5)
            await _until(lambda: _shadow(device, "Voltage").get("voltage") == 3.3)
            client.set("/3303/0/5700", 23.25)
            await _until(lambda: _shadow(device, "Temperature").get("temperature") == 23.25)
            client.set("/3316/0/5700", 3.7)
            await _until(lambda: _shadow(device, "Voltage").get("voltage") == 3.7)
        finally:
            await client.stop()
        return client

    client = asyncio.run(scenario())

    # Write-Attributes: the platform's defaults under the product's, under the path's own.
    assert client.attributes["/3303/0/5700"] == {"pmin": "60", "pmax": "3600", "st": "0.5"}
    assert client.attributes["/3316/0/5700"] == {"pmin": "60", "pmax": "3600", "gt": "3.6", "lt": "3"}
    assert set(client.attributes) == set(MAPPED)
    if version == "1.1":
        assert sorted(client.composite) == sorted(MAPPED) and client.observed == []
    else:
        assert client.composite == [] and sorted(client.observed) == sorted(MAPPED)
    shadow = Device.objects.get(pk=device.pk).shadow
    assert shadow["Device"]["data"] == {"battery": 87, "manufacturer": "Standard Sensors"}
    assert shadow["Humidity"]["data"] == {"humidity": 40.0}
    temperatures = [
        row.data["temperature"]
        for row in DataHistory.objects.filter(device_id=device.pk, service_id="Temperature").order_by("id")
        if "temperature" in row.data
    ]
    assert temperatures[0] == 21.5 and temperatures[-1] == 23.25
    logged = DeviceLog.objects.get(device=device, summary__startswith="standard objects:").summary
    assert "Write-Attributes /3303/0/5700?pmin=60&pmax=3600&st=0.5 2.04" in logged
    assert ("composite /3303/0/5700" in logged) == (version == "1.1")


def test_a_send_is_stored_before_it_is_answered_and_an_unregistered_sender_is_refused(owner_app, port):
    device = standard_device(owner_app, IMEI)

    async def scenario():
        client = await StandardClient(f"urn:imei:{IMEI}", ("127.0.0.1", port)).start()
        stranger = StandardClient("nobody", ("127.0.0.1", port))
        try:
            await _until(lambda: _shadow(device, "Humidity").get("humidity") == 40.0)
            answer = await client.send({"/3304/0/5700": 55.5, "/3/0/9": 80})
            humidity = await asyncio.to_thread(lambda: _shadow(device, "Humidity").get("humidity"))
            import aiocoap

            stranger.context = await aiocoap.Context.create_client_context()
            refused = await stranger.send({"/3304/0/5700": 1.0})
        finally:
            await client.stop()
            await stranger.context.shutdown()
        return answer, humidity, refused

    answer, humidity, refused = asyncio.run(scenario())

    assert str(answer.code.dotted) == "2.04"
    assert humidity == 55.5  # stored when the answer came
    assert Device.objects.get(pk=device.pk).shadow["Device"]["data"]["battery"] == 80
    assert str(refused.code.dotted) == "4.03"
    assert b"no registration" in refused.payload


def test_the_projects_simulator_as_a_standard_client_falls_back_to_per_path_observe_and_notifies(owner_app, port):
    from ingress.simulator import STANDARD_VALUES, SimulatedDevice

    device = standard_device(owner_app, IMEI)

    async def scenario():
        simulated = SimulatedDevice(
            f"urn:imei:{IMEI}", ("127.0.0.1", port), client="1.1", standard_values=dict(STANDARD_VALUES)
        )
        await simulated.open()
        await simulated.register()
        try:
            await _until(lambda: _shadow(device, "Temperature").get("temperature") == 21.5)
            await _until(lambda: len(simulated.standard_tokens) == len(MAPPED))
            await simulated.notify_standard("/3303/0/5700", 24.5)
            await _until(lambda: _shadow(device, "Temperature").get("temperature") == 24.5)
        finally:
            simulated.close()
        return simulated

    simulated = asyncio.run(scenario())

    assert set(simulated.standard_attributes) == set(MAPPED)
    assert simulated.standard_attributes["/3303/0/5700"] == {"pmin": "60", "pmax": "3600", "st": "0.5"}
    assert Device.objects.get(pk=device.pk).shadow["Device"]["data"] == {
        "battery": 90,
        "manufacturer": "Simulated Sensors",
    }
    logged = DeviceLog.objects.get(device=device, summary__startswith="standard objects:").summary
    assert "composite refused (4.05), per path:" in logged and "/3316/0/5700 2.05" in logged


def test_lwm2m_node_lib_with_ipso_objects_is_observed_per_path_and_its_values_stored(owner_app, port):
    """lwm2m-node-lib (npm, tests/peers) exposing objects 3, 3303, 3304 and 3316 as a 1.0 client."""
    import json
    import os
    import subprocess

    from portal.env import BASE_DIR

    peers = BASE_DIR / "tests" / "peers"
    assert (peers / "node_modules" / "lwm2m-node-lib").exists(), "run: npm ci --prefix tests/peers"
    device = standard_device(owner_app, IMEI)
    client = subprocess.Popen(
        ["node", str(peers / "lwm2m_ipso_client.js"), "127.0.0.1", str(port), f"urn:imei:{IMEI}"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )

    def event(name: str) -> dict:
        while True:
            line = client.stdout.readline()
            assert line, "the client exited"
            if line.startswith('{"event"'):
                found = json.loads(line)
                assert found["event"] != "error", found
                if found["event"] == name:
                    return found

    def until(condition):
        return asyncio.run(_until(condition))

    try:
        event("registered")
        until(lambda: _shadow(device, "Temperature").get("temperature") == 19.5)
        until(lambda: _shadow(device, "Voltage").get("voltage") == 3.25)
        client.stdin.write("set 3303/0 5700 22.75\n")
        client.stdin.flush()
        event("set")
        until(lambda: _shadow(device, "Temperature").get("temperature") == 22.75)
    finally:
        client.stdin.write("quit\n")
        client.stdin.flush()
        client.wait(timeout=10)

    shadow = Device.objects.get(pk=device.pk).shadow
    assert shadow["Device"]["data"] == {"battery": 77, "manufacturer": "npm client"}
    assert shadow["Humidity"]["data"] == {"humidity": 51.0}
    logged = DeviceLog.objects.get(device=device, summary__startswith="standard objects:").summary
    assert "Write-Attributes /3303/0/5700?pmin=60&pmax=3600&st=0.5 2.04" in logged  # it took them
    assert "observing /3303/0/5700 2.05" in logged  # per path (a 1.0 client)
