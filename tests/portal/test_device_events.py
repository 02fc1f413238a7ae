"""A device page's websocket (portal.consumers.DeviceEventsConsumer, issue 20 item 3): it hears its own
device only, and only an account that may see the device can open it."""

from __future__ import annotations

import json

import pytest
from django.conf import settings
from django.test import Client
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from applications import events
from applications.redis import get_redis
from devices import actions
from devices.models import Device
from tests.devices.fixtures import register
from tests.platform.running import wait_for
from tests.portal.fixtures import create_personas


def _socket(live_server, device, user=None):
    headers = {"Origin": live_server.url}
    if user is not None:
        client = Client()
        client.force_login(user)
        headers["Cookie"] = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    url = live_server.url.replace("http", "ws") + f"/ws/devices/{device.device_id}/"
    return connect(url, additional_headers=headers, open_timeout=5)


def _events(socket, until: str) -> list[dict]:
    """Events up to and including the first of kind `until`."""
    received = []
    while True:
        received.append(json.loads(socket.recv(timeout=10)))
        if received[-1]["kind"] == until:
            return received


@pytest.fixture
def fleet(transactional_db):
    personas = create_personas()
    mine = register(personas.app, node_id="863703030000001", timeout=0)
    neighbour = register(personas.app, node_id="863703030000002", timeout=0)
    events.flush()
    return personas, mine, neighbour


def test_the_page_hears_its_device_and_not_its_neighbours(live_server, fleet):
    personas, mine, neighbour = fleet
    with _socket(live_server, mine, personas.viewer) as socket, _socket(live_server, neighbour, personas.owner):
        actions.do_bind_device(neighbour)  # the neighbour's page is open too, so its events are sent
        actions.do_bind_device(mine)
        device = Device.objects.select_related("application").get(pk=mine.pk)
        actions.do_store_report(
            device, [actions.ServiceReport("WaterMeter", "WaterMeter", {"currentReading": "7"}, device.bound_at)]
        )
        received = _events(socket, "device.changed")
        received += _events(socket, "device.changed")  # the bind's status change, then the report
    logs = [event["data"] for event in received if event["kind"] == "device.log"]
    assert logs and all(entry["deviceId"] == mine.device_id for entry in logs)
    assert any("bound" in entry["summary"] for entry in logs)
    assert all(set(event) == {"kind", "data", "at"} for event in received)


def test_another_applications_member_cannot_open_it_and_nothing_is_sent(live_server, fleet):
    personas, mine, _ = fleet
    with pytest.raises(InvalidStatus) as refused:
        _socket(live_server, mine, personas.outsider)
    assert refused.value.response.status_code == 403
    with pytest.raises(InvalidStatus):
        _socket(live_server, mine)  # anonymous
    with pytest.raises(InvalidStatus):
        _socket(live_server, type("Unknown", (), {"device_id": "no-such-device"})(), personas.operator)
    # A refused socket watches nothing: the device's events are not even sent.
    assert mine.pk not in events.watched_devices()


def test_an_operator_may_watch_any_device_and_closing_stops_the_sending(live_server, fleet):
    personas, mine, _ = fleet
    with _socket(live_server, mine, personas.operator) as socket:
        assert mine.pk in events.watched_devices()
        events.publish_device(mine.pk, "device.changed", {})
        assert _events(socket, "device.changed")
    key = settings.REDIS_KEY_PREFIX + "live:watched"
    wait_for(lambda: get_redis().zcard(key) == 0, 10, "the closed socket's watch to go")


def test_a_desired_change_through_the_shadow_api_reaches_the_page(live_server, transactional_db, monkeypatch):
    from applications.actions import do_add_member
    from applications.models import Role
    from tests.applications.fixtures import create_app
    from tests.commands.test_shadow_api import _desired, _put, writable_meter_files
    from tests.devices.fixtures import WATER_METER
    from tests.products.fixtures import import_files

    monkeypatch.setattr("subscriptions.actions.wake", lambda *args: None)
    personas = create_personas()
    signed_in = create_app("Shadow utility")  # with an access token, for the northbound call
    do_add_member(signed_in.application, personas.viewer, Role.VIEWER)
    import_files(signed_in, writable_meter_files())
    device = actions.do_bind_device(register(signed_in, info=WATER_METER))
    events.flush()
    with _socket(live_server, device, personas.viewer) as socket:
        response = _put(Client(), signed_in, device.device_id, _desired(highFlow=30))
        assert response.status_code == 200, response.content
        assert _events(socket, "device.changed")
    client = Client()
    client.force_login(personas.viewer)
    desired = client.get(f"/devices/{device.device_id}/live/").content.decode().split('data-live-part="desired"')[1]
    assert 'data-property="WaterMeterAlarm.highFlow"' in desired and "30" in desired
