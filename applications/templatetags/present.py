"""Data and times as people read them, in every app's templates (issue 20, item 5).

- `{{ value|as_data }}`: a JSON object as a key-value list (nested objects nest, lists and scalars as
  JSON), never a Python repr such as `{'level': 87}`.
- `{{ when|as_time }}`: an aware datetime, or an OceanConnect `yyyyMMddTHHmmssZ` string, as
  `<time datetime="…">` with ISO 8601 and its offset (UTC as rendered); `static/portal/time.js` then
  shows it in the browser's zone, offset included. The API keeps the original's format.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django import template
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from applications.formats import parse_time

register = template.Library()


@register.filter
def as_data(value: Any) -> SafeString:
    if isinstance(value, dict):
        if not value:
            return format_html('<code class="small">{{}}</code>')
        rows = format_html_join("", "<dt>{}</dt><dd>{}</dd>", ((key, as_data(item)) for key, item in value.items()))
        return format_html('<dl class="data">{}</dl>', rows)
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    return format_html('<code class="small">{}</code>', text)


@register.filter
def as_time(value: Any) -> SafeString | str:
    if isinstance(value, str) and value:
        try:
            value = parse_time(value)
        except ValueError:
            return value  # not a time: shown as it is
    if not isinstance(value, dt.datetime):
        return "—"
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    iso = value.astimezone(dt.UTC).isoformat(timespec="seconds")
    return format_html('<time datetime="{}" data-local>{}</time>', iso, iso)
