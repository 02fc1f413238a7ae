"""Running counts of each application's devices by status, for the dashboard (issue 20, item 2).

Counting a million devices by status on each dashboard view (even once per 10 s snapshot) reads the
whole application's index range; these counts are kept instead, in one Redis hash per application
(fields ONLINE, ABNORMAL, OFFLINE and NOT_ACTIVATED, the last counted among the others as the device
list's filter counts it), changed where devices are added, removed or change status:

- status changes: `devices.hooks.status_changed`, the one call every status change makes after its
  commit (`on_status_changed` below);
- added and removed devices: `devices_added` / `devices_removed`, called by registration (one, bulk,
  a gateway's sub-devices), binding, a refreshed verify code, deletion and expiry.

Increments are sent after the transaction commits (a rolled-back change counts nothing). A count can
drift (a status change made by hand in SQL, a process killed between its commit and the increment,
two reports racing to bring one device ONLINE): `reconcile` recounts every application against the
database in one grouped query, and beat runs it every DEVICE_COUNTS_RECONCILE_SECONDS. A hash that is
missing (a new Redis, an application nobody looked at) is counted on first read.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models import Count, Q

from applications.redis import get_redis, key
from devices.models import Device, Status
from devices.querysets import NOT_ACTIVATED

FIELDS = (Status.ONLINE.value, Status.ABNORMAL.value, Status.OFFLINE.value, NOT_ACTIVATED)


def counts_key(application_pk: int) -> str:
    return key("devices", "counts", application_pk)


def _add(deltas: dict[tuple[int, str], int]) -> None:
    """Apply (application pk, field) -> delta once the surrounding transaction commits, in one round trip."""
    deltas = {field: delta for field, delta in deltas.items() if delta}
    if not deltas:
        return

    def send() -> None:
        pipe = get_redis().pipeline(transaction=False)
        for (application_pk, field), delta in deltas.items():
            # Only hashes that exist are changed: a missing one is counted whole on its first read.
            pipe.eval(_INCREMENT_IF_PRESENT, 1, counts_key(application_pk), field, delta)
        pipe.execute()

    transaction.on_commit(send)


_INCREMENT_IF_PRESENT = (
    "if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('HINCRBY', KEYS[1], ARGV[1], ARGV[2]) end"
)


def _device_fields(application_pk: int, status: str, activated: bool) -> list[tuple[int, str]]:
    fields = [(application_pk, status)]
    if not activated:
        fields.append((application_pk, NOT_ACTIVATED))
    return fields


def devices_added(devices: Iterable[Any]) -> None:
    """Devices were created (each with `application_id`, `status`, `activated`)."""
    deltas: dict[tuple[int, str], int] = {}
    for device in devices:
        for field in _device_fields(device.application_id, device.status, device.activated):
            deltas[field] = deltas.get(field, 0) + 1
    _add(deltas)


def registered(application_pk: int, number: int) -> None:
    """`number` devices were registered in bulk (OFFLINE, not activated), without their rows in hand."""
    _add({(application_pk, Status.OFFLINE.value): number, (application_pk, NOT_ACTIVATED): number})


def devices_removed(devices: Iterable[Any]) -> None:
    """Devices were deleted (as they were before deletion)."""
    deltas: dict[tuple[int, str], int] = {}
    for device in devices:
        for field in _device_fields(device.application_id, device.status, device.activated):
            deltas[field] = deltas.get(field, 0) - 1
    _add(deltas)


def activation_changed(application_pk: int, *, activated: bool) -> None:
    """A device was bound (`activated`) or must bind again (its verify code was refreshed)."""
    _add({(application_pk, NOT_ACTIVATED): -1 if activated else 1})


def on_status_changed(items: list[tuple[Any, str | None, str]]) -> None:
    """devices.hooks handler (already after commit): each (device, previous, new) moves one count.
    An unknown previous status cannot be taken off; the next reconcile corrects that count."""
    deltas: dict[tuple[int, str], int] = {}
    for device, previous, new in items:
        if previous == new:
            continue
        if previous is not None:
            deltas[(device.application_id, previous)] = deltas.get((device.application_id, previous), 0) - 1
        deltas[(device.application_id, new)] = deltas.get((device.application_id, new), 0) + 1
    _add(deltas)


def read(application_pk: int) -> dict[str, int]:
    """The application's counts by field; counted from the database when Redis holds none."""
    return read_many([application_pk])[application_pk]


def read_many(application_pks: list[int]) -> dict[int, dict[str, int]]:
    """The counts of several applications (the dashboard's, the device list's total) in one round trip;
    those Redis holds none of are counted from the database (`reconcile`) and kept."""
    pipe = get_redis().pipeline(transaction=False)
    for application_pk in application_pks:
        pipe.hgetall(counts_key(application_pk))
    found: dict[int, dict[str, int]] = {}
    for application_pk, values in zip(application_pks, pipe.execute() if application_pks else [], strict=True):
        if values:
            counts = dict.fromkeys(FIELDS, 0)
            for field, value in values.items():
                counts[field.decode()] = max(0, int(value))
            found[application_pk] = counts
    missing = [pk for pk in application_pks if pk not in found]
    if missing:
        found.update(reconcile(missing))
    return found


def count(application_pks: list[int] | None = None) -> dict[int, dict[str, int]]:
    """The counts as the database has them: one grouped query (all applications, or those given)."""
    devices = Device.objects.all()
    if application_pks is not None:
        devices = devices.filter(application__in=application_pks)
    rows = (
        devices.values("application_id", "status")
        .annotate(total=Count("id"), not_activated=Count("id", filter=Q(activated=False)))
        .order_by()
    )
    counts: dict[int, dict[str, int]] = {pk: dict.fromkeys(FIELDS, 0) for pk in application_pks or []}
    for row in rows:
        one = counts.setdefault(row["application_id"], dict.fromkeys(FIELDS, 0))
        one[row["status"]] = row["total"]
        one[NOT_ACTIVATED] += row["not_activated"]
    return counts


def reconcile(application_pks: list[int] | None = None) -> dict[int, dict[str, int]]:
    """Recount (every application, or those given) and replace the kept counts; returns them.

    Applications whose hash is kept but which have no device any more get zeros; the hashes of deleted
    applications are removed."""
    from applications.models import Application

    counts = count(application_pks)
    redis = get_redis()
    pipe = redis.pipeline(transaction=True)
    if application_pks is None:
        prefix = counts_key("")
        kept = set()
        for name in redis.scan_iter(match=prefix + "*", count=1000):
            pk = name.decode()[len(prefix) :]
            if pk.isdigit():
                kept.add(int(pk))
        existing = set(Application.objects.filter(pk__in=kept - set(counts)).values_list("pk", flat=True))
        for pk in kept - set(counts):
            if pk in existing:
                counts[pk] = dict.fromkeys(FIELDS, 0)
            else:
                pipe.delete(counts_key(pk))
    for application_pk, fields in counts.items():
        pipe.hset(counts_key(application_pk), mapping=fields)
    pipe.execute()
    return counts
