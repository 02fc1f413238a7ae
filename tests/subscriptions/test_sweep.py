import datetime as dt

import time_machine

from subscriptions import actions
from subscriptions.delivery import deliver_target
from subscriptions.models import PushMessage, PushState, PushTarget
from subscriptions.tasks import sweep_pushes
from tests.subscriptions.fixtures import data_changed, subscribe

T0 = dt.datetime(2026, 3, 1, 8, 0, 0, tzinfo=dt.UTC)


def test_sweep_wakes_targets_with_due_pushes_only(owner_app, other_app, receiver, second_receiver, no_wake):
    subscribe(owner_app, receiver)
    subscribe(other_app, second_receiver)
    with time_machine.travel(T0, tick=False):
        due = actions.notify(owner_app.application, "deviceDataChanged", data_changed())
        blacklisted = actions.notify(other_app.application, "deviceDataChanged", data_changed())
        PushTarget.objects.filter(pk=blacklisted.target_id).update(blacklisted_until=T0 + dt.timedelta(minutes=3))
        sweep_pushes()
    assert no_wake == [due.target_id]


def test_sweep_wakes_a_target_whose_worker_died_once_the_lease_expires(owner_app, receiver, no_wake, settings):
    subscribe(owner_app, receiver)
    with time_machine.travel(T0, tick=False):
        message = actions.notify(owner_app.application, "deviceDataChanged", data_changed())
        PushMessage.objects.filter(pk=message.pk).update(lease_until=T0 + dt.timedelta(seconds=120))
        sweep_pushes()
    assert no_wake == []
    with time_machine.travel(T0 + dt.timedelta(seconds=121), tick=False):
        sweep_pushes()
        assert no_wake == [message.target_id]
        assert deliver_target(message.target_id) == 1


def test_sweep_gives_up_after_the_maximum_age_and_purges_old_deliveries(owner_app, receiver, no_wake, settings):
    subscribe(owner_app, receiver)
    with time_machine.travel(T0, tick=False):
        stuck = actions.notify(owner_app.application, "deviceDataChanged", data_changed())
        delivered = actions.notify(owner_app.application, "deviceDataChanged", data_changed())
        PushMessage.objects.filter(pk=delivered.pk).update(state=PushState.DELIVERED, delivered_at=T0)
    with time_machine.travel(T0 + dt.timedelta(days=8), tick=False):
        sweep_pushes()
    stuck.refresh_from_db()
    assert stuck.state == PushState.FAILED
    assert "maximum age" in stuck.last_error
    assert not PushMessage.objects.filter(pk=delivered.pk).exists()
