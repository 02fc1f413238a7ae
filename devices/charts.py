"""A device's history as chart series (issue 20, item 4): one series per numeric property, over a time
range, downsampled in the database so a long range never ships its raw rows to the browser.

The chart (devices/static/devices/chart.js, on uPlot), its table view and the CSV download all come
from `history_series`, so they show the same numbers.

Downsampling: the range is cut into at most MAX_POINTS buckets of equal width (at least one second);
each bucket gives one point per property: the mean of its values at the mean of their times, with
the bucket's minimum and maximum and how many readings it holds. A bucket with one reading is that
reading. The query reads the device's index range (`devices_datahistory_device_time`, on device_id,
event_time) in each partition; tests/devices/test_charts.py checks the plan.

Gaps: where a series is silent for more than GAP_FACTOR times its usual spacing (the median
interval between its points), a null point is put between, so the chart breaks the line and the
table shows the gap, instead of a straight line across a silence.
"""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass, field
from typing import Any

from django.db import connection

from devices.models import Device

MAX_POINTS = 600  # per series: about one per horizontal pixel of a wide chart
GAP_FACTOR = 3
MAX_RANGE = dt.timedelta(days=400)
RANGES = {"1h": dt.timedelta(hours=1), "24h": dt.timedelta(hours=24), "7d": dt.timedelta(days=7)}

# A JSON number, or a string holding a plain decimal number ("46.3", as many codecs report).
_SERIES_SQL = r"""
SELECT h.service_id, kv.key,
       floor((extract(epoch FROM h.event_time) - %(origin)s) / %(width)s) AS bucket,
       avg(extract(epoch FROM h.event_time)) AS at,
       avg(n.number), min(n.number), max(n.number), count(*)
FROM devices_datahistory AS h
CROSS JOIN LATERAL jsonb_each(h.data) AS kv
CROSS JOIN LATERAL (
    SELECT CASE
        WHEN jsonb_typeof(kv.value) = 'number' THEN kv.value::float8
        WHEN jsonb_typeof(kv.value) = 'string' AND (kv.value #>> '{}') ~ '^\s*-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?\s*$'
            THEN (kv.value #>> '{}')::float8
    END AS number
) AS n
WHERE h.device_id = %(device)s AND h.event_time >= %(start)s AND h.event_time < %(end)s
  AND n.number IS NOT NULL
GROUP BY h.service_id, kv.key, bucket
ORDER BY h.service_id, kv.key, bucket
"""


class RangeError(ValueError):
    """A time range the chart cannot take; `field` names the query parameter."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass
class Series:
    """One property's points: times (epoch seconds) and values; None values are gaps."""

    key: str  # "serviceId.property"
    service_id: str
    property: str
    unit: str
    times: list[float] = field(default_factory=list)
    values: list[float | None] = field(default_factory=list)
    minimums: list[float | None] = field(default_factory=list)
    maximums: list[float | None] = field(default_factory=list)
    readings: int = 0

    def summary(self) -> dict[str, Any]:
        """What a text alternative says of the series."""
        present = [value for value in self.values if value is not None]
        return {
            "readings": self.readings,
            "points": len(present),
            "gaps": len(self.values) - len(present),
            "min": min((m for m in self.minimums if m is not None), default=None),
            "max": max((m for m in self.maximums if m is not None), default=None),
            "latest": present[-1] if present else None,
        }


def parse_range(params: Any, now: dt.datetime) -> tuple[str, dt.datetime, dt.datetime]:
    """(range name, start, end) from the query: range=1h|24h|7d, or range=custom with from and to (ISO
    8601 with an offset). Raises RangeError naming the parameter and the rule."""
    name = params.get("range") or "24h"
    if name in RANGES:
        return name, now - RANGES[name], now
    if name != "custom":
        raise RangeError("range", "must be 1h, 24h, 7d or custom")
    bounds = []
    for param in ("from", "to"):
        text = (params.get(param) or "").strip()
        if not text:
            raise RangeError(param, "is required with range=custom (ISO 8601, such as 2026-12-07T17:54:50+08:00)")
        try:
            when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise RangeError(param, "must be an ISO 8601 time, such as 2026-12-07T17:54:50+08:00") from None
        if when.tzinfo is None:
            raise RangeError(param, "must carry its offset (+08:00, or Z for UTC)")
        bounds.append(when)
    start, end = bounds
    if start >= end:
        raise RangeError("to", "must be after from")
    if end - start > MAX_RANGE:
        raise RangeError("from", f"must be at most {MAX_RANGE.days} days before to")
    return name, start, end


def bucket_seconds(start: dt.datetime, end: dt.datetime) -> int:
    return max(1, -(-int((end - start).total_seconds()) // MAX_POINTS))


def units(device: Device) -> dict[str, str]:
    """{"serviceId.property": unit} from the device's product profile (empty without a product)."""
    if device.product is None:
        return {}
    profile = device.product.profile or {}
    types = {
        c.get("serviceId"): c.get("serviceType") for c in profile.get("device", {}).get("serviceTypeCapabilities", [])
    }
    by_type = {service.get("serviceType"): service for service in profile.get("services", [])}
    found = {}
    for service_id, service_type in types.items():
        for prop in by_type.get(service_type, {}).get("properties") or []:
            if prop.get("unit"):
                found[f"{service_id}.{prop.get('propertyName')}"] = prop["unit"]
    return found


def series_params(device_pk: int, start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
    """The series query's parameters: buckets counted from the range's start, so at most MAX_POINTS."""
    return {
        "width": bucket_seconds(start, end),
        "origin": start.timestamp(),
        "device": device_pk,
        "start": start,
        "end": end,
    }


def history_series(device: Device, start: dt.datetime, end: dt.datetime) -> tuple[int, list[Series]]:
    """(bucket width in seconds, the device's numeric series in [start, end)), gaps marked."""
    width = bucket_seconds(start, end)
    with connection.cursor() as cursor:
        cursor.execute(_SERIES_SQL, series_params(device.pk, start, end))
        rows = cursor.fetchall()
    known_units = units(device)
    by_key: dict[str, Series] = {}
    for service_id, name, _bucket, at, mean, low, high, count in rows:
        key = f"{service_id}.{name}"
        series = by_key.get(key)
        if series is None:
            series = by_key[key] = Series(key, service_id, name, known_units.get(key, ""))
        series.times.append(round(float(at), 3))
        series.values.append(_tidy(mean))
        series.minimums.append(_tidy(low))
        series.maximums.append(_tidy(high))
        series.readings += count
    for series in by_key.values():
        _mark_gaps(series)
    return width, list(by_key.values())


def _tidy(value: float) -> float:
    return round(float(value), 6)


def _mark_gaps(series: Series) -> None:
    """A null point in each silence longer than GAP_FACTOR times the series' median spacing."""
    if len(series.times) < 3:
        return
    spacing = statistics.median(b - a for a, b in zip(series.times, series.times[1:], strict=False))
    if spacing <= 0:
        return
    times, values, lows, highs = [series.times[0]], [series.values[0]], [series.minimums[0]], [series.maximums[0]]
    for index in range(1, len(series.times)):
        before, now = series.times[index - 1], series.times[index]
        if now - before > GAP_FACTOR * spacing:
            times.append(round((before + now) / 2, 3))
            values.append(None)
            lows.append(None)
            highs.append(None)
        times.append(now)
        values.append(series.values[index])
        lows.append(series.minimums[index])
        highs.append(series.maximums[index])
    series.times, series.values, series.minimums, series.maximums = times, values, lows, highs


def as_json(name: str, start: dt.datetime, end: dt.datetime, width: int, series: list[Series]) -> dict[str, Any]:
    return {
        "range": name,
        "from": start.astimezone(dt.UTC).isoformat(timespec="seconds"),
        "to": end.astimezone(dt.UTC).isoformat(timespec="seconds"),
        "bucketSeconds": width,
        "maxPoints": MAX_POINTS,
        "series": [
            {
                "key": one.key,
                "serviceId": one.service_id,
                "property": one.property,
                "unit": one.unit,
                "times": one.times,
                "values": one.values,
                "min": one.minimums,
                "max": one.maximums,
                "summary": one.summary(),
            }
            for one in series
        ],
    }


CSV_HEADER = ["time", "serviceId", "property", "unit", "value", "min", "max"]


def csv_rows(series: list[Series]) -> list[list[Any]]:
    """The same points as the chart, one row each (a gap: an empty value), ordered by series then time."""
    rows = []
    for one in series:
        for at, value, low, high in zip(one.times, one.values, one.minimums, one.maximums, strict=True):
            when = dt.datetime.fromtimestamp(at, dt.UTC).isoformat(timespec="milliseconds")
            rows.append(
                [when, one.service_id, one.property, one.unit, *("" if v is None else v for v in (value, low, high))]
            )
    return rows
