"""Reusable, tenant-scoped lookups of devices."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from django.db import models
from django.db.models import Count


class DeviceQuerySet(models.QuerySet):
    def for_app(self, application) -> DeviceQuerySet:
        return self.filter(application=application)


def count_devices_by_product(product_ids: Collection[int]) -> dict[int, int]:
    """{product pk: devices registered with it}, in one query (the profile lock, F-2.9)."""
    from devices.models import Device

    rows = Device.objects.filter(product_id__in=product_ids).values("product_id").annotate(count=Count("id"))
    return {row["product_id"]: row["count"] for row in rows}


PICK_LIMIT = 20  # a picker's matches: type more to narrow them
PICK_APPLICATIONS = 100  # a picker searches at most this many applications at once (name one to go further)


def search_keys(text: str) -> list[tuple[str, Any, str]]:
    """(alias, expression, prefix) of each key a device search matches the start of: the nodeId, the
    name in any case, and the deviceId when the text could start one. Each expression is that of an index
    (device_pick_node, device_pick_name, device_pick_id), so `<alias>__startswith=<prefix>` is a range."""
    from django.db.models.functions import Collate, Upper

    keys = [("node_key", Collate("node_id", "C"), text), ("name_key", Collate(Upper("name"), "C"), text.upper())]
    if len(text) >= 4 and all(char in "0123456789abcdef-" for char in text.lower()):
        keys.append(("id_key", Collate("device_id", "C"), text.lower()))
    return keys


def pick_devices(application_ids: list[int], text: str, *, limit: int = PICK_LIMIT) -> list:
    """The first `limit` devices of these applications whose nodeId, deviceId or name (any case) starts with
    `text`, by nodeId: what a search-as-you-type picker lists.

    Each application is one index range per key (device_pick_node, device_pick_id, device_pick_name: the
    column collated "C", so a prefix is a range whatever the database's collation), read in order and cut
    at `limit`, joined by UNION ALL: a million devices cost what twenty do, and an application with many
    matches does not crowd out another one's range scan.
    """
    from devices.models import Device

    text = text.strip()
    if not text or not application_ids:
        return []
    keys = search_keys(text)
    parts = []
    for application_id in application_ids[:PICK_APPLICATIONS]:
        for alias, expression, prefix in keys:
            parts.append(
                Device.objects.annotate(**{alias: expression})
                .filter(application_id=application_id, **{f"{alias}__startswith": prefix})
                .order_by(alias)
                .values_list("pk", flat=True)[:limit]
            )
    pks = parts[0].union(*parts[1:], all=True) if len(parts) > 1 else parts[0]
    return list(
        Device.objects.filter(pk__in=list(pks))
        .select_related("application")
        .only("device_id", "node_id", "name", "application__name", "application__app_id")
        .order_by("node_id", "pk")[:limit]
    )


NOT_ACTIVATED = "NOT_ACTIVATED"  # offline devices never seen: the list's filter, the dashboard's tile
STATUS_COUNTS_SECONDS = 10


def status_counts(application_ids: list[int]) -> dict[int, dict[str, int]]:
    """{application pk: {ONLINE, ABNORMAL, OFFLINE, NOT_ACTIVATED: devices}}: one grouped count per
    application (an index-only range of device_status_count), kept in Redis for `STATUS_COUNTS_SECONDS`,
    so however many people page through a million devices, each application is counted at most once per
    period. Freshness is judged on our clock (the entry says when it was counted), so tests control it."""
    import json

    from django.utils import timezone

    from applications.redis import get_redis, key
    from devices.models import Device, Status

    redis = get_redis()
    now = timezone.now().timestamp()
    keys = [key("devices", "status_counts", pk) for pk in application_ids]
    counts: dict[int, dict[str, int]] = {}
    for pk, cached in zip(application_ids, redis.mget(keys) if keys else [], strict=True):
        if cached is not None:
            entry = json.loads(cached)
            if 0 <= now - entry.pop("counted_at") < STATUS_COUNTS_SECONDS:
                counts[pk] = entry
    missing = [pk for pk in application_ids if pk not in counts]
    if missing:
        fresh = {pk: dict.fromkeys([*Status.values, NOT_ACTIVATED], 0) for pk in missing}
        # Grouped by (status, activated): an index-only scan of device_status_count, no table rows read.
        rows = (
            Device.objects.filter(application_id__in=missing)
            .values_list("application_id", "status", "activated")
            .annotate(total=Count("*"))
            .order_by()
        )
        for application_id, status, activated, total in rows:
            fresh[application_id][status] += total
            if not activated:
                fresh[application_id][NOT_ACTIVATED] += total
        with redis.pipeline(transaction=False) as pipe:
            for pk, entry in fresh.items():
                pipe.set(key("devices", "status_counts", pk), json.dumps({**entry, "counted_at": now}), ex=60)
            pipe.execute()
        counts.update(fresh)
    return counts
