"""A mapped product's standard-object observations across the session's life, through the real `run_ingress`:
stored with the session, so an ingress killed and started again stores (and acknowledges) the next
notification; observed again by a registration Update whose objects changed or that finds none held, and
not by one that changes nothing (docs/lwm2m-objects.md, "What is observed, when")."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest
from django.db import connections

from devices.models import Device, DeviceLog
from ingress.models import DeviceSession
from ingress.sessions import observations_of
from tests.ingress.standard_client import StandardClient
from tests.ingress.test_standard_objects import IMEI, MAPPED, _shadow, _until
from tests.products.lwm2m_fixtures import standard_device

pytestmark = pytest.mark.django_db(transaction=True)


def _observed_paths(device: Device) -> list[str]:
    """The mapped paths the session's stored observations cover."""
    try:
        stored = DeviceSession.objects.filter(device=device).values_list("observations", flat=True).first()
        return sorted(path for observation in observations_of(stored) for path in observation.covers)
    finally:
        connections.close_all()


def _summaries(device: Device) -> list[str]:
    try:
        return list(
            DeviceLog.objects.filter(device=device, summary__startswith="standard objects:")
            .order_by("id")
            .values_list("summary", flat=True)
        )
    finally:
        connections.close_all()


@pytest.mark.parametrize("version", ["1.1", "1.0"])
def test_after_a_sigkill_and_a_restart_the_next_notification_is_stored_and_acknowledged(owner_app, ingress, version):
    device = standard_device(owner_app, IMEI)
    process, port = ingress(workers=1)

    async def scenario():
        client = await StandardClient(f"urn:imei:{IMEI}", ("127.0.0.1", port), version=version).start()
        try:
            await _until(lambda: _observed_paths(device) == sorted(MAPPED))
            # given: the ingress dies without a word, and starts again on the same port
            os.killpg(process.pid, signal.SIGKILL)
            await asyncio.to_thread(process.wait)
            await asyncio.to_thread(ingress, 1, port)
            # when: the device notifies on the observation it holds
            client.set("/3303/0/5700", 30.5)
            # then: stored; and acknowledged, not reset (a reset ends the observation: the next would not come)
            await _until(lambda: _shadow(device, "Temperature").get("temperature") == 30.5, 40)
            client.set("/3303/0/5700", 31.25)
            await _until(lambda: _shadow(device, "Temperature").get("temperature") == 31.25, 40)
            client.set("/3316/0/5700", 3.9)
            await _until(lambda: _shadow(device, "Voltage").get("voltage") == 3.9, 40)
        finally:
            await client.stop()
        return client

    client = asyncio.run(scenario())

    # The restarted worker observed nothing again: the device's own observations carried on.
    assert sorted(client.observe_requests) == ([] if version == "1.1" else sorted(MAPPED))
    assert [sorted(paths) for paths in client.composite_requests] == ([sorted(MAPPED)] if version == "1.1" else [])
    assert sorted(client.attribute_writes) == sorted(MAPPED)


def test_an_update_with_changed_objects_observes_the_new_paths_and_one_with_the_same_links_does_not(owner_app, ingress):
    device = standard_device(owner_app, IMEI)
    _, port = ingress(workers=1)
    first = ("/1/0", "/3/0", "/3303/0")
    before = ["/3/0/0", "/3/0/9", "/3303/0/5700", "/3303/0/5701"]

    async def scenario():
        client = await StandardClient(f"urn:imei:{IMEI}", ("127.0.0.1", port), version="1.0", objects=first).start()
        try:
            await _until(lambda: _observed_paths(device) == before)
            # given: an Update with the same links (a wake-up), then one that lists Humidity too
            assert str((await client.update(first)).code.dotted) == "2.04"
            assert str((await client.update((*first, "/3304/0"))).code.dotted) == "2.04"
            await _until(lambda: _observed_paths(device) == sorted([*before, "/3304/0/5700"]))
            client.set("/3304/0/5700", 61.0)
            await _until(lambda: _shadow(device, "Humidity").get("humidity") == 61.0)
            added = list(client.observe_requests), list(client.attribute_writes)
            # when: an Update that no longer lists Temperature
            assert str((await client.update(("/1/0", "/3/0", "/3304/0"))).code.dotted) == "2.04"
            await _until(lambda: _observed_paths(device) == ["/3/0/0", "/3/0/9", "/3304/0/5700"])
            await _until(lambda: len(_summaries(device)) >= 3)  # logged once stored
        finally:
            await client.stop()
        return client, added

    client, (observes, writes) = asyncio.run(scenario())

    # Only the new object's path: Write-Attributes once, observed once; the others' observations kept.
    assert sorted(observes) == sorted([*before, "/3304/0/5700"])
    assert sorted(writes) == sorted([*before, "/3304/0/5700"])
    assert client.attributes["/3304/0/5700"] == {"pmin": "60", "pmax": "3600"}
    # Removing an object asks nothing of the device.
    assert sorted(client.observe_requests) == sorted(observes) and client.attribute_writes == writes
    summaries = _summaries(device)
    assert len(summaries) == 3  # the registration, the added object, the removed one: not the same-links Update
    assert summaries[1].startswith("standard objects: objects +3304: Write-Attributes /3304/0/5700?pmin=60")
    assert "observing /3304/0/5700 2.05" in summaries[1]
    assert summaries[2].startswith("standard objects: objects -3303: observing nothing new")


def test_an_update_after_the_observations_were_lost_observes_again_without_new_write_attributes(owner_app, ingress):
    device = standard_device(owner_app, IMEI)
    _, port = ingress(workers=1)

    async def scenario():
        client = StandardClient(f"urn:imei:{IMEI}", ("127.0.0.1", port), version="1.0")
        client.answers_observe = False  # given: not ready at its registration, every observe refused 5.03
        await client.start()
        try:
            await _until(lambda: len(_summaries(device)) == 1)
            refused = await asyncio.to_thread(_observed_paths, device)
            client.answers_observe = True
            # when: its next Update
            assert str((await client.update()).code.dotted) == "2.04"
            await _until(lambda: _observed_paths(device) == sorted(MAPPED))
            await _until(lambda: len(_summaries(device)) >= 2)  # logged once stored
            client.set("/3303/0/5700", 18.0)
            await _until(lambda: _shadow(device, "Temperature").get("temperature") == 18.0)
        finally:
            await client.stop()
        return client, refused

    client, refused = asyncio.run(scenario())

    assert refused == []
    assert sorted(client.observe_requests) == sorted(MAPPED + MAPPED)  # refused once each, then taken
    assert sorted(client.attribute_writes) == sorted(MAPPED)  # set once, at the registration
    summaries = _summaries(device)
    assert "/3303/0/5700 5.03" in summaries[0]
    assert summaries[1].startswith("standard objects: no observation held: observing /")
    assert "Write-Attributes" not in summaries[1] and "/3303/0/5700 2.05" in summaries[1]
