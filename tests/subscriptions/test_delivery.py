"""Delivery from the outbox to a real local receiver, with a controlled clock."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json

import pytest
import time_machine
from django.db import transaction

from applications.models import Application
from subscriptions import actions
from subscriptions.delivery import deliver_target
from subscriptions.models import PushAttempt, PushMessage, PushState, PushTarget
from tests.subscriptions.fixtures import data_changed, subscribe

T0 = dt.datetime(2026, 3, 1, 8, 0, 0, tzinfo=dt.UTC)


def _notify(credentials, number=0, notify_type="deviceDataChanged", **kwargs):
    return actions.notify(credentials.application, notify_type, data_changed(number), **kwargs)


def test_no_subscription_no_push(owner_app, no_wake):
    assert _notify(owner_app) is None
    assert not PushMessage.objects.exists()


def test_a_rolled_back_change_sends_nothing(owner_app, receiver, no_wake):
    subscribe(owner_app, receiver)
    with pytest.raises(RuntimeError), transaction.atomic():
        _notify(owner_app)
        raise RuntimeError("the change failed")
    assert not PushMessage.objects.exists()


def test_commit_wakes_the_targets_worker(owner_app, receiver, no_wake, django_capture_on_commit_callbacks):
    subscribe(owner_app, receiver)
    with django_capture_on_commit_callbacks(execute=True):
        message = _notify(owner_app)
    assert no_wake == [message.target_id]


def test_push_arrives_byte_for_byte_with_its_headers(owner_app, receiver, no_wake):
    subscribe(owner_app, receiver)
    message = _notify(owner_app, 7)

    assert deliver_target(message.target_id) == 1

    [request] = receiver.received
    assert request.path == "/callback"
    assert request.body == (
        b'{"notifyType":"deviceDataChanged","deviceId":"dev-1","gatewayId":"dev-1","requestId":null,'
        b'"service":{"serviceId":"Meter","serviceType":"Meter","data":{"reading":7},"eventTime":"20260101T000000Z"}}'
    )
    assert request.headers["content-type"] == "application/json"
    assert request.headers["x-push-id"] == str(message.push_id)
    assert "x-signature" not in request.headers
    message.refresh_from_db()
    assert message.state == PushState.DELIVERED
    assert message.attempts == 1
    assert PushAttempt.objects.get(message=message).status_code == 200


def test_many_pushes_go_in_one_run(owner_app, receiver, no_wake, django_assert_max_num_queries):
    subscribe(owner_app, receiver)
    for number in range(50):
        message = _notify(owner_app, number)
    with django_assert_max_num_queries(20):
        assert deliver_target(message.target_id) == 50
    assert sorted(json.loads(body)["service"]["data"]["reading"] for body in receiver.bodies()) == list(range(50))


@pytest.mark.parametrize("status", [201, 204, 500, 503, 429])
def test_anything_but_200_is_retried_with_backoff(owner_app, receiver, no_wake, status):
    subscribe(owner_app, receiver)
    receiver.statuses = [status]
    with time_machine.travel(T0, tick=False):
        message = _notify(owner_app)
        assert deliver_target(message.target_id) == 0
    message.refresh_from_db()
    assert message.state == PushState.PENDING
    assert message.last_status_code == status
    assert str(status) in message.last_error
    assert message.next_attempt_at == T0 + dt.timedelta(seconds=10)
    with time_machine.travel(T0 + dt.timedelta(seconds=9), tick=False):
        assert deliver_target(message.target_id) == 0  # not due yet
    with time_machine.travel(T0 + dt.timedelta(seconds=10), tick=False):
        assert deliver_target(message.target_id) == 1
    assert len(receiver.received) == 2
    message.refresh_from_db()
    assert (message.state, message.attempts) == (PushState.DELIVERED, 2)


def test_backoff_grows(owner_app, receiver, no_wake):
    subscribe(owner_app, receiver)
    receiver.status = 500
    with time_machine.travel(T0, tick=False) as clock:
        message = _notify(owner_app)
        waits = []
        for _ in range(4):
            deliver_target(message.target_id)
            message.refresh_from_db()
            waits.append((message.next_attempt_at - dt.datetime.now(dt.UTC)).total_seconds())
            clock.move_to(message.next_attempt_at)
    assert waits == [10, 30, 60, 120]


@pytest.mark.parametrize("status", [400, 404, 410])
def test_client_errors_are_not_retried(owner_app, receiver, no_wake, status):
    subscribe(owner_app, receiver)
    receiver.status = status
    message = _notify(owner_app)
    deliver_target(message.target_id)
    message.refresh_from_db()
    assert message.state == PushState.FAILED
    assert message.last_status_code == status


def test_redirects_are_not_followed(owner_app, receiver, no_wake):
    subscribe(owner_app, receiver)
    receiver.status = 302
    receiver.headers = {"Location": "http://203.0.113.9:80/elsewhere"}
    message = _notify(owner_app)
    deliver_target(message.target_id)
    message.refresh_from_db()
    assert len(receiver.received) == 1
    assert message.state == PushState.FAILED
    assert "redirect to http://203.0.113.9:80/elsewhere not followed" in message.last_error


def test_a_slow_receiver_times_out(owner_app, receiver, no_wake, settings):
    settings.PUSH_READ_TIMEOUT = 1
    subscribe(owner_app, receiver)
    receiver.delay = 2
    message = _notify(owner_app)
    deliver_target(message.target_id)
    message.refresh_from_db()
    assert message.state == PushState.PENDING
    assert "timed out" in message.last_error


def test_a_refused_connection_is_reported(owner_app, no_wake):
    from applications.models import Application as App
    from subscriptions.models import Subscription

    Subscription.objects.create(
        application=owner_app.application, notify_type="deviceDataChanged", callback_url="http://127.0.0.1:9/x"
    )
    assert App.objects.count() >= 1
    message = _notify(owner_app)
    deliver_target(message.target_id)
    message.refresh_from_db()
    assert "connection failed" in message.last_error


def test_ten_consecutive_failures_blacklist_the_target_then_a_probe_every_3_minutes(owner_app, receiver, no_wake):
    subscribe(owner_app, receiver)
    receiver.status = 500
    with time_machine.travel(T0, tick=False) as clock:
        for number in range(12):
            message = _notify(owner_app, number)
        target_id = message.target_id
        deliver_target(target_id)
        target = PushTarget.objects.get(pk=target_id)
        assert target.consecutive_failures == 12
        assert target.blacklisted_until == T0 + dt.timedelta(seconds=180)
        sent = len(receiver.received)

        clock.move_to(T0 + dt.timedelta(seconds=179))
        deliver_target(target_id)
        assert len(receiver.received) == sent  # blacklisted: nothing goes out

        clock.move_to(T0 + dt.timedelta(seconds=180))
        deliver_target(target_id)
        assert len(receiver.received) == sent + 1  # exactly one probe
        assert PushTarget.objects.get(pk=target_id).blacklisted_until == T0 + dt.timedelta(seconds=360)

        receiver.status = 200
        clock.move_to(T0 + dt.timedelta(seconds=360))
        delivered = deliver_target(target_id)
    target.refresh_from_db()
    assert target.blacklisted_until is None
    assert target.consecutive_failures == 0
    assert delivered == 12  # the probe succeeded, the blacklist lifted, everything went out
    assert not PushMessage.objects.filter(state=PushState.PENDING).exists()


def test_nine_failures_then_a_success_do_not_blacklist(owner_app, receiver, no_wake, settings):
    settings.PUSH_CONCURRENCY = 1  # completion order = creation order
    subscribe(owner_app, receiver)
    receiver.statuses = [500] * 9 + [200]
    for number in range(10):
        message = _notify(owner_app, number)
    deliver_target(message.target_id)
    target = PushTarget.objects.get(pk=message.target_id)
    assert (target.consecutive_failures, target.blacklisted_until) == (0, None)


def test_one_commands_callbacks_arrive_in_creation_order(owner_app, receiver, no_wake, settings):
    settings.PUSH_CONCURRENCY = 1  # so the receiver's one 500 goes to cmd-1's first callback
    receiver.statuses = [500]
    with time_machine.travel(T0, tick=False) as clock:
        first = actions.notify_url(owner_app.application, receiver.url(), {"n": 1}, ordering_key="cmd-1")
        actions.notify_url(owner_app.application, receiver.url(), {"n": 2}, ordering_key="cmd-1")
        actions.notify_url(owner_app.application, receiver.url(), {"n": 9}, ordering_key="cmd-2")
        deliver_target(first.target_id)
        # The first callback of cmd-1 failed: the second waits for it; cmd-2 is independent.
        assert sorted(json.loads(body)["n"] for body in receiver.bodies()) == [1, 9]
        clock.move_to(T0 + dt.timedelta(seconds=10))
        deliver_target(first.target_id)
    cmd1 = [json.loads(body)["n"] for body in receiver.bodies() if json.loads(body)["n"] != 9]
    assert cmd1 == [1, 1, 2]


def test_signature_header_when_the_application_has_a_signing_secret(owner_app, receiver, no_wake):
    Application.objects.filter(pk=owner_app.application.pk).update(push_signing_secret="s3cret")
    owner_app.application.refresh_from_db()
    subscribe(owner_app, receiver)
    message = _notify(owner_app)
    deliver_target(message.target_id)
    [request] = receiver.received
    expected = hmac.new(b"s3cret", request.body, hashlib.sha256).hexdigest()
    assert request.headers["x-signature"] == f"sha256={expected}"


def test_private_addresses_are_refused_at_delivery_too(owner_app, receiver, no_wake, settings):
    # Subscribed while allowed (or a name that later resolves privately: DNS rebinding).
    subscribe(owner_app, receiver)
    from subscriptions.models import Subscription

    Subscription.objects.update(callback_url=f"http://localhost:{receiver.port}/callback")
    message = _notify(owner_app)
    settings.PUSH_ALLOW_PRIVATE = False
    deliver_target(message.target_id)
    message.refresh_from_db()
    assert receiver.received == []
    assert "private" in message.last_error


def test_notify_url_applies_the_callback_rules(owner_app, receiver, no_wake):
    from applications.errors import NorthboundError

    subscribe(owner_app, receiver)
    with pytest.raises(NorthboundError) as refused:
        actions.notify_url(owner_app.application, "http://203.0.113.5:1234/cb", {})
    assert refused.value.error_code == "100234"
    with pytest.raises(NorthboundError) as refused:
        actions.notify_url(owner_app.application, f"http://127.0.0.1:{receiver.port}", {})
    assert refused.value.error_code == "100222"


def test_redeliver_sends_a_delivered_push_again(owner_app, receiver, no_wake):
    subscribe(owner_app, receiver)
    message = _notify(owner_app)
    deliver_target(message.target_id)
    actions.do_redeliver(message)
    deliver_target(message.target_id)
    assert len(receiver.received) == 2
    assert receiver.received[0].headers["x-push-id"] == receiver.received[1].headers["x-push-id"]


def test_lifting_the_blacklist_sends_at_once(owner_app, receiver, no_wake):
    subscribe(owner_app, receiver)
    message = _notify(owner_app)
    PushTarget.objects.filter(pk=message.target_id).update(
        consecutive_failures=10, blacklisted_until=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    )
    assert deliver_target(message.target_id) == 0
    actions.do_lift_blacklist(PushTarget.objects.get(pk=message.target_id))
    assert deliver_target(message.target_id) == 1


def test_sample_is_sent_once_and_logged(owner_app, receiver):
    receiver.status = 500
    attempt = actions.do_send_sample(owner_app.application, "deviceAdded", receiver.url("/debug"))
    assert attempt.status_code == 500
    message = PushMessage.objects.get()
    assert message.is_sample and message.state == PushState.FAILED
    assert receiver.received[0].json()["notifyType"] == "deviceAdded"
