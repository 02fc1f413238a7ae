"""Every time in the portal goes through `as_time` (issue 20, item 5): a `<time datetime data-local>` that
portal/static/portal/time.js shows in the user's chosen zone with its offset. This scan fails when a
template prints a time another way; the allow-list says why each exception is not a shown time."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from applications.templatetags.present import as_time

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = sorted(path for path in ROOT.glob("*/templates/**/*.html") if not path.is_relative_to(ROOT / ".venv"))

# Django's date/time filters with a time-of-day or full-timestamp format character (H, i, s, c, r, U...),
# the relative ones, and `|time`.
FORMATTED = re.compile(
    r"\|\s*(date\s*:\s*['\"][^'\"]*[aAfgGhHiPsuvcrUOTeZ][^'\"]*['\"]|time\b|timesince|timeuntil|naturaltime)"
)
# A datetime-named variable printed bare or through other filters: {{ x.created_at }}, when=x.sent_at ...
NAIVE = re.compile(
    r"(?:\{\{\s*|\bwith\s+(?:\w+=\S+\s+)*\w+=)([\w.]*(?:_at|At|_time|Time|_until|_deadline|_date))\b((?:\|[\w:\"'-]+)*)"
)
ALLOWED = {
    # a machine-readable attribute (device_live.js compares it), not shown: the text beside it is as_time
    ("devices/templates/devices/partials/live_seen.html", "device.seen_at|date:'c'"),
    # expireTime is a number of seconds, not a time
    ("commands/templates/commands/partials/ledger.html", "command.expire_time"),
}


def offences() -> list[str]:
    found = []
    for path in TEMPLATES:
        name = str(path.relative_to(ROOT))
        for number, line in enumerate(path.read_text().splitlines(), 1):
            for match in FORMATTED.finditer(line):
                start = line.rfind("{{", 0, match.start())
                snippet = line[start + 2 : match.end()].strip() if start >= 0 else match.group(0)
                if (name, snippet) not in ALLOWED:
                    found.append(f"{name}:{number}: {snippet}")
            for match in NAIVE.finditer(line):
                variable, filters = match.group(1), match.group(2)
                if "as_time" in filters or "|date:" in filters or FORMATTED.search(filters):
                    continue  # as_time is right; a date or time filter is reported by FORMATTED above
                if (name, variable) not in ALLOWED:
                    found.append(f"{name}:{number}: {variable}{filters}")
    return found


def test_templates_found():
    assert len(TEMPLATES) > 100
    assert any(path.name == "audit_table.html" for path in TEMPLATES)


def test_no_template_prints_a_time_other_than_through_as_time():
    assert offences() == []


def test_the_scan_catches_each_kind_of_offence(tmp_path, monkeypatch):
    bad = tmp_path / "bad" / "templates" / "bad.html"
    bad.parent.mkdir(parents=True)
    bad.write_text(
        '{{ a.created_at|date:"Y-m-d H:i" }}\n{{ b.sent_at }}\n{{ c.delivered_at|default:"—" }}\n'
        "{% blocktranslate with when=d.cleared_at %}at {{ when }}{% endblocktranslate %}\n"
        "{{ e.started_at|timesince }}\n{{ f.at|time }}\n"
        '{{ g.created_at|as_time }}\n{{ h.expires|date:"Y-m-d" }}\n'
    )
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    monkeypatch.setattr(f"{__name__}.TEMPLATES", [bad])
    found = offences()
    assert [line.split(":")[1] for line in found] == ["1", "2", "3", "4", "5", "6"], found


def test_as_time_is_iso_8601_utc_with_its_offset_for_time_js():
    shanghai = dt.timezone(dt.timedelta(hours=8))
    html = as_time(dt.datetime(2026, 12, 8, 7, 28, 9, tzinfo=shanghai))
    assert html == '<time datetime="2026-12-07T23:28:09+00:00" data-local>2026-12-07T23:28:09+00:00</time>'
    assert as_time("20261207T232809Z") == html  # the API's own format, read as the same time
    assert as_time(None) == "—"
