"""The push worker counts delivered and failed attempts per application and minute for the dashboard."""

from __future__ import annotations

import datetime as dt

import time_machine

from applications import metrics
from subscriptions import actions
from subscriptions.delivery import deliver_target
from tests.subscriptions.fixtures import data_changed, subscribe

T0 = dt.datetime(2026, 3, 1, 8, 0, 30, tzinfo=dt.UTC)


def _pushes(credentials, count):
    return [actions.notify(credentials.application, "deviceDataChanged", data_changed(n)) for n in range(count)]


def test_delivered_and_failed_attempts_are_counted_for_their_application(
    owner_app, other_app, receiver, no_wake, django_capture_on_commit_callbacks
):
    # given three pushes of which the receiver refuses one, and an application with none
    subscribe(owner_app, receiver)
    receiver.statuses = [200, 500, 200]
    with time_machine.travel(T0, tick=False):
        messages = _pushes(owner_app, 3)

        # when the worker delivers them
        with django_capture_on_commit_callbacks(execute=True):
            assert deliver_target(messages[0].target_id) == 2  # delivered
        assert len(receiver.received) == 3

    # then the next minute reads 2 delivered and 1 failed for that application only
    names = [metrics.PUSHES_DELIVERED, metrics.PUSHES_FAILED]
    after = T0 + dt.timedelta(minutes=1)
    counts = metrics.recent(names, owner_app.application.pk, minutes=2, now=after)
    assert counts == {metrics.PUSHES_DELIVERED: [0, 2], metrics.PUSHES_FAILED: [0, 1]}
    assert metrics.recent(names, other_app.application.pk, minutes=2, now=after) == {
        metrics.PUSHES_DELIVERED: [0, 0],
        metrics.PUSHES_FAILED: [0, 0],
    }


def test_a_delivery_rolled_back_counts_nothing(owner_app, receiver, no_wake):
    # on_commit callbacks do not run inside the test's transaction: nothing committed, nothing counted
    subscribe(owner_app, receiver)
    with time_machine.travel(T0, tick=False):
        messages = _pushes(owner_app, 1)
        assert deliver_target(messages[0].target_id) == 1
    counts = metrics.recent([metrics.PUSHES_DELIVERED], owner_app.application.pk, now=T0 + dt.timedelta(minutes=1))
    assert sum(counts[metrics.PUSHES_DELIVERED]) == 0
