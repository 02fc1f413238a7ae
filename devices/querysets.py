"""Reusable, tenant-scoped lookups of devices."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from django.db import models
from django.db.models import Count

from applications.picking import PICK_APPLICATIONS, PICK_LIMIT, could_be_uuid_start, prefix_pks


class DeviceQuerySet(models.QuerySet):
    def for_app(self, application) -> DeviceQuerySet:
        return self.filter(application=application)


def count_devices_by_product(product_ids: Collection[int]) -> dict[int, int]:
    """{product pk: devices registered with it}, in one query (the profile lock, F-2.9)."""
    from devices.models import Device

    rows = Device.objects.filter(product_id__in=product_ids).values("product_id").annotate(count=Count("id"))
    return {row["product_id"]: row["count"] for row in rows}


def search_keys(text: str) -> list[tuple[str, Any, str]]:
    """(alias, expression, prefix) of each key a device search matches the start of: the nodeId, the
    name in any case, and the deviceId when the text could start one. Each expression is that of an index
    (device_pick_node, device_pick_name, device_pick_id), so `<alias>__startswith=<prefix>` is a range."""
    from django.db.models.functions import Collate, Upper

    keys = [("node_key", Collate("node_id", "C"), text), ("name_key", Collate(Upper("name"), "C"), text.upper())]
    if could_be_uuid_start(text):
        keys.append(("id_key", Collate("device_id", "C"), text.lower()))
    return keys


def pick_devices(application_ids: list[int], text: str, *, limit: int = PICK_LIMIT) -> list:
    """The first `limit` devices of these applications whose nodeId, deviceId or name (any case) starts with
    `text`, by nodeId: what a search-as-you-type picker lists.

    Each application is one index range per key (device_pick_node, device_pick_id, device_pick_name),
    joined by UNION ALL (applications.picking.prefix_pks).
    """
    from devices.models import Device

    text = text.strip()
    if not text or not application_ids:
        return []
    scopes = [Device.objects.filter(application_id=pk) for pk in application_ids[:PICK_APPLICATIONS]]
    return list(
        Device.objects.filter(pk__in=list(prefix_pks(scopes, search_keys(text), limit=limit)))
        .select_related("application")
        .only("device_id", "node_id", "name", "application__name", "application__app_id")
        .order_by("node_id", "pk")[:limit]
    )


NOT_ACTIVATED = "NOT_ACTIVATED"  # offline devices never seen: the list's filter, the dashboard's tile
