"""The rules' timers: absences, durations and timer conditions are due-time rows this sweep acts on."""

from __future__ import annotations

from celery import shared_task
from django.db import connection, transaction

from rules import actions

SWEEP_LOCK = 0x72756C65  # "rule": one sweep at a time across beat processes


@shared_task(name="rules.sweep_rules", ignore_result=True)
def sweep_rules() -> dict[str, int]:
    """Fire the rules whose absence, duration or timer fell due, once at a time across beat processes."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [SWEEP_LOCK])
            if not cursor.fetchone()[0]:
                return {"skipped": 1}
        return actions.sweep_timers()
