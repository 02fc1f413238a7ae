"""Reusable, tenant-scoped lookups of devices."""

from __future__ import annotations

from collections.abc import Collection

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
