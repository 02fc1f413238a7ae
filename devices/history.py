"""History data: a table partitioned by day on the time the platform received each row.

Partitions are created ahead by a periodic task (`ensure_partitions_ahead`) and on demand for any
other day a write needs (a device's own timestamps do not matter: rows go by `received_at`, but
tests and back-fills may write past days). Retention drops whole partitions older than the longest
retention any application has, and deletes the rest in batches.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.db import connection, transaction
from psycopg.types.json import Jsonb

TABLE = "devices_datahistory"
_known_days: set[dt.date] = set()


def partition_name(day: dt.date) -> str:
    return f"{TABLE}_p{day:%Y%m%d}"


def ensure_partition(day: dt.date) -> None:
    """Create the day's partition if missing (idempotent, safe between processes)."""
    if day in _known_days:
        return
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    end = start + dt.timedelta(days=1)
    with connection.cursor() as cursor:
        # Two processes creating the same partition at once: the advisory lock makes one wait.
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [int(f"{day:%Y%m%d}")])
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {partition_name(day)} PARTITION OF {TABLE} FOR VALUES FROM (%s) TO (%s)",
            [start, end],
        )
    # Remember it only once it is committed: a rolled-back transaction takes the partition with it.
    transaction.on_commit(lambda: _known_days.add(day))


def ensure_partitions_ahead(days: int, today: dt.date | None = None) -> list[str]:
    today = today or dt.datetime.now(dt.UTC).date()
    created = []
    for offset in range(days + 1):
        day = today + dt.timedelta(days=offset)
        with transaction.atomic():
            ensure_partition(day)
        created.append(partition_name(day))
    return created


def partitions() -> list[tuple[str, dt.date]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = %s ORDER BY c.relname",
            [TABLE],
        )
        names = [row[0] for row in cursor.fetchall()]
    return [(name, dt.datetime.strptime(name[-8:], "%Y%m%d").date()) for name in names]


def insert(rows: Iterable[tuple[int, int, str, dict[str, Any], dt.datetime, dt.datetime]]) -> int:
    """Insert (device pk, application pk, serviceId, data, eventTime, receivedAt) rows in one statement."""
    rows = list(rows)
    if not rows:
        return 0
    for day in {row[5].astimezone(dt.UTC).date() for row in rows}:
        ensure_partition(day)
    values = ", ".join(["(%s, %s, %s, %s, %s, %s)"] * len(rows))
    params: list[Any] = []
    for device_pk, application_pk, service_id, data, event_time, received_at in rows:
        params += [device_pk, application_pk, service_id, Jsonb(data), event_time, received_at]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {TABLE} (device_id, application_id, service_id, data, event_time, received_at) "  # noqa: S608
            f"VALUES {values}",
            params,
        )
    return len(rows)


def drop_partitions_before(day: dt.date) -> list[str]:
    dropped = []
    for name, partition_day in partitions():
        if partition_day < day:
            with connection.cursor() as cursor:
                cursor.execute(f"DROP TABLE IF EXISTS {name}")
            _known_days.discard(partition_day)
            dropped.append(name)
    return dropped


def delete_in_batches(where: str, params: list[Any], batch: int = 10000, *, by_received: bool = False) -> int:
    """Delete matching rows a batch at a time, so retention never holds long locks.

    `by_received`, for a `where` that the (application_id, received_at) index serves in order: each batch
    starts after the last row the previous one deleted (received_at, id). Its dead index entries stay
    until VACUUM, and a batch that looked again from the start walked past all of them, so retention's
    time grew with the square of the rows (23x for 10x the rows at 400k rows, bench/
    registry_scale_bench.py). Other filters (a device's rows) take no order: sorting them would cost more."""
    total = 0
    after: tuple[Any, int] | None = None
    order = " ORDER BY received_at, id" if by_received else ""
    while True:
        resume = "" if after is None else " AND received_at >= %s AND (received_at, id) > (%s, %s)"
        with connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {TABLE} WHERE (id, received_at) IN "  # noqa: S608
                f"(SELECT id, received_at FROM {TABLE} WHERE ({where}){resume}{order} "
                f"LIMIT %s) RETURNING received_at, id",
                [*params, *(() if after is None else (after[0], *after)), batch],
            )
            deleted = cursor.fetchall()
        total += len(deleted)
        if len(deleted) < batch:
            return total
        if by_received:
            after = max(deleted)
