"""The OceanConnect time format, `yyyyMMddTHHmmssZ` in UTC, used by every API and push."""

from __future__ import annotations

import datetime as dt

TIME_FORMAT = "%Y%m%dT%H%M%SZ"


def format_time(value: dt.datetime | None) -> str | None:
    """`20151212T121212Z` for an aware datetime (naive ones are taken as UTC); None stays None."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC)
    return value.strftime(TIME_FORMAT)


def parse_time(value: str) -> dt.datetime:
    """Parse `yyyyMMddTHHmmssZ` into an aware UTC datetime; ValueError names the expected shape."""
    try:
        return dt.datetime.strptime(value, TIME_FORMAT).replace(tzinfo=dt.UTC)
    except (TypeError, ValueError):
        raise ValueError(f"{value!r} is not a time of the form yyyyMMddTHHmmssZ") from None
