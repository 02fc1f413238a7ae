"""Periodic work of the applications app: the audit log's retention."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.db import connection, transaction

from applications import audit

SWEEP_LOCK = 0x61756474  # "audt": one retention sweep at a time across beat processes


@shared_task(name="applications.sweep_audit", ignore_result=True)
def sweep_audit() -> dict[str, int]:
    """Delete audit events older than AUDIT_RETENTION_DAYS (0 keeps them forever)."""
    if settings.AUDIT_RETENTION_DAYS <= 0:
        return {"deleted": 0}
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [SWEEP_LOCK])
            if not cursor.fetchone()[0]:
                return {"skipped": 1}
        return {"deleted": audit.sweep(settings.AUDIT_RETENTION_DAYS)}
