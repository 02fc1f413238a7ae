"""One guard for hostile input, wherever it comes from: the APIs, the portal, the ingress.

PostgreSQL refuses what Python accepts: a NUL character in text or jsonb ("invalid byte sequence",
"unsupported Unicode escape sequence"), an integer beyond 64 bits in a bigint or in jsonb, a number
that overflows a double (1e400 parses as infinity). Unchecked, each is a DataError: an HTTP 500 and a
traceback for what is only bad input. `hostile()` finds the first such value in a JSON-like value and
names where it is; `HostileInputMiddleware` refuses requests that carry one (query parameters, JSON and
form bodies, the path) before any view runs: 400 100022 in the original's body on the APIs, a sentence
naming the field on portal pages. Field-specific limits (lengths, ranges) stay with each field's own
validation; a DataError that still reaches a view is answered 400 as the last line (never 500).
The ingress applies `hostile()` to every decoded uplink (ingress.codec, ingress.pipeline.read_json).
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Callable
from typing import Any

from django.db import DataError
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

log = logging.getLogger(__name__)

INT64_MAX = 2**63 - 1
API_PREFIXES = ("/iocm/", "/iodm/", "/api/")
COMPACT = {"separators": (",", ":")}  # as DRF and the original answer

NUL = gettext_noop("must not contain NUL characters")
OUT_OF_RANGE = gettext_noop("is out of range (whole numbers from -9223372036854775808 to 9223372036854775807)")
NOT_FINITE = gettext_noop("is out of range (too large for a number)")
TOO_LONG_OR_LARGE = gettext_noop("a value is too long or out of range for its field")

# A body needs the full check only when it could hold a NUL or a number past 64 bits or past a double.
_SUSPECT_JSON = re.compile(rb"\\u0000|\x00|\d{19,}|[eE]\+?\d{3,}")
_SUSPECT_FORM = re.compile(rb"%00|\x00", re.IGNORECASE)


class Hostile(ValueError):
    """A value PostgreSQL cannot store: `field` names where it is, `rule` what it breaks (English)."""

    def __init__(self, field: str, rule: str) -> None:
        self.field, self.rule = field, rule
        super().__init__(f"{field}: {rule}" if field else rule)


def hostile(value: Any, field: str = "") -> Hostile | None:
    """The first NUL character, integer beyond 64 bits or non-finite number in `value`, or None.

    Walks dicts (keys too), lists and tuples; `field` is the path so far (`data[0].serviceData.x`)."""
    if isinstance(value, str):
        return Hostile(field, NUL) if "\x00" in value else None
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return Hostile(field, OUT_OF_RANGE) if not -INT64_MAX - 1 <= value <= INT64_MAX else None
    if isinstance(value, float):
        return Hostile(field, NOT_FINITE) if not math.isfinite(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            name = f"{field}.{key}" if field else str(key)
            if isinstance(key, str) and "\x00" in key:
                return Hostile(name.replace("\x00", "\\u0000"), NUL)
            if found := hostile(item, name):
                return found
        return None
    if isinstance(value, (list, tuple)):
        for position, item in enumerate(value):
            if found := hostile(item, f"{field}[{position}]"):
                return found
    return None


def check(value: Any, field: str = "") -> None:
    """Raise Hostile for the first value PostgreSQL cannot store."""
    if found := hostile(value, field):
        raise found


def request_problem(request: HttpRequest) -> Hostile | None:
    """What in a request PostgreSQL could not store: its path, a query parameter, a JSON or form body."""
    if "\x00" in request.path:
        return Hostile("path", NUL)
    for name, values in request.GET.lists():
        if found := hostile({name: values}):
            return Hostile(name.replace("\x00", "\\u0000"), found.rule)
    content_type = request.content_type or ""
    if request.method in ("GET", "HEAD", "OPTIONS") or content_type.startswith("multipart/"):
        return None  # multipart bodies (files) are judged by their views
    body = request.body
    if content_type == "application/x-www-form-urlencoded":
        if _SUSPECT_FORM.search(body):
            form = QueryDict(body, encoding=request.encoding)
            for name, values in form.lists():
                if found := hostile({name: values}):
                    return Hostile(name.replace("\x00", "\\u0000"), found.rule)
        return None
    if body and _SUSPECT_JSON.search(body):
        try:
            parsed = json.loads(body)
        except ValueError:
            return None  # not JSON: the view's parser answers for it
        return hostile(parsed)
    return None


def refusal(request: HttpRequest, problem: Hostile | None) -> HttpResponse:
    """400: the original's body on the APIs (English), a translated sentence on portal pages."""
    if request.path.startswith(API_PREFIXES):
        desc = f"The input is invalid: {problem}." if problem else f"The input is invalid: {TOO_LONG_OR_LARGE}."
        return JsonResponse({"error_code": "100022", "error_desc": desc}, status=400, json_dumps_params=COMPACT)
    if problem is None:
        text = _("The input is invalid: a value is too long or out of range for its field.")
    else:
        text = _("The input is invalid: %(field)s %(rule)s.") % {"field": problem.field, "rule": _(problem.rule)}
    return HttpResponse(text, status=400, content_type="text/plain; charset=utf-8")


class HostileInputMiddleware:
    """Refuse a request carrying what PostgreSQL cannot store before a view sees it; answer a
    DataError a view still meets with 400, not 500 (and log one line, no traceback)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        problem = request_problem(request)
        if problem is not None:
            return refusal(request, problem)
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, DataError):
            log.warning("%s %s refused: %s", request.method, request.path, str(exception).splitlines()[0])
            return refusal(request, None)
        return None
