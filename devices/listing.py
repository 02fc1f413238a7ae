"""The portal's device list: filters, sorts, keyset paging, the total and the CSV export, fast at a
million devices (docs/performance.md, Portal pages).

Every sort is an index range of the application read in order (device_list, device_list_name,
device_list_seen, device_status_list), and the page after a cursor starts where the last row left
off: page 20,000 costs what page 1 does. The total never counts a million rows per request: without
a search, product or group filter it is the running per-status counts of each application
(`devices.counts`, kept as devices change, the dashboard's too); a group alone is its membership rows; otherwise up to
`EXACT_TOTAL_LIMIT` rows are counted, and past that the planner's estimate is shown, marked as one.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import F, Q, QuerySet
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _

from applications.models import Application
from devices import counts as device_counts
from devices.bulk import text_cell
from devices.models import Device, DeviceGroup, Status
from devices.querysets import NOT_ACTIVATED, search_keys

EXACT_TOTAL_LIMIT = 1_000  # past it, an estimate: a broad search stops its count early
COUNTED_APPLICATIONS = 20  # more applications in view: the total is counted (capped), not summed


@dataclass(frozen=True)
class Key:
    """One column of a sort: its field, direction, and whether it may be NULL (then last)."""

    field: str
    descending: bool
    nullable: bool = False

    def order(self):
        # NULLS LAST only where NULLs can be: on a NOT NULL column it would not match its index's order.
        nulls = {"nulls_last": True} if self.nullable else {}
        return F(self.field).desc(**nulls) if self.descending else F(self.field).asc(**nulls)


# name: label, columns (the last is the id, so every row has one place)
SORTS: dict[str, tuple[Any, list[Key]]] = {
    "created": (_("newest first"), [Key("created_at", True), Key("id", True)]),
    "name": (_("name"), [Key("name", False), Key("id", False)]),
    "last_seen": (_("last seen"), [Key("last_seen_at", True, nullable=True), Key("id", True)]),
    "status": (_("status"), [Key("status", False), Key("created_at", True), Key("id", True)]),
}
DEFAULT_SORT = "created"
DATE_FIELDS = {"created_at", "last_seen_at"}


def sort_keys(sort: str) -> list[Key]:
    return SORTS.get(sort, SORTS[DEFAULT_SORT])[1]


def filtered(devices: QuerySet, data: dict[str, str]) -> QuerySet:
    """The list's filters on `devices` (already scoped to the account's applications)."""
    if data.get("q", "").strip():
        devices = search(devices, data["q"].strip())
    if data.get("status") == NOT_ACTIVATED:
        devices = devices.filter(activated=False)
    elif data.get("status"):
        devices = devices.filter(status=data["status"])
    if data.get("application"):
        devices = devices.filter(application__app_id=data["application"])
    if data.get("product"):
        try:
            devices = devices.filter(product__product_id=uuid.UUID(data["product"]))
        except ValueError:  # a mistyped link: no product has that id, and no 500 either
            devices = devices.none()
    if data.get("group"):
        devices = devices.filter(groups__dev_group_id=data["group"])
    if data.get("tag"):
        devices = devices.filter(tags__name=data["tag"])
    return devices


def search(devices: QuerySet, text: str) -> QuerySet:
    """Devices whose nodeId, deviceId or name (any case) starts with `text`: the pickers' keys, each a
    range of its index (devices.querysets.search_keys), where a name *containing* the text was a scan
    of every device."""
    keys = search_keys(text)
    condition = Q()
    for alias, _expression, prefix in keys:
        condition |= Q(**{f"{alias}__startswith": prefix})
    return devices.alias(**{alias: expression for alias, expression, _prefix in keys}).filter(condition)


def encode_cursor(device: Device, sort: str) -> str:
    values = []
    for column in sort_keys(sort):
        value = getattr(device, column.field)
        values.append(value.isoformat() if isinstance(value, dt.datetime) else value)
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str) -> list[Any] | None:
    """The cursor's values, or None for one this sort did not make (a mistyped or stale link: page 1)."""
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except ValueError:
        return None
    columns = sort_keys(sort)
    if not isinstance(values, list) or len(values) != len(columns):
        return None
    parsed = []
    for column, value in zip(columns, values, strict=True):
        if value is None and column.nullable:
            parsed.append(None)
        elif column.field in DATE_FIELDS and isinstance(value, str) and parse_datetime(value) is not None:
            parsed.append(parse_datetime(value))
        elif (column.field == "id" and isinstance(value, int) and not isinstance(value, bool)) or (
            column.field in ("name", "status") and isinstance(value, str)
        ):
            parsed.append(value)
        else:
            return None
    return parsed


def after(values: list[Any], sort: str) -> Q:
    """Rows after the cursor's in the sort's order: (a, b, c) > (x, y, z) spelled out column by column,
    NULLs last. The first column's bound is repeated on its own so the index scan starts at it."""
    columns = sort_keys(sort)
    condition = Q(pk__in=[])  # false
    for index, (column, value) in enumerate(zip(columns, values, strict=True)):
        same = Q()
        for earlier, earlier_value in zip(columns[:index], values[:index], strict=True):
            same &= (
                Q(**{f"{earlier.field}__isnull": True})
                if earlier_value is None
                else Q(**{earlier.field: earlier_value})
            )
        if value is None:  # NULLs are last: nothing is after a NULL in this column
            continue
        beyond = Q(**{f"{column.field}__{'lt' if column.descending else 'gt'}": value})
        if column.nullable:
            beyond |= Q(**{f"{column.field}__isnull": True})
        condition |= same & beyond
    first, first_value = columns[0], values[0]
    if first_value is not None and not first.nullable:
        condition &= Q(**{f"{first.field}__{'lte' if first.descending else 'gte'}": first_value})
    return condition


def page(devices: QuerySet, sort: str, cursor: str, size: int) -> tuple[list[Device], str]:
    """The page after `cursor` (the first without one) and the next page's cursor ("" on the last)."""
    values = decode_cursor(cursor, sort) if cursor else None
    if values is not None:
        devices = devices.filter(after(values, sort))
    rows = list(devices.order_by(*(column.order() for column in sort_keys(sort)))[: size + 1])
    has_next = len(rows) > size
    rows = rows[:size]
    return rows, encode_cursor(rows[-1], sort) if has_next else ""


@dataclass(frozen=True)
class Total:
    count: int
    exact: bool


def total(devices: QuerySet, data: dict[str, str], applications: list[Application]) -> Total:
    """How many devices the filters select, without counting a million rows (the module's docstring)."""
    in_view = [a for a in applications if not data.get("application") or a.app_id == data["application"]]
    narrowed = data.get("q") or data.get("product") or data.get("group") or data.get("tag")
    if not narrowed and len(in_view) <= COUNTED_APPLICATIONS:
        status = data.get("status") or ""
        if status in STATUS_TOTALS:
            counts = device_counts.read_many([application.pk for application in in_view])
            return Total(sum(STATUS_TOTALS[status](counts[application.pk]) for application in in_view), True)
    if data.get("group") and not (data.get("q") or data.get("product") or data.get("status") or data.get("tag")):
        # A group's members are all of its application (do_add_to_group): its own rows of the membership
        # table, an index-only count, not a join through a million devices.
        members = DeviceGroup.devices.through.objects.filter(
            devicegroup__dev_group_id=data["group"], devicegroup__application_id__in=[a.pk for a in in_view]
        )
        return Total(members.count(), True)
    counted = devices.order_by().values("pk")[: EXACT_TOTAL_LIMIT + 1].count()
    if counted <= EXACT_TOTAL_LIMIT:
        return Total(counted, True)
    return Total(max(estimate(devices), counted), False)


STATUS_TOTALS = {
    "": lambda counts: sum(counts[status] for status in Status.values),
    Status.ONLINE: lambda counts: counts[Status.ONLINE],
    Status.ABNORMAL: lambda counts: counts[Status.ABNORMAL],
    Status.OFFLINE: lambda counts: counts[Status.OFFLINE],
    NOT_ACTIVATED: lambda counts: counts[NOT_ACTIVATED],
}


def estimate(devices: QuerySet) -> int:
    """The planner's row estimate for the query (EXPLAIN, no rows read)."""
    sql, params = devices.order_by().values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)  # Django's own SQL and parameters
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


CSV_HEADER = ["nodeId", "deviceId", "name", "status", "activated", "product", "application", "lastSeen", "registered"]


CSV_CHUNK = 2000


def csv_lines(devices: QuerySet, sort: str) -> Iterator[list[str]]:
    """Every device the filters select, in the list's order, `CSV_CHUNK` at a time by the list's own
    keyset paging: each chunk is an index range, so the first rows leave at once and memory stays flat
    (a server-side cursor let PostgreSQL plan a sort of every matching row first: 3.3 s before the first
    row at 700,000 devices, docs/performance.md)."""
    yield list(CSV_HEADER)
    devices = devices.select_related("application", "product").only(
        "node_id", "device_id", "name", "status", "activated", "last_seen_at", "created_at",
        "application__name", "product__device_type", "product__model",
    )  # fmt: skip
    cursor = None
    while cursor != "":
        rows, cursor = page(devices, sort, cursor or "", CSV_CHUNK)
        for device in rows:
            product = device.product
            yield [
                text_cell(device.node_id), device.device_id, text_cell(device.name), device.status,
                "true" if device.activated else "false",
                text_cell(f"{product.device_type} · {product.model}" if product else ""),
                text_cell(device.application.name),
                device.last_seen_at.isoformat() if device.last_seen_at else "", device.created_at.isoformat(),
            ]  # fmt: skip
