"""Periodic device work: bind timeouts, last-seen flush, status, history partitions and retention."""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from applications.models import Application
from devices import actions, history, last_seen
from devices.models import Device, DeviceLog

SWEEP_LOCK = 0x64657673  # "devs": one sweep at a time across beat processes


def _locked() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [SWEEP_LOCK])
        return cursor.fetchone()[0]


@shared_task(name="devices.sweep_devices", ignore_result=True)
def sweep_devices() -> dict[str, int]:
    """Write coalesced last-seen times, then expire unbound devices (F-4.2) and move statuses (F-4.6).

    The flush comes first, in its own short transactions (devices.last_seen): it needs no lock (two
    flushes at once write the same times), and a device heard from is not moved ABNORMAL by a stale
    column."""
    flushed = last_seen.flush()
    with transaction.atomic():
        if not _locked():
            return {"skipped": 1, "flushed": flushed}
        expired = actions.expire_unbound()
        changed = actions.sweep_status()
    return {"expired": expired, "flushed": flushed, **changed}


@shared_task(name="devices.reconcile_counts", ignore_result=True)
def reconcile_counts() -> dict[str, int]:
    """Recount the dashboard's running device counts against the database (devices.counts): one grouped
    query; under the sweep's advisory lock, so two beats do not race each other."""
    from devices import counts

    with transaction.atomic():
        if not _locked():
            return {"skipped": 1}
        return {"applications": len(counts.reconcile())}


@shared_task(name="devices.maintain_history", ignore_result=True)
def maintain_history() -> dict[str, int]:
    """Create history partitions ahead; apply retention (F-4.9): whole partitions past the longest
    retention are dropped, shorter retentions (an application's days, a device's dataAgingTime)
    are deleted in batches; device logs follow the same days."""
    now = timezone.now()
    created = history.ensure_partitions_ahead(settings.HISTORY_PARTITIONS_AHEAD)
    longest = Application.objects.aggregate(days=Max("data_retention_days"))["days"] or 0
    dropped = history.drop_partitions_before((now - dt.timedelta(days=longest)).date()) if longest else []
    deleted = 0
    for application in Application.objects.filter(data_retention_days__lt=longest).only("pk", "data_retention_days"):
        cutoff = now - dt.timedelta(days=application.data_retention_days)
        deleted += history.delete_in_batches(
            "application_id = %s AND received_at < %s", [application.pk, cutoff], by_received=True
        )
        DeviceLog.objects.filter(application=application, created_at__lt=cutoff).delete()
    for device in Device.objects.filter(data_aging_days__isnull=False).only("pk", "data_aging_days"):
        cutoff = now - dt.timedelta(days=device.data_aging_days)
        deleted += history.delete_in_batches("device_id = %s AND received_at < %s", [device.pk, cutoff])
    if longest:
        DeviceLog.objects.filter(created_at__lt=now - dt.timedelta(days=longest)).delete()
    return {"partitions_ahead": len(created), "dropped": len(dropped), "deleted": deleted}


@shared_task(name="devices.run_bulk_registration", ignore_result=True, acks_late=True, reject_on_worker_lost=True)
def run_bulk_registration(job_pk: int) -> dict[str, int]:
    """Register a queued bulk registration's rows (devices.bulk.run_job).

    Idempotent, so it is acknowledged late: a task whose worker died is delivered again and goes on
    with the rows still pending; a finished job is left alone.
    """
    from devices import bulk

    return bulk.run_job(job_pk)
