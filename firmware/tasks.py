"""The upgrade sweep: starts due sub-operations within each rollout's limits and times out stuck steps."""

from __future__ import annotations

from celery import shared_task
from django.db import connection, transaction

from firmware import actions

SWEEP_LOCK = 0x6677_7570  # "fwup"


@shared_task(name="firmware.sweep_upgrades", ignore_result=True)
def sweep_upgrades() -> int:
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [SWEEP_LOCK])
            if not cursor.fetchone()[0]:
                return 0
        return actions.sweep()
