"""Data and times as people read them (applications/templatetags/present.py, issue 20 item 5)."""

from __future__ import annotations

import datetime as dt

from django.template import Context, Template


def render(source: str, **context) -> str:
    return Template("{% load present %}" + source).render(Context(context))


def test_an_object_is_a_key_value_list_not_a_python_repr():
    html = render("{{ v|as_data }}", v={"level": 87, "name": "<b>tank</b>", "flags": [1, 2], "gps": {"lat": 1.5}})
    assert "{'level'" not in html
    assert '<dt>level</dt><dd><code class="small">87</code></dd>' in html
    assert "&lt;b&gt;tank&lt;/b&gt;" in html  # escaped
    assert '<dt>flags</dt><dd><code class="small">[1, 2]</code></dd>' in html
    assert '<dt>gps</dt><dd><dl class="data"><dt>lat</dt>' in html


def test_times_are_iso_8601_with_their_offset_for_datetimes_and_the_apis_format():
    when = dt.datetime(2026, 12, 7, 17, 54, 50, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    expected = '<time datetime="2026-12-07T09:54:50+00:00" data-local>2026-12-07T09:54:50+00:00</time>'
    assert render("{{ t|as_time }}", t=when) == expected
    assert render("{{ t|as_time }}", t="20261207T095450Z") == expected
    assert render("{{ t|as_time }}", t=None) == "—"
    assert render("{{ t|as_time }}", t="yesterday") == "yesterday"
