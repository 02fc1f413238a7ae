"""Uplinks the ingress kept undecoded (over the application's codec budget, ingress.budget) are decoded
later, automatically, once the application is within its budget again (issue 19).

Kept uplinks are device-log entries (kind decode_error, detail `{"notDecoded": "budget", "channel"}`,
raw = the bytes the codec would have got), written in the same transaction that acknowledged them.
`decode_kept`, run by the beat every CODEC_UNDECODED_SWEEP_SECONDS (ingress.tasks), takes the oldest
of them (FOR UPDATE SKIP LOCKED: two sweeps never take the same entry), per application that no ingress
process has found over its budget for CODEC_UNDECODED_QUIET_SECONDS (`mark_over_budget`, a time stamp
in Redis per application), and decodes them per product in received order, within the sweep's own
budget per application (a codec that still loops spends it and waits again). In one transaction
each entry becomes what the pipeline would have written: its reports stored (event time = when the
uplink was received, unless the codec gives one), the entry turned into a `decoded` one, or into a
plain decode error with the codec's own message (then the replay page is the way after a fix); one
the codec still runs out of time on stays kept (the sweep's budget then makes it wait). An
entry is converted in place, so a sweep that fails or runs twice decodes nothing twice.

Order: the history is ordered by event time, so a late uplink takes its place in it. The shadow keeps
each service's newest data: a late report of a service whose shadow is newer goes to the history only
(and is not pushed as a change).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from applications.formats import format_time
from applications.redis import get_redis, key
from devices import actions, hooks
from devices import history as device_history
from devices.models import Device, DeviceLog, LogKind
from devices.reports import ReportInvalid, service_reports
from ingress import codec
from ingress.budget import CodecBudget
from products.codecs.ports import port_for
from products.models import Product

log = logging.getLogger(__name__)

KEPT = "budget"  # detail["notDecoded"] of an uplink kept undecoded
STILL_SLOW = ("CODEC_JS_TIMEOUT",)  # errors that leave an uplink kept rather than failed
sweep_budget = CodecBudget()  # the sweep's own buckets, per application, in the beat worker's process


def _over_key(application_pk: int) -> str:
    return key("codec-over-budget", application_pk)


def mark_over_budget(application_pks: Iterable[int]) -> None:
    """The ingress kept uplinks of these applications now: the sweep leaves them alone for a while."""
    pks = set(application_pks)
    if not pks:
        return
    now = time.time()
    expiry = max(60, int(settings.CODEC_UNDECODED_QUIET_SECONDS) * 2)
    pipe = get_redis().pipeline(transaction=False)
    for pk in pks:
        pipe.set(_over_key(pk), repr(now), ex=expiry)
    pipe.execute()


def _recently_over(application_pks: list[int]) -> set[int]:
    if not application_pks:
        return set()
    stamps = get_redis().mget([_over_key(pk) for pk in application_pks])
    now, quiet = time.time(), settings.CODEC_UNDECODED_QUIET_SECONDS
    return {pk for pk, stamp in zip(application_pks, stamps, strict=True) if stamp and now - float(stamp) < quiet}


def kept() -> QuerySet[DeviceLog]:
    """The entries of uplinks kept undecoded, oldest first (the partial index device_log_not_decoded)."""
    return DeviceLog.objects.filter(kind=LogKind.DECODE_ERROR, detail__notDecoded=KEPT).order_by("created_at", "id")


def decode_kept(*, limit: int | None = None) -> dict[str, int]:
    """Decode up to `limit` kept uplinks of applications within their budget; counts of what happened."""
    limit = settings.CODEC_UNDECODED_SWEEP_LIMIT if limit is None else limit
    counts = {"stored": 0, "failed": 0, "waiting": 0}
    with transaction.atomic():
        entries = list(kept().select_for_update(skip_locked=True, of=("self",))[:limit])
        if not entries:
            return counts
        waiting = _recently_over(sorted({entry.application_id for entry in entries}))
        devices = {
            device.pk: device
            for device in Device.objects.select_related("application").filter(
                pk__in={entry.device_id for entry in entries if entry.application_id not in waiting}
            )
        }
        product_pks = {device.product_id for device in devices.values() if device.product_id}
        chosen = Product.objects.filter(pk__in=product_pks).select_related("codec").defer("archive", "codec__draft")
        products = {product.pk: product for product in chosen}
        groups: dict[int, list[DeviceLog]] = {}
        for entry in entries:
            device = devices.get(entry.device_id)
            if device is None or device.product_id is None:
                counts["waiting"] += 1
                continue
            device.product = products[device.product_id]
            entry.device = device
            groups.setdefault(device.product_id, []).append(entry)
        stored: list[tuple[Device, list]] = []
        history_only: list[tuple[Device, list]] = []
        responses: list[tuple[Device, dict]] = []
        changed: list[DeviceLog] = []
        for members in groups.values():
            product, application_pk = members[0].device.product, members[0].application_id
            if not sweep_budget.allows(application_pk):
                counts["waiting"] += len(members)
                continue
            channels = [(entry.detail or {}).get("channel", "") for entry in members]
            mapping = getattr(getattr(product, "codec", None), "uplink_ports", None)
            ports = [port_for(mapping, channel) for channel in channels] if mapping else None
            started = time.perf_counter()
            done = codec.decode_batch(product, [bytes.fromhex(entry.raw) for entry in members], ports=ports)
            sweep_budget.charge(application_pk, time.perf_counter() - started)
            for entry, (decoded, _ack) in zip(members, done, strict=True):
                if isinstance(decoded, codec.CodecError) and decoded.code in STILL_SLOW:
                    # The codec still runs out of time: the uplink stays kept, for a later sweep or a fix.
                    counts["waiting"] += 1
                    continue
                _convert(entry, decoded, stored, history_only, responses, counts)
                changed.append(entry)
        _store(stored, history_only)
        DeviceLog.objects.bulk_update(changed, ["kind", "summary", "detail"])
        transaction.on_commit(lambda: hooks.uplinks_stored(stored))
        for device, decoded in responses:
            transaction.on_commit(lambda device=device, decoded=decoded: hooks.response_received(device, decoded))
    return counts


def _convert(
    entry: DeviceLog,
    decoded: dict[str, Any] | codec.CodecError,
    stored: list[tuple[Device, list]],
    history_only: list[tuple[Device, list]],
    responses: list[tuple[Device, dict]],
    counts: dict[str, int],
) -> None:
    """Turn one kept entry into what the pipeline would have logged, and collect what to store."""
    device = entry.device
    if isinstance(decoded, codec.CodecError):
        entry.summary = f"decode failed (decoded later): {decoded}"[:512]
        entry.detail = None
        counts["failed"] += 1
        return
    if decoded.get("msgType") == "deviceRsp":
        entry.kind, entry.detail = LogKind.DECODED, decoded
        entry.summary = f"command response mid {decoded.get('mid')} (decoded later)"
        responses.append((device, decoded))
        counts["stored"] += 1
        return
    try:
        reports = service_reports(device.product, decoded, entry.created_at)
    except ReportInvalid as error:
        entry.summary = f"does not match the profile (decoded later): {error}"[:512]
        entry.detail = decoded
        counts["failed"] += 1
        return
    # A service whose shadow holds newer data keeps it: the late report goes to the history only.
    shadow = device.shadow or {}
    fresh, late = [], []
    for report in reports:
        current = (shadow.get(report.service_id) or {}).get("eventTime")
        (late if current and current > format_time(report.event_time) else fresh).append(report)
    if fresh:
        stored.append((device, fresh))
    if late:
        history_only.append((device, late))
    entry.kind, entry.detail = LogKind.DECODED, decoded
    entry.summary = f"decoded later: {', '.join(report.service_id for report in reports)}"[:512]
    counts["stored"] += 1


def _store(stored: list[tuple[Device, list]], history_only: list[tuple[Device, list]]) -> None:
    actions.do_store_reports(stored)
    now = timezone.now()
    device_history.insert(
        (device.pk, device.application_id, report.service_id, report.data, report.event_time, now)
        for device, reports in history_only
        if device.application.storage_mode
        for report in reports
    )
