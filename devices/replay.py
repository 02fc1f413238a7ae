"""Replay a codec version over the last stored raw uplinks of its product's devices (issue 6, item 5).

Before activating a new version, a developer sees, uplink by uplink, what it would decode differently
from the active one: every JSON path whose value changes, uplinks that would start or stop failing.
The raw uplinks are the device logs' (`DeviceLog.raw`, the bytes the codec received).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from devices.models import DeviceLog, LogKind
from products.models import Product

REPLAYED_KINDS = (LogKind.DECODED, LogKind.DECODE_ERROR)


@dataclass
class ReplayRow:
    node_id: str
    at: Any
    raw: str
    current: dict[str, Any] | None
    current_error: str
    candidate: dict[str, Any] | None
    candidate_error: str
    differences: list[tuple[str, Any, Any]] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        if self.current_error and not self.candidate_error:
            return "fixed"
        if self.candidate_error and not self.current_error:
            return "broken"
        if self.candidate_error:
            return "still_failing"
        return "changed" if self.differences else "same"


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """{"data[0].serviceData.reading": 12, ...}: the leaves of a decoded message by path."""
    if isinstance(value, dict):
        items: dict[str, Any] = {}
        for key, inner in value.items():
            items.update(flatten(inner, f"{prefix}.{key}" if prefix else str(key)))
        return items
    if isinstance(value, list):
        items = {}
        for index, inner in enumerate(value):
            items.update(flatten(inner, f"{prefix}[{index}]"))
        return items
    return {prefix: value}


def differences(current: dict[str, Any] | None, candidate: dict[str, Any] | None) -> list[tuple[str, Any, Any]]:
    before, after = flatten(current or {}), flatten(candidate or {})
    missing = object()
    return [
        (path, before.get(path), after.get(path))
        for path in sorted(set(before) | set(after))
        if before.get(path, missing) != after.get(path, missing)
    ]


def replay(product: Product, version: int, *, limit: int = 200) -> list[ReplayRow]:
    """Decode the product's last `limit` raw uplinks with the active version and with `version`."""
    from products import codecs

    entries = list(
        DeviceLog.objects.filter(device__product=product, kind__in=REPLAYED_KINDS)
        .exclude(raw="")
        .select_related("device")
        .order_by("-created_at", "-id")[:limit]
    )
    payloads = [bytes.fromhex(entry.raw) for entry in entries]
    if codecs.active_version(product) is None:
        current: list[Any] = [codecs.CodecError("no active version") for _ in payloads]
    else:
        current = codecs.decode_many(product, payloads)
    candidate = codecs.decode_many(product, payloads, version=version)
    rows = []
    for entry, before, after in zip(entries, current, candidate, strict=True):
        before_error = str(before) if isinstance(before, Exception) else ""
        after_error = str(after) if isinstance(after, Exception) else ""
        row = ReplayRow(
            node_id=entry.device.node_id,
            at=entry.created_at,
            raw=entry.raw,
            current=None if before_error else before,
            current_error=before_error,
            candidate=None if after_error else after,
            candidate_error=after_error,
        )
        if not before_error and not after_error:
            row.differences = differences(before, after)
        rows.append(row)
    return rows


def as_vectors(product: Product, version: int, rows: list[ReplayRow]) -> dict[str, Any]:
    """The stored uplinks that `version` decodes, as test vectors of its plugin ("save as vector",
    issue 19): {"decode": [{"name", "payload", "expected"}]}, what vectors.json holds. `expected` is
    what the plugin itself returns (a TTN codec's `data`, before the manifest's mapping)."""
    from products.codecs.runtime import plugin_for
    from products.codecs.ttn import TtnPlugin

    kept = [row for row in rows if row.candidate is not None]
    expected: list[Any] = [row.candidate for row in kept]
    _number, plugin = plugin_for(product, version)
    if isinstance(plugin, TtnPlugin):
        outcomes = plugin.raw_data([bytes.fromhex(row.raw) for row in kept])
        expected = [outcome.value for outcome in outcomes]
    return {
        "decode": [
            {"name": f"{row.node_id} {row.at:%Y-%m-%d %H:%M:%S}", "payload": row.raw.upper(), "expected": value}
            for row, value in zip(kept, expected, strict=True)
        ]
    }


def summary(rows: list[ReplayRow]) -> dict[str, int]:
    counts = {"same": 0, "changed": 0, "fixed": 0, "broken": 0, "still_failing": 0}
    for row in rows:
        counts[row.verdict] += 1
    return counts
