"""Last seen (devices.last_seen): coalesced in Redis, so a report's shadow UPDATE stays HOT; flushed by the
sweep; read through (the later of the column and the pending time) wherever it is shown, one HMGET."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from applications.redis import get_redis
from devices import actions, last_seen
from devices.models import Device
from devices.tasks import sweep_devices
from tests.devices.fixtures import register, report
from tests.portal.fixtures import create_personas

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 5, 1, 10, 0, 0, tzinfo=dt.UTC)


def _bound(credentials, node_id):
    with time_machine.travel(T0, tick=False):
        device = actions.do_bind_device(register(credentials, node_id=node_id))
    return Device.objects.select_related("application").get(pk=device.pk)


def _time(when: dt.datetime) -> str:
    return f'<time datetime="{when.isoformat()}" data-local>'


def _set_columns(sql: str) -> set[str]:
    """The columns an UPDATE statement sets."""
    clause = re.search(r"\bSET (.*?) (?:FROM|WHERE)\b", sql, re.S).group(1)
    return set(re.findall(r'(?:^|,)\s*"?(\w+)"?\s*=', clause))


def _index_definitions() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = 'devices_device'::regclass")
        return [row[0] for row in cursor.fetchall()]


def _assert_hot_eligible(sql: str) -> None:
    """PostgreSQL makes an UPDATE HOT (no index entry per row) only when it changes no indexed column."""
    columns = _set_columns(sql)
    assert columns and "last_seen_at" not in columns, sql
    indexed = [definition for definition in _index_definitions() for column in columns if column in definition]
    assert not indexed, indexed


def test_the_batch_shadow_update_leaves_last_seen_alone_so_it_can_be_hot(owner_app, no_wake):
    devices = [_bound(owner_app, f"86000000000{n:04d}") for n in range(3)]
    when = T0 + dt.timedelta(minutes=5, seconds=3)
    reports = [actions.ServiceReport("WaterMeter", "WaterMeter", {"currentReading": "1"}, when)]
    with time_machine.travel(when, tick=False), CaptureQueriesContext(connection) as queries:
        actions.do_store_reports([(device, reports) for device in devices])
    [shadow_update] = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("UPDATE")]
    assert _set_columns(shadow_update) == {"shadow"}
    _assert_hot_eligible(shadow_update)
    assert any("last_seen_at" in definition for definition in _index_definitions())  # why it matters
    stored = Device.objects.filter(pk__in=[d.pk for d in devices])
    assert set(stored.values_list("last_seen_at", flat=True)) == {T0}  # the column waits for the sweep
    assert last_seen.seen_at_many(stored) == {device.pk: when for device in devices}


def test_the_single_report_path_leaves_last_seen_alone_too(owner_app, no_wake):
    device = _bound(owner_app, "860000000000001")
    when = T0 + dt.timedelta(minutes=5, seconds=7)
    with time_machine.travel(when, tick=False), CaptureQueriesContext(connection) as queries:
        report(device, reading=1)
    [shadow_update] = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("UPDATE")]
    _assert_hot_eligible(shadow_update)
    assert Device.objects.get(pk=device.pk).last_seen_at == T0
    assert last_seen.seen_at(Device.objects.get(pk=device.pk)) == when  # exact to the second, read through


def test_a_pending_time_newer_than_the_column_wins_an_older_one_does_not(owner_app, no_wake):
    newer, older, never = (_bound(owner_app, f"86000000000000{n}") for n in range(3))
    Device.objects.filter(pk=never.pk).update(last_seen_at=None)
    never.last_seen_at = None
    last_seen.note({newer.pk: T0 + dt.timedelta(seconds=61), older.pk: T0 - dt.timedelta(seconds=1)})
    assert last_seen.seen_at_many([newer, older, never]) == {
        newer.pk: T0 + dt.timedelta(seconds=61),
        older.pk: T0,
        never.pk: None,
    }
    # Rows read as dicts (a gateway's sub-device rows) read through the same way.
    assert last_seen.seen_at({"pk": newer.pk, "last_seen_at": T0}) == T0 + dt.timedelta(seconds=61)


def test_the_sweep_flushes_pending_times_and_a_newer_report_meanwhile_stays_pending(
    owner_app, no_wake, django_capture_on_commit_callbacks
):
    device = _bound(owner_app, "860000000000001")
    first, second = T0 + dt.timedelta(minutes=1), T0 + dt.timedelta(minutes=1, seconds=30)
    with time_machine.travel(first, tick=False):
        report(device, reading=1)
    with django_capture_on_commit_callbacks() as flushed, transaction.atomic():
        assert last_seen.flush() == 1
    # A report arrives while the flush's transaction commits: its newer time must not be deleted.
    with time_machine.travel(second, tick=False):
        report(device, reading=2)
    for callback in flushed:
        callback()
    assert Device.objects.get(pk=device.pk).last_seen_at == first
    assert float(get_redis().hget(last_seen.pending_key(), device.pk)) == second.timestamp()
    with django_capture_on_commit_callbacks(execute=True), time_machine.travel(second + dt.timedelta(seconds=1)):
        assert sweep_devices()["flushed"] == 1
    assert Device.objects.get(pk=device.pk).last_seen_at == second
    assert get_redis().hget(last_seen.pending_key(), device.pk) is None  # flushed: gone from the hash
    assert last_seen.seen_at(Device.objects.get(pk=device.pk)) == second


def test_a_pending_time_never_moves_the_column_back(owner_app, no_wake):
    device = _bound(owner_app, "860000000000001")
    Device.objects.filter(pk=device.pk).update(last_seen_at=T0 + dt.timedelta(hours=1))
    last_seen.note({device.pk: T0 + dt.timedelta(minutes=1)})
    assert last_seen.flush() == 0
    assert Device.objects.get(pk=device.pk).last_seen_at == T0 + dt.timedelta(hours=1)


def _count_pending_reads(monkeypatch) -> list[tuple]:
    """Every Redis command this process sends about the pending last-seen times."""
    client, calls = get_redis(), []
    send = client.execute_command

    def counting(*args, **options):
        if last_seen.pending_key() in [a.decode() if isinstance(a, bytes) else str(a) for a in args[1:2]]:
            calls.append(args[0])
        return send(*args, **options)

    monkeypatch.setattr(client, "execute_command", counting)
    return calls


def test_the_device_list_reads_pending_times_in_one_call_and_shows_them(client, monkeypatch):
    personas = create_personas()
    devices = [_bound(personas.app, f"86100000000{n:04d}") for n in range(12)]
    column, fresh, stale = (
        T0 + dt.timedelta(minutes=1),
        T0 + dt.timedelta(minutes=7, seconds=9),
        T0 + dt.timedelta(seconds=30),
    )
    Device.objects.filter(pk__in=[device.pk for device in devices]).update(last_seen_at=column)
    last_seen.note({devices[3].pk: fresh, devices[4].pk: stale})
    client.force_login(personas.viewer)
    calls = _count_pending_reads(monkeypatch)
    page = client.get("/devices/").content.decode()
    assert calls == ["HMGET"]  # one call for the whole page, not one per row
    assert page.count(_time(fresh)) == 1  # the pending time wins over the column
    assert page.count(_time(column)) == 11  # the others, and the one whose pending time is older
    assert _time(stale) not in page
    calls.clear()
    client.get("/devices/", headers={"HX-Request": "true"})  # the table alone (filters, paging)
    assert calls == ["HMGET"]


def test_the_device_page_and_its_live_parts_read_pending_times_through(client, monkeypatch):
    personas = create_personas()
    device = _bound(personas.app, "861000000000001")
    fresh = T0 + dt.timedelta(minutes=7, seconds=9)
    last_seen.note({device.pk: fresh})
    client.force_login(personas.viewer)
    calls = _count_pending_reads(monkeypatch)
    for path in ("", "live/"):
        seen = client.get(f"/devices/{device.device_id}/{path}").content.decode().split('data-live-part="seen"')[1]
        assert _time(fresh) in seen.split("</dd>")[0], path
    assert calls == ["HMGET", "HMGET"]  # one per page, the gateway's sub-devices included


def test_another_application_neither_sees_nor_reads_a_pending_time(client, monkeypatch):
    personas = create_personas()
    device = _bound(personas.app, "861000000000001")
    last_seen.note({device.pk: T0 + dt.timedelta(minutes=7, seconds=9)})
    client.force_login(personas.outsider)
    calls = _count_pending_reads(monkeypatch)
    assert client.get(f"/devices/{device.device_id}/live/").status_code == 404
    assert device.node_id not in client.get("/devices/").content.decode()
    assert calls == []  # the outsider's list has none of its own: nothing to read


def test_a_flush_writes_in_chunks_each_removing_its_own_fields_after_commit(
    owner_app, no_wake, django_capture_on_commit_callbacks
):
    devices = [_bound(owner_app, f"86200000000{n:04d}") for n in range(5)]
    times = {device.pk: T0 + dt.timedelta(seconds=10 + n) for n, device in enumerate(devices)}
    last_seen.note(times)
    with CaptureQueriesContext(connection) as queries, django_capture_on_commit_callbacks(execute=True) as removals:
        assert last_seen.flush(chunk=2) == 5
    assert len([q for q in queries.captured_queries if q["sql"].startswith("UPDATE")]) == 3  # 2 + 2 + 1
    assert len(removals) == 3  # one compare-and-delete per chunk, after its commit
    assert dict(Device.objects.filter(pk__in=times).values_list("pk", "last_seen_at")) == times
    assert get_redis().hlen(last_seen.pending_key()) == 0
