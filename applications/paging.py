"""Query parameters every northbound list call shares: pageNo, pageSize, startTime, endTime."""

from __future__ import annotations

import datetime as dt

from rest_framework.request import Request

from applications.errors import NorthboundError
from applications.formats import parse_time


def whole_number(
    request: Request, name: str, default: int | None, *, minimum: int = 0, maximum: int, code: str = "100022"
) -> int | None:
    """An optional whole-number parameter; empty or absent gives `default`; else 400 `code` naming it."""
    raw = request.query_params.get(name, "")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise NorthboundError(code, f"The input is invalid: {name} must be a whole number.") from None
    if not minimum <= value <= maximum:
        raise NorthboundError(code, f"The input is invalid: {name} must be between {minimum} and {maximum}.")
    return value


def time_param(request: Request, name: str) -> dt.datetime | None:
    raw = request.query_params.get(name, "")
    if raw == "":
        return None
    try:
        return parse_time(raw)
    except ValueError:
        raise NorthboundError("100022", f"The input is invalid: {name} must be a time like 20190128T121043Z.") from None
