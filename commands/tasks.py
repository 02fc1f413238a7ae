"""Command timers: expiry and timeouts are rows with due times that this sweep acts on."""

from __future__ import annotations

from celery import shared_task
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from commands import actions
from commands.models import BatchTask, Command, CommandStatus

SWEEP_LOCK = 0x636D6473  # "cmds"


@shared_task(name="commands.sweep_commands", ignore_result=True)
def sweep_commands() -> dict[str, int]:
    """EXPIRED, TIMEOUT and batch-task completion, once at a time across beat processes."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [SWEEP_LOCK])
            if not cursor.fetchone()[0]:
                return {"skipped": 1}
        counts = actions.sweep_timers()
        now = timezone.now()
        for task in BatchTask.objects.filter(status__in=["Pending", "Running"]):
            open_commands = Command.objects.filter(batch_task=task).filter(
                Q(status=CommandStatus.PENDING) | Q(status=CommandStatus.SENT) | Q(status=CommandStatus.DELIVERED)
            )
            if not open_commands.exists():
                BatchTask.objects.filter(pk=task.pk).update(status="Complete")
            elif task.deadline <= now:
                BatchTask.objects.filter(pk=task.pk).update(status="Timeout")
    return counts
