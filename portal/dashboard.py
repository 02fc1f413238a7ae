"""The fleet dashboard's figures for one application (issue 20, item 2).

Traffic (uplinks, pushes) comes from the per-minute counters of `applications.metrics`, written in
batches by the pipeline and the push worker. Devices by status are running counts kept in Redis where
devices change status (`devices.counts`, reconciled by beat): read, never counted, so they cost the
same at a million devices and are current at once. The other standing counts (pending and failed
commands, blacklisted hosts, running upgrades) are grouped counts over small index ranges, kept in
Redis for `SNAPSHOT_SECONDS`: however many people keep the dashboard open, each application's are
taken at most once per period.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass

from django.db.models import Count, Q
from django.utils import timezone

from applications import metrics
from applications.models import Application
from applications.redis import get_redis, key
from commands.models import Command, CommandStatus
from devices import counts
from devices.models import Status
from firmware.models import Operation, OperationStatus
from subscriptions.models import PushTarget

SNAPSHOT_SECONDS = 10
WINDOW_MINUTES = 60


@dataclass
class Standing:
    """Counts that describe the fleet now, kept for `SNAPSHOT_SECONDS`."""

    online: int = 0
    abnormal: int = 0
    offline: int = 0  # every OFFLINE device, the not-activated ones included (as the list's filter)
    not_activated: int = 0
    pending_commands: int = 0
    failed_commands: int = 0
    blacklisted_hosts: int = 0
    running_upgrades: int = 0

    @property
    def devices(self) -> int:
        return self.online + self.abnormal + self.offline


@dataclass
class Traffic:
    """Per-minute figures of the last whole minute and totals of the last hour."""

    uplinks_last_minute: int
    uplinks_last_hour: int
    pushes_last_minute: int
    pushes_last_hour: int
    failed_pushes_last_hour: int
    uplinks_per_minute: list[int]


def standing_counts(application: Application) -> Standing:
    """The devices' running counts, and the other counts from the Redis snapshot when it is fresh, else
    counted (and kept).

    Freshness is judged on our clock (the snapshot carries when it was taken), so tests control it;
    Redis's own expiry only clears snapshots nobody reads any more."""
    redis = get_redis()
    snapshot_key = key("dashboard", application.pk)
    now = timezone.now().timestamp()
    cached = redis.get(snapshot_key)
    standing = None
    if cached is not None:
        snapshot = json.loads(cached)
        if 0 <= now - snapshot.pop("taken_at") < SNAPSHOT_SECONDS:
            standing = Standing(**snapshot)
    if standing is None:
        standing = count_standing(application)
        redis.set(snapshot_key, json.dumps({**asdict(standing), "taken_at": now}), ex=SNAPSHOT_SECONDS * 6)
    devices = counts.read(application.pk)
    standing.online, standing.abnormal = devices[Status.ONLINE], devices[Status.ABNORMAL]
    standing.offline, standing.not_activated = devices[Status.OFFLINE], devices[counts.NOT_ACTIVATED]
    return standing


def count_standing(application: Application) -> Standing:
    """The counts other than the devices': three statements, each a small index range or table."""
    standing = Standing()
    commands = Command.objects.filter(
        application=application, status__in=[CommandStatus.PENDING, CommandStatus.FAILED]
    ).aggregate(
        pending=Count("id", filter=Q(status=CommandStatus.PENDING)),
        failed=Count("id", filter=Q(status=CommandStatus.FAILED)),
    )
    standing.pending_commands, standing.failed_commands = commands["pending"], commands["failed"]
    standing.blacklisted_hosts = PushTarget.objects.filter(
        application=application, blacklisted_until__isnull=False
    ).count()
    standing.running_upgrades = Operation.objects.filter(
        application=application, status__in=[OperationStatus.WAIT, OperationStatus.PROCESSING]
    ).count()
    return standing


def traffic(application: Application, *, now: dt.datetime | None = None) -> Traffic:
    """The last hour's traffic, from the per-minute counters (one Redis round trip)."""
    counts = metrics.recent(
        [metrics.UPLINKS, metrics.PUSHES_DELIVERED, metrics.PUSHES_FAILED],
        application.pk,
        minutes=WINDOW_MINUTES,
        now=now,
    )
    uplinks, delivered = counts[metrics.UPLINKS], counts[metrics.PUSHES_DELIVERED]
    failed = counts[metrics.PUSHES_FAILED]
    return Traffic(
        uplinks_last_minute=uplinks[-1],
        uplinks_last_hour=sum(uplinks),
        pushes_last_minute=delivered[-1],
        pushes_last_hour=sum(delivered),
        failed_pushes_last_hour=sum(failed),
        uplinks_per_minute=uplinks,
    )
