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
