"""Push delivery tasks: one per target and wake-up, and beat's sweep."""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from subscriptions import delivery
from subscriptions.models import PushMessage, PushState, PushTarget

SWEEP_LOCK = 0x70757368  # "push": a database advisory lock, so two beats never sweep at once


@shared_task(name="subscriptions.deliver_target", ignore_result=True)
def deliver_target(target_id: int) -> int:
    """Deliver the target's due pushes (idempotent: leased rows are never sent twice at once)."""
    return delivery.deliver_target(target_id)


@shared_task(name="subscriptions.sweep_pushes", ignore_result=True)
def sweep_pushes() -> dict[str, int]:
    """Wake targets with due pushes (retries, expired leases, missed wake-ups), expire old pushes,
    and drop delivered ones past the log's retention."""
    from subscriptions.actions import wake

    now = timezone.now()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [SWEEP_LOCK])
            if not cursor.fetchone()[0]:
                return {"skipped": 1}
        expired = PushMessage.objects.filter(
            state=PushState.PENDING, created_at__lt=now - dt.timedelta(seconds=settings.PUSH_MAX_AGE_SECONDS)
        ).update(state=PushState.FAILED, last_error="undelivered when its maximum age passed", lease_until=None)
        purged, _ = PushMessage.objects.filter(
            state=PushState.DELIVERED,
            delivered_at__lt=now - dt.timedelta(days=settings.PUSH_LOG_RETENTION_DAYS),
        ).delete()
        due_targets = set(
            PushMessage.objects.filter(state=PushState.PENDING, next_attempt_at__lte=now)
            .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
            .values_list("target_id", flat=True)
            .distinct()
        )
        waiting = set(
            PushTarget.objects.filter(pk__in=due_targets, blacklisted_until__gt=now).values_list("pk", flat=True)
        )
    woken = due_targets - waiting
    for target_id in woken:
        wake(target_id)
    return {"woken": len(woken), "expired": expired, "purged": purged}
