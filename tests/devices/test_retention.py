"""History retention (F-4.9): whole day partitions dropped past the longest retention, shorter ones
deleted in batches; partitions made ahead; device logs follow."""

import datetime as dt

import time_machine

from applications.models import Application
from devices import actions, history
from devices.models import DataHistory, Device, DeviceLog
from devices.tasks import maintain_history
from tests.devices.fixtures import register, report

T0 = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


def _reporting_device(credentials, node_id):
    device = actions.do_bind_device(register(credentials, node_id))
    return Device.objects.select_related("application").get(pk=device.pk)


def test_retention_drops_old_partitions_and_trims_shorter_retentions(owner_app, other_app, no_wake):
    Application.objects.filter(pk=owner_app.application.pk).update(data_retention_days=3)
    Application.objects.filter(pk=other_app.application.pk).update(data_retention_days=10)
    short, long = _reporting_device(owner_app, "short"), _reporting_device(other_app, "long")
    for days_ago in (20, 8, 5, 1):
        with time_machine.travel(T0 - dt.timedelta(days=days_ago), tick=False):
            report(short, reading=days_ago)
            report(long, reading=days_ago)
    with time_machine.travel(T0, tick=False):
        result = maintain_history()
    # The 20-day-old partition is past everyone's retention: dropped whole.
    assert result["dropped"] >= 1
    assert ("devices_datahistory_p20260209", dt.date(2026, 2, 9)) not in history.partitions()
    # 10 days for one application, 3 for the other: its 5- and 8-day-old rows are deleted.
    assert sorted(DataHistory.objects.filter(device_id=long.pk).values_list("data__reading", flat=True)) == [1, 5, 8]
    assert list(DataHistory.objects.filter(device_id=short.pk).values_list("data__reading", flat=True)) == [1]
    # Partitions exist ahead for the coming days.
    assert ("devices_datahistory_p20260304", dt.date(2026, 3, 4)) in history.partitions()


def test_a_devices_data_aging_time_shortens_its_retention(owner_app, no_wake):
    device = _reporting_device(owner_app, "aging")
    Device.objects.filter(pk=device.pk).update(data_aging_days=1)
    for days_ago in (3, 0):
        with time_machine.travel(T0 - dt.timedelta(days=days_ago), tick=False):
            report(device, reading=days_ago)
    with time_machine.travel(T0, tick=False):
        maintain_history()
    assert list(DataHistory.objects.filter(device_id=device.pk).values_list("data__reading", flat=True)) == [0]


def test_device_logs_follow_the_retention(owner_app, no_wake):
    Application.objects.filter(pk=owner_app.application.pk).update(data_retention_days=2)
    other = Application.objects.create(app_id="keeper", name="keeper", secret_hash="x", data_retention_days=30)
    device = _reporting_device(owner_app, "logs")
    DeviceLog.objects.filter(device=device).update(created_at=T0 - dt.timedelta(days=5))
    with time_machine.travel(T0, tick=False):
        maintain_history()
    assert not DeviceLog.objects.filter(device=device).exists()
    assert other.pk


def test_retention_in_batches_resumes_after_the_last_deleted_row_and_misses_none(owner_app, other_app, no_wake):
    """By received_at, batch after batch, rows sharing one received_at (a stored batch) across a batch
    boundary included: every row before the cutoff goes, the rest and the other application's stay."""
    mine, theirs = _reporting_device(owner_app, "mine"), _reporting_device(other_app, "theirs")
    for minutes_ago in (50, 40, 30, 20, 10):
        with time_machine.travel(T0 - dt.timedelta(days=2, minutes=minutes_ago), tick=False):
            for reading in range(3):  # three rows with the same received_at
                report(mine, reading=reading)
            report(theirs, reading=minutes_ago)
    with time_machine.travel(T0, tick=False):
        report(mine, reading=99)
    cutoff = T0 - dt.timedelta(days=1)

    deleted = history.delete_in_batches(
        "application_id = %s AND received_at < %s", [owner_app.application.pk, cutoff], batch=4, by_received=True
    )

    assert deleted == 15
    assert list(DataHistory.objects.filter(device_id=mine.pk).values_list("data__reading", flat=True)) == [99]
    assert DataHistory.objects.filter(device_id=theirs.pk).count() == 5
