"""The dashboard's running device counts (devices.counts, issue 20 item 2): kept where devices change,
equal to the database's after every kind of transition, reconciled by beat, per application."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from applications.redis import get_redis
from devices import actions, counts
from devices.models import Device
from devices.tasks import reconcile_counts, sweep_devices
from tests.devices.bulkfiles import create_job, product_rows
from tests.devices.fixtures import register, report, water_meter

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 5, 1, 10, 0, 0, tzinfo=dt.UTC)


def agree(*credentials) -> dict[str, int]:
    """The kept counts of each application equal the database's; returns the first one's."""
    for one in credentials:
        pk = one.application.pk
        assert counts.read(pk) == counts.count([pk])[pk]
    return counts.read(credentials[0].application.pk)


def test_the_counts_follow_every_transition(owner_app, other_app, no_wake, django_capture_on_commit_callbacks):
    def step(action):
        with django_capture_on_commit_callbacks(execute=True):
            return action()

    with time_machine.travel(T0, tick=False):
        assert agree(owner_app) == {"ONLINE": 0, "ABNORMAL": 0, "OFFLINE": 0, "NOT_ACTIVATED": 0}  # kept from now
        agree(other_app)
        first = step(lambda: register(owner_app, node_id="863703030000001", timeout=60))
        second = step(lambda: register(owner_app, node_id="863703030000002", timeout=0))
        third = step(lambda: register(owner_app, node_id="863703030000003", timeout=0))
        step(lambda: register(other_app, node_id="863703040000001", timeout=0))
        assert agree(owner_app, other_app) == {"ONLINE": 0, "ABNORMAL": 0, "OFFLINE": 3, "NOT_ACTIVATED": 3}
        step(lambda: actions.do_bind_device(second))
        step(lambda: actions.do_bind_device(third))
        assert agree(owner_app, other_app) == {"ONLINE": 2, "ABNORMAL": 0, "OFFLINE": 1, "NOT_ACTIVATED": 1}
    with time_machine.travel(T0 + dt.timedelta(seconds=61), tick=False):
        step(sweep_devices)  # the first expires (deleted); the others are not due yet
        assert not Device.objects.filter(pk=first.pk).exists()
        assert agree(owner_app, other_app) == {"ONLINE": 2, "ABNORMAL": 0, "OFFLINE": 0, "NOT_ACTIVATED": 0}
    application = owner_app.application
    with time_machine.travel(T0 + dt.timedelta(seconds=application.abnormal_after + 1), tick=False):
        step(sweep_devices)
        assert agree(owner_app, other_app) == {"ONLINE": 0, "ABNORMAL": 2, "OFFLINE": 0, "NOT_ACTIVATED": 0}
        device = Device.objects.select_related("application").get(pk=second.pk)
        step(lambda: report(device, reading=1))  # ABNORMAL -> ONLINE
        assert agree(owner_app) == {"ONLINE": 1, "ABNORMAL": 1, "OFFLINE": 0, "NOT_ACTIVATED": 0}
        step(lambda: actions.do_set_offline(second.pk, because="de-registered"))
        assert agree(owner_app) == {"ONLINE": 0, "ABNORMAL": 1, "OFFLINE": 1, "NOT_ACTIVATED": 0}
        again = Device.objects.get(pk=second.pk)
        step(lambda: actions.do_refresh_key(again, verify_code="x1", node_id=None, timeout=0))
        assert agree(owner_app) == {"ONLINE": 0, "ABNORMAL": 1, "OFFLINE": 1, "NOT_ACTIVATED": 1}
        step(lambda: actions.do_delete_device(Device.objects.get(pk=third.pk)))
        assert agree(owner_app, other_app) == {"ONLINE": 0, "ABNORMAL": 0, "OFFLINE": 1, "NOT_ACTIVATED": 1}
    assert counts.read(other_app.application.pk) == {"ONLINE": 0, "ABNORMAL": 0, "OFFLINE": 1, "NOT_ACTIVATED": 1}


def test_a_bulk_registration_counts_its_devices(owner_app, no_wake, django_capture_on_commit_callbacks):
    from devices import bulk

    product = water_meter(owner_app)
    agree(owner_app)
    job = create_job(owner_app.application, product_rows(product, 7))
    with django_capture_on_commit_callbacks(execute=True):
        bulk.run_job(job.pk)
    assert agree(owner_app) == {"ONLINE": 0, "ABNORMAL": 0, "OFFLINE": 7, "NOT_ACTIVATED": 7}


def test_beat_reconciles_a_count_changed_behind_its_back(owner_app, other_app, no_wake):
    device = register(owner_app)
    agree(owner_app, other_app)
    Device.objects.filter(pk=device.pk).update(status="ONLINE", activated=True)  # no action, no hook
    assert counts.read(owner_app.application.pk)["ONLINE"] == 0
    reconcile_counts()
    assert agree(owner_app, other_app) == {"ONLINE": 1, "ABNORMAL": 0, "OFFLINE": 0, "NOT_ACTIVATED": 0}
    Device.objects.filter(pk=device.pk).delete()
    reconcile_counts()  # an application with no device left gets zeros, not its old counts
    assert counts.read(owner_app.application.pk)["ONLINE"] == 0
    assert get_redis().exists(counts.counts_key(owner_app.application.pk))
    gone = other_app.application.pk
    other_app.application.delete()
    reconcile_counts()  # a deleted application's counts are dropped
    assert not get_redis().exists(counts.counts_key(gone))


def test_reading_the_counts_is_one_redis_call_and_no_query(owner_app, django_assert_num_queries):
    register(owner_app)
    agree(owner_app)
    with django_assert_num_queries(0):
        assert counts.read(owner_app.application.pk)["OFFLINE"] == 1
