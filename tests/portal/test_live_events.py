"""Live events reach the browser's websocket from another process (a management command)."""

from __future__ import annotations

import json

import pytest
from django.conf import settings
from django.test import Client
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from applications import events
from tests.conftest import manage
from tests.portal.fixtures import create_personas as _create_personas


def create_personas():
    personas = _create_personas()
    events.flush()  # their application.created events leave before the sockets under test connect
    return personas


def _socket(live_server, user=None):
    headers = {"Origin": live_server.url}
    if user is not None:
        client = Client()
        client.force_login(user)
        headers["Cookie"] = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    return connect(live_server.url.replace("http", "ws") + "/ws/events/", additional_headers=headers, open_timeout=5)


def _receive(socket, *kinds: str) -> dict:
    """The next event of one of `kinds`; events of other test runs sharing the Redis are skipped."""
    while True:
        event = json.loads(socket.recv(timeout=10))
        if event["kind"] in kinds:
            return event


def _send_event(app_id: str, kind: str, data: dict) -> None:
    result = manage("send_event", app_id, kind, "--data", json.dumps(data), timeout=60)
    assert result.returncode == 0, result.stderr


def test_member_receives_its_applications_event_sent_by_another_process(live_server):
    personas = create_personas()
    with _socket(live_server, personas.owner) as socket:
        _send_event(personas.app.app_id, "maintenance.notice", {"text": "hello"})
        event = _receive(socket, "maintenance.notice")
    assert event["kind"] == "maintenance.notice"
    assert event["data"] == {"text": "hello"}
    assert event["application"] == personas.app.application.pk


def test_member_of_another_application_does_not_receive_it(live_server):
    personas = create_personas()
    with _socket(live_server, personas.outsider) as socket:
        _send_event(personas.app.app_id, "secret.thing", {})
        _send_event(personas.other_app.app_id, "own.thing", {})
        # Events of one publisher arrive in order: had the first leaked, it would come first.
        assert _receive(socket, "secret.thing", "own.thing")["kind"] == "own.thing"


def test_operator_receives_every_applications_events(live_server):
    personas = create_personas()
    with _socket(live_server, personas.operator) as socket:
        _send_event(personas.other_app.app_id, "any.thing", {})
        assert _receive(socket, "any.thing")["kind"] == "any.thing"


def test_anonymous_socket_is_refused(live_server):
    with pytest.raises(InvalidStatus) as refused:
        _socket(live_server)
    assert refused.value.response.status_code == 403


def test_send_event_names_a_bad_app_id(transactional_db):
    result = manage("send_event", "NoSuchApp", "x")
    assert result.returncode != 0
    assert "no application has appId 'NoSuchApp'" in result.stderr


def test_events_leave_in_the_order_published_over_one_connection(db, django_capture_on_commit_callbacks):
    """A burst of events (a command creation each, under load) leaves in turn: in order, batched, and
    without a Redis connection per event."""
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(events.app_group(424242), channel)
    with django_capture_on_commit_callbacks(execute=True):
        for number in range(40):
            events.publish(424242, "test.burst", {"n": number})
    events.flush()

    async def sent_on_the_events_loop() -> int:
        pool = layer.connection(0).connection_pool
        return len(pool._available_connections) + len(pool._in_use_connections)

    import asyncio

    with events._lock:
        loop = events._background_loop()
    connections = asyncio.run_coroutine_threadsafe(sent_on_the_events_loop(), loop).result(5)
    received = []
    while len(received) < 40:
        message = async_to_sync(layer.receive)(channel)
        batch = message["events"] if message["type"] == "live.batch" else [message]
        received += [event["data"]["n"] for event in batch]
    assert received == list(range(40))
    assert connections == 1


def test_a_burst_published_together_reaches_the_browser_one_event_at_a_time(live_server):
    """Events published within BATCH_SECONDS travel as one live.batch message: the socket still
    gets each, in order, as it was published."""
    from django.db import transaction

    personas = create_personas()
    with _socket(live_server, personas.owner) as socket:
        with transaction.atomic():  # all five leave at its commit, in one batch
            for number in range(5):
                events.publish(personas.app.application.pk, "burst.item", {"n": number})
        received = [_receive(socket, "burst.item")["data"]["n"] for _ in range(5)]
    assert received == [0, 1, 2, 3, 4]
